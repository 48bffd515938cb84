"""Ground truth: what the emitted observation stream implies, integrated exactly.

The recorder sees every observation that enters the agent's buffer for the
items that drive shop-floor KPIs, and keeps them for the whole run (the buffer
forgets, the recorder does not). Durations count from each value's timestamp
to the next one; a PART_COUNT increase counts its difference, a decrease is a
reset and counts the new value (Prometheus' increase() rule); an onset is a
Warning/Fault activation whose native code was not already active.

`Recorder.time_elements` books the ISO 22400 time elements of docs/time-accounting.md
section 5 per shift of a `ShiftCalendar`, written from that page and not from the exporter's
code, so the end-to-end tests compare two independent implementations. Everything is kept in
integer microseconds of the simulated (agent) clock, so the elements of a shift add up exactly.

`execution_from_shdr` reads the same kind of truth straight from a recorded adapter log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .agent import Condition
from .clock import US, from_us, to_us
from .model import DataItem
from .replay import read_shdr
from .shifts import ShiftCalendar

DURATION_TYPES = ("EXECUTION", "AVAILABILITY", "CONTROLLER_MODE", "EMERGENCY_STOP")
# Inputs of the device time elements (docs/time-accounting.md section 5), besides conditions.
ELEMENT_TYPES = ("EXECUTION", "AVAILABILITY", "CONTROLLER_MODE", "FUNCTIONAL_MODE", "PROGRAM")
ELEMENTS = ("planned_busy", "production", "setup", "delay", "down", "unavailable", "unplanned_production")
IN_PLANNED_BUSY = ("unavailable", "setup", "production", "delay", "down")
_MANUAL_MODES = frozenset({"MANUAL", "MANUAL_DATA_INPUT"})
_DELAY_EXECUTIONS = frozenset({"FEED_HOLD", "INTERRUPTED", "OPTIONAL_STOP"})
QUALITY_SOURCES = ("good_count", "bad_count", "assume_good")


@dataclass(frozen=True)
class Onset:
    time: datetime
    data_item_id: str
    condition_type: str
    native_code: str
    text: str


@dataclass(frozen=True)
class GroundTruth:
    device: str
    start: datetime
    end: datetime
    execution_seconds: dict[str, float]
    availability_seconds: dict[str, float]
    controller_mode_seconds: dict[str, float]
    parts: dict[str, int]
    fault_onsets: tuple[Onset, ...]
    warning_onsets: tuple[Onset, ...]
    emergency_stop_onsets: tuple[datetime, ...]


@dataclass(frozen=True)
class IdealCycleTimes:
    """Planning data for performance: seconds per part, per PROGRAM, else the device's default."""

    default: float | None = None
    per_program: Mapping[str, float] = field(default_factory=dict)

    def for_program(self, program: str | None) -> float:
        if program is not None and program in self.per_program:
            return self.per_program[program]
        return self.default or 0.0


@dataclass(frozen=True)
class TimeElements:
    """The ISO 22400 time elements and quantities of one device over one shift (or window)."""

    device: str
    start: datetime
    end: datetime
    microseconds: Mapping[str, int]  # element (ELEMENTS) -> integer µs
    parts_produced: int
    parts_good: int | None  # None: the device has no quality source
    ideal_production_seconds: float

    def seconds(self, element: str) -> float:
        return self.microseconds[element] / US

    @property
    def availability(self) -> float | None:
        pbt = self.microseconds["planned_busy"]
        return self.microseconds["production"] / pbt if pbt else None

    @property
    def performance(self) -> float | None:
        production = self.seconds("production")
        return self.ideal_production_seconds / production if production else None

    @property
    def quality(self) -> float | None:
        return self.parts_good / self.parts_produced if self.parts_good is not None and self.parts_produced else None

    @property
    def oee(self) -> float | None:
        a, p, q = self.availability, self.performance, self.quality
        return a * p * q if a is not None and p is not None and q is not None else None


@dataclass(frozen=True)
class LogStates:
    """Time and entries per value of one key of an SHDR log, from consecutive timestamps only."""

    seconds: dict[str, float]
    entries: dict[str, int]
    last_value: str
    last_time: datetime


def execution_from_shdr(path: Path, key: str = "execution") -> LogStates:
    """EXECUTION truth of a recorded adapter log: each value lasts until the key's next value.

    Consecutive repeats of a value are one interval (an agent drops them as duplicates); the
    last value's interval is open and books nothing here.
    """
    changes: list[tuple[int, str]] = []
    for stamp_us, fields in read_shdr(path):
        for i in range(0, len(fields) - 1, 2):
            if fields[i] == key and (not changes or changes[-1][1] != fields[i + 1]):
                changes.append((stamp_us, fields[i + 1]))
    if not changes:
        raise ValueError(f"{path}: no {key!r} lines")
    seconds: dict[str, int] = defaultdict(int)
    entries: dict[str, int] = defaultdict(int)
    for (t, value), (t_next, _) in zip(changes, changes[1:]):
        seconds[value] += t_next - t
    for _, value in changes:
        entries[value] += 1
    return LogStates(
        seconds={value: us / US for value, us in seconds.items()},
        entries=dict(entries),
        last_value=changes[-1][1],
        last_time=from_us(changes[-1][0]),
    )


