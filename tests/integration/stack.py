"""The whole stack on 127.0.0.1 for end-to-end tests: simulator -> exporter -> a real Prometheus.

`live_stack` (session scope) runs one scripted shop-floor scenario at accelerated
simulated time and leaves Prometheus holding its data, so the Prometheus rule
tests, the KPI tests and the Grafana panel-query tests ask questions of the same history.

The scenario: Monday 06:00-08:00 UTC of a plant whose calendar (`SHIFTS`, written once here)
has a shift change at 07:00 and a 15-minute break in each shift; the simulator follows the
calendar in its own representation (simulator/shifts.py), the exporter in its config. The
machines' job cycles last minutes: far shorter than the 1h rule windows.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, time as wall_time, timezone
from pathlib import Path

import pytest
import requests
import yaml

from factorydash.config import parse_config
from factorydash.exporter import Exporter
from factorydash.simulator import AdapterDropout, ConditionFault, EmergencyStop, ShopFloor, SimulatorServer
from factorydash.simulator.shifts import ShiftCalendar, ShiftPattern
from factorydash.simulator.machines import LATHE, MILL_5X, VMC, MachineKind
from factorydash.simulator.truth import IdealCycleTimes
from factorydash.web import ExporterApp, WebServer
from tests.conftest import ROOT, require_program

SEED = 35  # a run with a setup, a bad part, feed holds and parts cut into the breaks
START = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)  # a Monday, an hour before the shift change
# The plant's calendar, every day, UTC: (start, end, breaks). Written once: the simulator gets it as
# a ShiftCalendar, the exporter as planning.calendars (see `simulator_calendar`, `exporter_config`).
SHIFTS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("00:00", "07:00", (("06:20", "06:35"),)),
    ("07:00", "15:00", (("07:30", "07:45"),)),
)
SIMULATED_SECONDS = 2 * 3600  # 06:00-08:00: the end of one shift and the first hour of the next
STEP_SECONDS = 60.0  # simulated seconds per tick ...
TICK_REAL_SECONDS = 0.5  # ... every half real second: 120x real time
# The exporter exposes the open interval of a value from the creationTime of the document that
# carried it (docs/time-accounting.md section 2: never back-dated), so the running interval lags
# the simulator by up to one document. The scenario's last minutes therefore advance in small
# steps, each read by the exporter before the next; an adapter dropout (or a fault) of every
# machine at their start makes every machine's last change of state fall into them: at the end,
# the running interval of every machine lags by at most FINAL_STEP_SECONDS.
FINAL_STRETCH_SECONDS = 4 * 60.0
FINAL_STEP_SECONDS = 4.0
CHANGE_SECONDS = 60.0  # how long the dropout (or fault) lasts
ESTOP_MACHINE_INDEX = 0
ESTOP_AT = 40 * 60  # simulated seconds (06:40); lasts past the end, so the alert is firing at the end
ALERT_FOR_SECONDS = 60  # `for:` of MTConnectEmergencyStopTriggered


@dataclass(frozen=True)
class MachinePlan:
    """The planning of one simulated machine, given to the exporter and to the ground truth."""

    quality_source: str
    ideal: IdealCycleTimes


def _per_program(kind: MachineKind, share: float) -> dict[str, float]:
    """Ideal cycle times a little shorter than the programs' nominal cycles."""
    return {program: float(round(share * seconds)) for program, seconds in kind.programs}


# Per machine kind: one quality source each, per-program ideal cycle times where a program's is
# known, the machine's own for the VMC (the mean of its programs', as a plant without per-program
# data would configure).
PLANS: Mapping[str, MachinePlan] = {
    MILL_5X.key: MachinePlan("good_count", IdealCycleTimes(default=600.0, per_program=_per_program(MILL_5X, 0.9))),
    LATHE.key: MachinePlan("bad_count", IdealCycleTimes(per_program=_per_program(LATHE, 0.95))),
    VMC.key: MachinePlan("assume_good", IdealCycleTimes(default=490.0)),
}


def simulator_calendar() -> ShiftCalendar:
    every_day = frozenset(range(7))
    return ShiftCalendar("UTC", tuple(
        ShiftPattern(every_day, wall_time.fromisoformat(start), wall_time.fromisoformat(end),
                     tuple((wall_time.fromisoformat(a), wall_time.fromisoformat(b)) for a, b in breaks))
        for start, end, breaks in SHIFTS
    ))


