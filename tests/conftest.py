"""Suite-wide test support.

Tests that need a program that is not installed skip locally with a reason.
In CI (CI=true) everything is installed by `make test`, so a skip there means
something is broken: the session fails and names the skipped tests.

A test that starts a process or a server carries the `integration` marker, so
`make test-fast` (`-m "not integration"`) runs only what needs no process, no
socket and no program. The rule is enforced, not hoped for: while an unmarked
test sets up and runs, starting a subprocess or binding a socket fails it and
names the marker it lacks.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

# The end-to-end stack (simulator -> exporter -> Prometheus), shared by the Prometheus and Grafana tests.
pytest_plugins = ["tests.integration.stack"]

ROOT = Path(__file__).resolve().parents[1]
# FACTORYDASH_SAMPLES points elsewhere, e.g. from a git worktree that does not sit beside shared/.
SAMPLES = Path(os.environ.get("FACTORYDASH_SAMPLES") or ROOT.parent / "shared" / "samples")


def require_program(name: str) -> str:
    """The path of `name`, or skip the test (fail in CI) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_sample(relative: str) -> Path:
    """A real agent document from ../shared/samples, or skip when the samples are absent."""
    path = SAMPLES / relative
    if not path.exists():
        pytest.skip(f"sample {relative} not present beside the project")
    return path


class StartsAProcessOrServer(Exception):
    """An unmarked test started a subprocess or bound a socket."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _only_integration_tests_start_processes(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _only_integration_tests_start_processes(item):
        yield


class _only_integration_tests_start_processes:
    """While an unmarked test sets up or runs, Popen and socket.bind raise StartsAProcessOrServer."""

    def __init__(self, item: pytest.Item) -> None:
        self.guarded = item.get_closest_marker("integration") is None
        self.nodeid = item.nodeid

    def __enter__(self) -> None:
        if not self.guarded:
            return
        self.popen_init, self.bind = subprocess.Popen.__init__, socket.socket.bind
        nodeid = self.nodeid

        def refuse(what: str):
            def refused(*args: object, **kwargs: object) -> None:
                raise StartsAProcessOrServer(
                    f"{nodeid} {what} but has no @pytest.mark.integration (make test-fast runs only unmarked tests)"
                )

            return refused

        subprocess.Popen.__init__ = refuse("starts a process")  # type: ignore[method-assign]
        socket.socket.bind = refuse("binds a socket (starts a server)")  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        if self.guarded:
            subprocess.Popen.__init__ = self.popen_init  # type: ignore[method-assign]
            socket.socket.bind = self.bind  # type: ignore[method-assign]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI: {len(skipped)} tests skipped; in CI nothing may skip:", red=True)
        for report in skipped:
            reporter.write_line(f"  {report.nodeid}: {report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