class _DeviceInputs:
    """The inputs of section 5 for one device as they change; `element()` classifies the present."""

    def __init__(self) -> None:
        self.executions: dict[str, str] = {}  # path component id -> EXECUTION
        self.modes: dict[str, str] = {}  # component id -> CONTROLLER_MODE
        self.functional_mode: str | None = None
        self.availability: str | None = None
        self.conditions: dict[str, dict[str, str]] = defaultdict(dict)  # item id -> native code -> level

    def apply(self, item: DataItem, value: str | Condition) -> None:
        if isinstance(value, Condition):
            active = self.conditions[item.id]
            if value.active:
                active[value.native_code] = value.level
            elif value.level == "Normal" and value.native_code:
                active.pop(value.native_code, None)
            else:
                active.clear()
        elif item.type == "EXECUTION":
            self.executions[item.component_id] = value
        elif item.type == "CONTROLLER_MODE":
            self.modes[item.component_id] = value
        elif item.type == "FUNCTIONAL_MODE":
            self.functional_mode = value
        elif item.type == "AVAILABILITY":
            self.availability = value

    def _mode_of(self, path: str) -> str | None:
        if path in self.modes:
            return self.modes[path]
        return next(iter(self.modes.values())) if len(self.modes) == 1 else None

    def element(self) -> tuple[str, bool]:
        """(the in-PBT element, whether any path is ACTIVE): first match of the section 5 table."""
        active_paths = [path for path, value in self.executions.items() if value == "ACTIVE"]
        if self.availability != "AVAILABLE" or all(v == "UNAVAILABLE" for v in self.executions.values()):
            return "unavailable", bool(active_paths)
        if self.functional_mode == "SETUP" or any(self._mode_of(p) in _MANUAL_MODES for p in active_paths):
            return "setup", bool(active_paths)
        if active_paths:
            return "production", True
        delayed = any(v in _DELAY_EXECUTIONS for v in self.executions.values())
        if delayed or any("Fault" in levels.values() for levels in self.conditions.values()):
            return "delay", False
        return "down", False


