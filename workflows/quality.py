"""The quality figures of the staff dashboard, computed from identity-free facts.

`quality_figures` reads the facts of a `Filter` (models/quality_queries.py; the rules here do no
I/O: `compute_figures` is pure) and computes, for the period and the units, category and area chosen:

| figure          | rule                                                                           |
|-----------------|--------------------------------------------------------------------------------|
| received        | tickets filed in the period                                                    |
| backlog by age  | tickets open (OPEN_STATUSES) now, whenever filed (whatever the period), by     |
|                 | calendar time since filing: under 1 day, 1–3, 3–7, 7–30 days, over 30 days     |
|                 | (`lt1d 1to3d 3to7d 7to30d gt30d`), and `total`                                 |
| response time   | working hours from filing to the first acceptance, of the tickets first        |
|                 | accepted in the period                                                         |
| resolution time | working hours from filing to the resolution, of the tickets resolved in the    |
|                 | period (a ticket resolved twice in it: its last resolution there)              |
| median, p90     | percentiles by linear interpolation between closest ranks (numpy's default,    |
|                 | Excel's PERCENTILE.INC): of the sorted x0…x(n-1), with h = (n-1)·p, the value  |
|                 | x⌊h⌋ + (h-⌊h⌋)·(x⌈h⌉-x⌊h⌋); the median is p = 0.5 (the mean of the middle two |
|                 | for an even n); None with no ticket; `count` is how many tickets they are of   |
| SLA compliance  | tickets whose response (resolution) outcome was decided in the period, and of  |
|                 | those the ones that met the target: see workflows/quality_sla.py               |
| reopened        | of the tickets resolved in the period, those reopened at least once (by now)   |
| satisfaction    | the SKM index, grade and responses of workflows/satisfaction.py, computed on   |
|                 | the surveys of the same period, units, category and area                       |

Working hours follow each ticket's SLA calendar (`continuous`: clock hours). Every figure comes in
total and per unit, per category and per area (`rows`; a ticket counts for the unit that holds it
now, so a transferred ticket's whole history counts for its current unit; tickets without an area
are the area ""). Counts come with their denominators (`Share`), never as bare percentages.

The trend steps by day for a range up to 45 days (a month), by week up to 100 days (a quarter;
weeks start on Monday, the first and last clipped to the range) and by month beyond (a year), in
the city's time zone. Each point has the tickets received and resolved, the compliance decided
and the median resolution time of its step.

`ticket_rows` gives one row per ticket filed in the period for a CSV export (times, outcomes as of
now, reopenings, the satisfaction index of its latest survey answered in full), without the
citizen, the address or any description; `ticket_timeline` (workflows/quality_timeline.py) is the
drill-down of one ticket. `as_dict` turns any of these into JSON-ready data.

Hot spots: the tickets filed in the period with a location, on a grid of cells about 300 m square
(300 m of latitude; the longitude step is 300 m at the cell row's latitude), each with its
centre, its count and its most frequent category (ties: the city's order). Map points: the 2,000
most recently filed located tickets with reference, category, status and position only; a
confidential ticket is counted in its cell but never shown as a point.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from models import OPEN_STATUSES
from models.quality_queries import Scope, SurveyFact, TicketFact, load_surveys, load_tickets
from workflows.city_config import CityConfig
from workflows.quality_export import TICKET_ROW_COLUMNS, TicketRow, ticket_rows
from workflows.quality_map import POINTS_LIMIT, HotSpot, MapPoint, cell_of, hot_spots, map_points
from workflows.quality_sla import Assessment, Outcome, Resolution, assess
from workflows.quality_timeline import Timeline, TimelineEvent, ticket_timeline
from workflows.satisfaction import Period, compute_report
from workflows.sla import Calendars

BACKLOG_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("lt1d", timedelta(days=1)),
    ("1to3d", timedelta(days=3)),
    ("3to7d", timedelta(days=7)),
    ("7to30d", timedelta(days=30)),
    ("gt30d", None),
)
TOTAL = "total"
SCOPES = ("unit", "category", "area")
NO_AREA = ""
GRANULARITIES = ("day", "week", "month")

__all__ = [  # the API of the dashboard's figures, from here and the quality_* modules beside
    "BACKLOG_BUCKETS",
    "POINTS_LIMIT",
    "TICKET_ROW_COLUMNS",
    "Block",
    "Figures",
    "Filter",
    "HotSpot",
    "Hours",
    "MapPoint",
    "Row",
    "Satisfaction",
    "Share",
    "TicketRow",
    "Timeline",
    "TimelineEvent",
    "TrendPoint",
    "as_dict",
    "cell_of",
    "compute_figures",
    "hot_spots",
    "map_points",
    "percentile",
    "quality_figures",
    "steps",
    "ticket_rows",
    "ticket_timeline",
]


# --- what is asked --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """The period [start, end) (aware; kept in UTC) and the selections.

    `units`: the units the viewer may see (None: all); `unit`, `category`, `area`: one of each
    chosen (None: all). A `unit` outside `units` selects nothing. `granularity` forces the trend's
    step (day, week, month)."""

    start: datetime
    end: datetime
    units: frozenset[str] | None = None
    unit: str | None = None
    category: str | None = None
    area: str | None = None
    label: str = ""
    granularity: str | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            moment: datetime = getattr(self, name)
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"the filter's {name} needs a time zone")
            object.__setattr__(self, name, moment.astimezone(UTC))
        if self.end <= self.start:
            raise ValueError("the filter's end must come after its start")
        if self.granularity is not None and self.granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}")
        if self.units is not None and not isinstance(self.units, frozenset):
            object.__setattr__(self, "units", frozenset(self.units))

    @classmethod
    def of(cls, period: Period, **selections: Any) -> Filter:
        """The filter of a month, quarter or year (workflows.satisfaction.Period)."""
        return cls(start=period.start, end=period.end, label=period.label, **selections)

    @property
    def step(self) -> str:
        if self.granularity:
            return self.granularity
        days = (self.end - self.start) / timedelta(days=1)
        return "day" if days <= 45 else "week" if days <= 100 else "month"

    def scope(self) -> Scope:
        return Scope(self.start, self.end, self.units, self.unit, self.category, self.area)

    def period(self, timezone: str) -> Period:
        label = self.label or f"{self.start.isoformat()}/{self.end.isoformat()}"
        return Period(label=label, start=self.start, end=self.end, timezone=timezone)

    def admits(self, ticket: TicketFact) -> bool:
        """The selections, checked again on a ticket (the query applies them already)."""
        return (
            (self.units is None or ticket.unit in self.units)
            and self.unit in (None, ticket.unit)
            and self.category in (None, ticket.category)
            and self.area in (None, ticket.area)
        )

    def admits_survey(self, survey: SurveyFact) -> bool:
        """The same for a survey: by the unit that resolved it, its category, its ticket's area."""
        return (
            (self.units is None or survey.unit in self.units)
            and self.unit in (None, survey.unit)
            and self.category in (None, survey.category)
            and self.area in (None, survey.area)
        )