def planning_config(plans: Mapping[tuple[str, str], MachinePlan]) -> dict[str, object]:
    """The exporter's `planning:` block: the plant's calendar for every device, `plans` by (agent, device)."""
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    devices = []
    for (agent, device), plan in plans.items():
        entry: dict[str, object] = {"agent": agent, "device": device, "quality_source": plan.quality_source}
        if plan.ideal.default is not None:
            entry["ideal_cycle_time"] = f"{plan.ideal.default:g}s"
        if plan.ideal.per_program:
            entry["ideal_cycle_times"] = {program: f"{s:g}s" for program, s in plan.ideal.per_program.items()}
        devices.append(entry)
    return {
        "calendars": {"plant": {"timezone": "UTC", "weekly": [
            {"days": every_day, "start": start, "end": end, "breaks": [{"start": a, "end": b} for a, b in breaks]}
            for start, end, breaks in SHIFTS
        ]}},
        "default": {"calendar": "plant"},
        "devices": devices,
    }


def exporter_config(url: str, plans: Mapping[str, MachinePlan]) -> str:
    """The exporter's config for the scenario's agent `shopfloor`: `plans` by device name."""
    return yaml.safe_dump({
        "agents": [{"name": "shopfloor", "url": url, "poll_interval": "100ms", "timeout": "5s"}],
        "planning": planning_config({("shopfloor", device): plan for device, plan in plans.items()}),
    }, sort_keys=False)


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
    plans: Mapping[str, MachinePlan]  # by device name

    def at_end(self, expr: str) -> list[dict]:
        return self.prometheus.query(expr, self.last_scrape)


def _wait(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
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


def _clock_caught_up(exporter: Exporter, shop: ShopFloor) -> bool:
    """The exporter's agent clock (A) has reached the simulator's present."""
    agent_clock = exporter.agents["shopfloor"].state.clock.now
    return agent_clock is not None and agent_clock >= shop.now().timestamp()


@pytest.fixture(scope="session")
def live_stack() -> Iterator[LiveStack]:
    require_program("prometheus")
    workdir = Path(tempfile.mkdtemp(prefix="factorydash-e2e-"))
    shop = ShopFloor(seed=SEED, clock="manual", start=START, schema_version="2.0", calendar=simulator_calendar())
    estop_device = shop.devices[ESTOP_MACHINE_INDEX].name
    shop.schedule(ESTOP_AT, EmergencyStop(estop_device, duration=24 * 3600))
    final_stretch = SIMULATED_SECONDS - FINAL_STRETCH_SECONDS
    for machine in shop.devices:
        # The emergency-stopped machine gets a fault instead of a dropout: a dropout would make its
        # EMERGENCY_STOP UNAVAILABLE and restart the alert's `for:` (a minute of real time more).
        change = ConditionFault if machine.name == estop_device else AdapterDropout
        shop.schedule(final_stretch + FINAL_STEP_SECONDS, change(machine.name, CHANGE_SECONDS))
    plans = {machine.name: PLANS[machine.kind] for machine in shop.devices}
    simulator = SimulatorServer(shop).start()
    exporter = Exporter(parse_config(exporter_config(simulator.url, plans)))
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
        # ... then runs at 120x until the final stretch, ...
        elapsed = 0.0
        while elapsed < final_stretch:
            time.sleep(TICK_REAL_SECONDS)
            shop.advance(STEP_SECONDS)
            elapsed += STEP_SECONDS
        # ... goes through the final stretch in small steps, each read by the exporter (see
        # FINAL_STEP_SECONDS), and stands still again.
        while elapsed < SIMULATED_SECONDS:
            shop.advance(FINAL_STEP_SECONDS)
            elapsed += FINAL_STEP_SECONDS
            _wait(lambda: _clock_caught_up(exporter, shop), 10, "the exporter to read a small step", poll=0.01)
        _wait(lambda: _caught_up(exporter, shop), 30, "the exporter to catch up with the simulator")
        time.sleep(2.5)  # two more scrapes of the final state and a rule evaluation after them
        # The emergency stop (06:40, 20 real seconds into the run) fires after the alert's `for: 1m`.
        _wait(
            lambda: any(a["labels"]["alertname"] == "MTConnectEmergencyStopTriggered" and a["state"] == "firing"
                        for a in prometheus.api("alerts")["alerts"]),
            ALERT_FOR_SECONDS + 30,
            "the emergency stop alert to fire",
        )
        last_scrape = float(prometheus.query("timestamp(mtconnect_agent_up)")[0]["value"][1])
        yield LiveStack(shop, exporter, web.url, prometheus, first_scrape, last_scrape, SIMULATED_SECONDS, estop_device,
                        plans)
    finally:
        if prometheus is not None:
            prometheus.stop()
        web.stop()
        exporter.stop()
        simulator.stop()
        shutil.rmtree(workdir, ignore_errors=True)


