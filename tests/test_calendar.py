"""Working-time arithmetic for SLA deadlines, checked by hand in Jakarta time (WIB, UTC+7).

Default hours: Mon–Thu 07:30–16:00 (8.5 h), Fri 07:30–16:30 (9 h). Dates used below:
Fri 2026-11-27 / Mon 2026-11-30; Thu 2026-12-24 (a configured day off in some tests),
Fri 2026-12-25 Christmas, Mon 2026-12-28; Mon 2026-08-17 Independence Day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from workflows.calendar import WorkCalendar, WorkingTime

WIB = ZoneInfo("Asia/Jakarta")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0

CALENDAR = WorkCalendar("Asia/Jakarta", WorkingTime())
WITH_DAY_OFF = WorkCalendar("Asia/Jakarta", WorkingTime(days_off=(date(2026, 12, 24),)))
LUNCH = WorkCalendar(
    "Asia/Jakarta",
    WorkingTime(hours=dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "07:30-12:00,13:00-16:00")),
)
# Europe/Berlin changes clocks on Sundays 2026-03-29 (02:00 → 03:00) and 2026-10-25 (03:00 → 02:00).
BERLIN_ODD_HOURS = WorkCalendar(
    "Europe/Berlin",
    WorkingTime(
        hours={
            "mon": "09:00-17:00",
            "wed": "00:00-24:00",
            "sat": "22:00-24:00",
            "sun": "01:00-02:30,02:45-04:00",
        },
        holidays="DE",
    ),
)


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=WIB)


# --- add ---------------------------------------------------------------------------------------


def test_within_one_working_day() -> None:
    assert CALENDAR.add(wib(2026, 11, 23, 8, 0), 2 * HOUR) == wib(2026, 11, 23, 10, 0)


def test_result_is_utc() -> None:
    result = CALENDAR.add(wib(2026, 11, 23, 8, 0), 2 * HOUR)
    assert result.tzinfo is UTC
    assert result == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def test_across_the_end_of_a_working_day() -> None:
    # Mon 15:00 → 16:00 is 1 h, the other hour is Tue 07:30 → 08:30.
    assert CALENDAR.add(wib(2026, 11, 23, 15, 0), 2 * HOUR) == wib(2026, 11, 24, 8, 30)


def test_across_a_weekend() -> None:
    # Fri 15:00 → 16:30 is 1.5 h (Friday closes later), the last half hour is Mon 07:30 → 08:00.
    assert CALENDAR.add(wib(2026, 11, 27, 15, 0), 2 * HOUR) == wib(2026, 11, 30, 8, 0)


def test_a_deadline_can_fall_at_closing_time() -> None:
    # Exactly the rest of Friday: due Friday 16:30, not Monday 07:30.
    assert CALENDAR.add(wib(2026, 11, 27, 15, 0), 1.5 * HOUR) == wib(2026, 11, 27, 16, 30)


def test_across_christmas() -> None:
    # Thu 24 Dec 15:00 → 16:00 is 1 h; Fri 25 is Christmas, then the weekend; Mon 28 07:30 → 08:30.
    assert CALENDAR.add(wib(2026, 12, 24, 15, 0), 2 * HOUR) == wib(2026, 12, 28, 8, 30)


def test_across_independence_day() -> None:
    # Fri 14 Aug 15:00 → 16:30 is 1.5 h; Mon 17 Aug is Independence Day; Tue 18 07:30 → 08:00.
    assert CALENDAR.add(wib(2026, 8, 14, 15, 0), 2 * HOUR) == wib(2026, 8, 18, 8, 0)


def test_across_a_configured_day_off() -> None:
    # Wed 23 Dec 15:00 → 16:00 is 1 h; Thu 24 is cuti bersama, Fri 25 Christmas; Mon 28 07:30 → 08:30.
    assert WITH_DAY_OFF.add(wib(2026, 12, 23, 15, 0), 2 * HOUR) == wib(2026, 12, 28, 8, 30)
    # Without the day off, Thursday counts.
    assert CALENDAR.add(wib(2026, 12, 23, 15, 0), 2 * HOUR) == wib(2026, 12, 24, 8, 30)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (wib(2026, 11, 23, 6, 0), wib(2026, 11, 23, 8, 30)),  # Monday before opening
        (wib(2026, 11, 23, 17, 0), wib(2026, 11, 24, 8, 30)),  # Monday after closing
        (wib(2026, 11, 23, 16, 0), wib(2026, 11, 24, 8, 30)),  # Monday exactly at closing
        (wib(2026, 11, 27, 20, 0), wib(2026, 11, 30, 8, 30)),  # Friday evening
        (wib(2026, 11, 29, 10, 0), wib(2026, 11, 30, 8, 30)),  # Sunday
        (wib(2026, 12, 25, 10, 0), wib(2026, 12, 28, 8, 30)),  # Christmas morning
    ],
)
def test_starting_outside_working_hours(start: datetime, due: datetime) -> None:
    assert CALENDAR.add(start, HOUR) == due


def test_seconds_scale_durations() -> None:
    assert CALENDAR.add(wib(2026, 11, 23, 10, 0, 0), 1) == wib(2026, 11, 23, 10, 0, 1)
    # Mon 15:59:50 + 30 s: 10 s on Monday, 20 s on Tuesday.
    assert CALENDAR.add(wib(2026, 11, 23, 15, 59, 50), 30) == wib(2026, 11, 24, 7, 30, 20)
    assert CALENDAR.add(wib(2026, 11, 23, 10, 0), 0.25) == wib(2026, 11, 23, 10, 0) + timedelta(
        milliseconds=250
    )


def test_zero_returns_the_start_even_outside_working_hours() -> None:
    sunday_noon = wib(2026, 11, 29, 12, 0)
    assert CALENDAR.add(sunday_noon, 0) == sunday_noon
    assert CALENDAR.add(sunday_noon, -0.0) == sunday_noon


def test_negative_durations_go_backwards() -> None:
    # Mon 30 Nov 08:00 − 2 h: Mon 07:30 → 08:00 is 0.5 h, then Fri 27 16:30 back to 15:00.
    assert CALENDAR.add(wib(2026, 11, 30, 8, 0), -2 * HOUR) == wib(2026, 11, 27, 15, 0)
    # From Sunday noon, 1 h back is Fri 15:30.
    assert CALENDAR.add(wib(2026, 11, 29, 12, 0), -HOUR) == wib(2026, 11, 27, 15, 30)
    # Back over Christmas and the day off: Mon 28 Dec 08:30 − 2 h = Wed 23 Dec 15:00.
    assert WITH_DAY_OFF.add(wib(2026, 12, 28, 8, 30), -2 * HOUR) == wib(2026, 12, 23, 15, 0)
    # Going back, the answer is the moment closest to the start: Tue 07:30, not Mon 16:00.
    assert CALENDAR.add(wib(2026, 11, 24, 8, 30), -HOUR) == wib(2026, 11, 24, 7, 30)


def test_thirty_working_days() -> None:
    # Six weeks of 4 × 8.5 h + 9 h = 43 h each, no public holiday between 2 Nov and 11 Dec 2026:
    # due at the end of the sixth Friday.
    start = wib(2026, 11, 2, 7, 30)
    assert CALENDAR.add(start, 6 * 43 * HOUR) == wib(2026, 12, 11, 16, 30)
    assert CALENDAR.add(wib(2026, 12, 11, 16, 30), -6 * 43 * HOUR) == start
    assert CALENDAR.between(start, wib(2026, 12, 14, 7, 30)) == 6 * 43 * HOUR


# --- between -----------------------------------------------------------------------------------


def test_between_over_a_weekend() -> None:
    # Fri 15:00 → 16:30 (1.5 h) + Mon 07:30 → 08:30 (1 h).
    assert CALENDAR.between(wib(2026, 11, 27, 15, 0), wib(2026, 11, 30, 8, 30)) == 2.5 * HOUR
    assert CALENDAR.between(wib(2026, 11, 28, 0, 0), wib(2026, 11, 30, 0, 0)) == 0


def test_between_over_holidays_and_days_off() -> None:
    start, end = wib(2026, 12, 23, 15, 0), wib(2026, 12, 28, 8, 30)
    # Wed 1 h + Thu 24 full day 8.5 h + Mon 1 h; Christmas and the weekend count nothing.
    assert CALENDAR.between(start, end) == 10.5 * HOUR
    # With Thu 24 as a day off, only Wed and Mon remain.
    assert WITH_DAY_OFF.between(start, end) == 2 * HOUR


def test_between_a_whole_week() -> None:
    assert CALENDAR.between(wib(2026, 11, 23), wib(2026, 11, 30)) == 43 * HOUR


def test_between_is_negative_backwards() -> None:
    assert CALENDAR.between(wib(2026, 11, 30, 8, 30), wib(2026, 11, 27, 15, 0)) == -2.5 * HOUR


def test_between_is_half_open() -> None:
    opening, closing = wib(2026, 11, 23, 7, 30), wib(2026, 11, 23, 16, 0)
    assert CALENDAR.between(opening, closing) == 8.5 * HOUR
    assert CALENDAR.between(closing, wib(2026, 11, 24, 7, 30)) == 0


def test_between_with_other_timezones_as_input() -> None:
    # The same moments written in UTC: Fri 08:00 UTC = 15:00 WIB, Mon 01:30 UTC = 08:30 WIB.
    start = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    end = datetime(2026, 11, 30, 1, 30, tzinfo=UTC)
    assert CALENDAR.between(start, end) == 2.5 * HOUR


# --- is_working --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        (wib(2026, 11, 23, 7, 29, 59), False),
        (wib(2026, 11, 23, 7, 30), True),  # opening time is working
        (wib(2026, 11, 23, 15, 59, 59), True),
        (wib(2026, 11, 23, 16, 0), False),  # closing time is not
        (wib(2026, 11, 27, 16, 15), True),  # Friday closes at 16:30
        (wib(2026, 11, 28, 10, 0), False),  # Saturday
        (wib(2026, 12, 25, 10, 0), False),  # Christmas
        (wib(2026, 8, 17, 10, 0), False),  # Independence Day
    ],
)
def test_is_working(moment: datetime, working: bool) -> None:
    assert CALENDAR.is_working(moment) is working


def test_configured_day_off_is_not_working() -> None:
    assert CALENDAR.is_working(wib(2026, 12, 24, 10, 0))
    assert not WITH_DAY_OFF.is_working(wib(2026, 12, 24, 10, 0))


def test_no_public_holidays() -> None:
    calendar = WorkCalendar("Asia/Jakarta", WorkingTime(holidays=None))
    assert calendar.is_working(wib(2026, 12, 25, 10, 0))
    assert calendar.add(wib(2026, 12, 24, 15, 0), 2 * HOUR) == wib(2026, 12, 25, 8, 30)


# --- a lunch break -----------------------------------------------------------------------------


def test_multi_range_days() -> None:
    # Mon 11:30 → 12:00 is half an hour, the other half is 13:00 → 13:30.
    assert LUNCH.add(wib(2026, 11, 23, 11, 30), HOUR) == wib(2026, 11, 23, 13, 30)
    # Starting during lunch, counting begins at 13:00.
    assert LUNCH.add(wib(2026, 11, 23, 12, 15), 600) == wib(2026, 11, 23, 13, 10)
    assert not LUNCH.is_working(wib(2026, 11, 23, 12, 30))
    assert LUNCH.is_working(wib(2026, 11, 23, 13, 0))
    assert LUNCH.between(wib(2026, 11, 23, 11, 0), wib(2026, 11, 23, 14, 0)) == 2 * HOUR
    # Back from 13:30 by an hour: 13:00 → 13:30, then 11:30 → 12:00.
    assert LUNCH.add(wib(2026, 11, 23, 13, 30), -HOUR) == wib(2026, 11, 23, 11, 30)
    # A day is 4.5 h + 3 h; Friday has the same hours here.
    assert LUNCH.between(wib(2026, 11, 27), wib(2026, 11, 28)) == 7.5 * HOUR


def test_touching_ranges_behave_as_one() -> None:
    split = WorkCalendar("Asia/Jakarta", WorkingTime(hours={"mon": "08:00-12:00,12:00-16:00"}))
    assert split.add(wib(2026, 11, 23, 11, 0), 2 * HOUR) == wib(2026, 11, 23, 13, 0)
    assert split.is_working(wib(2026, 11, 23, 12, 0))


# --- clock changes (not in Indonesia, but the calendar works in any zone) ------------------------


def test_working_time_is_elapsed_time_across_clock_changes() -> None:
    # Sunday 01:00–02:30 and 02:45–04:00 on the clock. On 29 Mar the clock jumps 02:00 → 03:00:
    # 01:00–02:00 is worked (1 h), 02:00–03:00 never happens, 03:00–04:00 is worked (1 h).
    spring = BERLIN_ODD_HOURS.between(
        datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN)
    )
    assert spring == 2 * HOUR
    # On 25 Oct the clock shows 02:00–03:00 twice: the ranges give 1.5 h + 1.25 h on the clock, and
    # their part of the repeated hour (02:00–02:30 and 02:45–03:00, 0.75 h) is worked twice → 3.5 h.
    autumn = BERLIN_ODD_HOURS.between(
        datetime(2026, 10, 25, tzinfo=BERLIN), datetime(2026, 10, 26, tzinfo=BERLIN)
    )
    assert autumn == 3.5 * HOUR


def test_deadline_in_another_zone() -> None:
    # Mon 23 Mar 16:00 CET + 2 h: 1 h on Monday, then Wed 25 Mar (worked all day) 00:00 → 01:00.
    start = datetime(2026, 3, 23, 16, 0, tzinfo=BERLIN)
    assert BERLIN_ODD_HOURS.add(start, 2 * HOUR) == datetime(2026, 3, 25, 1, 0, tzinfo=BERLIN)


def test_deadline_across_a_clock_change() -> None:
    # Sat 28 Mar 12:00 + 3.25 h: Sat 22:00 → 24:00 (2 h), Sun 01:00 → 02:00 CET (1 h), the clock
    # jumps to 03:00 CEST, 03:00 → 03:15 (0.25 h).
    due = BERLIN_ODD_HOURS.add(datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN), 3.25 * HOUR)
    assert due == datetime(2026, 3, 29, 3, 15, tzinfo=BERLIN)
    assert due == datetime(2026, 3, 29, 1, 15, tzinfo=UTC)


# --- continuous mode ---------------------------------------------------------------------------


def test_continuous_counts_every_second() -> None:
    always = WorkCalendar.continuous()
    saturday_night = wib(2026, 11, 28, 23, 0)
    assert always.add(saturday_night, HOUR) == wib(2026, 11, 29, 0, 0)
    assert always.add(saturday_night, -HOUR) == wib(2026, 11, 28, 22, 0)
    assert always.add(saturday_night, HOUR).tzinfo is UTC
    assert always.add(wib(2026, 12, 24, 15, 0), 2 * HOUR) == wib(2026, 12, 24, 17, 0)
    assert always.between(wib(2026, 12, 21), wib(2026, 12, 28)) == 7 * 24 * HOUR
    assert always.between(wib(2026, 12, 28), wib(2026, 12, 21)) == -7 * 24 * HOUR
    assert always.is_working(wib(2026, 12, 25, 3, 0))


# --- configuration -----------------------------------------------------------------------------


def test_defaults_are_indonesian_government_hours() -> None:
    working_time = WorkingTime()
    assert working_time.hours == {
        "mon": "07:30-16:00",
        "tue": "07:30-16:00",
        "wed": "07:30-16:00",
        "thu": "07:30-16:00",
        "fri": "07:30-16:30",
    }
    assert working_time.holidays == "ID"
    assert working_time.days_off == ()


def test_reads_the_yaml_shape() -> None:
    text = """
    hours:
      mon: "07:30-12:00, 13:00-16:00"
      sat: "08:00-12:00"
    holidays: null
    days_off: [2026-12-24, 2026-12-26]
    """
    working_time = WorkingTime.model_validate(yaml.safe_load(text))
    assert working_time.days_off == (date(2026, 12, 24), date(2026, 12, 26))
    assert working_time.holidays is None
    assert set(working_time.hours) == {"mon", "sat"}


def test_configuration_is_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        WorkingTime().holidays = None  # type: ignore[misc]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"hours": {"mon": "25:00-16:00"}}, r'"25:00-16:00" is not a time range like "07:30-16:00"'),
        ({"hours": {"mon": "7.30-16.00"}}, r'"7.30-16.00" is not a time range like "07:30-16:00"'),
        ({"hours": {"mon": "07:30-16:60"}}, r'"07:30-16:60" is not a time range'),
        ({"hours": {"mon": ""}}, r'"" is not a time range'),
        (
            {"hours": {"mon": "16:00-07:30"}},
            r'"16:00-07:30" must end after it starts; a range cannot cross midnight',
        ),
        ({"hours": {"mon": "08:00-08:00"}}, r"must end after it starts"),
        ({"hours": {"mon": "07:30-12:00,11:00-16:00"}}, r'"07:30-12:00" and "11:00-16:00" overlap'),
        (
            {"hours": {"monday": "07:30-16:00"}},
            r"Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'",
        ),
        ({"hours": {}}, r"no working day; list at least one"),
        ({"holidays": "XX"}, r'"XX" is not a country code known to the holidays package'),
        ({"days_off": ["2026-13-01"]}, r"days_off\.0"),
        ({"timezone": "Asia/Jakarta"}, r"Extra inputs are not permitted"),
    ],
)
def test_configuration_errors_say_what_to_fix(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingTime.model_validate(settings)


def test_hours_up_to_midnight_are_allowed() -> None:
    calendar = WorkCalendar("Asia/Jakarta", WorkingTime(hours={"mon": "22:00-24:00", "tue": "00:00-02:00"}))
    assert calendar.add(wib(2026, 11, 23, 23, 0), 2 * HOUR) == wib(2026, 11, 24, 1, 0)


def test_holiday_country_code_is_normalised() -> None:
    assert WorkingTime(holidays="id").holidays == "ID"


def test_unknown_timezone() -> None:
    with pytest.raises(ValueError, match=r'"Asia/Jakarte" is not a timezone'):
        WorkCalendar("Asia/Jakarte", WorkingTime())


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        CALENDAR.add(datetime(2026, 11, 23, 8, 0), HOUR)  # noqa: DTZ001


# --- properties --------------------------------------------------------------------------------

CALENDARS = st.sampled_from([CALENDAR, WITH_DAY_OFF, LUNCH, BERLIN_ODD_HOURS, WorkCalendar.continuous()])
MOMENTS = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from([WIB, BERLIN, UTC]),
) | st.builds(  # within two days of a Berlin clock change, to exercise BERLIN_ODD_HOURS
    lambda change, shift: change + shift,
    st.sampled_from([datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC)]),
    st.timedeltas(min_value=-timedelta(days=2), max_value=timedelta(days=2)),
)
SECONDS = st.floats(min_value=-40 * 24 * HOUR, max_value=40 * 24 * HOUR, allow_nan=False)


@given(calendar=CALENDARS, start=MOMENTS, seconds=SECONDS)
def test_between_measures_what_add_added(calendar: WorkCalendar, start: datetime, seconds: float) -> None:
    due = calendar.add(start, seconds)
    assert calendar.between(start, due) == timedelta(seconds=seconds).total_seconds()
    assert abs(calendar.between(start, due) - seconds) <= 1e-6
    assert (due >= start) if seconds >= 0 else (due <= start)
    # The deadline is inside working time, or at the close of the stretch that completed it.
    if seconds >= 1e-6:
        assert calendar.is_working(due - timedelta(microseconds=1))
    elif seconds <= -1e-6:
        assert calendar.is_working(due)


@given(
    calendar=CALENDARS,
    start=MOMENTS,
    shift=st.timedeltas(min_value=-timedelta(days=60), max_value=timedelta(days=60)),
)
def test_add_of_between_is_the_nearest_moment_with_that_much_work(
    calendar: WorkCalendar, start: datetime, shift: timedelta
) -> None:
    end = start.astimezone(UTC) + shift  # elapsed time, not wall-clock arithmetic
    worked = calendar.between(start, end)
    moment = calendar.add(start, worked)
    assert min(start, end) <= moment <= max(start, end)
    assert calendar.between(moment, end) == 0
    assert calendar.between(start, moment) == worked
    # No earlier moment (going from start) has as much working time: a microsecond less is less.
    if worked > 0:
        assert calendar.between(start, moment - timedelta(microseconds=1)) < worked
    elif worked < 0:
        assert calendar.between(start, moment + timedelta(microseconds=1)) > worked


@given(calendar=CALENDARS, start=MOMENTS, a=SECONDS, b=SECONDS)
def test_between_adds_up(calendar: WorkCalendar, start: datetime, a: float, b: float) -> None:
    middle, end = calendar.add(start, a), calendar.add(start, b)
    total = timedelta(seconds=calendar.between(start, middle)) + timedelta(
        seconds=calendar.between(middle, end)
    )
    assert total == timedelta(seconds=calendar.between(start, end))
