"""ISO 22400 time elements, parts and KPIs per device (docs/time-accounting.md sections 5 and 6).

One `DeviceAccount` per device (never the MTConnect Agent device), kept by device name
across re-probes and agent restarts. Its inputs are the device's EXECUTION, CONTROLLER_MODE,
FUNCTIONAL_MODE, AVAILABILITY and CONDITION levels; they give the device one *class* at a
time (the element it books in planned time, and whether a path is ACTIVE). Each class lasts
one interval, booked with the rule of `timebook` and cut by the calendar into spans: planned
spans book `planned_busy` and the class's element, unplanned ones book
`unplanned_production` while a path is ACTIVE. Every span also lands in the tally of its
shift and its day, from which the shift and day gauges are read.

The class also names the *cause* of a loss element (the EXECUTION state, mode or
availability that put the device there) and the Fault activations active, so the same
planned spans are split by cause and by alarm (`Losses`): the downtime Pareto comes from the
booking itself, never from a second one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from .parser import DataItem
from .planning import Calendar, DevicePlan
from .timebook import Stamp, closed_length, exposed_part
from .vocabularies import UNAVAILABLE

ELEMENTS = ("planned_busy", "production", "setup", "delay", "down", "unavailable", "unplanned_production")
# An agent restart gap longer than this is not booked (an agent switched off for good, a replaced host).
MAX_INSTANCE_GAP_SECONDS = 7 * 86400.0
# Finished shifts and days kept per device: the gauges show the current and the previous one.
_KEPT_PERIODS = 4

_DELAY_EXECUTIONS = frozenset({"FEED_HOLD", "INTERRUPTED", "OPTIONAL_STOP"})
_MANUAL_MODES = frozenset({"MANUAL", "MANUAL_DATA_INPUT"})

# Which path's EXECUTION names the cause when paths differ (docs/time-accounting.md section 5): a held or
# interrupted path first (it explains the loss even beside an idle path), then explicit stops, waiting,
# stops at a program's end, READY (the idle default, often of a second path) and values outside the
# vocabulary (OTHER) last.
EXECUTION_PRECEDENCE = (
    "INTERRUPTED", "FEED_HOLD", "OPTIONAL_STOP", "STOPPED", "PROGRAM_STOPPED", "WAIT", "PROGRAM_OPTIONAL_STOP",
    "PROGRAM_COMPLETED", "READY", "OTHER",
)
# The closed set of causes of each loss element, the label values of mtconnect_device_loss_seconds_total.
LOSS_CAUSES: dict[str, tuple[str, ...]] = {
    "delay": (*(state for state in EXECUTION_PRECEDENCE if state in _DELAY_EXECUTIONS), "FAULT"),
    "down": tuple(state for state in EXECUTION_PRECEDENCE if state not in _DELAY_EXECUTIONS),
    "setup": ("FUNCTIONAL_MODE_SETUP", "MANUAL_MODE"),
    "unavailable": ("AVAILABILITY", "EXECUTION_UNAVAILABLE", "AGENT_RESTART"),
}
# Alarm series (condition type, native code) one device may keep: they are counters, kept for good.
MAX_ALARMS_PER_DEVICE = 100


class Role(Enum):
    EXECUTION = "EXECUTION"
    CONTROLLER_MODE = "CONTROLLER_MODE"
    FUNCTIONAL_MODE = "FUNCTIONAL_MODE"
    AVAILABILITY = "AVAILABILITY"
    CONDITION = "CONDITION"
    PROGRAM = "PROGRAM"
    PARTS_ALL = "ALL"
    PARTS_GOOD = "GOOD"
    PARTS_BAD = "BAD"


def role_of(item: DataItem) -> Role | None:
    """What a data item tells the device's account, if anything."""
    if item.category == "CONDITION":
        return Role.CONDITION
    if item.category != "EVENT":
        return None
    if item.type == "PART_COUNT":
        return {"": Role.PARTS_ALL, "ALL": Role.PARTS_ALL, "GOOD": Role.PARTS_GOOD, "BAD": Role.PARTS_BAD}.get(
            item.sub_type
        )
    if item.type == "AVAILABILITY":
        return Role.AVAILABILITY if item.component == "Device" else None
    try:
        return Role(item.type)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class DeviceClass:
    element: str  # booked in planned time: unavailable, setup, production, delay or down
    active: bool  # a path is ACTIVE: booked as unplanned_production outside planned time
    cause: str | None = None  # why the device is in a loss element (one of LOSS_CAUSES[element]); None: production
    alarms: tuple[tuple[str, str], ...] = ()  # (condition type, native code) of the active Faults that have series


