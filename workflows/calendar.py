"""Working-time calendar: SLA deadlines that only count the hours an office is open.

A city promises "we answer within 8 working hours", so a complaint sent on Friday at 15:00
is due on Monday morning, not on Saturday at 23:00. `WorkCalendar` does that arithmetic:

* `add(start, seconds)` is the deadline: the moment `seconds` of working time after `start`;
* `between(start, end)` is how much working time passed, e.g. for "how late was the answer";
* `is_working(moment)` says whether the office is open.

Working time comes from the city configuration (`working_time`, see `WorkingTime`): local
opening hours per weekday, the country's public holidays from the `holidays` package (worked out
in a child process, `workflows/public_holidays.py`) and extra days off (cuti bersama).
`WorkCalendar.continuous()` counts every second instead (24/7), for emergency categories.

A moment is working when the local wall clock shows a time inside one of the day's ranges on a
worked day; working time is real elapsed time. Where clocks change (not in Indonesia) an hour
skipped by the clock is not worked and an hour shown twice is worked twice.

The calendar walks day by day, never second by second, and caches each day's working intervals
and each country's holidays per year: a 30-working-day deadline takes well under a millisecond.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from workflows.public_holidays import is_known_country, public_holidays

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_ONE_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)
_MAX_IDLE_DAYS = 3660  # ten years without a working day means the configuration is broken
_CACHE_DAYS = 10_000

Range = tuple[timedelta, timedelta]  # from and to, as time since local midnight


def parse_ranges(text: str) -> tuple[Range, ...]:
    """'07:30-12:00,13:00-16:00' → sorted (start, end) offsets from midnight; ValueError if invalid."""
    ranges: list[Range] = []
    for part in text.split(","):
        found = _RANGE.match(part.strip())
        if not found:
            raise ValueError(f'"{part.strip()}" is not a time range like "07:30-16:00"')
        h1, m1, h2, m2 = (int(group) for group in found.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 > 0):
            raise ValueError(f'"{part.strip()}" is not a time range like "07:30-16:00"')
        start, end = timedelta(hours=h1, minutes=m1), timedelta(hours=h2, minutes=m2)
        if start >= end:
            raise ValueError(
                f'"{part.strip()}" must end after it starts; a range cannot cross midnight '
                '(write "22:00-24:00" on one day and "00:00-06:00" on the next)'
            )
        ranges.append((start, end))
    ranges.sort()
    for (start1, end1), (start2, end2) in pairwise(ranges):
        if start2 < end1:
            raise ValueError(f'"{_hhmm(start1)}-{_hhmm(end1)}" and "{_hhmm(start2)}-{_hhmm(end2)}" overlap')
    return tuple(ranges)


def _hhmm(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _check_ranges(text: str) -> str:
    parse_ranges(text)
    return text


def _government_hours() -> dict[Weekday, str]:
    """Indonesian government working hours: Mon–Thu 07:30–16:00, Fri 07:30–16:30."""
    return {day: "07:30-16:00" for day in WEEKDAYS[:4]} | {"fri": "07:30-16:30"}


class WorkingTime(BaseModel):
    """`working_time` in the city configuration: when the offices count SLA time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # local hours per weekday, "07:30-16:00" or "07:30-12:00,13:00-16:00"; a day not listed is off
    hours: dict[Weekday, Annotated[str, AfterValidator(_check_ranges)]] = Field(
        default_factory=_government_hours
    )
    holidays: str | None = "ID"  # country code for the `holidays` package; None: no public holidays
    days_off: tuple[date, ...] = ()  # extra days off, e.g. cuti bersama

    @field_validator("hours")
    @classmethod
    def _some_day(cls, value: dict[Weekday, str]) -> dict[Weekday, str]:
        if not value:
            raise ValueError('no working day; list at least one, e.g. mon: "07:30-16:00"')
        return value

    @field_validator("holidays")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if not is_known_country(code):
            raise ValueError(
                f'"{value}" is not a country code known to the holidays package; '
                'use e.g. "ID" for Indonesia, or null for no public holidays'
            )
        return code

    def ranges(self) -> dict[int, tuple[Range, ...]]:
        """Working ranges by `date.weekday()` (0 is Monday); days off are absent."""
        return {WEEKDAYS.index(day): parse_ranges(text) for day, text in self.hours.items()}


_ALWAYS = WorkingTime(hours=dict.fromkeys(WEEKDAYS, "00:00-24:00"), holidays=None)


