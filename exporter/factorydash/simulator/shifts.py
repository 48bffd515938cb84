"""The simulated plant's shift calendar: when its machines work and what its ground truth calls planned.

Deliberately the simulator's own small representation (not the exporter's planning module): the
ground truth must be computed independently of the code it checks. Shifts and breaks are local
wall-clock times in an IANA timezone; a shift whose end is not after its start ends the next day,
and a break earlier in the day than its shift's start belongs to that next day too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .clock import from_us, to_us

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class ShiftPattern:
    """One shift on the given weekdays (0 = Monday), with its breaks."""

    days: frozenset[int]
    start: time
    end: time
    breaks: tuple[tuple[time, time], ...] = ()


@dataclass(frozen=True)
class PlannedShift:
    """One concrete shift: [start_us, end_us) with its breaks, in simulated µs (UTC)."""

    start_us: int
    end_us: int
    breaks: tuple[tuple[int, int], ...]

    @property
    def start(self) -> datetime:
        return from_us(self.start_us)

    def planned_busy_intervals(self) -> list[tuple[int, int]]:
        """The shift minus its breaks: planned busy time (PBT)."""
        intervals, cursor = [], self.start_us
        for begin, end in sorted(self.breaks):
            if begin > cursor:
                intervals.append((cursor, begin))
            cursor = max(cursor, end)
        if cursor < self.end_us:
            intervals.append((cursor, self.end_us))
        return intervals


@dataclass(frozen=True)
class ShiftCalendar:
    timezone: str
    shifts: tuple[ShiftPattern, ...]

    def shifts_between(self, start_us: int, end_us: int) -> list[PlannedShift]:
        """Every shift that overlaps [start_us, end_us), in time order."""
        zone = ZoneInfo(self.timezone)
        first_day = from_us(start_us).astimezone(zone).date() - timedelta(days=1)
        last_day = from_us(end_us).astimezone(zone).date()
        found = [
            shift
            for day in _days(first_day, last_day)
            for pattern in self.shifts
            if day.weekday() in pattern.days
            for shift in (_on(day, pattern, zone),)
            if shift.start_us < end_us and shift.end_us > start_us
        ]
        return sorted(found, key=lambda shift: shift.start_us)

    def planned_busy(self, start_us: int, end_us: int) -> list[tuple[int, int]]:
        """PBT intervals clipped to [start_us, end_us)."""
        return [
            (max(begin, start_us), min(end, end_us))
            for shift in self.shifts_between(start_us, end_us)
            for begin, end in shift.planned_busy_intervals()
            if begin < end_us and end > start_us
        ]

    def next_planned_busy(self, now_us: int) -> int | None:
        """`now_us` when it is planned busy time, else the start of the next PBT within two weeks."""
        for begin, end in self.planned_busy(now_us, now_us + 14 * 86400 * 1_000_000):
            if end > now_us:
                return max(begin, now_us)
        return None


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _local(day: date, moment: time, zone: ZoneInfo) -> int:
    return to_us(datetime.combine(day, moment, tzinfo=zone))


def _on(day: date, pattern: ShiftPattern, zone: ZoneInfo) -> PlannedShift:
    crosses_midnight = pattern.end <= pattern.start
    start = _local(day, pattern.start, zone)
    end = _local(day + timedelta(days=1) if crosses_midnight else day, pattern.end, zone)

    def break_day(moment: time) -> date:
        return day + timedelta(days=1) if crosses_midnight and moment < pattern.start else day

    breaks = tuple(
        (_local(break_day(begin), begin, zone), _local(break_day(finish), finish, zone))
        for begin, finish in pattern.breaks
    )
    return PlannedShift(start, end, breaks)


def _weekdays(*names: str) -> frozenset[int]:
    return frozenset(WEEKDAYS.index(name) for name in names)


# The demo plant: two shifts on weekdays with a 30-minute break each. deploy/factorydash-demo.yml
# configures the exporter with the same calendar (a test keeps the two in agreement).
DEMO_CALENDAR = ShiftCalendar(
    timezone="Europe/Berlin",
    shifts=(
        ShiftPattern(_weekdays("mon", "tue", "wed", "thu", "fri"), time(6), time(14), ((time(10), time(10, 30)),)),
        ShiftPattern(_weekdays("mon", "tue", "wed", "thu", "fri"), time(14), time(22), ((time(18), time(18, 30)),)),
    ),
)
