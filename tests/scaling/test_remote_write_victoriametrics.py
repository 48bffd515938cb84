"""Scale-out on existing engines: hashmod shards -> Prometheus agents -> remote_write -> VictoriaMetrics + vmalert.

Two exporters split six agents (static assignment by Prometheus' hashmod rule,
as in tests/sharding), two Prometheus servers in agent mode keep their hashmod
share of `/probe` and remote-write it into one VictoriaMetrics single node, and
vmalert evaluates the project's recording and alerting rules against it. Beside
them one ordinary Prometheus scrapes both exporters and evaluates the same rules:
the ground truth the global view must reproduce.

The KPI rules are ratios of increases over windows (5m to 24h) longer than the
test, so every series is born inside the window, where the two engines differ:
Prometheus extrapolates a series back towards its zero point by at most half a
scrape interval, VictoriaMetrics counts a small first value from zero. Both
agree on the series present at the first scrape when they are all 0 there, so
the shop floors stand still at their start for the first scrapes; for a series
born later (a state first entered during the run) the difference is at most one
scrape interval's worth, so the scrapers scrape four times a second while the
floors run 30 simulated minutes at 90x, then stand still while the rules are compared.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from factorydash.config import parse_config
from factorydash.exporter import Exporter
from factorydash.simulator import ShopFloor, SimulatorServer
from factorydash.simulator.machines import MILL_5X
from factorydash.web import ExporterApp, WebServer
from tests.conftest import ROOT
from tests.integration.stack import PLANS, START, Prometheus, free_port, planning_config, rule_files_for_the_scenario
from tests.scaling.servers import LoopbackServer, prometheus_agent, victoria_metrics, vmalert
from tests.sharding.test_hashmod_sharding import AGENTS, SHARDS, hashmod, shard_config

pytestmark = pytest.mark.integration

SCRAPE_INTERVAL = "250ms"  # about 80 scrapes during the run: a series born late misses 1/80 of it at most
RUN_STEPS = 200  # 30 simulated minutes ...
STEP_SECONDS = 9.0
TICK_REAL_SECONDS = 0.1  # ... at 90x real time
TOLERANCE = 0.01  # one percentage point
WAIT_SECONDS = 30

# Recording rules that carry a KPI share, compared series by series.
KPI_RULES = sorted(
    rule["record"]
    for path in (ROOT / "prometheus" / "rules").glob("*.yml")
    for group in yaml.safe_load(path.read_text())["groups"]
    for rule in group["rules"]
    if ":ratio_" in rule.get("record", "")
)


def exporter_config(agents: dict[str, str]) -> str:
    """The given agents polled every 100 ms, with the end-to-end stack's planning: its plant calendar,
    and its 5-axis mill's plan for each agent's one machine (ShopFloor(machines=1))."""
    planning = planning_config({(name, "Mill5X-01"): PLANS[MILL_5X.key] for name in agents})
    return yaml.safe_dump({
        "agents": [{"name": name, "url": url, "poll_interval": "100ms", "timeout": "5s"} for name, url in agents.items()],
        "planning": planning,
    })  # fmt: skip


def agent_config(exporter_address: str, shard: int, store: LoopbackServer) -> str:
    """The sharding test's hashmod scrape of one shard, remote-written to the store within a second."""
    scrape = shard_config(exporter_address, shard).replace("scrape_interval: 1s", f"scrape_interval: {SCRAPE_INTERVAL}")
    return scrape + f"""
remote_write:
  - url: {store.url}/api/v1/write
    queue_config:
      batch_send_deadline: 1s
    metadata_config:
      send: false
"""


def single_prometheus_config(exporter_addresses: list[str], rule_files: list[Path]) -> str:
    rules = "\n".join(f"  - {path}" for path in rule_files)
    return f"""
global:
  scrape_interval: {SCRAPE_INTERVAL}
  scrape_timeout: {SCRAPE_INTERVAL}
  evaluation_interval: 1s
rule_files:
{rules}
scrape_configs:
  - job_name: factorydash
    static_configs:
      - targets: [{", ".join(exporter_addresses)}]
"""


def eventually(condition: Callable[[], bool], seconds: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def wait_until(condition: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> None:
    if not eventually(condition, seconds):
        raise AssertionError(f"timed out waiting for {what}")


def caught_up(exporters: list[Exporter], shops: dict[str, ShopFloor]) -> bool:
    """Every exporter has read every agent's last observation."""
    for exporter in exporters:
        for name, followed in exporter.agents.items():
            header = followed.state.header
            if not (followed.state.up and header is not None and header.next_sequence is not None
                    and header.next_sequence > shops[name].agent.last_sequence):
                return False
    return True


def scrapes_since(server: LoopbackServer | Prometheus, moment: float) -> int:
    """The fewest samples of mtconnect_agent_up any agent has after `moment` (Unix seconds), 0 if one is missing."""
    result = server.query(f"count_over_time(mtconnect_agent_up[{max(int(time.time() - moment), 1)}s])")
    counts = {sample["metric"]["agent"]: float(sample["value"][1]) for sample in result}
    return int(min(counts.values())) if set(counts) == set(AGENTS) else 0


def recorded_since(server: LoopbackServer | Prometheus, rule: str, moment: float) -> bool:
    result = server.query(f"timestamp({rule})")
    return bool(result) and min(float(sample["value"][1]) for sample in result) > moment


def series(result: list[dict]) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(sample["metric"].items())): float(sample["value"][1]) for sample in result}


