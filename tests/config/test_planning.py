"""Shift calendars: planned production time across midnight, daylight-saving changes and exceptions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from factorydash.planning import CalendarException, Shift, ShiftCalendar, WeeklyShift, WEEKDAYS

HOUR = 3600.0


def hm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def shift(start: str, end: str) -> Shift:
    return Shift(start=hm(start), end=hm(end))


def calendar(
    timezone: str, *weekly: tuple[str, str, str], exceptions: tuple[CalendarException, ...] = ()
) -> ShiftCalendar:
    """weekly entries are ("mon tue", "22:00", "06:00")."""
    return ShiftCalendar(
        name="test",
        timezone=ZoneInfo(timezone),
        weekly=tuple(
            WeeklyShift(days=frozenset(WEEKDAYS.index(day) for day in days.split()), shift=shift(start, end))
            for days, start, end in weekly
        ),
        exceptions=exceptions,
    )


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def local(timezone: str, *fields: int, fold: int = 0) -> datetime:
    return datetime(*fields, tzinfo=ZoneInfo(timezone), fold=fold)


EVERY_DAY = "mon tue wed thu fri sat sun"

# Clock changes of 2026: Europe/Berlin on Sun 29 March (02:00 CET -> 03:00 CEST) and Sun 25 October
# (03:00 CEST -> 02:00 CET); America/Chicago on Sun 8 March (02:00 CST -> 03:00 CDT) and Sun 1 November
# (02:00 CDT -> 01:00 CST).
DST_NIGHTS = [
    pytest.param("Europe/Berlin", date(2026, 3, 28), 7 * HOUR, id="berlin-spring-forward"),
    pytest.param("Europe/Berlin", date(2026, 10, 24), 9 * HOUR, id="berlin-fall-back"),
    pytest.param("America/Chicago", date(2026, 3, 7), 7 * HOUR, id="chicago-spring-forward"),
    pytest.param("America/Chicago", date(2026, 10, 31), 9 * HOUR, id="chicago-fall-back"),
    pytest.param("Europe/Berlin", date(2026, 6, 13), 8 * HOUR, id="berlin-ordinary-night"),
]


@pytest.mark.parametrize(("timezone", "evening", "seconds"), DST_NIGHTS)
def test_a_night_shift_on_the_night_clocks_change_lasts_the_real_hours(
    timezone: str, evening: date, seconds: float
) -> None:
    night = calendar(timezone, (EVERY_DAY, "22:00", "06:00"))
    zone = ZoneInfo(timezone)

    def noon(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, 12, tzinfo=zone)

    def midnight(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone)

    assert night.planned_seconds(noon(evening), noon(evening + timedelta(days=1))) == seconds
    # Two days around it: 6h of the night before the day before, an ordinary 8h night, this one, 2h of the next.
    assert night.planned_seconds(
        midnight(evening - timedelta(days=1)), midnight(evening + timedelta(days=2))
    ) == 6 * HOUR + 8 * HOUR + seconds + 2 * HOUR


@pytest.mark.parametrize(("timezone", "evening", "seconds"), DST_NIGHTS)
def test_a_night_shift_on_the_night_clocks_change_starts_and_ends_at_the_local_times(
    timezone: str, evening: date, seconds: float
) -> None:
    night = calendar(timezone, (EVERY_DAY, "22:00", "06:00"))
    starts = local(timezone, evening.year, evening.month, evening.day, 22).astimezone(UTC)
    ends = starts + timedelta(seconds=seconds)

    assert ends.astimezone(ZoneInfo(timezone)).hour == 6
    assert not night.is_planned(starts - timedelta(seconds=1))
    assert night.is_planned(starts)
    assert night.is_planned(ends - timedelta(seconds=1))
    assert not night.is_planned(ends)


def test_an_hour_that_happens_twice_is_planned_both_times_in_a_fall_back_night() -> None:
    night = calendar("Europe/Berlin", (EVERY_DAY, "22:00", "06:00"))

    first = local("Europe/Berlin", 2026, 10, 25, 2, 30, fold=0)
    second = local("Europe/Berlin", 2026, 10, 25, 2, 30, fold=1)

    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    assert night.is_planned(first) and night.is_planned(second)


def test_a_shift_starting_at_a_time_that_does_not_exist_starts_when_the_clock_has_jumped() -> None:
    early = calendar("Europe/Berlin", ("sun", "02:30", "10:00"))

    # 02:30 on 29 March 2026 does not exist in Berlin: read with the winter offset it is 03:30 summer time.
    assert not early.is_planned(local("Europe/Berlin", 2026, 3, 29, 3, 29))
    assert early.is_planned(local("Europe/Berlin", 2026, 3, 29, 3, 30))
    assert early.planned_seconds(utc(2026, 3, 28), utc(2026, 3, 30)) == 6.5 * HOUR


def test_a_whole_day_shift_is_23_hours_on_the_day_clocks_spring_forward() -> None:
    always = calendar("America/Chicago", (EVERY_DAY, "00:00", "24:00"))
    chicago = ZoneInfo("America/Chicago")

    def day_length(day: date) -> float:
        midnight = datetime.combine(day, datetime.min.time(), chicago)
        return always.planned_seconds(midnight, datetime.combine(day + timedelta(days=1), datetime.min.time(), chicago))

    assert day_length(date(2026, 3, 8)) == 23 * HOUR
    assert day_length(date(2026, 11, 1)) == 25 * HOUR
    assert day_length(date(2026, 6, 1)) == 24 * HOUR


def test_a_shift_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    # 2026-05-08 is a Friday. Only Friday night is planned, running into Saturday morning.
    friday_night = calendar("Europe/Berlin", ("fri", "22:00", "06:00"))

    assert friday_night.is_planned(local("Europe/Berlin", 2026, 5, 8, 23))
    assert friday_night.is_planned(local("Europe/Berlin", 2026, 5, 9, 5, 59))
    assert not friday_night.is_planned(local("Europe/Berlin", 2026, 5, 9, 23))
    assert not friday_night.is_planned(local("Europe/Berlin", 2026, 5, 8, 5))  # Thursday's night is not planned
    assert friday_night.planned_seconds(
        local("Europe/Berlin", 2026, 5, 4), local("Europe/Berlin", 2026, 5, 11)
    ) == 8 * HOUR


def test_is_planned_gives_the_same_answer_in_any_timezone_of_the_instant() -> None:
    day = calendar("America/Chicago", ("mon tue wed thu fri", "06:00", "14:00"))
    instant = local("America/Chicago", 2026, 5, 4, 13, 59)  # Monday

    assert day.is_planned(instant)
    assert day.is_planned(instant.astimezone(UTC))
    assert day.is_planned(instant.astimezone(ZoneInfo("Asia/Tokyo")))  # already Tuesday 03:59 there
    assert not day.is_planned(instant.astimezone(ZoneInfo("Asia/Tokyo")) + timedelta(minutes=1))


def test_a_holiday_removes_the_shifts_starting_that_day_but_not_the_night_shift_from_the_day_before() -> None:
    # 2026-12-24 is a Thursday, 2026-12-25 a Friday.
    holiday = CalendarException(date=date(2026, 12, 25), shifts=())
    plant = calendar(
        "Europe/Berlin",
        ("mon tue wed thu fri", "06:00", "14:00"),
        ("mon tue wed thu fri", "22:00", "06:00"),
        exceptions=(holiday,),
    )

    assert plant.is_planned(local("Europe/Berlin", 2026, 12, 25, 5))  # Thursday's night shift
    assert not plant.is_planned(local("Europe/Berlin", 2026, 12, 25, 10))
    assert not plant.is_planned(local("Europe/Berlin", 2026, 12, 25, 23))
    assert plant.planned_seconds(local("Europe/Berlin", 2026, 12, 25), local("Europe/Berlin", 2026, 12, 26)) == 6 * HOUR


def test_a_shortened_day_replaces_the_weekly_shifts_of_that_date() -> None:
    christmas_eve = CalendarException(date=date(2026, 12, 24), shifts=(shift("06:00", "12:00"),))
    plant = calendar(
        "Europe/Berlin",
        ("mon tue wed thu fri", "06:00", "14:00"),
        ("mon tue wed thu fri", "22:00", "06:00"),
        exceptions=(christmas_eve,),
    )

    assert plant.is_planned(local("Europe/Berlin", 2026, 12, 24, 11, 59))
    assert not plant.is_planned(local("Europe/Berlin", 2026, 12, 24, 12))
    assert not plant.is_planned(local("Europe/Berlin", 2026, 12, 24, 23))
    assert plant.is_planned(local("Europe/Berlin", 2026, 12, 23, 10))  # an ordinary day before
    # 24 December from midnight: Wednesday's night shift until 06:00, then the short day.
    assert plant.planned_seconds(local("Europe/Berlin", 2026, 12, 24), local("Europe/Berlin", 2026, 12, 25)) == 12 * HOUR


def test_overlapping_shifts_are_counted_once() -> None:
    overlapping = calendar("UTC", ("mon", "06:00", "14:00"), ("mon", "12:00", "18:00"), ("mon", "08:00", "09:00"))

    assert overlapping.planned_seconds(utc(2026, 5, 4), utc(2026, 5, 5)) == 12 * HOUR


def test_planned_seconds_counts_only_the_part_of_a_shift_inside_the_window() -> None:
    day = calendar("UTC", (EVERY_DAY, "06:00", "14:00"))

    assert day.planned_seconds(utc(2026, 5, 4, 13), utc(2026, 5, 4, 15)) == HOUR
    assert day.planned_seconds(utc(2026, 5, 4, 13), utc(2026, 5, 4, 13)) == 0.0
    assert day.planned_seconds(utc(2026, 5, 1), utc(2026, 5, 31)) == 30 * 8 * HOUR


def test_naive_datetimes_and_reversed_windows_are_refused() -> None:
    day = calendar("UTC", (EVERY_DAY, "06:00", "14:00"))

    with pytest.raises(ValueError, match="timezone-aware"):
        day.is_planned(datetime(2026, 5, 4, 8))
    with pytest.raises(ValueError, match="before start"):
        day.planned_seconds(utc(2026, 5, 5), utc(2026, 5, 4))