# --- what is answered -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """`count` of `of` (e.g. 41 of 50 met the target); `share` is None when `of` is 0."""

    count: int
    of: int

    @property
    def share(self) -> float | None:
        return self.count / self.of if self.of else None


@dataclass(frozen=True)
class Hours:
    """Working hours: the median and the 90th percentile over `count` tickets."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Hours:
        ordered = sorted(values)
        return cls(len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9))


@dataclass(frozen=True)
class Satisfaction:
    index: float | None  # SKM, 25–100
    grade: str | None  # A–D
    responses: int


@dataclass(frozen=True)
class Block:
    """The figures of one group of tickets: the total, a unit, a category or an area."""

    received: int
    resolved: int
    backlog: Mapping[str, int]  # bucket → open tickets, and "total"
    response_hours: Hours
    resolution_hours: Hours
    response_sla: Share
    resolution_sla: Share
    reopened: Share
    satisfaction: Satisfaction

    @property
    def empty(self) -> bool:
        return not (
            self.received
            or self.resolved
            or self.backlog[TOTAL]
            or self.response_hours.count
            or self.response_sla.of
            or self.resolution_sla.of
            or self.satisfaction.responses
        )


@dataclass(frozen=True)
class Row:
    scope: str  # unit, category, area
    key: str  # the unit, category or area key ("" for tickets without an area)
    figures: Block


@dataclass(frozen=True)
class TrendPoint:
    label: str  # 2026-11-05, 2026-W45, 2026-11
    start: datetime
    end: datetime
    received: int
    resolved: int
    response_sla: Share
    resolution_sla: Share
    median_resolution_hours: float | None


@dataclass(frozen=True)
class Figures:
    filter: Filter
    now: datetime
    total: Block
    rows: tuple[Row, ...]
    granularity: str
    trend: tuple[TrendPoint, ...]
    hot_spots: tuple[HotSpot, ...]
    points: tuple[MapPoint, ...]
    located: int  # tickets with a location in the period (points shows at most POINTS_LIMIT)

    def rows_of(self, scope: str) -> tuple[Row, ...]:
        return tuple(row for row in self.rows if row.scope == scope)

    @property
    def received(self) -> int:
        return self.total.received

    @property
    def backlog_by_age(self) -> Mapping[str, int]:
        return self.total.backlog

    @property
    def response_hours(self) -> Hours:
        return self.total.response_hours

    @property
    def resolution_hours(self) -> Hours:
        return self.total.resolution_hours

    @property
    def response_sla(self) -> Share:
        return self.total.response_sla

    @property
    def resolution_sla(self) -> Share:
        return self.total.resolution_sla

    @property
    def reopened(self) -> Share:
        return self.total.reopened

    @property
    def satisfaction(self) -> Satisfaction:
        return self.total.satisfaction


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0–1) of sorted values by linear interpolation between closest ranks."""
    if not ordered:
        return None
    h = (len(ordered) - 1) * p
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


