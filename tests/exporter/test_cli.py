"""factorydash-exporter's command line: config checks, the web config flag, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from factorydash.cli import main

AGENTS = 'agents:\n  - {name: line1, url: "http://127.0.0.1:9/"}\n'


def test_config_check_accepts_a_valid_config_and_web_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.yml").write_text(AGENTS)
    (tmp_path / "web.yml").write_text("basic_auth_users: {prom: '$2b$04$abcdefghijklmnopqrstuu5Zk0JkCFD8KaVg8vCdoqKeJwSPVxHTK'}\n")
    code = main([f"--config.file={tmp_path / 'c.yml'}", f"--web.config.file={tmp_path / 'web.yml'}", "--config.check"])
    assert code == 0
    assert "configuration is valid: 1 agent\n" in capsys.readouterr().out


def test_an_invalid_web_config_stops_the_start_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.yml").write_text(AGENTS)
    (tmp_path / "web.yml").write_text("tls_server_config: {cert_file: nope.crt}\n")
    code = main([f"--config.file={tmp_path / 'c.yml'}", f"--web.config.file={tmp_path / 'web.yml'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert "invalid web configuration" in err and "key_file: required" in err


def test_a_missing_web_config_file_is_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.yml").write_text(AGENTS)
    assert main([f"--config.file={tmp_path / 'c.yml'}", f"--web.config.file={tmp_path / 'absent.yml'}"]) == 2
    assert "cannot read the web configuration" in capsys.readouterr().err


def test_an_invalid_config_is_exit_code_2_with_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.yml").write_text("agents: []\n")
    assert main([f"--config.file={tmp_path / 'c.yml'}", "--config.check"]) == 2
    assert "invalid configuration" in capsys.readouterr().err


@pytest.mark.integration
def test_an_address_in_use_is_exit_code_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (tmp_path / "c.yml").write_text(AGENTS)
        assert main([f"--config.file={tmp_path / 'c.yml'}", f"--web.listen-address=127.0.0.1:{port}"]) == 1
    assert "cannot listen" in capsys.readouterr().err


def test_config_check_coverage_alone_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.yml").write_text(AGENTS)
    assert main([f"--config.file={tmp_path / 'c.yml'}", "--config.check.coverage"]) == 2
    assert "--config.check.coverage needs --config.check" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("address", "why"),
    [("http://127.0.0.1:9700", "has no scheme: use '127.0.0.1:9700'"), ("127.0.0.1:99999", "the port 99999 is out of range")],
)
def test_a_listen_address_mistake_is_exit_code_2_saying_what_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str, why: str
) -> None:
    (tmp_path / "c.yml").write_text(AGENTS)
    assert main([f"--config.file={tmp_path / 'c.yml'}", f"--web.listen-address={address}"]) == 2
    err = capsys.readouterr().err
    assert why in err and "Name or service not known" not in err
