"""The collector's exact output for one agent state, against families built independently with
prometheus_client's MetricFamily classes.

The state is the golden one (tests/exporter/golden: probe, current, sample) applied straight to an
AgentState. Every expected value is worked out by hand from those XML documents and
docs/time-accounting.md (the agent clock A is the sample's creationTime, 10:00:10):

- EXECUTION READY from the /current (A = 10:00:00) to 10:00:02, ACTIVE to 10:00:09, FEED_HOLD from then
  (its document's creationTime is A: nothing exposed yet): READY 2 s, ACTIVE 7 s, FEED_HOLD 0 s;
  elements production 7, down 2 (cause READY), planned_busy 9 (a calendar planned around the clock).
- The Fault 1010 active from 10:00:06 to 10:00:09 (while ACTIVE) books 3 alarm seconds; the Warning
  2020 books none. Both are active, one onset each.
- PART_COUNT ALL 10 -> 11 and GOOD 9 -> 10 at 10:00:04: one part produced and good, ideal 5 s;
  A = 7/9, P = 5/7, Q = 1, OEE = 5/9.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from factorydash import metrics
from factorydash.collector import FactorydashCollector
from factorydash.exposition import render_metrics
from factorydash.limits import SeriesBudget
from factorydash.parser import parse_document
from factorydash.planning import DevicePlan, Shift, ShiftCalendar, WeeklyShift
from factorydash.state import AgentState, StateSettings

GOLDEN = Path(__file__).parent / "golden"
AGENT = "cell-3"
ALWAYS = ShiftCalendar("always", ZoneInfo("UTC"), (WeeklyShift(frozenset(range(7)), Shift(0, 86400)),))
PLAN = DevicePlan(calendar=ALWAYS, ideal_cycle_time=5.0)
MIDNIGHT = datetime(2026, 11, 23, tzinfo=timezone.utc).timestamp()
ITEM = ("agent", "component", "component_id", "data_item_id", "device", "name", "sub_type")
NOW = MIDNIGHT + 10 * 3600 + 30  # the exporter's clock, handed to the state and the collector
HOST = {"factorydash_build_info"}  # its Python version


def item(device: str, component: str, component_id: str, data_item_id: str, sub_type: str = "") -> dict[str, str]:
    return {"agent": AGENT, "device": device, "component": component, "component_id": component_id,
            "data_item_id": data_item_id, "name": "", "sub_type": sub_type}


def golden_state() -> AgentState:
    state = AgentState(AGENT, "http://agent.test/mtc/", StateSettings(), SeriesBudget(10_000),
                       plan_for=lambda agent, device: PLAN, wall_clock=lambda: NOW)
    state.load_model(parse_document((GOLDEN / "probe.xml").read_bytes()))
    state.apply_current(parse_document((GOLDEN / "current.xml").read_bytes()), initial=True)
    state.apply_sample(parse_document((GOLDEN / "sample.xml").read_bytes()))
    state.mark_success()
    return state


class Expected:
    """The expected families, each a prometheus_client MetricFamily."""

    def __init__(self) -> None:
        self.families: dict[str, Metric] = {}

    def gauge(self, name: str, labels: dict[str, str], value: float, documentation: str = "") -> None:
        family = self.families.setdefault(name, GaugeMetricFamily(name, documentation, labels=sorted(labels)))
        family.add_metric([labels[key] for key in sorted(labels)], value)

    def counter(self, name: str, labels: dict[str, str], value: float, documentation: str = "") -> None:
        base = name.removesuffix("_total")
        family = self.families.setdefault(base, CounterMetricFamily(base, documentation, labels=sorted(labels)))
        family.add_metric([labels[key] for key in sorted(labels)], value)

    def states(self, name: str, labels: dict[str, str], vocabulary: tuple[str, ...], current: str,
               seconds: dict[str, float], transitions: dict[str, int]) -> None:
        for value in vocabulary:
            series = {**labels, "state": value}
            self.gauge(f"{name}_state", series, 1 if value == current else 0)
            self.counter(f"{name}_state_seconds_total", series, seconds.get(value, 0.0))
            self.counter(f"{name}_state_transitions_total", series, transitions.get(value, 0))


def expected_families() -> dict[str, Metric]:
    e = Expected()
    agent = {"agent": AGENT}
    e.gauge("mtconnect_agent_up", agent, 1)
    e.gauge("mtconnect_agent_info", {**agent, "url": "http://agent.test/mtc/", "instance_id": "1700000001",
                                     "version": "2.2.0.16", "schema_version": "2.2", "sender": "cell-3"}, 1)
    e.gauge("mtconnect_agent_buffer_size", agent, 131072)
    for name in ("restarts", "observations_lost", "observations_undeclared"):
        e.counter(f"mtconnect_agent_{name}_total", agent, 0)
    e.counter("mtconnect_agent_observations_total", agent, 14)  # the sample's 14; a /current is no stream read
    e.counter("mtconnect_series_dropped_total", agent, 0)
    e.counter("mtconnect_agent_collect_errors_total", agent, 0)
    for reason in ("unparsable", "future", "outlier"):
        e.counter("mtconnect_agent_timestamps_rejected_total", {**agent, "reason": reason}, 0)
    e.gauge("mtconnect_agent_sequence_lag", agent, 0)  # lastSequence 119 - nextSequence 120 + 1
    e.gauge("mtconnect_agent_last_success_timestamp_seconds", agent, NOW)

    agent_device = {**agent, "device": "Agent"}
    hmc = {**agent, "device": "HMC1"}
    e.gauge("mtconnect_device_info", {**agent_device, "uuid": "agent-uuid", "manufacturer": "", "model": "",
                                      "serial_number": "", "is_agent": "true"}, 1)
    e.gauge("mtconnect_device_info", {**hmc, "uuid": "hmc-1", "manufacturer": "Mazak", "model": "HCN-6800",
                                      "serial_number": "M123", "is_agent": "false"}, 1)
    e.gauge("mtconnect_device_available", agent_device, 1)
    e.gauge("mtconnect_device_available", hmc, 1)
    e.gauge("mtconnect_device_last_observation_timestamp_seconds", agent_device, NOW)
    e.gauge("mtconnect_device_last_observation_timestamp_seconds", hmc, NOW)
    e.gauge("mtconnect_device_planned_production", hmc, 1)
    e.gauge("mtconnect_device_ideal_cycle_time_seconds", hmc, 5)

    elements = {"planned_busy": 9, "production": 7, "setup": 0, "delay": 0, "down": 2, "unavailable": 0,
                "unplanned_production": 0}
    for element, seconds in elements.items():
        e.counter("mtconnect_device_time_seconds_total", {**hmc, "element": element}, seconds)
    causes = {
        "delay": ("INTERRUPTED", "FEED_HOLD", "OPTIONAL_STOP", "FAULT"),
        "down": ("STOPPED", "PROGRAM_STOPPED", "WAIT", "PROGRAM_OPTIONAL_STOP", "PROGRAM_COMPLETED", "READY", "OTHER"),
        "setup": ("FUNCTIONAL_MODE_SETUP", "MANUAL_MODE"),
        "unavailable": ("AVAILABILITY", "EXECUTION_UNAVAILABLE", "AGENT_RESTART"),
    }
    for element, names in causes.items():
        for cause in names:
            seconds = 2 if (element, cause) == ("down", "READY") else 0
            e.counter("mtconnect_device_loss_seconds_total", {**hmc, "element": element, "cause": cause}, seconds)
    e.counter("mtconnect_device_alarm_seconds_total", {**hmc, "condition": "SYSTEM", "native_code": "1010"}, 3)
    e.counter("mtconnect_device_parts_produced_total", hmc, 1)
    e.counter("mtconnect_device_parts_good_total", hmc, 1)
    e.counter("mtconnect_device_ideal_production_seconds_total", hmc, 5)
    for kind in ("shift", "day"):  # the shift is the whole day: 00:00-24:00 UTC
        period = {**hmc, "period": "current"}
        e.gauge(f"mtconnect_device_{kind}_start_timestamp_seconds", period, MIDNIGHT)
        e.gauge(f"mtconnect_device_{kind}_end_timestamp_seconds", period, MIDNIGHT + 86400)
        for element, seconds in elements.items():
            e.gauge(f"mtconnect_device_{kind}_seconds", {**period, "element": element}, seconds)
        e.gauge(f"mtconnect_device_{kind}_parts", {**period, "kind": "produced"}, 1)
        e.gauge(f"mtconnect_device_{kind}_parts", {**period, "kind": "good"}, 1)
        e.gauge(f"mtconnect_device_{kind}_ideal_production_seconds", period, 5)
        e.gauge(f"mtconnect_device_{kind}_availability_ratio", period, 7 / 9)
        e.gauge(f"mtconnect_device_{kind}_performance_ratio", period, 5 / 7)
        e.gauge(f"mtconnect_device_{kind}_quality_ratio", period, 1)
        e.gauge(f"mtconnect_device_{kind}_oee_ratio", period, 5 / 9)

    # samples: a 3D value, a time series' last value, a vendor type, DATA_SET and TABLE entries
    path = ("HMC1", "Path", "path")
    for axis, value in zip("xyz", (0.001, 0.002, 0.003)):
        e.gauge("mtconnect_path_position_meters", {**item(*path, "ppos", "ACTUAL"), "axis": axis}, value)
    e.gauge("mtconnect_acceleration_meters_per_second_squared", item(*path, "accel"), 0.004)
    e.gauge("mtconnect_x_cutting_time_seconds", item(*path, "cut"), 828.5)
    controller = ("HMC1", "Controller", "ctl")
    e.gauge("mtconnect_variable", {**item(*controller, "vars"), "key": "V100"}, 1.5)  # V101 is text, V102 removed
    e.gauge("mtconnect_work_offset_meters", {**item(*controller, "offsets"), "key": "G54/X"}, 0.1005)
    e.gauge("mtconnect_work_offset_meters", {**item(*controller, "offsets"), "key": "G54/Y"}, -0.02)

    # state events: a value of the /current is no entry seen in the stream, so no transition
    availability = ("AVAILABLE", "UNAVAILABLE")
    e.states("mtconnect_availability", item("Agent", "Agent", "agent_1", "agent_avail"), availability, "AVAILABLE",
             {"AVAILABLE": 10}, {})
    e.states("mtconnect_availability", item("HMC1", "Device", "hmc", "hmc_avail"), availability, "AVAILABLE",
             {"AVAILABLE": 10}, {})
    e.states("mtconnect_connection_status", item("Agent", "Adapter", "adapter_1", "adapter_conn"),
             ("CLOSED", "LISTEN", "ESTABLISHED", "UNAVAILABLE"), "ESTABLISHED",
             {"LISTEN": 1.5}, {"ESTABLISHED": 1})
    e.states("mtconnect_execution", item(*path, "exec"),
             ("READY", "ACTIVE", "INTERRUPTED", "FEED_HOLD", "STOPPED", "OPTIONAL_STOP", "PROGRAM_STOPPED",
              "PROGRAM_COMPLETED", "WAIT", "PROGRAM_OPTIONAL_STOP", "UNAVAILABLE"), "FEED_HOLD",
             {"READY": 2, "ACTIVE": 7}, {"ACTIVE": 1, "FEED_HOLD": 1})

    # conditions: a Fault and a Warning active at once
    system = {**item(*controller, "sys_cond"), "condition": "SYSTEM"}
    for level in ("normal", "warning", "fault", "unavailable"):
        e.gauge("mtconnect_condition_level", {**system, "level": level}, 1 if level == "fault" else 0)
    for level in ("warning", "fault"):
        e.counter("mtconnect_condition_activations_total", {**system, "level": level}, 1)
    e.gauge("mtconnect_condition_active", {**system, "level": "fault", "native_code": "1010", "native_severity": "2",
                                           "qualifier": "HIGH", "message": "Spindle overload"}, 1)
    e.gauge("mtconnect_condition_active", {**system, "level": "warning", "native_code": "2020", "native_severity": "",
                                           "qualifier": "", "message": "Coolant low"}, 1)

    # parts, free-text events, the adapter's identity
    for sub_type, count in (("ALL", 11), ("GOOD", 10)):
        labels = item(*path, f"pc_{sub_type.lower()}", sub_type)
        e.gauge("mtconnect_part_count_value", labels, count)
        e.counter("mtconnect_parts_total", labels, 1)
    e.gauge("mtconnect_event_info", {**item(*path, "prog"), "event": "PROGRAM", "value": "O5678"}, 1)
    e.gauge("mtconnect_adapter_info", {**agent_device, "component_id": "adapter_1", "adapter": "10.0.0.5:7878",
                                       "uri": "shdr://10.0.0.5:7878", "software_version": "2.0.1",
                                       "mtconnect_version": ""}, 1)
    return e.families


def written(value: float) -> float:
    """A value as the exposition writes it: 15 significant digits (factorydash.floattext), 7/9 as 0.777777777777778."""
    return float(f"{value:.15g}")


def comparable(families) -> dict[str, tuple[str, set[tuple[str, tuple[tuple[str, str], ...], float]]]]:
    return {
        family.name: (family.type, {(s.name, tuple(sorted(s.labels.items())), written(s.value)) for s in family.samples})
        for family in families
        if family.name not in HOST and family.samples  # request errors and durations: none without a follower
    }


@pytest.fixture(scope="module")
def exposed() -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        FactorydashCollector(lambda: [golden_state()], plan_for=lambda agent, device: PLAN, wall_clock=lambda: NOW)
    )
    return render_metrics(registry).decode()


def test_the_collector_exposes_exactly_the_families_worked_out_by_hand(exposed):
    actual = comparable(text_string_to_metric_families(exposed))
    expected = comparable(expected_families().values())
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert actual[name] == expected[name], name


def test_every_exposed_family_has_its_declared_help(exposed):
    for family in text_string_to_metric_families(exposed):
        declared = metrics.family_of(family.name)
        assert declared is not None, family.name
        if not declared.is_pattern:
            assert family.documentation == declared.help, family.name
        else:
            assert family.documentation.startswith(("MTConnect ", "1 for the current ", "Seconds spent in ",
                                                    "Entries into ")), family.name


def test_a_second_scrape_after_a_re_probe_renders_the_new_trackers_and_writes_nothing_into_the_state():
    state = golden_state()
    collector = FactorydashCollector(lambda: [state], plan_for=lambda agent, device: PLAN, wall_clock=lambda: NOW)
    first = render_metrics(collector)
    trackers_before = {item_id: repr(tracker) for item_id, tracker in state.trackers.items()}
    counters_before = repr(state.counters)
    assert render_metrics(collector) == first  # served from the collector's label cache
    assert {item_id: repr(tracker) for item_id, tracker in state.trackers.items()} == trackers_before
    assert repr(state.counters) == counters_before
    state.load_model(parse_document((GOLDEN / "probe.xml").read_bytes()))  # new trackers, same items
    uncached = FactorydashCollector(lambda: [state], plan_for=lambda agent, device: PLAN, wall_clock=lambda: NOW)
    assert render_metrics(collector) == render_metrics(uncached)
