"""Series caps (per agent and global) and flat memory over a simulated week of churning strings."""

from __future__ import annotations

import gc
import logging
import random
import re
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from factorydash.client import AgentClient
from factorydash.collector import FactorydashCollector
from factorydash.config import parse_config
from factorydash.exporter import Exporter
from factorydash.follower import AgentFollower, Phase
from factorydash.simulator import ReplayFloor, SimulatorServer
from factorydash.state import AgentState, SeriesBudget, StateSettings
from tests.exporter import agentdocs

from .agents import FaultyAgent, Reply, agent_config, catch_up, step_until, wait_until
from .conftest import START


def exposition(states) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FactorydashCollector(lambda: states))
    return generate_latest(registry).decode()


def data_series(text: str, agent: str) -> list[str]:
    """Series of data items (not the agent's own health series) of one agent."""
    return [
        line
        for line in text.splitlines()
        if f'agent="{agent}"' in line and 'data_item_id="' in line and not line.startswith("#")
    ]


def dropped(text: str, agent: str) -> float:
    return float(re.search(rf'^mtconnect_series_dropped_total\{{agent="{agent}"\}} (\S+)$', text, re.M).group(1))


def conditions(count: int, sequence: int) -> bytes:
    return agentdocs.streams(
        [agentdocs.condition(sequence + i, "Fault", 1, code=f"F{i}", message=f"fault {i}") for i in range(count)],
        last=sequence + count - 1,
        next_=sequence + count,
    )


@pytest.fixture
def two_agents(scripted: FaultyAgent):
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill()))
    scripted.script("sample", Reply(conditions(40, 7)))

    def start(settings: str) -> Exporter:
        config = parse_config(
            f"""
global: {settings}
defaults: {{poll_interval: 20ms, timeout: 300ms}}
agents:
  - {{name: first, url: "{scripted.url}"}}
  - {{name: second, url: "{scripted.url}"}}
"""
        )
        exporter = Exporter(config)
        exporter.start()
        started.append(exporter)
        wait_until(lambda: all(s.up and s.counters.observations >= 40 for s in exporter.states()))
        return exporter

    started: list[Exporter] = []
    yield start
    for exporter in started:
        exporter.stop()


def test_beyond_the_per_agent_cap_no_new_series_are_created_and_the_drop_is_counted_and_named(
    two_agents, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="factorydash"):
        exporter = two_agents("{max_series_per_agent: 60}")
    text = exposition(exporter.states())
    for agent in ("first", "second"):
        assert len(data_series(text, agent)) <= 60
        assert dropped(text, agent) > 0
    names = " ".join(record.getMessage() for record in caplog.records if "series cap" in record.getMessage())
    assert "agent=first" in names and "agent=second" in names
    assert re.search(r"data_item=\w+|first: \w+", names)


def test_the_global_cap_limits_the_sum_over_agents(two_agents) -> None:
    exporter = two_agents("{max_series_per_agent: 1000, max_series_total: 100}")
    text = exposition(exporter.states())
    assert len(data_series(text, "first")) + len(data_series(text, "second")) <= 100
    assert dropped(text, "first") + dropped(text, "second") > 0
    assert exporter.total_budget.used <= 100


def test_active_conditions_beyond_the_cap_still_count_onsets_but_add_no_series(two_agents) -> None:
    exporter = two_agents("{max_series_per_agent: 95}")
    state = exporter.agents["first"].state
    with state.lock:
        condition = state.trackers["system"]
        assert condition.activations["fault"] == 40  # every onset counted
        assert len(condition.active) < 40  # ...but not every activation got a series
        assert condition.level == "fault"
    assert state.budget.used <= 95


# -- a simulated week ------------------------------------------------------------------------

MESSAGE_ITEM = '<DataItem category="EVENT" id="msg" type="MESSAGE"/>'


def week_of_churn(path: Path) -> None:
    """Every two minutes for 7 days: a new PROGRAM, a new alarm code and text, a new MESSAGE."""
    rng = random.Random(1)
    lines = []
    for minute in range(0, 7 * 24 * 60, 2):
        at = START + timedelta(minutes=minute)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        clear = (at + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        code = f"E{rng.randrange(10**9)}"
        lines.append(
            f"{stamp}|exec|ACTIVE|program|O{minute:06d}-{rng.randrange(10**6)}|pc|{minute}"
            f"|system|fault|{code}|2||Alarm {code}: spindle {rng.random()}|msg|M{minute}|operator note {minute}"
        )
        lines.append(f"{clear}|exec|READY|system|normal||||")
    path.write_text("\n".join(lines) + "\n")


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_memory_and_series_stay_flat_over_a_simulated_week_of_churning_programs_and_alarms(tmp_path: Path) -> None:
    devices = tmp_path / "devices.xml"
    devices.write_bytes(agentdocs.probe(data_items=agentdocs.MILL_DATA_ITEMS.replace("<DataItems>", "<DataItems>" + MESSAGE_ITEM, 1)))
    log = tmp_path / "week.shdr"
    week_of_churn(log)
    floor = ReplayFloor(log, devices, clock="manual", start=START, buffer_size=8192, schema_version="2.0")
    with SimulatorServer(floor) as server:
        config = agent_config(server.url, "week", sample_count=1000)
        state = AgentState(
            "week", config.url, StateSettings(event_info_types=frozenset({"PROGRAM", "MESSAGE"})), SeriesBudget(10_000)
        )
        follower = AgentFollower(config, state, AgentClient(config, 1 << 22), 1 << 22, rng=random.Random(0))
        step_until(follower, Phase.SAMPLE)
        measured: dict[int, tuple[int, int]] = {}
        for hour in range(1, 7 * 24 + 1):
            floor.advance(3600)
            catch_up(follower)
            if hour in (24, 7 * 24):
                gc.collect()
                measured[hour] = (rss_kib(), len(data_series(exposition([state]), "week")))
    assert state.counters.lost == 0
    assert state.counters.observations > 7 * 24 * 30 * 6
    (rss_day1, series_day1), (rss_week, series_week) = measured[24], measured[7 * 24]
    assert series_week <= series_day1 + 2  # the alarm of the minute may or may not be active
    assert rss_week - rss_day1 < 16 * 1024, f"resident memory grew by {rss_week - rss_day1} KiB over six days"
    with state.lock:
        assert len(state.trackers["system"].active) <= 1
        assert len(state._warned) < 20