class WorkCalendar:
    """Adds and measures working time in one local timezone.

    Datetimes must be timezone-aware; results are in UTC. Durations are rounded to the
    microsecond. For any aware `s`, `e` and float `x` this holds exactly:

    * `between(s, add(s, x)) == timedelta(seconds=x).total_seconds()` (x to the microsecond);
    * `m = add(s, between(s, e))` lies between `s` and `e` (both included) and
      `between(m, e) == 0`: it is the moment closest to `s` with as much working time from `s`
      as `e` has. Going forward that is `e` itself when `e` is inside working hours (and not
      opening time), else the closing time before `e`; it is `s` when there is no working time
      between them.
    """

    def __init__(self, timezone: str, working_time: WorkingTime) -> None:
        try:
            self._zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f'"{timezone}" is not a timezone like "Asia/Jakarta"') from error
        self._ranges = working_time.ranges()
        self._country = working_time.holidays
        self._days_off = frozenset(working_time.days_off)
        self._always = working_time == _ALWAYS
        self._days: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    @classmethod
    def continuous(cls) -> WorkCalendar:
        """A calendar where every second counts: 24/7, no holidays."""
        return cls("UTC", _ALWAYS)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` of working time after `start` (before it if negative).

        Counting begins at the first working moment at or after `start` (going forward) and
        lands on the earliest moment the time is complete, so a deadline may fall exactly at
        closing time. `add(start, 0)` is `start` itself, even outside working hours.
        """
        start = _utc(start)
        if self._always:
            return start + timedelta(seconds=seconds)
        left = timedelta(seconds=abs(seconds))
        if not left:
            return start
        if seconds > 0:
            for begin, end in self._forward(start):
                begin = max(begin, start)
                if end - begin >= left:
                    return begin + left
                left -= end - begin
        else:
            for begin, end in self._backward(start):
                end = min(end, start)
                if end - begin >= left:
                    return end - left
                left -= end - begin
        raise AssertionError("unreachable: the day walk only ends by returning or raising")

    def between(self, start: datetime, end: datetime) -> float:
        """Working seconds in [start, end); negative when `end` is before `start`."""
        start, end = _utc(start), _utc(end)
        if self._always:
            return (end - start).total_seconds()
        if end < start:
            return -self.between(end, start)
        total = timedelta()
        for begin, finish in self._forward(start):
            if begin >= end:
                break
            total += min(finish, end) - max(begin, start)
        return total.total_seconds()

    def is_working(self, moment: datetime) -> bool:
        """Whether `moment` is inside working hours (opening time is, closing time is not)."""
        moment = _utc(moment)
        if self._always:
            return True
        day = moment.astimezone(self._zone).date()
        return any(begin <= moment < end for begin, end in self._intervals(day))

    def _forward(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC) that end after `moment`, in time order."""
        day, idle = moment.astimezone(self._zone).date(), 0
        while idle <= _MAX_IDLE_DAYS:
            intervals = self._intervals(day)
            yield from ((begin, end) for begin, end in intervals if end > moment)
            idle = 0 if intervals else idle + 1
            day += _ONE_DAY
        raise ValueError(f"no working time for {_MAX_IDLE_DAYS} days after {moment}; check working_time")

    def _backward(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC) that begin before `moment`, latest first."""
        day, idle = moment.astimezone(self._zone).date(), 0
        while idle <= _MAX_IDLE_DAYS:
            intervals = self._intervals(day)
            yield from ((begin, end) for begin, end in reversed(intervals) if begin < moment)
            idle = 0 if intervals else idle + 1
            day -= _ONE_DAY
        raise ValueError(f"no working time for {_MAX_IDLE_DAYS} days before {moment}; check working_time")

    def _intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals of a local day as sorted, disjoint UTC [begin, end) pairs."""
        cached = self._days.get(day)
        if cached is None:
            if len(self._days) >= _CACHE_DAYS:
                self._days.clear()
            cached = self._days[day] = self._compute_intervals(day)
        return cached

    def _compute_intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        ranges = self._ranges.get(day.weekday())
        if not ranges or day in self._days_off or day in _public_holidays(self._country, day.year):
            return ()
        midnight = datetime.combine(day, time(), UTC)  # local midnight written as if it were UTC
        intervals: list[tuple[datetime, datetime]] = []
        for piece_begin, piece_end, offset in self._pieces(day):
            for range_begin, range_end in ranges:
                begin = max(piece_begin, midnight + range_begin - offset)
                end = min(piece_end, midnight + range_end - offset)
                if begin >= end:
                    continue
                if intervals and intervals[-1][1] == begin:  # touching ranges, or a clock change
                    begin = intervals.pop()[0]
                intervals.append((begin, end))
        return tuple(intervals)

    def _pieces(self, day: date) -> tuple[tuple[datetime, datetime, timedelta], ...]:
        """The local day as UTC stretches with one UTC offset each (two if the clocks change)."""
        begin = datetime.combine(day, time(), self._zone).astimezone(UTC)
        end = datetime.combine(day + _ONE_DAY, time(), self._zone).astimezone(UTC)
        first, last = self._offset(begin), self._offset(end - _TICK)
        if first == last:
            return ((begin, end, first),)
        low, high = begin, end - _TICK  # the offset changes after `low`, at `high` at the latest
        while high - low > _TICK:
            middle = low + (high - low) / 2
            low, high = (middle, high) if self._offset(middle) == first else (low, middle)
        return ((begin, high, first), (high, end, last))

    def _offset(self, moment: datetime) -> timedelta:
        offset = moment.astimezone(self._zone).utcoffset()
        assert offset is not None  # a ZoneInfo always knows its offset
        return offset


def _public_holidays(country: str | None, year: int) -> frozenset[date]:
    """A country's public holidays in one year, computed once per process (workflows/public_holidays.py)."""
    return public_holidays(country, year) if country else frozenset()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment} has no timezone; the calendar needs aware datetimes")
    return moment.astimezone(UTC)
