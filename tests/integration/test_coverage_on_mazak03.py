"""Done-when of the model issue: the simulator serves the NIST Mazak03 device file (schema 2.5, Agent
device included) and replays its SHDR log; following it, every data item of the followed devices has a
series or is listed on the landing page with its reason, and `--config.check.coverage` says the same."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from lxml import etree

from factorydash.cli import main
from factorydash.collector import FactorydashCollector
from factorydash.config import parse_config
from factorydash.coverage import VALUE_UNAVAILABLE, agent_coverage
from factorydash.exporter import Exporter
from factorydash.exposition import render_metrics
from factorydash.landing import render_landing_page
from factorydash.limits import SeriesBudget
from factorydash.parser import parse_document
from factorydash.simulator import ReplayFloor, SimulatorServer
from factorydash.state import AgentState, StateSettings
from factorydash.vocabularies import ADAPTER_INFO_LABELS
from tests.conftest import require_sample

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
CONFIG = """
global:
  numeric_event_types: [x:PALLET_NUMBER, x:SEQUENCE_NUMBER]
agents:
  - name: mazak
    url: {url}
    devices: [Mazak03, Agent]
"""


@pytest.fixture(scope="module")
def agent_url():
    log = require_sample("nist-mazak03-shdr-20160502.txt")
    devices = require_sample("nist-vds-devices-config.xml")
    floor = ReplayFloor(log, devices, clock="manual", start=START, schema_version="2.5", device="Mazak03")
    floor.advance(8 * 3600)  # the log starts at 05:00, the machine comes up at 12:41
    with SimulatorServer(floor) as server:
        yield server.url


def _followed_items(url: str) -> dict[str, str]:
    """Data item id -> type of the followed devices, from the probe itself."""
    root = etree.fromstring(requests.get(url + "probe", timeout=10).content)
    items = {}
    for device in root.iter("{*}Device", "{*}Agent"):
        if device.get("name") in ("Mazak03", "Agent"):
            items.update((item.get("id"), item.get("type")) for item in device.iter("{*}DataItem"))
    return items


def test_every_data_item_has_a_series_or_a_reason_on_the_landing_page(agent_url: str) -> None:
    exporter = Exporter(parse_config(CONFIG.format(url=agent_url), env={}))
    follower = exporter.agents["mazak"].follower
    for _ in range(3):  # probe, current, one sample
        follower.step()
    metrics = render_metrics(FactorydashCollector(exporter.states)).decode()
    page = render_landing_page(exporter.states()).decode()
    exporter.stop()

    items = _followed_items(agent_url)
    with_series = {line.split('data_item_id="')[1].split('"')[0] for line in metrics.splitlines()
                   if 'data_item_id="' in line and not line.startswith("#")}  # fmt: skip
    if "mtconnect_adapter_info{" in metrics:
        with_series |= {item for item, kind in items.items() if kind in ADAPTER_INFO_LABELS}
    listed = set(etree.HTML(page).xpath("//section[@data-agent='mazak']//code/@data-item"))

    assert len(items) > 60 and "Mazak03-path_10" in items and "agent_avail" in items
    assert {item for item in items if item not in with_series and item not in listed} == set()
    assert with_series & listed <= {item for item, kind in items.items() if kind in ADAPTER_INFO_LABELS}
    assert f"mazak: {len(with_series & set(items))} of {len(items)} data items have series" in page
    # The vendor numbers the config turned on are gauges; the vendor text the config left off is listed.
    assert "mtconnect_x_pallet_number{" in metrics and "mtconnect_x_sequence_number{" in metrics
    assert {"Mazak03-path_26", "Mazak03-path_27"} <= listed  # x:TOOL_GROUP, x:TOOL_SUFFIX


def test_config_check_coverage_prints_the_same_per_agent(agent_url: str, tmp_path: Path, capsys) -> None:
    (tmp_path / "c.yml").write_text(CONFIG.format(url=agent_url))

    assert main([f"--config.file={tmp_path / 'c.yml'}", "--config.check", "--config.check.coverage"]) == 0

    out = capsys.readouterr().out.splitlines()
    items = _followed_items(agent_url)
    assert out[0] == "configuration is valid: 1 agent"
    assert out[1].startswith("agent mazak: ") and out[1].endswith(f" of {len(items)} data items have series")
    assert "    Mazak03 Mazak03-path_27 EVENT x:TOOL_SUFFIX" in out
    assert "  device GFAgie01 not followed (devices filter): 23 data items" in out


def test_config_check_coverage_exits_1_when_an_agent_does_not_answer(tmp_path: Path, capsys) -> None:
    (tmp_path / "c.yml").write_text('agents:\n  - {name: gone, url: "http://127.0.0.1:9/", timeout: 1s}\n')

    assert main([f"--config.file={tmp_path / 'c.yml'}", "--config.check", "--config.check.coverage"]) == 1

    assert "agent gone: no coverage, the agent did not answer: " in capsys.readouterr().out


def test_the_real_cppagent_documents_give_adapter_info_and_a_reason_for_every_other_item() -> None:
    folder = "cppagent-2.5.0.11-mazak03-schema2.5/"
    probe = require_sample(folder + "probe.xml").read_bytes()
    state = AgentState("nist", "http://agent.test/", StateSettings(), SeriesBudget(10_000))
    state.load_model(parse_document(probe))
    state.apply_current(parse_document(require_sample(folder + "current.xml").read_bytes()), initial=True)
    metrics = render_metrics(FactorydashCollector(lambda: [state])).decode()
    with state.lock:
        coverage = agent_coverage(state)

    declared = len(list(etree.fromstring(probe).iter("{*}DataItem")))
    unavailable = {item.item_id for item in coverage.without_series[VALUE_UNAVAILABLE].items}
    assert coverage.declared == declared == 79
    # cppagent 2.5 knows the adapter's URI but not its versions (the SHDR adapter never sent them).
    assert ('mtconnect_adapter_info{adapter="shdr://127.0.0.1:49739",agent="nist",component_id="_127.0.0.1_49739",'
            'device="Agent",mtconnect_version="",software_version="",uri="SHDR://127.0.0.1:49739"} 1.0') in metrics
    assert {"_127.0.0.1_49739_adapter_software_version", "_127.0.0.1_49739_mtconnect_version",
            "agent_208ed59f_asset_count", "Mazak03_asset_count"} <= unavailable  # fmt: skip
    assert coverage.with_series + sum(reason.count for reason in coverage.without_series.values()) == declared
