"""The exporter pointed at a real MTConnect agent over HTTP on 127.0.0.1: the simulated shop floor.

Simulated time runs on a manual clock: an hour of a shop floor takes a fraction of a second, and the
simulator's ground truth says exactly what the exporter must have counted.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from factorydash.conditions import ConditionTracker
from factorydash.config import config_from_agent_flags
from factorydash.exporter import Exporter
from factorydash.follower import Phase
from factorydash.simulator import AgentRestart, ShopFloor, SimulatorServer
from factorydash.trackers import NumericEventTracker, StateTracker
from factorydash.web import ExporterApp
from tests.exporter.test_golden import wsgi_get

pytestmark = pytest.mark.integration  # every test here starts a server or a process

START = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)


def follow_until_caught_up(exporter: Exporter, name: str = "shopfloor", limit: int = 200) -> None:
    follower = exporter.agents[name].follower
    for _ in range(limit):
        if follower.step() > 0 and follower.phase is Phase.SAMPLE:
            return
    raise AssertionError("the follower did not catch up")


@pytest.fixture
def shop_floor():
    shop = ShopFloor(seed=11, clock="manual", start=START, schema_version="2.0")
    with SimulatorServer(shop) as server:
        config = config_from_agent_flags([f"shopfloor={server.url}"])
        exporter = Exporter(config)
        yield shop, exporter
        exporter.stop()


def run_hours(shop: ShopFloor, exporter: Exporter, hours: float, step_seconds: float = 30.0) -> None:
    for _ in range(int(hours * 3600 / step_seconds)):
        shop.advance(step_seconds)
        follow_until_caught_up(exporter)


def test_every_machine_of_the_shop_floor_is_exported_with_its_devices_and_states(shop_floor):
    shop, exporter = shop_floor
    follow_until_caught_up(exporter)
    run_hours(shop, exporter, 0.5)
    status, _, body = wsgi_get(ExporterApp(exporter), "/metrics")
    text = body.decode()
    assert status == "200 OK"
    assert 'mtconnect_agent_up{agent="shopfloor"} 1.0' in text
    for machine in shop.devices:
        assert f'device="{machine.name}"' in text
        assert f'mtconnect_device_info{{agent="shopfloor",device="{machine.name}"' in text
        states = [line for line in text.splitlines() if line.startswith("mtconnect_execution_state{") and f'device="{machine.name}"' in line]
        assert sum(float(line.rsplit(" ", 1)[1]) for line in states) == 1.0  # one-hot
    for metric in (
        "mtconnect_rotary_velocity_revolutions_per_minute",
        "mtconnect_position_meters",
        "mtconnect_path_feedrate_meters_per_second",
        "mtconnect_load_ratio",
        "mtconnect_temperature_celsius",
        "mtconnect_parts_total",
        "mtconnect_condition_level",
        "mtconnect_controller_mode_state_seconds_total",
        "mtconnect_connection_status_state",
    ):
        assert f"\n{metric}{{" in text, metric


def test_time_in_state_parts_and_fault_onsets_match_the_simulators_ground_truth(shop_floor):
    shop, exporter = shop_floor
    follow_until_caught_up(exporter)
    state = exporter.agents["shopfloor"].state
    # Closed intervals are exact (docs/time-accounting.md section 2); the open one lags by up to a poll. So the
    # comparison runs from the start of the value open at the baseline to the start of the value open at the end.
    baseline, opened = {}, {}
    with state.lock:
        for tracker in state.trackers.values():
            if isinstance(tracker, StateTracker) and tracker.item.type == "EXECUTION":
                baseline[tracker.item.device] = dict(tracker.seconds)
                opened[tracker.item.device] = tracker.since.device
    hours = 1.5
    run_hours(shop, exporter, hours, step_seconds=300)
    end = hours * 3600
    checked = 0
    truths = {machine.name: shop.ground_truth(machine.name, 0, end) for machine in shop.devices}
    with state.lock:
        for tracker in state.trackers.values():
            device = tracker.item.device
            if device == "Agent":
                continue
            truth = truths[device]
            if isinstance(tracker, StateTracker) and tracker.item.type == "EXECUTION":
                window = [datetime.fromtimestamp(opened[device], timezone.utc),
                          datetime.fromtimestamp(tracker.since.device, timezone.utc)]
                closed_truth = shop.ground_truth(device, *window).execution_seconds
                assert sum(closed_truth.values()) > 3600  # the window covers most of the run
                for value, expected in closed_truth.items():
                    measured = tracker.seconds.get(value, 0.0) - baseline[device].get(value, 0.0)
                    assert measured == pytest.approx(expected, abs=1e-3), (device, value)
                checked += 1
            elif isinstance(tracker, NumericEventTracker) and tracker.counts_parts:
                assert tracker.parts_total == truth.parts.get(tracker.item.sub_type or "ALL", 0), (device, tracker.item.sub_type)
                checked += 1
            elif isinstance(tracker, ConditionTracker):
                onsets = [o for o in truth.fault_onsets if o.data_item_id == tracker.item.id]
                assert tracker.activations["fault"] == len(onsets), (device, tracker.item.id)
    assert checked >= 6  # three machines: execution and part counters
    assert sum(truth.parts.get("ALL", 0) for truth in truths.values()) > 0
    assert sum(len(truth.fault_onsets) for truth in truths.values()) > 0


def test_an_agent_restart_with_a_new_instance_id_is_counted_and_followed(shop_floor):
    shop, exporter = shop_floor
    follow_until_caught_up(exporter)
    run_hours(shop, exporter, 0.1)
    state = exporter.agents["shopfloor"].state
    before = state.header.instance_id
    shop.schedule(shop.now(), AgentRestart())
    run_hours(shop, exporter, 0.2)
    assert state.counters.restarts == 1
    assert state.header.instance_id != before
    assert state.up and exporter.agents["shopfloor"].follower.phase is Phase.SAMPLE
    observations = state.counters.observations
    run_hours(shop, exporter, 0.1)
    assert state.counters.observations > observations  # still following after the restart