# --- one ticket in the period ---------------------------------------------------------------------


@dataclass(frozen=True)
class _InPeriod:
    """What one ticket brings to the figures of the period."""

    ticket: TicketFact
    received: bool
    backlog: str | None  # its age bucket when open now
    response_hours: float | None  # when first accepted in the period
    resolution: Resolution | None  # its last resolution in the period
    response: Outcome | None  # decided in the period
    resolution_outcome: Outcome | None  # decided in the period


def _in_period(ticket: TicketFact, judged: Assessment, filter: Filter, now: datetime) -> _InPeriod:
    def inside(moment: datetime | None) -> bool:
        return moment is not None and filter.start <= moment < filter.end

    return _InPeriod(
        ticket=ticket,
        received=inside(ticket.created_at),
        backlog=age_bucket(now - ticket.created_at) if ticket.status in OPEN_STATUSES else None,
        response_hours=judged.response_hours if inside(judged.first_accepted) else None,
        resolution=judged.last_resolution(filter.start, filter.end),
        response=judged.response if judged.response and inside(judged.response.at) else None,
        resolution_outcome=judged.resolution if judged.resolution and inside(judged.resolution.at) else None,
    )


def age_bucket(age: timedelta) -> str:
    for key, below in BACKLOG_BUCKETS:
        if below is None or age < below:
            return key
    raise AssertionError("unreachable: the last bucket has no bound")