@dataclass(slots=True)
class Tally:
    """What was booked over some stretch (everything, one shift, one day)."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ELEMENTS, 0.0))
    produced: float = 0.0
    good: float = 0.0  # increases of a GOOD count
    bad: float = 0.0  # increases of a BAD count
    ideal: float = 0.0  # ideal production seconds of the parts produced

    def copy(self) -> Tally:
        return Tally(dict(self.seconds), self.produced, self.good, self.bad, self.ideal)


@dataclass(slots=True)
class Losses:
    """Planned seconds of the loss elements by cause, and planned seconds each Fault was active (totals
    since the exporter started; shifts and days do not keep them)."""

    causes: dict[str, dict[str, float]] = field(
        default_factory=lambda: {element: dict.fromkeys(causes, 0.0) for element, causes in LOSS_CAUSES.items()}
    )
    alarms: dict[str, dict[str, float]] = field(default_factory=dict)  # condition type -> native code -> seconds

    def copy(self) -> Losses:
        return Losses({element: dict(causes) for element, causes in self.causes.items()},
                      {condition: dict(codes) for condition, codes in self.alarms.items()})

    def add(self, device_class: DeviceClass, seconds: float) -> None:
        """A planned span of `seconds` in `device_class`."""
        if device_class.cause is not None:
            self.causes[device_class.element][device_class.cause] += seconds
        for condition, code in device_class.alarms:
            self.alarms[condition][code] += seconds

    def alarm_series(self) -> int:
        return sum(len(codes) for codes in self.alarms.values())


@dataclass(frozen=True, slots=True)
class Period:
    """A shift or a day as the gauges show it."""

    start: float
    end: float
    tally: Tally


@dataclass(frozen=True, slots=True)
class AccountView:
    """A scrape's consistent picture of one device's account, the open interval's exposed part included."""

    totals: Tally
    losses: Losses
    shift: Period | None
    previous_shift: Period | None
    day: Period | None
    previous_day: Period | None
    quality_source: str | None
    has_ideal: bool


