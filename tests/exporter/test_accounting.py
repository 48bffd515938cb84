"""ISO 22400 time elements, parts, shifts and days per device (docs/time-accounting.md sections 5 and 6).

Each scenario is a timeline written out here; the expected elements are worked out by hand from it,
never by the code under test. The exposition is read back from the collector.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from factorydash.collector import FactorydashCollector
from factorydash.exposition import render_metrics
from factorydash.limits import SeriesBudget
from factorydash.parser import parse_document
from factorydash.planning import DevicePlan, Shift, ShiftCalendar, WeeklyShift
from factorydash.state import AgentState, StateSettings

from .agentdocs import Obs, probe, streams

SHIFT_START = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)  # a Monday
BASE = SHIFT_START.timestamp()
HOUR = 3600
# One shift a day, 06:00-14:00 UTC, with a break 10:00-10:30.
CALENDAR = ShiftCalendar(
    "early",
    ZoneInfo("UTC"),
    (WeeklyShift(frozenset(range(7)), Shift(6 * HOUR, 14 * HOUR, ((10 * HOUR, 10 * HOUR + 1800),))),),
)


def at(seconds: float) -> str:
    """06:00 UTC on the shift's day plus `seconds`."""
    return (SHIFT_START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Timeline:
    """Observations of one device in the order the agent gives them, numbered as it does."""

    def __init__(self) -> None:
        self.observations: list[Obs] = []

    def add(self, t: float, item: str, value: str, element: str, container: str = "Events",
            component: str = "Path", component_id: str = "p1", attributes: dict[str, str] | None = None) -> None:
        sequence = 100 + len(self.observations)
        self.observations.append(Obs(item, sequence, value, at(t), element, container, component, component_id,
                                     attributes or {}))

    def execution(self, t: float, value: str, item: str = "exec", path: str = "p1") -> None:
        self.add(t, item, value, "Execution", component_id=path)

    def mode(self, t: float, value: str, item: str = "mode", path: str = "p1") -> None:
        self.add(t, item, value, "ControllerMode", component_id=path)

    def count(self, t: float, item: str, value: int, path: str = "p1") -> None:
        self.add(t, item, str(value), "PartCount", component_id=path)

    def condition(self, t: float, level: str, code: str = "") -> None:
        attributes = {"type": "SYSTEM", **({"nativeCode": code} if code else {})}
        self.add(t, "system", "", level, "Condition", "Controller", "cont", attributes)

    def document(self, creation: float) -> object:
        last = self.observations[-1].sequence if self.observations else 99
        return parse_document(streams(self.observations, creation_time=at(creation), first=1, last=last,
                                      next_=last + 1))


CONDITION_ELEMENTS = ("Normal", "Warning", "Fault", "Unavailable")


def current(creation: float, items: list[tuple[str, str, str, str, str]], **header_kw: object) -> object:
    """A /current at `creation`, every value stamped then: (item, value, element, component, component_id)."""
    observations = [
        Obs(item, sequence, value, at(creation), element, "Condition" if element in CONDITION_ELEMENTS else "Events",
            component, component_id, {"type": "SYSTEM"} if element in CONDITION_ELEMENTS else {})
        for sequence, (item, value, element, component, component_id) in enumerate(items, start=1)
    ]
    return parse_document(streams(observations, creation_time=at(creation), first=1, last=len(items),
                                  next_=len(items) + 1, **header_kw))


MILL_AT_REST = [
    ("avail", "AVAILABLE", "Availability", "Device", "d1"),
    ("exec", "READY", "Execution", "Path", "p1"),
    ("mode", "AUTOMATIC", "ControllerMode", "Path", "p1"),
    ("pc", "0", "PartCount", "Path", "p1"),
    ("pcgood", "0", "PartCount", "Path", "p1"),
    ("system", "", "Normal", "Controller", "cont"),
]


def follow(plan: DevicePlan, data_items: str | None = None, device: str = "Mill",
           settings: StateSettings | None = None) -> AgentState:
    state = AgentState("plant", "http://agent.test/", settings or StateSettings(), SeriesBudget(100_000),
                       plan_for=lambda agent, name: plan)
    state.load_model(parse_document(probe(device=device) if data_items is None else
                                    probe(device=device, data_items=data_items)))
    return state


def exposition(state: AgentState) -> dict[tuple[str, frozenset], float]:
    text = render_metrics(FactorydashCollector(lambda: [state])).decode()
    return {
        (sample.name, frozenset((k, v) for k, v in sample.labels.items() if k not in ("agent", "device"))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("mtconnect_device_") and sample.labels.get("device") not in (None, "Agent")
    }


def value(metrics: dict, name: str, **labels: str) -> float | None:
    return metrics.get((name, frozenset(labels.items())))


def elements(metrics: dict, name: str, **labels: str) -> dict[str, float]:
    found = {}
    for (metric, pairs), amount in metrics.items():
        pairs = dict(pairs)
        element = pairs.pop("element", None)
        if metric == name and element is not None and pairs == labels:
            found[element] = amount
    return found


# -- the recorded shift ------------------------------------------------------------------------------

IDEAL = 180.0
FEED_HOLD_CYCLES = (5, 15)  # of the first batch: 30 s on hold from 100 s into the cycle
BAD_CYCLES = (3, 11)  # of the second batch: the part is not counted GOOD


def recorded_shift() -> Timeline:
    """06:00-14:00 with a break 10:00-10:30 (seconds after 06:00: break 14400-16200, end 28800)."""
    shift = Timeline()
    parts = good = 0

    def cycle(start: float, index: int, feed_hold: bool, bad: bool) -> None:
        nonlocal parts, good
        if index > 0 or start != 1800:
            shift.execution(start, "ACTIVE")
        if feed_hold:
            shift.execution(start + 100, "FEED_HOLD")
            shift.execution(start + 130, "ACTIVE")
        shift.execution(start + 240, "READY")
        parts += 1
        shift.count(start + 240, "pc", parts)
        if not bad:
            good += 1
            shift.count(start + 240, "pcgood", good)

    shift.mode(600, "MANUAL_DATA_INPUT")  # setup: the operator proves out the program by hand
    shift.execution(600, "ACTIVE")
    shift.mode(1800, "AUTOMATIC")  # production from 1800 s
    for k in range(20):
        cycle(1800 + 300 * k, k, k in FEED_HOLD_CYCLES, False)
    shift.condition(8000, "Fault", "E42")  # an axis fault while waiting
    shift.condition(8600, "Normal", "E42")
    shift.execution(14300, "ACTIVE")  # a warm-up program runs into the break, no part
    shift.execution(14500, "READY")
    for k in range(20):
        cycle(16800 + 300 * k, k + 20, False, k in BAD_CYCLES)
    shift.execution(29000, "ACTIVE")  # after the shift: unplanned, and its part is not counted
    shift.execution(29300, "READY")
    shift.count(29300, "pc", parts + 1)
    shift.count(29300, "pcgood", good + 1)
    return shift


def test_a_recorded_eight_hour_shift_gives_every_time_element_to_the_second_and_oee_to_0_001():
    state = follow(DevicePlan(CALENDAR, IDEAL))
    state.apply_current(current(0, MILL_AT_REST), initial=True)
    state.apply_sample(recorded_shift().document(creation=29400))
    metrics = exposition(state)

    planned_busy = (14 - 6) * HOUR - 1800
    setup = 1800 - 600
    production = 40 * 240 - len(FEED_HOLD_CYCLES) * 30 + (14400 - 14300)
    delay = len(FEED_HOLD_CYCLES) * 30 + (8600 - 8000)
    down_stretches = [600, 20 * 60, (14300 - 7800) - (8600 - 8000), 16800 - 16200, 20 * 60, 28800 - 22800]
    down = sum(down_stretches)
    assert setup + production + delay + down == planned_busy  # the hand computation adds up
    in_shift = {"planned_busy": planned_busy, "setup": setup, "production": production, "delay": delay,
                "down": down, "unavailable": 0.0, "unplanned_production": 14500 - 14400}
    produced, good = 40, 40 - len(BAD_CYCLES)
    oee = (production / planned_busy) * (produced * IDEAL / production) * (good / produced)

    assert elements(metrics, "mtconnect_device_time_seconds_total") == {
        **in_shift, "unplanned_production": (14500 - 14400) + (29300 - 29000)
    }
    assert value(metrics, "mtconnect_device_parts_produced_total") == produced
    assert value(metrics, "mtconnect_device_parts_good_total") == good
    assert value(metrics, "mtconnect_device_ideal_production_seconds_total") == produced * IDEAL

    # 14:00 has passed (the last observation is at 14:21:40): the shift is the previous one, none is current.
    assert value(metrics, "mtconnect_device_shift_start_timestamp_seconds", period="current") is None
    assert value(metrics, "mtconnect_device_shift_start_timestamp_seconds", period="previous") == BASE
    assert value(metrics, "mtconnect_device_shift_end_timestamp_seconds", period="previous") == BASE + 8 * HOUR
    assert elements(metrics, "mtconnect_device_shift_seconds", period="previous") == in_shift
    assert value(metrics, "mtconnect_device_shift_parts", period="previous", kind="produced") == produced
    assert value(metrics, "mtconnect_device_shift_parts", period="previous", kind="good") == good
    assert value(metrics, "mtconnect_device_shift_oee_ratio", period="previous") == pytest.approx(oee, abs=0.001)
    assert value(metrics, "mtconnect_device_shift_availability_ratio", period="previous") == pytest.approx(
        production / planned_busy
    )
    assert value(metrics, "mtconnect_device_shift_quality_ratio", period="previous") == pytest.approx(good / produced)
    # The day so far holds the same, plus the production after the shift.
    assert value(metrics, "mtconnect_device_day_start_timestamp_seconds", period="current") == BASE - 6 * HOUR
    assert elements(metrics, "mtconnect_device_day_seconds", period="current")["unplanned_production"] == 400
    assert value(metrics, "mtconnect_device_day_oee_ratio", period="current") == pytest.approx(oee, abs=0.001)

    # Past midnight: the day becomes the previous one; the shift stays the previous one until the next ends.
    next_day = Timeline()
    next_day.execution(18 * HOUR + 600, "ACTIVE")
    state.apply_sample(next_day.document(creation=18 * HOUR + 600))
    metrics = exposition(state)
    assert value(metrics, "mtconnect_device_day_start_timestamp_seconds", period="previous") == BASE - 6 * HOUR
    assert value(metrics, "mtconnect_device_day_start_timestamp_seconds", period="current") == BASE + 18 * HOUR
    assert value(metrics, "mtconnect_device_day_parts", period="previous", kind="produced") == produced
    assert elements(metrics, "mtconnect_device_day_seconds", period="current")["planned_busy"] == 0
    assert "mtconnect_device_day_oee_ratio" not in {name for name, labels in metrics if ("period", "current") in labels}
    assert value(metrics, "mtconnect_device_shift_start_timestamp_seconds", period="previous") == BASE


# -- paths, quality sources, restarts -----------------------------------------------------------------

LATHE_ITEMS = """
<DataItems><DataItem category="EVENT" id="avail" type="AVAILABILITY"/></DataItems>
<Components><Controller id="cont" name="controller"><Components>
  <Path id="p1" name="main"><DataItems>
    <DataItem category="EVENT" id="exec1" type="EXECUTION"/>
    <DataItem category="EVENT" id="mode1" type="CONTROLLER_MODE"/>
    <DataItem category="EVENT" id="pc1" type="PART_COUNT" subType="ALL"/>
    {extra}
  </DataItems></Path>
  <Path id="p2" name="sub"><DataItems>
    <DataItem category="EVENT" id="exec2" type="EXECUTION"/>
    <DataItem category="EVENT" id="mode2" type="CONTROLLER_MODE"/>
  </DataItems></Path>
</Components></Controller></Components>
"""
LATHE_AT_REST = [
    ("avail", "AVAILABLE", "Availability", "Device", "d1"),
    ("exec1", "READY", "Execution", "Path", "p1"),
    ("mode1", "AUTOMATIC", "ControllerMode", "Path", "p1"),
    ("pc1", "0", "PartCount", "Path", "p1"),
    ("exec2", "READY", "Execution", "Path", "p2"),
    ("mode2", "AUTOMATIC", "ControllerMode", "Path", "p2"),
]


def lathe_hour(state: AgentState, bad: int = 0) -> None:
    """Path 1 ACTIVE 100..700 s making 5 parts; path 2 idle; the agent's clock reaches 1000 s."""
    state.apply_current(current(0, LATHE_AT_REST + ([("pcbad", "0", "PartCount", "Path", "p1")] if bad else [])),
                        initial=True)
    lathe = Timeline()
    lathe.execution(100, "ACTIVE", "exec1")
    for part in range(1, 6):
        lathe.count(100 + 120 * part, "pc1", part)
    for part in range(1, bad + 1):
        lathe.count(700, "pcbad", part)
    lathe.execution(700, "READY", "exec1")
    state.apply_sample(lathe.document(creation=700))
    state.apply_sample(Timeline().document(creation=1000))  # a heartbeat: READY has shown 300 s


def test_a_two_path_lathe_with_one_idle_path_is_producing_while_either_path_is_active():
    state = follow(DevicePlan(None, 60.0), LATHE_ITEMS.format(extra=""), "Lathe")
    lathe_hour(state)
    metrics = exposition(state)
    # Without a calendar every second is planned: 1000 s, production 100..700 (not a mean of the paths).
    assert elements(metrics, "mtconnect_device_time_seconds_total") == {
        "planned_busy": 1000, "production": 600, "down": 400, "setup": 0, "delay": 0, "unavailable": 0,
        "unplanned_production": 0,
    }
    assert value(metrics, "mtconnect_device_day_availability_ratio", period="current") == pytest.approx(0.6)
    assert value(metrics, "mtconnect_device_day_performance_ratio", period="current") == pytest.approx(5 * 60 / 600)
    # No GOOD or BAD count and no quality_source: no good parts, no quality, no OEE (never a false 0).
    assert value(metrics, "mtconnect_device_parts_good_total") is None
    assert value(metrics, "mtconnect_device_day_quality_ratio", period="current") is None
    assert value(metrics, "mtconnect_device_day_oee_ratio", period="current") is None
    assert value(metrics, "mtconnect_device_day_parts", period="current", kind="produced") == 5
    assert value(metrics, "mtconnect_device_shift_start_timestamp_seconds", period="current") is None  # no shifts


def test_assume_good_counts_every_part_good():
    state = follow(DevicePlan(None, 60.0, quality_source="assume_good"), LATHE_ITEMS.format(extra=""), "Lathe")
    lathe_hour(state)
    metrics = exposition(state)
    assert value(metrics, "mtconnect_device_parts_good_total") == 5
    assert value(metrics, "mtconnect_device_day_quality_ratio", period="current") == 1.0
    assert value(metrics, "mtconnect_device_day_oee_ratio", period="current") == pytest.approx(0.6 * 0.5 * 1.0)


def test_a_bad_count_gives_good_parts_as_produced_minus_bad():
    bad_item = '<DataItem category="EVENT" id="pcbad" type="PART_COUNT" subType="BAD"/>'
    state = follow(DevicePlan(None, 60.0), LATHE_ITEMS.format(extra=bad_item), "Lathe")
    lathe_hour(state, bad=2)
    metrics = exposition(state)
    assert value(metrics, "mtconnect_device_parts_produced_total") == 5
    assert value(metrics, "mtconnect_device_parts_bad_total") == 2
    assert value(metrics, "mtconnect_device_parts_good_total") is None  # produced - bad is no counter
    assert value(metrics, "mtconnect_device_day_quality_ratio", period="current") == pytest.approx(3 / 5)
    assert value(metrics, "mtconnect_device_day_oee_ratio", period="current") == pytest.approx(0.6 * 0.5 * 0.6)


def test_planned_time_without_production_has_an_oee_of_zero():
    state = follow(DevicePlan(None, 60.0, quality_source="assume_good"), LATHE_ITEMS.format(extra=""), "Lathe")
    state.apply_current(current(0, LATHE_AT_REST), initial=True)
    state.apply_sample(Timeline().document(creation=500))
    metrics = exposition(state)
    assert value(metrics, "mtconnect_device_day_oee_ratio", period="current") == 0.0
    assert value(metrics, "mtconnect_device_day_availability_ratio", period="current") == 0.0
    assert value(metrics, "mtconnect_device_day_performance_ratio", period="current") is None  # no production


def test_an_agent_restart_gap_is_unavailable_in_planned_time_only():
    state = follow(DevicePlan(CALENDAR, 60.0), LATHE_ITEMS.format(extra=""), "Lathe")
    eight_hours = 8 * HOUR - 600  # 13:50
    state.apply_current(current(eight_hours, LATHE_AT_REST), initial=True)
    state.apply_sample(Timeline().document(creation=eight_hours + 60))  # the old instance's last word: 13:51
    # The agent comes back at 14:10 with a new instance: 13:51-14:00 of the gap is planned, the rest is not.
    state.load_model(parse_document(probe(device="Lathe", data_items=LATHE_ITEMS.format(extra=""),
                                          instance_id="1700000002")))
    restarted = current(8 * HOUR + 600, [(item, "UNAVAILABLE", element, component, component_id)
                                         for item, _, element, component, component_id in LATHE_AT_REST],
                        instance_id="1700000002")
    state.apply_current(restarted, initial=True)
    metrics = exposition(state)
    assert elements(metrics, "mtconnect_device_time_seconds_total") == {
        "planned_busy": 600, "down": 60, "unavailable": 540, "production": 0, "setup": 0, "delay": 0,
        "unplanned_production": 0,
    }


def test_the_running_program_picks_its_ideal_cycle_time_even_when_program_is_not_exported():
    plan = DevicePlan(None, 60.0, ideal_cycle_times={"O100": 100.0})
    state = follow(plan, settings=StateSettings(event_info_types=frozenset()))
    assert "program" not in state.trackers
    state.apply_current(current(0, MILL_AT_REST + [("program", "O100", "Program", "Path", "p1")]), initial=True)
    run = Timeline()
    run.execution(10, "ACTIVE")
    run.count(110, "pc", 1)  # made by O100: 100 s ideal
    run.add(120, "program", "O200", "Program")
    run.count(200, "pc", 2)  # O200 has no time of its own: the device's 60 s
    run.execution(200, "READY")
    state.apply_sample(run.document(creation=200))
    metrics = exposition(state)
    assert value(metrics, "mtconnect_device_ideal_production_seconds_total") == 100.0 + 60.0
    assert value(metrics, "mtconnect_device_day_performance_ratio", period="current") == pytest.approx(160 / 190)