class Recorder:
    def __init__(self) -> None:
        self._timelines: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        self._part_counts: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        self._last_count: dict[tuple[str, str], int] = {}
        self._active: dict[str, set[str]] = defaultdict(set)
        self._onsets: dict[tuple[str, str], list[Onset]] = defaultdict(list)
        self._inputs: dict[str, _DeviceInputs] = defaultdict(_DeviceInputs)
        # device -> [(start µs, in-PBT element, any path ACTIVE)]; each lasts until the next starts
        self._segments: dict[str, list[tuple[int, str, bool]]] = defaultdict(lambda: [(0, "unavailable", False)])
        self._programs: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._count_types: dict[str, set[str]] = defaultdict(set)

    def observe(self, item: DataItem, timestamp_us: int, value: str | Condition) -> None:
        if isinstance(value, Condition) or item.type in ELEMENT_TYPES:
            self._element_input(item, timestamp_us, value)
        if isinstance(value, Condition):
            self._condition(item, timestamp_us, value)
        elif item.type in DURATION_TYPES:
            timeline = self._timelines[(item.device, item.type)]
            if not timeline or timeline[-1][1] != value:
                timeline.append((timestamp_us, value))
        elif item.type == "PART_COUNT":
            key = (item.device, item.sub_type or "ALL")
            self._count_types[item.device].add(key[1])
            if not value.isdigit():
                return
            count = int(value)
            last = self._last_count.get(key)
            if last is not None:
                self._part_counts[key].append((timestamp_us, count - last if count >= last else count))
            self._last_count[key] = count

    def _element_input(self, item: DataItem, timestamp_us: int, value: str | Condition) -> None:
        inputs = self._inputs[item.device]
        inputs.apply(item, value)
        if item.type == "PROGRAM" and isinstance(value, str):
            self._programs[item.device].append((timestamp_us, value))
        element, active = inputs.element()
        segments = self._segments[item.device]
        if segments[-1][1:] == (element, active):
            return
        if segments[-1][0] == timestamp_us:
            segments.pop()
        segments.append((timestamp_us, element, active))

    def _condition(self, item: DataItem, timestamp_us: int, value: Condition) -> None:
        active = self._active[item.id]
        if value.active:
            if value.native_code not in active:
                active.add(value.native_code)
                onset = Onset(from_us(timestamp_us), item.id, item.type, value.native_code, value.text)
                self._onsets[(item.device, value.level)].append(onset)
        elif value.level == "Normal" and value.native_code:
            active.discard(value.native_code)
        else:
            active.clear()

    def ground_truth(self, device: str, start_us: int, end_us: int) -> GroundTruth:
        def seconds(kind: str) -> dict[str, float]:
            totals: dict[str, int] = defaultdict(int)
            timeline = self._timelines.get((device, kind), [])
            for i, (t, value) in enumerate(timeline):
                t_next = timeline[i + 1][0] if i + 1 < len(timeline) else end_us
                overlap = min(t_next, end_us) - max(t, start_us)
                if overlap > 0:
                    totals[value] += overlap
            return {value: us / US for value, us in totals.items()}

        def onsets(level: str) -> tuple[Onset, ...]:
            return tuple(
                o for o in self._onsets.get((device, level), ()) if start_us <= to_us(o.time) < end_us
            )

        parts = {
            sub_type: sum(delta for t, delta in increments if start_us <= t < end_us)
            for (dev, sub_type), increments in self._part_counts.items()
            if dev == device
        }
        estop = tuple(
            from_us(t)
            for t, value in self._timelines.get((device, "EMERGENCY_STOP"), ())
            if value == "TRIGGERED" and start_us <= t < end_us
        )
        return GroundTruth(
            device=device,
            start=from_us(start_us),
            end=from_us(end_us),
            execution_seconds=seconds("EXECUTION"),
            availability_seconds=seconds("AVAILABILITY"),
            controller_mode_seconds=seconds("CONTROLLER_MODE"),
            parts=parts,
            fault_onsets=onsets("Fault"),
            warning_onsets=onsets("Warning"),
            emergency_stop_onsets=estop,
        )


    def time_elements(
        self,
        device: str,
        calendar: ShiftCalendar | None,
        start_us: int,
        end_us: int,
        ideal: IdealCycleTimes = IdealCycleTimes(),
        quality_source: str | None = None,
        per_shift: bool = True,
    ) -> tuple[TimeElements, ...]:
        """The elements of each shift overlapping [start_us, end_us), clipped to it; with per_shift=False
        (or no calendar: every hour planned) one period for the whole window, which also holds the
        unplanned production between shifts."""
        if quality_source is not None and quality_source not in QUALITY_SOURCES:
            raise ValueError(f"quality_source {quality_source!r} not in {', '.join(QUALITY_SOURCES)}")
        if calendar is None:
            periods = [(start_us, end_us, [(start_us, end_us)])]
        elif not per_shift:
            periods = [(start_us, end_us, calendar.planned_busy(start_us, end_us))]
        else:
            periods = [
                (max(s.start_us, start_us), min(s.end_us, end_us), s.planned_busy_intervals())
                for s in calendar.shifts_between(start_us, end_us)
            ]
        return tuple(
            self._period(device, begin, end, [(max(a, begin), min(b, end)) for a, b in pbt if a < end and b > begin],
                         ideal, quality_source)
            for begin, end, pbt in periods
        )

    def _period(
        self, device: str, start_us: int, end_us: int, pbt: list[tuple[int, int]], ideal: IdealCycleTimes,
        quality_source: str | None,
    ) -> TimeElements:
        booked = dict.fromkeys(ELEMENTS, 0)
        segments = self._segments[device]
        for i, (t, element, active) in enumerate(segments):
            a, b = max(t, start_us), min(segments[i + 1][0] if i + 1 < len(segments) else end_us, end_us)
            if a >= b:
                continue
            planned = sum(max(0, min(b, pe) - max(a, ps)) for ps, pe in pbt)
            booked[element] += planned
            booked["planned_busy"] += planned
            if active:
                booked["unplanned_production"] += b - a - planned

        def in_pbt(increments: list[tuple[int, int]]) -> list[tuple[int, int]]:
            return [(t, d) for t, d in increments if any(ps <= t < pe for ps, pe in pbt)]

        types = self._count_types.get(device, set())
        counts = {sub: in_pbt(self._part_counts.get((device, sub), [])) for sub in ("ALL", "GOOD", "BAD")}
        produced_increments = counts["ALL"] if "ALL" in types else counts["GOOD"] + counts["BAD"]
        produced = sum(d for _, d in produced_increments)
        source = quality_source or ("good_count" if "GOOD" in types else "bad_count" if "BAD" in types else None)
        good = {
            "good_count": lambda: sum(d for _, d in counts["GOOD"]),
            "bad_count": lambda: produced - sum(d for _, d in counts["BAD"]),
            "assume_good": lambda: produced,
            None: lambda: None,
        }[source]()
        programs = self._programs.get(device, [])
        ideal_seconds = sum(d * ideal.for_program(_value_at(programs, t)) for t, d in produced_increments)
        return TimeElements(device, from_us(start_us), from_us(end_us), booked, produced, good, ideal_seconds)


def _value_at(timeline: list[tuple[int, str]], t: int) -> str | None:
    """The value of a (time, value) timeline at time t (the latest change at or before t)."""
    value = None
    for when, current in timeline:
        if when > t:
            break
        value = current
    return value
