"""Start-up from a snapshot, against the simulator on 127.0.0.1 (manual clock, followers stepped by hand).

Two followers watch the same shop floor: `steady` never stops; `resumed` is a fresh follower given the
snapshot `steady` had at some cursor (through JSON, as on disk). Whatever happens to the agent meanwhile,
`resumed` must end where `steady` ends: every exposed series equal, except the exporter's own request
timings and up/down. The ground truth for what was read or lost is the simulator's sequence counter.
"""

from __future__ import annotations

import json
import re

import pytest
from prometheus_client import CollectorRegistry

from factorydash.collector import FactorydashCollector
from factorydash.exposition import render_metrics
from factorydash.follower import AgentFollower, Phase
from factorydash.simulator import ShopFloor, SimulatorServer
from factorydash.snapshot import resume, take

from .agents import catch_up, follower_for, step_until
from .conftest import START

pytestmark = pytest.mark.integration  # every test here starts a server or a process

# The exporter's own view of its requests and of the process clock, not of the shop floor.
EXPORTER_SIDE = re.compile(
    r"^(mtconnect_agent_request_duration_seconds|mtconnect_agent_up|mtconnect_agent_last_success"
    r"|mtconnect_device_last_observation_timestamp_seconds|mtconnect_agent_request_errors_total)"
)


def exposition(follower: AgentFollower) -> list[str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FactorydashCollector(lambda: [follower.state]))
    lines = render_metrics(registry).decode().splitlines()
    return [line for line in lines if line and not line.startswith("#") and not EXPORTER_SIDE.match(line)]


def snapshot_of(follower: AgentFollower) -> dict:
    snapshot = take(follower)
    assert snapshot is not None
    return json.loads(json.dumps(snapshot))  # as the writer stores it


def resumed_from(url: str, snapshot: dict, **overrides: object) -> AgentFollower:
    follower = follower_for(url, **overrides)
    assert resume(follower, snapshot)
    return follower


def busy_floor(**kw: object) -> ShopFloor:
    return ShopFloor(seed=21, clock="manual", start=START, machines=3, change_rate=20.0, **kw)  # type: ignore[arg-type]


def test_a_restored_snapshot_exposes_every_series_of_the_state_it_was_taken_from_before_any_request() -> None:
    shop = busy_floor()
    with SimulatorServer(shop) as server:
        steady = follower_for(server.url, sample_count=100)
        step_until(steady, Phase.SAMPLE)
        shop.advance(900)
        catch_up(steady)
        resumed = resumed_from(server.url, snapshot_of(steady))  # not stepped: nothing is fetched
    expected = exposition(steady)
    assert len(expected) > 200
    assert any(line.startswith("mtconnect_device_time_seconds_total{") for line in expected)
    assert any(line.startswith("mtconnect_condition_activations_total{") for line in expected)
    assert exposition(resumed) == expected
    assert resumed.state.budget.used == steady.state.budget.used  # the same series, reserved again


def test_the_same_instance_with_the_cursor_held_continues_from_the_cursor_and_ends_where_steady_ends() -> None:
    shop = busy_floor()
    with SimulatorServer(shop) as server:
        steady = follower_for(server.url, sample_count=50)
        step_until(steady, Phase.SAMPLE)
        start = shop.agent.last_sequence + 1
        shop.advance(600)
        catch_up(steady)
        snapshot = snapshot_of(steady)
        shop.advance(600)  # the exporter is down; the agent's buffer keeps everything
        catch_up(steady)
        resumed = resumed_from(server.url, snapshot, sample_count=50)
        resumed.step()  # the probe: same instance, same model
        assert (resumed.phase, resumed.cursor) == (Phase.SAMPLE, snapshot["cursor"])
        requests = catch_up(resumed)
        produced = shop.agent.last_sequence + 1 - start
    assert requests > 10  # the gap was read in many answers
    counters = resumed.state.counters
    assert counters.lost == 0 and counters.observations == produced
    assert not counters.errors  # no re-probe counted as making no progress, no resynchronisation
    assert exposition(resumed) == exposition(steady)


def test_a_new_instance_keeps_the_counters_and_is_read_from_its_first_sequence() -> None:
    shop = busy_floor()
    with SimulatorServer(shop) as server:
        steady = follower_for(server.url, sample_count=100)
        step_until(steady, Phase.SAMPLE)
        shop.advance(600)
        catch_up(steady)
        snapshot = snapshot_of(steady)
        restarts_before = steady.state.counters.restarts
        shop.restart()  # while the exporter is down
        shop.advance(300)
        catch_up(steady)
        new_instance = shop.agent.last_sequence  # numbered from 1, all still held
        resumed = resumed_from(server.url, snapshot, sample_count=100)
        catch_up(resumed)
    counters = resumed.state.counters
    assert counters.restarts == restarts_before + 1 == steady.state.counters.restarts
    assert counters.observations == snapshot["state"]["counters"]["observations"] + new_instance
    assert counters.lost == 0
    assert exposition(resumed) == exposition(steady)


def test_a_cursor_the_agent_no_longer_holds_rebases_on_its_first_sequence_and_counts_only_what_is_gone() -> None:
    shop = busy_floor(buffer_size=512)
    with SimulatorServer(shop) as server:
        steady = follower_for(server.url, sample_count=100)
        step_until(steady, Phase.SAMPLE)
        start = shop.agent.last_sequence + 1
        shop.advance(60)
        catch_up(steady)
        snapshot = snapshot_of(steady)
        while shop.agent.first_sequence <= snapshot["cursor"] + 100:
            shop.advance(30)  # the exporter is down longer than the buffer lasts
        first = shop.agent.first_sequence
        resumed = resumed_from(server.url, snapshot, sample_count=100)
        catch_up(resumed)
        produced = shop.agent.last_sequence + 1 - start
    counters = resumed.state.counters
    lost_before = snapshot["state"]["counters"]["lost"]  # the 512-slot buffer may overrun before the snapshot too
    assert counters.lost - lost_before == first - snapshot["cursor"]  # only what left the buffer since
    assert counters.observations + counters.lost == produced  # every sequence read or counted lost, once
    assert counters.errors["mtconnect_out_of_range"] >= 1
    assert counters.restarts == 0
    assert resumed.cursor == shop.agent.last_sequence + 1