class DeviceAccount:
    def __init__(self, device: str) -> None:
        self.device = device
        self.roles: dict[str, tuple[Role, str]] = {}  # data item id -> (role, component id)
        self.values: dict[str, str] = {}  # data item id -> latest value (condition: level)
        self.condition_types: dict[str, str] = {}  # CONDITION data item id -> its type (SYSTEM, ...)
        self.faults: dict[str, tuple[str, ...]] = {}  # CONDITION data item id -> native codes of its active Faults
        self.totals = Tally()
        self.losses = Losses()
        self.shifts: dict[tuple[float, float], Tally] = {}
        self.days: dict[tuple[float, float], Tally] = {}
        self.current_class: DeviceClass | None = None
        self.since: Stamp | None = None  # start of the open interval; None: none open
        self.frontier: float | None = None  # where the newest booking ended (calendar position)

    # -- model --------------------------------------------------------------

    def configure(self, items: Iterable[DataItem]) -> None:
        """The device's data items from a probe; values of items that are gone are forgotten."""
        roles = {}
        condition_types = {}
        for item in items:
            role = role_of(item)
            if role is not None:
                roles[item.id] = (role, item.component_id)
            if role is Role.CONDITION:
                condition_types[item.id] = item.type
        self.roles = roles
        self.condition_types = condition_types
        self.values = {item_id: value for item_id, value in self.values.items() if item_id in roles}
        self.faults = {item_id: codes for item_id, codes in self.faults.items() if item_id in roles}

    def _has(self, role: Role) -> bool:
        return any(known is role for known, _ in self.roles.values())

    def quality_source(self, plan: DevicePlan) -> str | None:
        if plan.quality_source is not None:
            return plan.quality_source
        if self._has(Role.PARTS_GOOD):
            return "good_count"
        if self._has(Role.PARTS_BAD):
            return "bad_count"
        return None

    # -- inputs -------------------------------------------------------------

    def set_value(self, item_id: str, value: str) -> None:
        self.values[item_id] = value

    def set_faults(self, item_id: str, codes: tuple[str, ...], reserve: Callable[[int], bool]) -> int:
        """The native codes (conditionId where none) of a CONDITION item's active Fault activations.

        A code that just became active and is new to the device gets its alarm series when the device
        has room and `reserve` (the agent's series budget) grants one; one refused stays without a series
        until its next activation (a flood of alarms costs no budget lookups per observation). Returns
        how many codes that just became active got none.
        """
        previous = self.faults.get(item_id, ())
        self.faults[item_id] = codes
        if codes == previous:
            return 0
        condition = self.condition_types[item_id]
        booked = self.losses.alarms.get(condition, {})
        room = MAX_ALARMS_PER_DEVICE - self.losses.alarm_series()
        dropped = 0
        for code in set(codes).difference(previous, booked):
            if room > 0 and reserve(1):
                booked = self.losses.alarms.setdefault(condition, booked)
                booked[code] = 0.0
                room -= 1
            else:
                dropped += 1
        return dropped

    def program_for(self, component_id: str) -> str | None:
        """The running PROGRAM of a path (the one on the same component), else the device's first known."""
        fallback = None
        for item_id, (role, component) in self.roles.items():
            if role is Role.PROGRAM:
                value = self.values.get(item_id)
                if value is None or value == UNAVAILABLE:
                    continue
                if component == component_id:
                    return value
                fallback = fallback or value
        return fallback

    def classify(self) -> DeviceClass:
        """The device's class from its inputs (docs/time-accounting.md section 5, first match wins)."""
        executions: dict[str, str | None] = {}
        modes: dict[str, str | None] = {}
        availability: list[str | None] = []
        functional_setup = False
        fault = False
        alarms: set[tuple[str, str]] = set()
        for item_id, (role, component) in self.roles.items():
            value = self.values.get(item_id)
            if role is Role.EXECUTION:
                executions[component] = value
            elif role is Role.CONTROLLER_MODE:
                modes[component] = value
            elif role is Role.AVAILABILITY:
                availability.append(value)
            elif role is Role.FUNCTIONAL_MODE:
                functional_setup = functional_setup or value == "SETUP"
            elif role is Role.CONDITION:
                fault = fault or value == "fault"
                condition = self.condition_types[item_id]
                booked = self.losses.alarms.get(condition, {})
                alarms.update((condition, code) for code in booked.keys() & self.faults.get(item_id, ()))
        active_alarms = tuple(sorted(alarms))
        active_paths = [component for component, value in executions.items() if value == "ACTIVE"]
        active = bool(active_paths)
        if any(value != "AVAILABLE" for value in availability):
            return DeviceClass("unavailable", active, "AVAILABILITY", active_alarms)
        if all(value is None or value == UNAVAILABLE for value in executions.values()):
            return DeviceClass("unavailable", active, "EXECUTION_UNAVAILABLE", active_alarms)
        # A CONTROLLER_MODE on the path itself, else one declared elsewhere on the device (the controller).
        device_mode = next((value for component, value in modes.items() if component not in executions), None)
        if functional_setup:
            return DeviceClass("setup", active, "FUNCTIONAL_MODE_SETUP", active_alarms)
        if any(modes.get(path, device_mode) in _MANUAL_MODES for path in active_paths):
            return DeviceClass("setup", active, "MANUAL_MODE", active_alarms)
        if active:
            return DeviceClass("production", active, None, active_alarms)
        # Not unavailable, so some path has a known EXECUTION: the first of the precedence names the cause.
        execution = min(
            (value if value in EXECUTION_PRECEDENCE else "OTHER" for value in executions.values()
             if value is not None and value != UNAVAILABLE),
            key=EXECUTION_PRECEDENCE.index,
        )
        if execution in _DELAY_EXECUTIONS:
            return DeviceClass("delay", active, execution, active_alarms)
        if fault:
            return DeviceClass("delay", active, "FAULT", active_alarms)
        return DeviceClass("down", active, execution, active_alarms)

    # -- booking ------------------------------------------------------------

    def observe(self, stamp: Stamp, agent_before: float | None, calendar: Calendar) -> None:
        """An input changed at `stamp`: a new class closes the open interval and opens the next."""
        new_class = self.classify()
        if self.since is not None and new_class == self.current_class:
            return
        if self.since is not None and self.current_class is not None:
            self._book(self.since.position, closed_length(self.since, stamp, agent_before), self.current_class, calendar)
        self.current_class, self.since = new_class, stamp

    def restart_at(self, stamp: Stamp, agent_before: float | None, calendar: Calendar) -> None:
        """A `/current` document: the class it shows starts at its stamp (never back-dated); an open
        interval of the same class goes on, one of another class closes with its exposed part."""
        new_class = self.classify()
        if self.since is not None and new_class == self.current_class:
            return
        self.close_exposed(agent_before, calendar)
        self.current_class, self.since = new_class, stamp

    def close_exposed(self, agent_clock: float | None, calendar: Calendar) -> None:
        """Close the open interval with what it has exposed (a new agent instance, a resync)."""
        if self.since is not None and self.current_class is not None:
            self._book(self.since.position, exposed_part(self.since, agent_clock), self.current_class, calendar)
        self.since = None

    def book_instance_gap(self, start: float, end: float, calendar: Calendar) -> None:
        """The agent-clock gap between two agent instances: unavailable in planned time."""
        if 0 < end - start < MAX_INSTANCE_GAP_SECONDS:
            self._book(start, end - start, DeviceClass("unavailable", False, "AGENT_RESTART"), calendar)

    def add_parts(self, role: Role, count: float, stamp: Stamp, plan: DevicePlan, component_id: str,
                  calendar: Calendar) -> None:
        """`count` new parts of a PART_COUNT item; only parts completed in planned busy time count."""
        if count <= 0:
            return
        moment = stamp.position
        span = next(iter(calendar.spans(moment, math.nextafter(moment, math.inf))))
        if not span.planned:
            return
        produced = role is Role.PARTS_ALL or (role in (Role.PARTS_GOOD, Role.PARTS_BAD) and not self._has(Role.PARTS_ALL))
        ideal = plan.ideal_cycle_time_for(self.program_for(component_id)) if produced else None
        for tally in self._tallies(span.shift, span.day):
            if produced:
                tally.produced += count
                if ideal is not None:
                    tally.ideal += count * ideal
            if role is Role.PARTS_GOOD:
                tally.good += count
            elif role is Role.PARTS_BAD:
                tally.bad += count

    def _tallies(self, shift: tuple[float, float] | None, day: tuple[float, float]) -> list[Tally]:
        tallies = [self.totals, _period_tally(self.days, day)]
        if shift is not None:
            tallies.append(_period_tally(self.shifts, shift))
        return tallies

    def _book(self, start: float, length: float, device_class: DeviceClass, calendar: Calendar) -> None:
        for span in calendar.spans(start, start + length):
            _add_span(self._tallies(span.shift, span.day), self.losses, span.planned, span.end - span.start,
                      device_class)
        self.frontier = start + length

    # -- reading ------------------------------------------------------------

    def view(self, agent_clock: float | None, plan: DevicePlan, calendar: Calendar) -> AccountView:
        """Totals, shifts and days including the open interval's exposed part; changes nothing."""
        totals = self.totals.copy()
        losses = self.losses.copy()
        shifts = {key: tally for key, tally in self.shifts.items()}
        days = {key: tally for key, tally in self.days.items()}
        frontier = self.frontier
        if self.since is not None and self.current_class is not None:
            start = self.since.position
            end = start + exposed_part(self.since, agent_clock)
            for span in calendar.spans(start, end):
                tallies = [totals, _copied(days, span.day)]
                if span.shift is not None:
                    tallies.append(_copied(shifts, span.shift))
                _add_span(tallies, losses, span.planned, span.end - span.start, self.current_class)
            frontier = end
        has_ideal = plan.ideal_cycle_time is not None or bool(plan.ideal_cycle_times)
        if frontier is None:
            return AccountView(totals, losses, None, None, None, None, self.quality_source(plan), has_ideal)
        shift_now = calendar.shift_at(frontier)
        shift, previous_shift = _current_and_previous(shifts, shift_now, frontier)
        day, previous_day = _current_and_previous(days, calendar.day_at(frontier), frontier)
        return AccountView(totals, losses, shift, previous_shift, day, previous_day, self.quality_source(plan),
                           has_ideal)


