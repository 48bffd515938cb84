"""Planning data for OEE: shift calendars (planned busy time, breaks, days) and ideal cycle times.

Machines cannot tell when production is planned, so this comes from the
configuration. Shifts are wall-clock times in a named IANA timezone, so a
22:00-06:00 night shift lasts 7 real hours on the night clocks spring forward
and 9 hours on the night they fall back. A shift whose end is not after its
start crosses midnight and belongs to the day it starts: an exception for a
date replaces the shifts that *start* on that date. Breaks are planned
downtime inside a shift: the shift still runs, but no production is planned.

A start or end time that does not exist on the day clocks spring forward is
taken with the offset before the change (02:30 in Europe/Berlin becomes 03:30
summer time); one that occurs twice on the day they fall back means its first
occurrence (PEP 495 ``fold=0``).

Moments are Unix epoch seconds (floats) in the span API that the exporter's
time accounting uses (docs/time-accounting.md, sections 5 and 6).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SECONDS_PER_DAY = 86400
QUALITY_SOURCES = ("good_count", "bad_count", "assume_good")


@dataclass(frozen=True, slots=True)
class Shift:
    """One shift as seconds after local midnight of the day it starts; ``end <= start`` means it ends the next day.

    ``breaks`` are (start, end) pairs on the same scale: a break after midnight in a
    22:00-06:00 shift is >= 86400. They are sorted, do not overlap and lie inside the shift.
    """

    start: int  # 0 .. 86399
    end: int  # 0 .. 86400 (86400 is "24:00")
    breaks: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        previous_end = self.start
        for break_start, break_end in self.breaks:
            if not previous_end <= break_start < break_end <= self.end_after_start:
                raise ValueError(
                    f"break {(break_start, break_end)} of shift {(self.start, self.end)} is not inside the shift,"
                    " after the previous break"
                )
            previous_end = break_end

    @property
    def end_after_start(self) -> int:
        """The end on the start day's scale: above 86400 for a shift that crosses midnight."""
        return self.end if self.end > self.start else self.end + SECONDS_PER_DAY

    def interval_on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The real (UTC) interval [start, end) of this shift when it starts on ``day``."""
        return _wall_clock_to_utc(day, self.start, zone), _wall_clock_to_utc(day, self.end_after_start, zone)

    def breaks_on(self, day: date, zone: ZoneInfo) -> tuple[tuple[datetime, datetime], ...]:
        """The real (UTC) intervals of the breaks when the shift starts on ``day``."""
        return tuple(
            (_wall_clock_to_utc(day, first, zone), _wall_clock_to_utc(day, last, zone)) for first, last in self.breaks
        )


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


@dataclass(frozen=True, slots=True)
class CalendarSpan:
    """A stretch of time over which nothing the calendar says changes."""

    start: float  # inclusive, Unix epoch seconds
    end: float  # exclusive
    planned: bool  # planned busy time: inside a shift and outside its breaks
    shift: tuple[float, float] | None  # (start, end) of the shift the span lies in, breaks included; None outside shifts
    day: tuple[float, float]  # (start, end) of the calendar-local day (local midnight to midnight, DST-aware)


class Calendar(Protocol):
    """What the time accounting asks of a device's calendar (a ShiftCalendar, or ALWAYS_PLANNED)."""

    def spans(self, start: float, end: float) -> Iterator[CalendarSpan]: ...

    def shift_at(self, moment: float) -> tuple[float, float] | None: ...

    def day_at(self, moment: float) -> tuple[float, float]: ...


@dataclass(frozen=True, slots=True)
class _Piece:
    """One span of a local day, before it is clipped to the asked window."""

    start: float
    end: float
    planned: bool
    shift: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class _Day:
    """A local day cut into pieces at every shift and break boundary."""

    start: float
    end: float
    pieces: tuple[_Piece, ...]
    piece_starts: tuple[float, ...]

    def piece_at(self, moment: float) -> int:
        return bisect_right(self.piece_starts, moment) - 1


# Local days kept per calendar: the exporter books intervals near "now" (and replays of recent
# buffers), so a few days cover every call; a week back is rebuilt on demand.
_CACHED_DAYS = 16


