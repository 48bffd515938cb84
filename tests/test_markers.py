"""The marker rule of tests/conftest.py holds: a test without `integration` cannot start a process or bind a socket,
so `make test-fast` (-m "not integration") never starts one; a marked test can."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.conftest import StartsAProcessOrServer


def test_an_unmarked_test_cannot_start_a_process() -> None:
    with pytest.raises(StartsAProcessOrServer, match="starts a process but has no @pytest.mark.integration"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_an_unmarked_test_cannot_bind_a_socket() -> None:
    with socket.socket() as sock, pytest.raises(StartsAProcessOrServer, match="binds a socket"):
        sock.bind(("127.0.0.1", 0))


@pytest.mark.integration
def test_a_marked_test_can_start_a_process_and_bind_a_socket() -> None:
    assert subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout == "42\n"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        assert sock.getsockname()[1] > 0
