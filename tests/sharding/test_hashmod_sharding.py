"""Two exporters and two Prometheus servers split the agents; a third Prometheus federates both.

Both standard ways at once: each exporter's config lists only its agents
(static assignment, computed with Prometheus' own hashmod rule), and each
Prometheus server gets the full list of agent names and keeps its share with
`hashmod` relabelling over `/probe?target=<agent name>`. If the two
assignments disagreed, a Prometheus server would ask an exporter about an
agent it does not follow (HTTP 400) and that agent would be missing; if they
overlapped, it would be there twice. The global view must hold every agent
exactly once.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from factorydash.config import config_from_agent_flags
from factorydash.exporter import Exporter
from factorydash.simulator import ShopFloor, SimulatorServer
from factorydash.web import ExporterApp, WebServer
from tests.conftest import require_program

pytestmark = pytest.mark.integration

AGENTS = ("press-1", "press-2", "mill-1", "mill-2", "lathe-1", "lathe-2")
SHARDS = 2
DEADLINE_SECONDS = 45


def hashmod(value: str, modulus: int) -> int:
    """Prometheus' `hashmod` relabel action: the last 8 bytes of the MD5, big-endian, modulo."""
    return int.from_bytes(hashlib.md5(value.encode()).digest()[8:], "big") % modulus


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shard_config(exporter: str, shard: int) -> str:
    return f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels:
    shard: "{shard}"
scrape_configs:
  - job_name: factorydash
    metrics_path: /probe
    static_configs:
      - targets: [{", ".join(AGENTS)}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: {exporter}
      - source_labels: [__param_target]
        modulus: {SHARDS}
        target_label: __tmp_shard
        action: hashmod
      - source_labels: [__tmp_shard]
        regex: "{shard}"
        action: keep
"""


def global_config(shards: list[str]) -> str:
    return f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params:
      "match[]": ['{{__name__=~"mtconnect_.*"}}']
    static_configs:
      - targets: [{", ".join(shards)}]
"""


class Prometheus:
    def __init__(self, binary: str, config: str, directory: Path) -> None:
        directory.mkdir()
        (directory / "prometheus.yml").write_text(config)
        self.address = f"127.0.0.1:{free_port()}"
        self.process = subprocess.Popen(
            [binary, f"--config.file={directory / 'prometheus.yml'}", f"--storage.tsdb.path={directory / 'data'}",
             f"--web.listen-address={self.address}", "--storage.tsdb.retention.time=1h"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def query(self, expression: str) -> list[dict]:
        url = f"http://{self.address}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)["data"]["result"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextmanager
def sharded_fleet() -> Iterator[tuple[list[Prometheus], Prometheus, dict[int, list[str]]]]:
    binary = require_program("prometheus")
    assignment = {shard: [name for name in AGENTS if hashmod(name, SHARDS) == shard] for shard in range(SHARDS)}
    with ExitStack() as stack:
        agents = {}
        for index, name in enumerate(AGENTS):
            server = stack.enter_context(SimulatorServer(ShopFloor(seed=index + 1, machines=1)))
            agents[name] = server.url
        shard_addresses = []
        for shard, names in assignment.items():
            # Static assignment: this exporter's config lists only its shard's agents.
            exporter = Exporter(config_from_agent_flags([f"{name}={agents[name]}" for name in names], env={}))
            web = WebServer(ExporterApp(exporter), "127.0.0.1", 0)
            exporter.start()
            web.start()
            stack.callback(exporter.stop)
            stack.callback(web.stop)
            shard_addresses.append(f"{web.host}:{web.port}")
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="factorydash-shards-")))
        shards = []
        for shard, address in enumerate(shard_addresses):
            prometheus = Prometheus(binary, shard_config(address, shard), directory / f"shard-{shard}")
            stack.callback(prometheus.stop)
            shards.append(prometheus)
        central = Prometheus(binary, global_config([p.address for p in shards]), directory / "global")
        stack.callback(central.stop)
        yield shards, central, assignment


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OSError:
            pass  # Prometheus still starting
        time.sleep(0.5)
    return False


def agents_in(result: list[dict]) -> list[str]:
    return sorted(sample["metric"]["agent"] for sample in result)


@pytest.fixture(scope="module")
def fleet():
    with sharded_fleet() as running:
        shards, central, _ = running
        everyone = "mtconnect_agent_up == 1 and on (agent) mtconnect_device_info"
        assert wait_for(lambda: len({s["metric"]["agent"] for s in central.query(everyone)}) == len(AGENTS),
                        DEADLINE_SECONDS), "the global view never saw every agent up"
        yield running


def test_the_static_assignment_puts_agents_on_both_shards(fleet):
    _, _, assignment = fleet
    assert all(assignment.values()) and sorted(sum(assignment.values(), [])) == sorted(AGENTS)


def test_each_shard_prometheus_scrapes_exactly_its_hashmod_share(fleet):
    shards, _, assignment = fleet
    for shard, prometheus in enumerate(shards):
        assert agents_in(prometheus.query("mtconnect_agent_up == 1")) == sorted(assignment[shard])
        assert prometheus.query('up{job="factorydash"} == 0') == []  # no target the exporter does not follow


def test_the_global_view_holds_every_agent_exactly_once(fleet):
    _, central, assignment = fleet
    assert agents_in(central.query("mtconnect_agent_up")) == sorted(AGENTS)
    by_shard = {s["metric"]["agent"]: s["metric"]["shard"] for s in central.query("mtconnect_agent_up")}
    assert by_shard == {name: str(shard) for shard, names in assignment.items() for name in names}


def test_no_data_item_series_is_duplicated_in_the_global_view(fleet):
    _, central, _ = fleet
    duplicates = central.query(
        "count by (agent, device, data_item_id, state) (mtconnect_execution_state) > 1"
    )
    present = central.query("count by (agent) (mtconnect_execution_state)")
    assert duplicates == [] and agents_in(present) == sorted(AGENTS)