@dataclass(frozen=True)
class ShiftCalendar:
    name: str
    timezone: ZoneInfo
    weekly: tuple[WeeklyShift, ...]
    exceptions: tuple[CalendarException, ...] = ()
    _exceptions_by_date: dict[date, tuple[Shift, ...]] = field(init=False, repr=False, compare=False, hash=False)
    _days: dict[date, _Day] = field(init=False, repr=False, compare=False, hash=False)
    _last_day: list[_Day] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_date = {exception.date: exception.shifts for exception in self.exceptions}
        object.__setattr__(self, "_exceptions_by_date", by_date)
        object.__setattr__(self, "_days", {})
        object.__setattr__(self, "_last_day", [])

    def shifts_on(self, day: date) -> tuple[Shift, ...]:
        """The shifts that start on the local date ``day``."""
        if day in self._exceptions_by_date:
            return self._exceptions_by_date[day]
        weekday = day.weekday()
        return tuple(weekly.shift for weekly in self.weekly if weekday in weekly.days)

    def is_planned(self, at: datetime | float) -> bool:
        """True when ``at`` (an aware datetime or epoch seconds) is planned busy time: in a shift, not in a break."""
        moment = _to_utc(at, "at").timestamp() if isinstance(at, datetime) else at
        day = self._day_containing(moment)
        return day.pieces[day.piece_at(moment)].planned

    def shift_at(self, moment: float) -> tuple[float, float] | None:
        """(start, end) of the shift ``moment`` lies in (breaks included), None between shifts."""
        day = self._day_containing(moment)
        return day.pieces[day.piece_at(moment)].shift

    def day_at(self, moment: float) -> tuple[float, float]:
        """(start, end) of the local day (midnight to midnight in the calendar's timezone) ``moment`` lies in."""
        day = self._day_containing(moment)
        return day.start, day.end

    def spans(self, start: float, end: float) -> Iterator[CalendarSpan]:
        """Consecutive spans covering [start, end) exactly, cut at every shift start/end, break start/end and
        local midnight (and nowhere else). Overlapping shifts count once: a moment belongs to the
        earliest-starting shift that contains it."""
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        moment = start
        while moment < end:
            day = self._day_containing(moment)
            bounds = (day.start, day.end)
            for piece in day.pieces[day.piece_at(moment):]:
                if piece.start >= end:
                    return
                piece_end = min(piece.end, end)
                yield CalendarSpan(moment, piece_end, piece.planned, piece.shift, bounds)
                moment = piece_end
            # The last piece ends at day.end; the loop goes on with the next day.

    def _day_containing(self, moment: float) -> _Day:
        last = self._last_day
        if last and last[0].start <= moment < last[0].end:
            return last[0]
        local_date = datetime.fromtimestamp(moment, self.timezone).date()
        day = self._day(local_date)
        # Where a zone moves its clocks at midnight, the local date and the midnight-to-midnight
        # interval can disagree for an hour; the interval decides.
        while moment >= day.end:
            local_date += timedelta(days=1)
            day = self._day(local_date)
        while moment < day.start:
            local_date -= timedelta(days=1)
            day = self._day(local_date)
        last[:] = [day]
        return day

    def _day(self, local_date: date) -> _Day:
        day = self._days.get(local_date)
        if day is None:
            day = self._build_day(local_date)
            if len(self._days) >= _CACHED_DAYS:
                # A fresh dict rather than evicting in place: a scrape thread may read the cache meanwhile.
                object.__setattr__(self, "_days", {})
            self._days[local_date] = day
        return day

    def _build_day(self, local_date: date) -> _Day:
        day_start = _local_midnight(local_date, self.timezone)
        day_end = _local_midnight(local_date + timedelta(days=1), self.timezone)
        # A shift lasts at most a day (plus a DST hour) and ends before the second midnight after its
        # start, so only shifts starting the day before or this day reach into this day.
        shifts = sorted(
            (
                (first.timestamp(), last.timestamp(), tuple((a.timestamp(), b.timestamp()) for a, b in breaks))
                for start_date in (local_date - timedelta(days=1), local_date)
                for shift in self.shifts_on(start_date)
                for (first, last), breaks in [
                    (shift.interval_on(start_date, self.timezone), shift.breaks_on(start_date, self.timezone))
                ]
                if first < last
            ),
            key=lambda interval: (interval[0], -interval[1]),
        )
        cuts = {day_start, day_end}
        for first, last, breaks in shifts:
            cuts.update(moment for moment in (first, last) if day_start < moment < day_end)
            cuts.update(moment for pair in breaks for moment in pair if day_start < moment < day_end)
        ordered = sorted(cuts)
        pieces: list[_Piece] = []
        for piece_start, piece_end in zip(ordered, ordered[1:]):
            owner = next((s for s in shifts if s[0] <= piece_start < s[1]), None)
            shift = None if owner is None else (owner[0], owner[1])
            planned = owner is not None and not any(a <= piece_start < b for a, b in owner[2])
            if pieces and pieces[-1].planned == planned and pieces[-1].shift == shift:
                pieces[-1] = _Piece(pieces[-1].start, piece_end, planned, shift)  # a cut where nothing changes
            else:
                pieces.append(_Piece(piece_start, piece_end, planned, shift))
        return _Day(day_start, day_end, tuple(pieces), tuple(piece.start for piece in pieces))


