"""What a dashboard page shows: the period and the unit, category and area of its query string,
checked against the units the viewer may see. Every page and export reads it the same way.

    ?period=2026-11&unit=dlh&category=all&area=kota_barat

| field      | values                                 | when absent             | refused                    |
|------------|----------------------------------------|-------------------------|----------------------------|
| `period`   | 2026-11, 2026-Q4, 2026                 | the current month, in   | 400: not a period          |
|            |                                        | the city's time zone    |                            |
| `unit`     | a unit key, or `all`                   | all the viewer may see  | 403: a unit the viewer may |
|            |                                        |                         | not see (or none at all);  |
|            |                                        |                         | 400: not a unit            |
| `category` | a category key, or `all`               | all                     | 400: not a category        |
| `area`     | an area key, or `all`                  | all                     | 400: not an area           |

Officers and unit heads see their unit only, quality managers and admins every unit; "all" means
all the viewer may see. The figures themselves are scoped again by `Filter.units`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.dashboard.auth import viewer
from bot.dashboard.keys import DEPS
from bot.dashboard.render import render
from workflows.city_config import CityConfig
from workflows.quality import Filter
from workflows.satisfaction import Period

ALL = "all"
MONTHS_OFFERED = 24  # the period menu: this many months back, and quarters and years
QUARTERS_OFFERED = 8
YEARS_OFFERED = 3
SECOND = timedelta(seconds=1)


class Refused(Exception):
    """A page that cannot be shown: 400 (a filter not understood), 403 (another unit), 404."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def refusing(handler: Handler) -> Handler:
    """A handler whose Refused becomes the refusal page, in the page's language."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refused as refusal:
            return render(request, "refused.html", status=refusal.status, reason=refusal.reason)

    return wrapped


@dataclass(frozen=True)
class Selection:
    """The period and the choices of a page; `visible` the viewer's units (None: every unit)."""

    period: Period
    unit: str | None
    category: str | None
    area: str | None
    visible: frozenset[str] | None

    def filter(self) -> Filter:
        return Filter.of(
            self.period, units=self.visible, unit=self.unit, category=self.category, area=self.area
        )

    @property
    def unit_key(self) -> str:
        """The unit for a file name or a link: its key, or "all"."""
        return self.unit or ALL

    def query(self, **changes: str) -> dict[str, str]:
        """The query string of this selection (for links: the exports, another unit, the report)."""
        values = {
            "period": self.period.label,
            "unit": self.unit or ALL,
            "category": self.category or ALL,
            "area": self.area or ALL,
        }
        return {**values, **changes}

    def report_query(self, now: datetime) -> dict[str, str]:
        """The monthly report's query: the period's month, or the last one begun of a longer period."""
        last = min(self.period.end, max(now, self.period.start + SECOND))
        return {"period": month_of(last - SECOND, self.period.timezone), "unit": self.unit_key}


def month_of(moment: datetime, timezone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(timezone)):%Y-%m}"


def read(request: web.Request, *, report: bool = False) -> Selection:
    """The selection of the request's query string (see the module's doc); Refused if not allowed.

    report: only the period and the unit count (a report covers every category and area)."""
    deps = request.app[DEPS]
    city = deps.city
    visible = viewer(request).visible_units(city)
    query = request.query
    text = query.get("period", "").strip() or month_of(deps.clock.now(), city.city.timezone)
    try:
        period = Period.parse(text, city.city.timezone)
    except ValueError:
        raise Refused(400, "period") from None
    unit = _chosen(query.get("unit"))
    if unit is not None and unit not in city.units:
        raise Refused(400, "filter")
    if unit is not None and visible is not None and unit not in visible:
        raise Refused(403, "unit")
    if visible is not None and not visible:
        raise Refused(403, "no_unit")  # an officer not tied to a unit: nothing to show
    if report:
        return Selection(period, unit, None, None, visible)
    category, area = _chosen(query.get("category")), _chosen(query.get("area"))
    if (category is not None and category not in city.categories) or (
        area is not None and area not in city.areas
    ):
        raise Refused(400, "filter")
    return Selection(period, unit, category, area, visible)


def _chosen(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if value in ("", ALL) else value


def unit_choices(city: CityConfig, visible: frozenset[str] | None) -> list[str]:
    """The units of the unit menu, in the city's order: only those the viewer may see."""
    return [key for key in city.units if visible is None or key in visible]


def period_choices(now: datetime, timezone: str, chosen: Period) -> dict[str, list[str]]:
    """The period menu: recent months, quarters and years (the chosen one always among them)."""
    local = now.astimezone(ZoneInfo(timezone))
    months, quarters, years = [], [], []
    year, month = local.year, local.month
    for _ in range(MONTHS_OFFERED):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    year, quarter = local.year, (local.month - 1) // 3 + 1
    for _ in range(QUARTERS_OFFERED):
        quarters.append(f"{year:04d}-Q{quarter}")
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    years = [f"{local.year - back:04d}" for back in range(YEARS_OFFERED)]
    choices = {"month": months, "quarter": quarters, "year": years}
    kind = "quarter" if "-Q" in chosen.label else "month" if "-" in chosen.label else "year"
    if chosen.label not in choices[kind]:
        choices[kind] = sorted([*choices[kind], chosen.label], reverse=True)
    return choices