def agrees(store: LoopbackServer, reference: Prometheus, rule: str) -> bool:
    global_view, expected = series(store.query(rule)), series(reference.query(rule))
    return set(global_view) == set(expected) and all(abs(global_view[k] - v) <= TOLERANCE for k, v in expected.items())


@dataclass
class ScaleOut:
    assignment: dict[int, list[str]]
    store: LoopbackServer  # VictoriaMetrics: the global view
    evaluator: LoopbackServer  # vmalert
    reference: Prometheus  # one Prometheus over both exporters
    rule_files: list[Path]


@pytest.fixture(scope="module")
def scale_out() -> Iterator[ScaleOut]:
    assignment = {shard: [name for name in AGENTS if hashmod(name, SHARDS) == shard] for shard in range(SHARDS)}
    workdir = Path(tempfile.mkdtemp(prefix="factorydash-scale-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        shops = {name: ShopFloor(seed=index + 1, clock="manual", start=START, machines=1) for index, name in enumerate(AGENTS)}
        urls = {name: stack.enter_context(SimulatorServer(shop)).url for name, shop in shops.items()}
        exporters, addresses = [], []
        for names in assignment.values():
            exporter = Exporter(parse_config(exporter_config({name: urls[name] for name in names})))
            web = WebServer(ExporterApp(exporter), "127.0.0.1", 0)
            exporter.start()
            web.start()
            stack.callback(exporter.stop)
            stack.callback(web.stop)
            exporters.append(exporter)
            addresses.append(f"{web.host}:{web.port}")
        wait_until(lambda: caught_up(exporters, shops), "the exporters to read the initial state")

        rule_files = rule_files_for_the_scenario(workdir)
        store = victoria_metrics(workdir)
        stack.callback(store.stop)
        evaluator = vmalert(rule_files, store, f"http://127.0.0.1:{free_port()}", workdir)
        stack.callback(evaluator.stop)
        for shard, address in enumerate(addresses):
            stack.callback(prometheus_agent(agent_config(address, shard, store), workdir).stop)
        reference_dir = workdir / "reference"
        reference_dir.mkdir()
        reference = Prometheus(single_prometheus_config(addresses, rule_files), reference_dir)
        stack.callback(reference.stop)

        started = time.time()
        for engine in (reference, store):
            wait_until(lambda: scrapes_since(engine, started) >= 2, "two scrapes of the frozen state")
        for _ in range(RUN_STEPS):
            time.sleep(TICK_REAL_SECONDS)
            for shop in shops.values():
                shop.advance(STEP_SECONDS)
        wait_until(lambda: caught_up(exporters, shops), "the exporters to catch up with the run")
        stood_still = time.time()
        for engine in (reference, store):
            wait_until(lambda: scrapes_since(engine, stood_still) >= 2, "two scrapes of the final state")
            # vmalert's rules that read rules see them one write later than Prometheus' do.
            wait_until(lambda: recorded_since(engine, "plant:mtconnect_utilization:ratio_5m", stood_still + 3),
                       "rule evaluations over the final state")
        # VictoriaMetrics makes a new series searchable a few seconds after its first sample, so a
        # vmalert rule that reads a rule recorded moments ago (OEE reads quality, born with a device's
        # first part; plant OEE reads each device's OEE) lags behind by those seconds; the comparison
        # tests report whatever still differs after this.
        eventually(lambda: all(agrees(store, reference, rule) for rule in KPI_RULES))
        yield ScaleOut(assignment, store, evaluator, reference, rule_files)


def test_the_global_view_holds_every_agent_exactly_once_from_its_shard(scale_out: ScaleOut) -> None:
    up = scale_out.store.query("mtconnect_agent_up")
    assert sorted(sample["metric"]["agent"] for sample in up) == sorted(AGENTS)
    shard_of = {sample["metric"]["agent"]: sample["metric"]["shard"] for sample in up}
    assert shard_of == {name: str(shard) for shard, names in scale_out.assignment.items() for name in names}
    assert scale_out.store.query("count by (agent, device, data_item_id, state) (mtconnect_execution_state) > 1") == []


def test_vmalert_evaluates_every_rule_of_the_project_without_an_error(scale_out: ScaleOut) -> None:
    groups = requests.get(f"{scale_out.evaluator.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    evaluated = {rule["name"]: rule.get("lastError", "") for group in groups for rule in group["rules"]}
    expected = [
        rule.get("record") or rule["alert"]
        for path in scale_out.rule_files
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]
    assert sorted(evaluated) == sorted(set(expected))
    assert {name: error for name, error in evaluated.items() if error} == {}


@pytest.mark.parametrize("rule", KPI_RULES)
def test_a_kpi_rule_gives_the_same_values_in_victoriametrics_as_on_one_prometheus(scale_out: ScaleOut, rule: str) -> None:
    reference = series(scale_out.reference.query(rule))
    global_view = series(scale_out.store.query(rule))
    assert reference, f"{rule} has no value on the reference Prometheus"
    assert set(global_view) == set(reference)
    differences = {labels: abs(global_view[labels] - value) for labels, value in reference.items()}
    assert max(differences.values()) <= TOLERANCE, differences