def _local_midnight(local_date: date, zone: ZoneInfo) -> float:
    # A midnight that does not exist (clocks jump at 00:00) reads with the offset before the change:
    # the instant the day really starts.
    return datetime.combine(local_date, time(), tzinfo=zone).timestamp()


def _to_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment.isoformat()}")
    return moment.astimezone(UTC)


class AlwaysPlanned:
    """The calendar of a device without one: every moment is planned busy time, no shifts, days in UTC."""

    def spans(self, start: float, end: float) -> Iterator[CalendarSpan]:
        """Consecutive spans covering [start, end) exactly, cut at every UTC midnight."""
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        moment = start
        while moment < end:
            day = self.day_at(moment)
            span_end = min(day[1], end)
            yield CalendarSpan(moment, span_end, True, None, day)
            moment = span_end

    def shift_at(self, moment: float) -> None:
        return None

    def day_at(self, moment: float) -> tuple[float, float]:
        day_start = float(moment // SECONDS_PER_DAY * SECONDS_PER_DAY)
        return day_start, day_start + SECONDS_PER_DAY

    def __repr__(self) -> str:
        return "ALWAYS_PLANNED"


ALWAYS_PLANNED = AlwaysPlanned()


class FrozenMapping(Mapping[str, float]):
    """A read-only, hashable copy of a mapping (MappingProxyType can be neither copied nor hashed)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, float]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> float:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"FrozenMapping({self._items!r})"


@dataclass(frozen=True)
class DevicePlan:
    """What planning knows about one device; None where nothing is configured."""

    calendar: ShiftCalendar | None
    ideal_cycle_time: float | None  # seconds per part
    # Per PROGRAM value; read-only (a given dict is copied).
    ideal_cycle_times: Mapping[str, float] = field(default_factory=lambda: FrozenMapping({}))
    # One of QUALITY_SOURCES; None picks it from the device's PART_COUNT items (docs/time-accounting.md, section 5).
    quality_source: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.ideal_cycle_times, FrozenMapping):
            object.__setattr__(self, "ideal_cycle_times", FrozenMapping(self.ideal_cycle_times))
        if self.quality_source is not None and self.quality_source not in QUALITY_SOURCES:
            raise ValueError(f"quality_source must be one of {', '.join(QUALITY_SOURCES)}, got {self.quality_source!r}")

    def ideal_cycle_time_for(self, program: str | None) -> float | None:
        """The ideal cycle time of a part made by ``program``: its own value, else the device's."""
        if program is not None and program in self.ideal_cycle_times:
            return self.ideal_cycle_times[program]
        return self.ideal_cycle_time


def calendar_for(plan: DevicePlan) -> Calendar:
    """The calendar a device's time is booked against: its own, else every moment planned."""
    return ALWAYS_PLANNED if plan.calendar is None else plan.calendar


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