def _add_span(tallies: list[Tally], losses: Losses, planned: bool, seconds: float, device_class: DeviceClass) -> None:
    if planned:
        for tally in tallies:
            tally.seconds["planned_busy"] += seconds
            tally.seconds[device_class.element] += seconds
        losses.add(device_class, seconds)
    elif device_class.active:
        for tally in tallies:
            tally.seconds["unplanned_production"] += seconds


def _period_tally(periods: dict[tuple[float, float], Tally], key: tuple[float, float]) -> Tally:
    tally = periods.get(key)
    if tally is None:
        tally = periods[key] = Tally()
        if len(periods) > _KEPT_PERIODS:
            del periods[min(periods)]
    return tally


def _copied(periods: dict[tuple[float, float], Tally], key: tuple[float, float]) -> Tally:
    """The view's own copy of a period's tally (the stored one is never changed by a scrape)."""
    tally = periods.get(key)
    tally = Tally() if tally is None else tally.copy()
    periods[key] = tally
    return tally


def _current_and_previous(
    periods: dict[tuple[float, float], Tally], current: tuple[float, float] | None, frontier: float
) -> tuple[Period | None, Period | None]:
    now = None
    if current is not None:
        now = Period(current[0], current[1], periods.get(current) or Tally())
    finished = [key for key in periods if key[1] <= frontier and key != current]
    previous = None
    if finished:
        key = max(finished, key=lambda key: key[1])
        previous = Period(key[0], key[1], periods[key])
    return now, previous


@dataclass(frozen=True, slots=True)
class Ratios:
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None


def good_parts(tally: Tally, quality_source: str | None) -> float | None:
    if quality_source == "good_count":
        return tally.good
    if quality_source == "bad_count":
        return tally.produced - tally.bad
    if quality_source == "assume_good":
        return tally.produced
    return None


def ratios(tally: Tally, quality_source: str | None, has_ideal: bool) -> Ratios:
    """ISO 22400-2 KPIs as ratios of the tally's sums; None where undefined."""
    planned = tally.seconds["planned_busy"]
    production = tally.seconds["production"]
    good = good_parts(tally, quality_source)
    availability = production / planned if planned > 0 else None
    performance = tally.ideal / production if has_ideal and production > 0 else None
    quality = good / tally.produced if good is not None and tally.produced > 0 else None
    oee = None
    if planned > 0 and has_ideal and good is not None:
        if availability is not None and performance is not None and quality is not None:
            oee = availability * performance * quality
        else:
            oee = 0.0  # planned time without production or without parts: nothing was made
    return Ratios(availability, performance, quality, oee)