@dataclass
class _Tally:
    received: int = 0
    resolved: int = 0
    backlog: Counter[str] = field(default_factory=Counter)
    response_hours: list[float] = field(default_factory=list)
    resolution_hours: list[float] = field(default_factory=list)
    response: list[int] = field(default_factory=lambda: [0, 0])  # met, decided
    resolution: list[int] = field(default_factory=lambda: [0, 0])
    reopened: int = 0

    def add(self, item: _InPeriod) -> None:
        self.received += item.received
        if item.backlog is not None:
            self.backlog[item.backlog] += 1
        if item.response_hours is not None:
            self.response_hours.append(item.response_hours)
        if item.resolution is not None:
            self.resolved += 1
            self.resolution_hours.append(item.resolution.hours)
            self.reopened += item.ticket.reopen_count > 0
        for outcome, counts in ((item.response, self.response), (item.resolution_outcome, self.resolution)):
            if outcome is not None:
                counts[0] += outcome.met
                counts[1] += 1

    def block(self, satisfaction: Satisfaction) -> Block:
        backlog = {key: self.backlog[key] for key, _ in BACKLOG_BUCKETS}
        backlog[TOTAL] = sum(self.backlog.values())
        return Block(
            received=self.received,
            resolved=self.resolved,
            backlog=backlog,
            response_hours=Hours.of(self.response_hours),
            resolution_hours=Hours.of(self.resolution_hours),
            response_sla=Share(*self.response),
            resolution_sla=Share(*self.resolution),
            reopened=Share(self.reopened, self.resolved),
            satisfaction=satisfaction,
        )


# --- the figures ----------------------------------------------------------------------------------


async def quality_figures(
    *, session: AsyncSession, city: CityConfig, calendars: Calendars, filter: Filter, now: datetime
) -> Figures:
    """The figures of the filter as of now (three queries: tickets, their clock events, surveys)."""
    scope = filter.scope()
    tickets = await load_tickets(session=session, scope=scope)
    surveys = await load_surveys(session=session, scope=scope)
    return compute_figures(tickets, surveys, city=city, calendars=calendars, filter=filter, now=now)


def compute_figures(
    tickets: Iterable[TicketFact],
    surveys: Iterable[SurveyFact],
    *,
    city: CityConfig,
    calendars: Calendars,
    filter: Filter,
    now: datetime,
) -> Figures:
    """The figures from the facts (pure: no database, no clock)."""
    items = [
        _in_period(ticket, assess(ticket, city=city, calendars=calendars, now=now), filter, now)
        for ticket in tickets
        if filter.admits(ticket)
    ]
    total = _Tally()
    groups: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for item in items:
        total.add(item)
        for scope, key in _keys(item.ticket.unit, item.ticket.category, item.ticket.area):
            groups[scope, key].add(item)
    kept = [survey for survey in surveys if filter.admits_survey(survey)]
    satisfaction = _satisfaction_by_group(kept, city, filter)
    rows = [
        Row(scope, key, block)
        for scope, key in _ordered(city, {*groups, *satisfaction})
        if not (block := groups[scope, key].block(satisfaction.get((scope, key), _NO_ANSWERS))).empty
    ]
    located = [item.ticket for item in items if item.received and item.ticket.latitude is not None]
    step, trend = _trend(items, filter, city.city.timezone)
    return Figures(
        filter=filter,
        now=now,
        total=total.block(satisfaction.get((TOTAL, TOTAL), _NO_ANSWERS)),
        rows=tuple(rows),
        granularity=step,
        trend=trend,
        hot_spots=hot_spots(located, city),
        points=map_points(located),
        located=len(located),
    )


def _keys(unit: str, category: str, area: str | None) -> tuple[tuple[str, str], ...]:
    return (("unit", unit), ("category", category), ("area", area or NO_AREA))


_NO_ANSWERS = Satisfaction(index=None, grade=None, responses=0)


