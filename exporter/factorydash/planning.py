"""Planning data for OEE: shift calendars (planned production time) and ideal cycle times.

Machines cannot tell when production is planned, so this comes from the
configuration. Shifts are wall-clock times in a named IANA timezone, so a
22:00-06:00 night shift lasts 7 real hours on the night clocks spring forward
and 9 hours on the night they fall back. A shift whose end is not after its
start crosses midnight and belongs to the day it starts: an exception for a
date replaces the shifts that *start* on that date.

A start or end time that does not exist on the day clocks spring forward is
taken with the offset before the change (02:30 in Europe/Berlin becomes 03:30
summer time); one that occurs twice on the day they fall back means its first
occurrence (PEP 495 ``fold=0``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class Shift:
    """One shift as seconds after local midnight; ``end <= start`` means it ends the next day."""

    start: int  # 0 .. 86399
    end: int  # 0 .. 86400 (86400 is "24:00")

    def interval_on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The real (UTC) interval [start, end) of this shift when it starts on ``day``."""
        end_day = day if self.end > self.start else day + timedelta(days=1)
        return _wall_clock_to_utc(day, self.start, zone), _wall_clock_to_utc(end_day, self.end, zone)


def _wall_clock_to_utc(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    days, seconds = divmod(seconds, SECONDS_PER_DAY)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    wall = datetime.combine(day + timedelta(days=days), time(hour, minute, second), tzinfo=zone)
    return wall.astimezone(UTC)


@dataclass(frozen=True)
class WeeklyShift:
    days: frozenset[int]  # date.weekday(): 0 is Monday
    shift: Shift


@dataclass(frozen=True)
class CalendarException:
    """The shifts of one date replaced: no shift at all (holiday) or others (shortened day)."""

    date: date
    shifts: tuple[Shift, ...]


@dataclass(frozen=True)
class ShiftCalendar:
    name: str
    timezone: ZoneInfo
    weekly: tuple[WeeklyShift, ...]
    exceptions: tuple[CalendarException, ...] = ()
    _exceptions_by_date: dict[date, tuple[Shift, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        by_date = {exception.date: exception.shifts for exception in self.exceptions}
        object.__setattr__(self, "_exceptions_by_date", by_date)

    def shifts_on(self, day: date) -> tuple[Shift, ...]:
        """The shifts that start on the local date ``day``."""
        if day in self._exceptions_by_date:
            return self._exceptions_by_date[day]
        weekday = day.weekday()
        return tuple(weekly.shift for weekly in self.weekly if weekday in weekly.days)

    def is_planned(self, at: datetime) -> bool:
        """True when ``at`` (an aware datetime) lies inside a planned shift; shift ends are exclusive."""
        instant = _to_utc(at, "at")
        return any(start <= instant < end for start, end in self._intervals(instant, instant))

    def planned_seconds(self, start: datetime, end: datetime) -> float:
        """Planned production time between two aware datetimes, overlapping shifts counted once."""
        window_start, window_end = _to_utc(start, "start"), _to_utc(end, "end")
        if window_end < window_start:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        clipped = sorted(
            (max(first, window_start), min(last, window_end))
            for first, last in self._intervals(window_start, window_end)
            if first < window_end and last > window_start
        )
        total = 0.0
        covered_until = window_start
        for first, last in clipped:
            first = max(first, covered_until)
            if last > first:
                total += (last - first).total_seconds()
                covered_until = last
        return total

    def _intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        # A shift lasts at most a day (plus a DST hour), so shifts that touch
        # [start, end] start between the local day before start and end's day.
        day = start.astimezone(self.timezone).date() - timedelta(days=1)
        last_day = end.astimezone(self.timezone).date()
        while day <= last_day:
            for shift in self.shifts_on(day):
                first, last = shift.interval_on(day, self.timezone)
                if first < last:
                    yield first, last
            day += timedelta(days=1)


def _to_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment.isoformat()}")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class DevicePlan:
    """What planning knows about one device; None where nothing is configured."""

    calendar: ShiftCalendar | None
    ideal_cycle_time: float | None  # seconds per part


@dataclass(frozen=True)
class DeviceEntry:
    """A device's plan, already merged with the default (fields it does not set are inherited)."""

    agent: str
    device: str
    plan: DevicePlan


@dataclass(frozen=True)
class Planning:
    calendars: tuple[ShiftCalendar, ...]
    default: DevicePlan
    devices: tuple[DeviceEntry, ...]
    _plans: dict[tuple[str, str], DevicePlan] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        plans = {(entry.agent, entry.device): entry.plan for entry in self.devices}
        object.__setattr__(self, "_plans", plans)

    def plan_for(self, agent: str, device: str) -> DevicePlan:
        """The plan of the device named ``device`` on ``agent`` (the device's own entry, else the default)."""
        return self._plans.get((agent, device), self.default)


NO_PLANNING = Planning(calendars=(), default=DevicePlan(calendar=None, ideal_cycle_time=None), devices=())
