"""The exporter process: SIGTERM/SIGINT stop it within a second; SIGHUP and POST /-/reload reload its config."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from factorydash.simulator import ShopFloor

from .agents import FaultyAgent, Reply, wait_until

pytestmark = pytest.mark.integration  # every test here starts a server or a process


class ExporterProcess:
    def __init__(self, config: Path, cwd: Path, args: Sequence[str] = ()) -> None:
        self.config = config
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "factorydash", f"--config.file={config}", "--web.listen-address=127.0.0.1:0", *args],
            cwd=cwd,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        threading.Thread(target=self._read, daemon=True).start()
        wait_until(lambda: self.url is not None or self.process.poll() is not None, timeout=10)
        assert self.url is not None, self.log

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    @property
    def url(self) -> str | None:
        match = re.search(r"listening on (http://\S+/)", self.log)
        return match.group(1) if match else None

    def get(self, path: str, method: str = "GET") -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def value(self, name: str, agent: str) -> float | None:
        match = re.search(rf'^{name}\{{agent="{agent}"\}} (\S+)$', self.get("metrics")[1], re.MULTILINE)
        return float(match.group(1)) if match else None

    def exporter_value(self, name: str) -> float:
        match = re.search(rf"^{name} (\S+)$", self.get("metrics")[1], re.MULTILINE)
        assert match, name
        return float(match.group(1))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def write_config(path: Path, agents: dict[str, str]) -> None:
    entries = "".join(f'  - {{name: {name}, url: "{url}"}}\n' for name, url in agents.items())
    path.write_text(f"defaults: {{poll_interval: 20ms, timeout: 300ms}}\nagents:\n{entries}")


@pytest.fixture
def exporter_process(tmp_path: Path, simulator: str) -> Iterator[ExporterProcess]:
    config = tmp_path / "factorydash.yml"
    write_config(config, {"line1": simulator})
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    process = ExporterProcess(config, workdir)
    try:
        yield process
    finally:
        process.stop()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_stop_the_exporter_cleanly_within_a_second_even_with_a_hanging_agent(
    tmp_path: Path, simulator: str, signum: int
) -> None:
    with FaultyAgent() as hanging:
        hanging.script("*", Reply(b"<MTConnectStreams>", cut_after=80, hang=True))
        config = tmp_path / "factorydash.yml"
        write_config(config, {"line1": simulator})
        with config.open("a") as extra:  # agents hanging far longer than the second we allow for stopping
            for index in range(3):
                extra.write(f'  - {{name: hanging{index}, url: "{hanging.url}", timeout: 30s}}\n')
        workdir = tmp_path / "cwd"
        workdir.mkdir()
        process = ExporterProcess(config, workdir)
        try:
            wait_until(lambda: process.value("mtconnect_agent_up", "line1") == 1)
            wait_until(lambda: len(hanging.requests) >= 3)  # every hanging agent's follower is stuck in a read
            started = time.monotonic()
            process.process.send_signal(signum)
            code = process.process.wait(timeout=5)
            elapsed = time.monotonic() - started
        finally:
            process.stop()
    assert code == 0, process.log
    assert elapsed < 1.0
    assert "stopping" in process.log
    assert "Traceback" not in process.log
    assert list(workdir.iterdir()) == []  # the exporter writes nothing


def observations_once_following(process: ExporterProcess, shop: ShopFloor) -> float:
    """Wait until agent line1 follows /sample and has applied observations; return their count."""
    wait_until(lambda: process.value("mtconnect_agent_up", "line1") == 1)  # /current read: what follows are samples
    shop.advance(60)
    wait_until(lambda: (process.value("mtconnect_agent_observations_total", "line1") or 0) > 0)
    return process.value("mtconnect_agent_observations_total", "line1")


def test_sighup_reloads_keeping_unchanged_agents_state_and_rejects_an_invalid_config(
    shop: ShopFloor, simulator: str, exporter_process: ExporterProcess
) -> None:
    process = exporter_process
    before = observations_once_following(process, shop)
    assert ", following 1 agent\n" in process.log

    write_config(process.config, {"line1": simulator, "line2": simulator})
    process.process.send_signal(signal.SIGHUP)
    wait_until(lambda: process.value("mtconnect_agent_up", "line2") == 1)
    assert process.value("mtconnect_agent_observations_total", "line1") >= before  # not reset
    shop.advance(60)
    wait_until(lambda: process.value("mtconnect_agent_observations_total", "line1") > before)

    assert process.exporter_value("factorydash_config_last_reload_successful") == 1
    succeeded_at = process.exporter_value("factorydash_config_last_reload_success_timestamp_seconds")
    assert abs(succeeded_at - time.time()) < 60

    process.config.write_text("agents: []\n")
    process.process.send_signal(signal.SIGHUP)
    # The record spans lines and stderr is read line by line: wait for the problem itself.
    wait_until(lambda: "agents" in process.log.partition("reload failed, keeping the old configuration")[2])
    assert process.exporter_value("factorydash_config_last_reload_successful") == 0
    assert process.exporter_value("factorydash_config_last_reload_success_timestamp_seconds") == succeeded_at
    assert process.value("mtconnect_agent_up", "line1") == 1
    assert process.value("mtconnect_agent_up", "line2") == 1
    assert process.process.poll() is None


def test_post_reload_answers_what_happened_and_keeps_the_old_config_when_the_new_one_is_invalid(
    shop: ShopFloor, simulator: str, exporter_process: ExporterProcess
) -> None:
    process = exporter_process
    before = observations_once_following(process, shop)

    assert process.get("-/reload")[0] == 405
    process.config.write_text("agents:\n  - {name: line1, url: 'ftp://nowhere/'}\n")
    status, body = process.get("-/reload", method="POST")
    assert status == 500
    assert body.startswith("reload failed, old config kept")
    assert "url" in body
    wait_until(lambda: "reload failed, keeping the old configuration" in process.log)
    assert process.exporter_value("factorydash_config_last_reload_successful") == 0

    write_config(process.config, {"line1": simulator, "line3": simulator})
    assert process.get("-/reload", method="POST") == (200, "Reloaded\n")
    assert process.exporter_value("factorydash_config_last_reload_successful") == 1
    wait_until(lambda: process.value("mtconnect_agent_up", "line3") == 1)
    assert process.value("mtconnect_agent_observations_total", "line1") >= before