def _satisfaction_by_group(
    surveys: Sequence[SurveyFact], city: CityConfig, filter: Filter
) -> dict[tuple[str, str], Satisfaction]:
    """The SKM of the total and of each unit, category and area, by workflows/satisfaction.py:
    one report gives the total and the units and categories, one report per area its own."""
    period = filter.period(city.city.timezone)
    elements = city.surveys.rated
    result: dict[tuple[str, str], Satisfaction] = {}
    for row in compute_report(surveys, period=period, elements=elements).rows:
        result[row.scope, row.key] = Satisfaction(index=row.index, grade=row.grade, responses=row.responses)
    by_area: dict[str, list[SurveyFact]] = defaultdict(list)
    for survey in surveys:
        by_area[survey.area or NO_AREA].append(survey)
    for area, members in by_area.items():
        total = compute_report(members, period=period, elements=elements).total
        result["area", area] = Satisfaction(index=total.index, grade=total.grade, responses=total.responses)
    return result


def _ordered(city: CityConfig, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Units, categories, areas in the city's order; unknown keys after, sorted; no area last."""
    order = {"unit": list(city.units), "category": list(city.categories), "area": list(city.areas)}
    present = {key for key in keys if key[0] in order}

    def rank(key: tuple[str, str]) -> tuple[int, int, str]:
        scope, name = key
        known = order[scope]
        position = known.index(name) if name in known else len(known) + (name == NO_AREA)
        return (SCOPES.index(scope), position, name)

    return sorted(present, key=rank)


# --- the trend ------------------------------------------------------------------------------------


def steps(filter: Filter, timezone: str) -> list[tuple[str, datetime, datetime]]:
    """The trend's steps (label, start, end) covering the filter's range, in the city's days."""
    zone = ZoneInfo(timezone)
    step = filter.step
    day = filter.start.astimezone(zone).date()
    result: list[tuple[str, datetime, datetime]] = []
    start = filter.start
    while start < filter.end:
        if step == "day":
            label, following = day.isoformat(), day + timedelta(days=1)
        elif step == "week":
            year, week, _ = day.isocalendar()
            label, following = f"{year}-W{week:02d}", day + timedelta(days=7 - day.weekday())
        else:
            label = f"{day:%Y-%m}"
            following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        end = min(datetime.combine(following, time(), zone).astimezone(UTC), filter.end)
        result.append((label, start, end))
        start, day = end, following
    return result


def _trend(items: Sequence[_InPeriod], filter: Filter, timezone: str) -> tuple[str, tuple[TrendPoint, ...]]:
    spans = steps(filter, timezone)
    starts = [start for _, start, _ in spans]
    tallies = [_Tally() for _ in spans]

    def at(moment: datetime) -> _Tally:
        return tallies[bisect_right(starts, moment) - 1]

    for item in items:
        if item.received:
            at(item.ticket.created_at).received += 1
        if item.resolution is not None:
            tally = at(item.resolution.at)
            tally.resolved += 1
            tally.resolution_hours.append(item.resolution.hours)
        for outcome, name in ((item.response, "response"), (item.resolution_outcome, "resolution")):
            if outcome is not None:
                counts = getattr(at(outcome.at), name)
                counts[0] += outcome.met
                counts[1] += 1
    points = tuple(
        TrendPoint(
            label=label,
            start=start,
            end=end,
            received=tally.received,
            resolved=tally.resolved,
            response_sla=Share(*tally.response),
            resolution_sla=Share(*tally.resolution),
            median_resolution_hours=percentile(sorted(tally.resolution_hours), 0.5),
        )
        for (label, start, end), tally in zip(spans, tallies, strict=True)
    )
    return filter.step, points


# --- JSON -----------------------------------------------------------------------------------------


def as_dict(value: Any) -> Any:
    """Figures (or any part, a timeline, a row) as JSON-ready data: ISO times, lists, shares."""
    if is_dataclass(value) and not isinstance(value, type):
        data = {f.name: as_dict(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, Share):
            data["share"] = value.share
        return data
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Mapping):
        return {str(k): as_dict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_dict(v) for v in value]
    return value
