"""The whole stack on 127.0.0.1 for end-to-end tests: simulator -> exporter -> a real Prometheus.

`live_stack` (session scope) runs one scripted shop-floor scenario at accelerated
simulated time and leaves Prometheus holding its data, so the Prometheus rule
tests and the Grafana panel-query tests ask questions of the same history.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from factorydash.config import parse_config
from factorydash.exporter import Exporter
from factorydash.simulator import EmergencyStop, ShopFloor, SimulatorServer
from factorydash.web import ExporterApp, WebServer
from tests.conftest import ROOT, require_program

START = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)  # a Monday, first shift
SIMULATED_SECONDS = 90 * 60  # the scenario: an hour and a half of production
STEP_SECONDS = 60.0  # simulated seconds per tick ...
TICK_REAL_SECONDS = 0.5  # ... every half real second: 120x real time
ESTOP_MACHINE_INDEX = 0
ESTOP_AT = 10 * 60  # simulated seconds; lasts past the end, so the alert is firing at the end
ALERT_FOR_SECONDS = 60  # `for:` of MTConnectEmergencyStopTriggered


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Prometheus:
    """Debian's prometheus on a free loopback port with a temporary data directory."""

    def __init__(self, config_text: str, workdir: Path) -> None:
        binary = require_program("prometheus")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(config_text)
        self.log = (workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1d",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus did not start: {(workdir / 'prometheus.log').read_text()[-2000:]}")

    def api(self, path: str, **params: object) -> dict:
        response = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        payload = response.json()
        assert payload["status"] == "success", payload
        return payload["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr} if at is None else {"query": expr, "time": at}
        return self.api("query", **params)["result"]

    def value(self, expr: str, at: float | None = None) -> float:
        result = self.query(expr, at)
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def rule_files_for_the_scenario(workdir: Path) -> list[Path]:
    """The project's rule files, evaluated every second like the 1 s scrapes of the scenario.

    Only the groups' `interval:` is dropped (the OEE group's 1m would evaluate once or
    twice in a scenario that lasts a minute and a half); every expression is unchanged.
    """
    copies = []
    for path in sorted((ROOT / "prometheus" / "rules").glob("*.yml")):
        copy = workdir / path.name
        copy.write_text(re.sub(r"(?m)^\s+interval: .*\n", "", path.read_text()))
        copies.append(copy)
    return copies


def prometheus_config(exporter_address: str, rules: list[Path]) -> str:
    rule_lines = "\n".join(f"  - {path}" for path in rules)
    return f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
{rule_lines}
scrape_configs:
  - job_name: factorydash
    static_configs:
      - targets: ["{exporter_address}"]
"""


EXPORTER_CONFIG = """
agents:
  - name: shopfloor
    url: {url}
    poll_interval: 100ms
    timeout: 5s
planning:
  calendars:
    around-the-clock:
      timezone: UTC
      # planned all day, in two shifts: the scenario (06:00-07:30) crosses the 07:00 boundary,
      # so the exporter shows a running and a previous shift
      weekly:
        - {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "07:00"}}
        - {{days: [mon, tue, wed, thu, fri, sat, sun], start: "07:00", end: "24:00"}}
  default: {{calendar: around-the-clock, ideal_cycle_time: 240s}}
"""


@dataclass
class LiveStack:
    shop: ShopFloor
    exporter: Exporter
    exporter_url: str
    prometheus: Prometheus
    first_scrape: float  # Prometheus timestamps bracketing the scenario
    last_scrape: float
    simulated_seconds: float
    estop_device: str

    def at_end(self, expr: str) -> list[dict]:
        return self.prometheus.query(expr, self.last_scrape)


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _caught_up(exporter: Exporter, shop: ShopFloor) -> bool:
    state = exporter.agents["shopfloor"].state
    header = state.header
    return (
        state.up
        and header is not None
        and header.next_sequence is not None
        and header.next_sequence > shop.agent.last_sequence
    )


@pytest.fixture(scope="session")
def live_stack() -> Iterator[LiveStack]:
    require_program("prometheus")
    workdir = Path(tempfile.mkdtemp(prefix="factorydash-e2e-"))
    shop = ShopFloor(seed=5, clock="manual", start=START, schema_version="2.0")
    estop_device = shop.devices[ESTOP_MACHINE_INDEX].name
    shop.schedule(ESTOP_AT, EmergencyStop(estop_device, duration=24 * 3600))
    simulator = SimulatorServer(shop).start()
    exporter = Exporter(parse_config(EXPORTER_CONFIG.format(url=simulator.url)))
    web = WebServer(ExporterApp(exporter), "127.0.0.1", 0)
    exporter.start()
    web.start()
    prometheus = None
    try:
        rules = rule_files_for_the_scenario(workdir)
        prometheus = Prometheus(prometheus_config(f"127.0.0.1:{web.port}", rules), workdir)
        # Simulated time stands still at the start until Prometheus holds the initial state ...
        _wait(lambda: _caught_up(exporter, shop), 30, "the exporter to read the initial state")
        _wait(lambda: len(prometheus.query("count_over_time(mtconnect_agent_up[1m])")) == 1
              and float(prometheus.query("count_over_time(mtconnect_agent_up[1m])")[0]["value"][1]) >= 2,
              30, "two scrapes of the initial state")
        first_scrape = float(prometheus.query("timestamp(mtconnect_agent_up)")[0]["value"][1])
        # ... then runs at 120x until the end of the scenario, and stands still again.
        elapsed = 0.0
        while elapsed < SIMULATED_SECONDS:
            time.sleep(TICK_REAL_SECONDS)
            shop.advance(STEP_SECONDS)
            elapsed += STEP_SECONDS
        _wait(lambda: _caught_up(exporter, shop), 30, "the exporter to catch up with the simulator")
        time.sleep(2.5)  # two more scrapes of the final state and a rule evaluation after them
        # The emergency stop has been on for ~80 real seconds: past the alert's `for: 1m`.
        _wait(
            lambda: any(a["labels"]["alertname"] == "MTConnectEmergencyStopTriggered" and a["state"] == "firing"
                        for a in prometheus.api("alerts")["alerts"]),
            ALERT_FOR_SECONDS + 30,
            "the emergency stop alert to fire",
        )
        last_scrape = float(prometheus.query("timestamp(mtconnect_agent_up)")[0]["value"][1])
        yield LiveStack(shop, exporter, web.url, prometheus, first_scrape, last_scrape, SIMULATED_SECONDS, estop_device)
    finally:
        if prometheus is not None:
            prometheus.stop()
        web.stop()
        exporter.stop()
        simulator.stop()
        shutil.rmtree(workdir, ignore_errors=True)


