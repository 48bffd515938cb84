"""Shift calendars: planned busy time across midnight, breaks, daylight-saving changes and exceptions."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from factorydash.planning import (
    ALWAYS_PLANNED,
    WEEKDAYS,
    CalendarException,
    CalendarSpan,
    DevicePlan,
    Shift,
    ShiftCalendar,
    WeeklyShift,
    calendar_for,
)

HOUR = 3600.0
DAY = 86400


def hm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def shift(start: str, end: str, *breaks: tuple[int, int]) -> Shift:
    return Shift(start=hm(start), end=hm(end), breaks=breaks)


def calendar(
    timezone: str, *weekly: tuple[str, Shift], exceptions: tuple[CalendarException, ...] = ()
) -> ShiftCalendar:
    """weekly entries are ("mon tue", shift("22:00", "06:00"))."""
    return ShiftCalendar(
        name="test",
        timezone=ZoneInfo(timezone),
        weekly=tuple(
            WeeklyShift(days=frozenset(WEEKDAYS.index(day) for day in days.split()), shift=one)
            for days, one in weekly
        ),
        exceptions=exceptions,
    )


def utc(*fields: int) -> float:
    return datetime(*fields, tzinfo=UTC).timestamp()


def local(timezone: str, *fields: int, fold: int = 0) -> float:
    return datetime(*fields, tzinfo=ZoneInfo(timezone), fold=fold).timestamp()


def planned_seconds(calendar: ShiftCalendar, start: float, end: float) -> float:
    return sum(span.end - span.start for span in calendar.spans(start, end) if span.planned)


def spans(calendar: ShiftCalendar, start: float, end: float) -> list[CalendarSpan]:
    result = list(calendar.spans(start, end))
    # Every answer must tile the window exactly: consecutive, no gap, no overlap, nothing empty.
    assert [(span.start, span.end) for span in result] == list(zip([start] + [span.end for span in result[:-1]],
                                                                    [span.end for span in result]))
    assert [span.end for span in result][-1:] == ([] if start == end else [end])
    assert all(span.start < span.end for span in result)
    return result


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
    night = calendar(timezone, (EVERY_DAY, shift("22:00", "06:00")))

    def at(day: date, hour: int) -> float:
        return local(timezone, day.year, day.month, day.day, hour)

    assert planned_seconds(night, at(evening, 12), at(evening + timedelta(days=1), 12)) == seconds
    # Two days around it: 6h of the night before the day before, an ordinary 8h night, this one, 2h of the next.
    assert planned_seconds(
        night, at(evening - timedelta(days=1), 0), at(evening + timedelta(days=2), 0)
    ) == 6 * HOUR + 8 * HOUR + seconds + 2 * HOUR
    starts = at(evening, 22)
    assert night.shift_at(starts + HOUR) == (starts, starts + seconds)


@pytest.mark.parametrize(("timezone", "evening", "seconds"), DST_NIGHTS)
def test_a_night_shift_on_the_night_clocks_change_starts_and_ends_at_the_local_times(
    timezone: str, evening: date, seconds: float
) -> None:
    night = calendar(timezone, (EVERY_DAY, shift("22:00", "06:00")))
    starts = local(timezone, evening.year, evening.month, evening.day, 22)
    ends = starts + seconds

    assert datetime.fromtimestamp(ends, ZoneInfo(timezone)).hour == 6
    assert not night.is_planned(starts - 1)
    assert night.is_planned(starts)
    assert night.is_planned(ends - 1)
    assert not night.is_planned(ends)


def test_an_hour_that_happens_twice_is_planned_both_times_in_a_fall_back_night() -> None:
    night = calendar("Europe/Berlin", (EVERY_DAY, shift("22:00", "06:00")))

    first = datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"), fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"), fold=1)

    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    assert night.is_planned(first) and night.is_planned(second)


def test_a_shift_starting_at_a_time_that_does_not_exist_starts_when_the_clock_has_jumped() -> None:
    early = calendar("Europe/Berlin", ("sun", shift("02:30", "10:00")))

    # 02:30 on 29 March 2026 does not exist in Berlin: read with the winter offset it is 03:30 summer time.
    assert not early.is_planned(local("Europe/Berlin", 2026, 3, 29, 3, 29))
    assert early.is_planned(local("Europe/Berlin", 2026, 3, 29, 3, 30))
    assert planned_seconds(early, utc(2026, 3, 28), utc(2026, 3, 30)) == 6.5 * HOUR


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25), (date(2026, 6, 1), 24)]
)
def test_a_local_day_lasts_23_or_25_hours_on_the_days_clocks_change(day: date, hours: int) -> None:
    always = calendar("America/Chicago", (EVERY_DAY, shift("00:00", "24:00")))
    midnight = local("America/Chicago", day.year, day.month, day.day)

    assert always.day_at(midnight + 12 * HOUR) == (midnight, midnight + hours * HOUR)
    assert always.day_at(midnight) == (midnight, midnight + hours * HOUR)
    assert always.day_at(midnight - 1)[1] == midnight
    # A whole-day shift is the day: one span, planned, its shift is the day itself.
    assert spans(always, midnight, midnight + hours * HOUR) == [
        CalendarSpan(midnight, midnight + hours * HOUR, True, (midnight, midnight + hours * HOUR),
                     (midnight, midnight + hours * HOUR))
    ]  # fmt: skip


def test_days_are_cut_at_midnight_in_the_calendar_s_timezone_not_in_utc() -> None:
    tokyo = calendar("Asia/Tokyo", ("mon tue wed thu fri", shift("08:00", "17:00")))
    # Tokyo is UTC+9 all year: its midnight of Tuesday 5 May 2026 is 15:00 UTC on Monday.
    tokyo_midnight = utc(2026, 5, 4, 15)

    cut = spans(tokyo, utc(2026, 5, 4, 12), utc(2026, 5, 4, 18))

    assert [(span.start, span.end, span.planned) for span in cut] == [
        (utc(2026, 5, 4, 12), tokyo_midnight, False),
        (tokyo_midnight, utc(2026, 5, 4, 18), False),
    ]
    assert [span.day for span in cut] == [(tokyo_midnight - DAY, tokyo_midnight), (tokyo_midnight, tokyo_midnight + DAY)]


def test_a_shift_crossing_midnight_belongs_to_the_day_it_starts_and_is_cut_at_midnight() -> None:
    # 2026-05-08 is a Friday. Only Friday night is planned, running into Saturday morning.
    friday_night = calendar("Europe/Berlin", ("fri", shift("22:00", "06:00")))
    berlin = "Europe/Berlin"

    assert friday_night.is_planned(local(berlin, 2026, 5, 8, 23))
    assert friday_night.is_planned(local(berlin, 2026, 5, 9, 5, 59))
    assert not friday_night.is_planned(local(berlin, 2026, 5, 9, 23))
    assert not friday_night.is_planned(local(berlin, 2026, 5, 8, 5))  # Thursday's night is not planned
    assert planned_seconds(friday_night, local(berlin, 2026, 5, 4), local(berlin, 2026, 5, 11)) == 8 * HOUR
    night = (local(berlin, 2026, 5, 8, 22), local(berlin, 2026, 5, 9, 6))
    saturday = (local(berlin, 2026, 5, 9), local(berlin, 2026, 5, 10))
    friday = (local(berlin, 2026, 5, 8), saturday[0])
    assert spans(friday_night, local(berlin, 2026, 5, 8, 21), local(berlin, 2026, 5, 9, 7)) == [
        CalendarSpan(local(berlin, 2026, 5, 8, 21), night[0], False, None, friday),
        CalendarSpan(night[0], saturday[0], True, night, friday),
        CalendarSpan(saturday[0], night[1], True, night, saturday),
        CalendarSpan(night[1], local(berlin, 2026, 5, 9, 7), False, None, saturday),
    ]


def test_a_break_is_inside_the_shift_but_not_planned_busy_time() -> None:
    day = calendar("UTC", (EVERY_DAY, shift("06:00", "14:00", (hm("09:00"), hm("09:30")), (hm("12:00"), hm("12:15")))))
    monday = (utc(2026, 5, 4), utc(2026, 5, 5))
    shift_bounds = (utc(2026, 5, 4, 6), utc(2026, 5, 4, 14))

    assert spans(day, *monday) == [
        CalendarSpan(monday[0], utc(2026, 5, 4, 6), False, None, monday),
        CalendarSpan(utc(2026, 5, 4, 6), utc(2026, 5, 4, 9), True, shift_bounds, monday),
        CalendarSpan(utc(2026, 5, 4, 9), utc(2026, 5, 4, 9, 30), False, shift_bounds, monday),
        CalendarSpan(utc(2026, 5, 4, 9, 30), utc(2026, 5, 4, 12), True, shift_bounds, monday),
        CalendarSpan(utc(2026, 5, 4, 12), utc(2026, 5, 4, 12, 15), False, shift_bounds, monday),
        CalendarSpan(utc(2026, 5, 4, 12, 15), utc(2026, 5, 4, 14), True, shift_bounds, monday),
        CalendarSpan(utc(2026, 5, 4, 14), monday[1], False, None, monday),
    ]
    assert not day.is_planned(utc(2026, 5, 4, 9, 10))
    assert day.shift_at(utc(2026, 5, 4, 9, 10)) == shift_bounds
    assert planned_seconds(day, *monday) == 8 * HOUR - 45 * 60


@pytest.mark.parametrize(
    ("evening", "planned_hours"),
    [
        pytest.param(date(2026, 6, 13), 7.5, id="ordinary-night"),
        pytest.param(date(2026, 3, 28), 6.5, id="spring-forward"),
        pytest.param(date(2026, 10, 24), 8.5, id="fall-back"),
    ],
)
def test_a_break_after_midnight_in_a_night_shift_is_cut_from_the_next_day(evening: date, planned_hours: float) -> None:
    # 02:00-02:30 on the scale of the evening the shift starts. On the spring-forward night 02:00
    # does not exist (read as 03:00 CEST); on the fall-back night it means the first 02:00 (CEST).
    night = calendar("Europe/Berlin", (EVERY_DAY, shift("22:00", "06:00", (DAY + hm("02:00"), DAY + hm("02:30")))))
    berlin = ZoneInfo("Europe/Berlin")
    morning = evening + timedelta(days=1)
    break_start = datetime(morning.year, morning.month, morning.day, 2, tzinfo=berlin).timestamp()
    evening_start = local("Europe/Berlin", evening.year, evening.month, evening.day, 12)

    cut = spans(night, evening_start, evening_start + DAY)

    breaks = [span for span in cut if span.shift is not None and not span.planned]
    assert [(span.start, span.end) for span in breaks] == [(break_start, break_start + 1800)]
    assert breaks[0].day[0] == local("Europe/Berlin", morning.year, morning.month, morning.day)
    assert planned_seconds(night, evening_start, evening_start + DAY) == planned_hours * HOUR


def test_a_holiday_removes_the_shifts_starting_that_day_but_not_the_night_shift_from_the_day_before() -> None:
    # 2026-12-24 is a Thursday, 2026-12-25 a Friday.
    holiday = CalendarException(date=date(2026, 12, 25), shifts=())
    plant = calendar(
        "Europe/Berlin",
        ("mon tue wed thu fri", shift("06:00", "14:00")),
        ("mon tue wed thu fri", shift("22:00", "06:00", (DAY + hm("02:00"), DAY + hm("02:30")))),
        exceptions=(holiday,),
    )
    berlin = "Europe/Berlin"

    assert plant.is_planned(local(berlin, 2026, 12, 25, 5))  # Thursday's night shift
    assert not plant.is_planned(local(berlin, 2026, 12, 25, 2, 10))  # its break
    assert not plant.is_planned(local(berlin, 2026, 12, 25, 10))
    assert plant.shift_at(local(berlin, 2026, 12, 25, 10)) is None
    assert not plant.is_planned(local(berlin, 2026, 12, 25, 23))
    assert planned_seconds(plant, local(berlin, 2026, 12, 25), local(berlin, 2026, 12, 26)) == 5.5 * HOUR


def test_a_shortened_day_replaces_the_weekly_shifts_of_that_date() -> None:
    christmas_eve = CalendarException(date=date(2026, 12, 24), shifts=(shift("06:00", "12:00"),))
    plant = calendar(
        "Europe/Berlin",
        ("mon tue wed thu fri", shift("06:00", "14:00")),
        ("mon tue wed thu fri", shift("22:00", "06:00")),
        exceptions=(christmas_eve,),
    )
    berlin = "Europe/Berlin"

    assert plant.is_planned(local(berlin, 2026, 12, 24, 11, 59))
    assert not plant.is_planned(local(berlin, 2026, 12, 24, 12))
    assert not plant.is_planned(local(berlin, 2026, 12, 24, 23))
    assert plant.is_planned(local(berlin, 2026, 12, 23, 10))  # an ordinary day before
    # 24 December from midnight: Wednesday's night shift until 06:00, then the short day.
    assert planned_seconds(plant, local(berlin, 2026, 12, 24), local(berlin, 2026, 12, 25)) == 12 * HOUR


def test_overlapping_shifts_are_counted_once_and_a_moment_belongs_to_the_earliest_starting_one() -> None:
    overlapping = calendar(
        "UTC",
        ("mon", shift("12:00", "18:00")),
        ("mon", shift("06:00", "14:00", (hm("13:00"), hm("13:30")))),
        ("mon", shift("08:00", "09:00")),
    )
    early, late = (utc(2026, 5, 4, 6), utc(2026, 5, 4, 14)), (utc(2026, 5, 4, 12), utc(2026, 5, 4, 18))
    monday = (utc(2026, 5, 4), utc(2026, 5, 5))

    assert overlapping.shift_at(utc(2026, 5, 4, 8, 30)) == early
    assert overlapping.shift_at(utc(2026, 5, 4, 13)) == early
    assert overlapping.shift_at(utc(2026, 5, 4, 14)) == late
    # The early shift owns 13:00-13:30, so its break applies there although the late shift runs.
    assert not overlapping.is_planned(utc(2026, 5, 4, 13, 10))
    assert planned_seconds(overlapping, *monday) == 11.5 * HOUR
    # Cut only where the owner or planned state changes: not at the starts of the shifts it covers.
    assert [(span.start, span.end) for span in spans(overlapping, *monday)] == [
        (monday[0], early[0]),
        (early[0], utc(2026, 5, 4, 13)),
        (utc(2026, 5, 4, 13), utc(2026, 5, 4, 13, 30)),
        (utc(2026, 5, 4, 13, 30), early[1]),
        (late[0] + 2 * HOUR, late[1]),
        (late[1], monday[1]),
    ]


def test_spans_cut_only_the_part_of_the_window_asked_for() -> None:
    day = calendar("UTC", (EVERY_DAY, shift("06:00", "14:00")))

    assert planned_seconds(day, utc(2026, 5, 4, 13), utc(2026, 5, 4, 15)) == HOUR
    assert spans(day, utc(2026, 5, 4, 13), utc(2026, 5, 4, 13)) == []
    assert spans(day, utc(2026, 5, 4, 7), utc(2026, 5, 4, 7, 0, 1)) == [
        CalendarSpan(utc(2026, 5, 4, 7), utc(2026, 5, 4, 7, 0, 1), True, (utc(2026, 5, 4, 6), utc(2026, 5, 4, 14)),
                     (utc(2026, 5, 4), utc(2026, 5, 5)))
    ]  # fmt: skip
    assert planned_seconds(day, utc(2026, 5, 1), utc(2026, 5, 31)) == 30 * 8 * HOUR
    assert planned_seconds(day, utc(2026, 5, 4, 7, 0, 0) + 0.25, utc(2026, 5, 4, 7, 0, 0) + 0.75) == 0.5


def test_booking_many_short_intervals_builds_each_day_once(monkeypatch: pytest.MonkeyPatch) -> None:
    plant = calendar("Europe/Berlin", (EVERY_DAY, shift("06:00", "14:00", (hm("09:00"), hm("09:30")))))
    built: list[date] = []
    build = ShiftCalendar._build_day
    monkeypatch.setattr(ShiftCalendar, "_build_day", lambda self, day: built.append(day) or build(self, day))
    start = local("Europe/Berlin", 2026, 5, 4)

    total = 0.0
    for second in range(3 * DAY // 10):  # three days in 10-second intervals, as the exporter books them
        total += planned_seconds(plant, start + 10 * second, start + 10 * second + 10)

    assert total == 3 * 7.5 * HOUR
    assert sorted(built) == [date(2026, 5, 4), date(2026, 5, 5), date(2026, 5, 6)]


def test_naive_datetimes_and_reversed_windows_are_refused() -> None:
    day = calendar("UTC", (EVERY_DAY, shift("06:00", "14:00")))

    with pytest.raises(ValueError, match="timezone-aware"):
        day.is_planned(datetime(2026, 5, 4, 8))
    with pytest.raises(ValueError, match="before start"):
        list(day.spans(utc(2026, 5, 5), utc(2026, 5, 4)))
    with pytest.raises(ValueError, match="before start"):
        list(ALWAYS_PLANNED.spans(utc(2026, 5, 5), utc(2026, 5, 4)))


def test_is_planned_gives_the_same_answer_in_any_timezone_of_the_instant() -> None:
    day = calendar("America/Chicago", ("mon tue wed thu fri", shift("06:00", "14:00")))
    instant = datetime(2026, 5, 4, 13, 59, tzinfo=ZoneInfo("America/Chicago"))  # Monday

    assert day.is_planned(instant)
    assert day.is_planned(instant.astimezone(UTC))
    assert day.is_planned(instant.astimezone(ZoneInfo("Asia/Tokyo")))  # already Tuesday 03:59 there
    assert day.is_planned(instant.timestamp())
    assert not day.is_planned(instant.astimezone(ZoneInfo("Asia/Tokyo")) + timedelta(minutes=1))


@pytest.mark.parametrize(
    "breaks",
    [
        pytest.param(((hm("05:00"), hm("06:30")),), id="starts-before-the-shift"),
        pytest.param(((hm("13:30"), hm("14:30")),), id="ends-after-the-shift"),
        pytest.param(((hm("09:00"), hm("10:00")), (hm("09:30"), hm("11:00"))), id="overlapping"),
        pytest.param(((hm("10:00"), hm("11:00")), (hm("09:00"), hm("09:30"))), id="unsorted"),
        pytest.param(((hm("10:00"), hm("10:00")),), id="empty"),
    ],
)
def test_a_shift_refuses_breaks_outside_it_overlapping_or_out_of_order(breaks: tuple[tuple[int, int], ...]) -> None:
    with pytest.raises(ValueError, match="not inside the shift"):
        Shift(start=hm("06:00"), end=hm("14:00"), breaks=breaks)


def test_always_planned_plans_every_moment_without_shifts_and_cuts_days_at_utc_midnight() -> None:
    start, end = utc(2026, 5, 4, 22), utc(2026, 5, 6, 1)

    assert list(ALWAYS_PLANNED.spans(start, end)) == [
        CalendarSpan(start, utc(2026, 5, 5), True, None, (utc(2026, 5, 4), utc(2026, 5, 5))),
        CalendarSpan(utc(2026, 5, 5), utc(2026, 5, 6), True, None, (utc(2026, 5, 5), utc(2026, 5, 6))),
        CalendarSpan(utc(2026, 5, 6), end, True, None, (utc(2026, 5, 6), utc(2026, 5, 7))),
    ]
    assert list(ALWAYS_PLANNED.spans(start, start)) == []
    assert ALWAYS_PLANNED.shift_at(start) is None
    assert ALWAYS_PLANNED.day_at(utc(2026, 5, 5) - 0.5) == (utc(2026, 5, 4), utc(2026, 5, 5))


def test_a_device_plan_books_against_its_calendar_or_else_always_planned() -> None:
    plant = calendar("UTC", (EVERY_DAY, shift("06:00", "14:00")))

    assert calendar_for(DevicePlan(calendar=plant, ideal_cycle_time=None)) is plant
    assert calendar_for(DevicePlan(calendar=None, ideal_cycle_time=None)) is ALWAYS_PLANNED


def test_the_ideal_cycle_time_of_a_program_falls_back_to_the_device_s() -> None:
    given = {"O1234": 95.0}
    plan = DevicePlan(calendar=None, ideal_cycle_time=60.0, ideal_cycle_times=given)
    given["O1234"] = 1.0  # the plan keeps its own copy

    assert plan.ideal_cycle_time_for("O1234") == 95.0
    assert plan.ideal_cycle_time_for("O9999") == 60.0
    assert plan.ideal_cycle_time_for(None) == 60.0
    assert DevicePlan(calendar=None, ideal_cycle_time=None).ideal_cycle_time_for("O1234") is None
    with pytest.raises(TypeError):
        plan.ideal_cycle_times["O1234"] = 2.0  # type: ignore[index]
    assert copy.deepcopy(plan) == plan and hash(copy.deepcopy(plan)) == hash(plan)


def test_a_device_plan_accepts_only_the_known_quality_sources() -> None:
    assert DevicePlan(calendar=None, ideal_cycle_time=None, quality_source="bad_count").quality_source == "bad_count"
    assert DevicePlan(calendar=None, ideal_cycle_time=None).quality_source is None
    with pytest.raises(ValueError, match="quality_source must be one of good_count, bad_count, assume_good"):
        DevicePlan(calendar=None, ideal_cycle_time=None, quality_source="scrap_count")
