"""The public transparency page: aggregated complaint figures per unit, no log-in, no personal data.

| request                          | what                                                                  |
|----------------------------------|-----------------------------------------------------------------------|
| GET /transparansi                | the page in the city's default language (Bahasa Indonesia)            |
| GET /transparency                | the same page in English                                              |
| `?lang=id\\|en`                   | another language; `?period=YYYY-MM` one of the months offered         |

Served at the site's root by the bot's web server (bot/web.py `add_transparency`), only when the city
enables it (`transparency.enabled` in the city configuration; 404 otherwise). Per unit, by its name in
the page's language: complaints received and resolved, the median resolution time in working days,
the share resolved within the SLA and the satisfaction index (SKM) with its grade and number of
answers, all from workflows/quality.py, for a month (the last full one unless another of the
`transparency.period` months before is chosen) and for the last `period` full months together.

Nothing else of a ticket leaves: no reference, no description, no citizen, no place. A unit that
received fewer than `transparency.min_tickets` complaints in a period shows "fewer than N" and none
of its other figures; a satisfaction index from fewer answers than that is not shown either.

The figures are computed at most once per few minutes (CACHE_LIFETIME, on the injected clock) per
language and period, whatever the number of requests: a crawler cannot load the database. The set of
periods is bounded (the months offered), so is the cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.dashboard.cache import Cache
from bot.dashboard.keys import MOUNT, Templates, csp_header, default_csp
from bot.dashboard.render import translator
from handlers.context import Deps
from models.db import Database
from workflows.city_config import WORKING_DAY
from workflows.quality import Block, Filter, Share, quality_figures
from workflows.satisfaction import Period

PATHS = {"/transparansi": None, "/transparency": "en"}  # path → its language (None: the city's default)
CACHE_LIFETIME = timedelta(minutes=5)
PUBLIC_MAX_AGE = 300  # seconds browsers and proxies may keep the page
TEMPLATE = "transparency.html"


# --- what the page shows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicFigures:
    """One unit's (or the city's) figures of a period, as the public may see them."""

    key: str  # the unit's key; "" for all units together
    name: str  # in the page's language
    received: int
    resolved: int
    median_days: float | None  # median resolution time in working days (8 working hours)
    on_time: Share  # resolved within the SLA, of the resolutions decided in the period
    satisfaction_index: float | None
    satisfaction_grade: str | None
    answers: int
    suppressed: bool  # fewer complaints than min_tickets: only "fewer than N" is shown
    few_answers: bool  # fewer answers than min_tickets: the index is not shown
    withheld: frozenset[str] = frozenset()  # figures not published (median_days, on_time, satisfaction)

    @classmethod
    def of(cls, key: str, name: str, block: Block | None, min_tickets: int) -> PublicFigures:
        if block is None:
            return cls(key, name, 0, 0, None, Share(0, 0), None, None, 0, True, True)
        satisfaction = block.satisfaction
        median = block.resolution_hours.median
        return cls(
            key=key,
            name=name,
            received=block.received,
            resolved=block.resolved,
            median_days=None if median is None else median / (WORKING_DAY / timedelta(hours=1)),
            on_time=block.resolution_sla,
            satisfaction_index=satisfaction.index,
            satisfaction_grade=satisfaction.grade,
            answers=satisfaction.responses,
            suppressed=block.received < min_tickets,
            few_answers=satisfaction.responses < min_tickets,
        )


@dataclass(frozen=True)
class PeriodTable:
    """The figures of one period: every unit of the city in its order, and the city's total."""

    label: str  # 2026-11, or 2025-12/2026-11
    start: datetime
    end: datetime
    units: tuple[PublicFigures, ...]
    total: PublicFigures
    computed_at: datetime


async def period_table(
    *,
    db: Database,
    deps: Deps,
    period: Period,
    lang: str,
    now: datetime,
) -> PeriodTable:
    """The public figures of a period from workflows/quality.py (every unit, no selection)."""
    city = deps.city
    async with db.sessions() as session:
        figures = await quality_figures(
            session=session,
            city=city,
            calendars=deps.calendars,
            filter=Filter.of(period, granularity="month"),
            now=now,
        )
    minimum = city.transparency.min_tickets
    blocks = {row.key: row.figures for row in figures.rows_of("unit")}
    units = tuple(
        PublicFigures.of(key, unit.name.get(lang), blocks.get(key), minimum)
        for key, unit in city.units.items()
    )
    total = PublicFigures.of("", deps.texts.plain("transparency.total", lang), figures.total, minimum)
    return PeriodTable(period.label, period.start, period.end, units, protect(total, units, minimum), now)


def protect(total: PublicFigures, units: Sequence[PublicFigures], minimum: int) -> PublicFigures:
    """The total without what would give away a small unit's figures by subtraction.

    Of each of the total's median time, on-time share and satisfaction index, the part that comes
    from units not published (and units not listed) is the total minus the published units. When
    that part rests on 1 to minimum-1 tickets or answers, the figure of the total is withheld too:
    otherwise a single complainant's rating could be worked out from the total and the other rows.
    The counts (received, resolved) stay: "fewer than N" already says they are small."""
    shown = [unit for unit in units if not unit.suppressed]
    hidden = {
        "median_days": total.resolved - sum(unit.resolved for unit in shown),
        "on_time": total.on_time.of - sum(unit.on_time.of for unit in shown),
        "satisfaction": total.answers - sum(unit.answers for unit in shown if not unit.few_answers),
    }
    withheld = frozenset(name for name, count in hidden.items() if 0 < count < minimum)
    if total.few_answers:
        withheld -= {"satisfaction"}  # "fewer than N answers" says it already
    return dataclasses.replace(total, withheld=total.withheld | withheld)


# --- the months ------------------------------------------------------------------------------------


def months_offered(now: datetime, timezone: str, count: int) -> list[Period]:
    """The last `count` full months of the city's calendar before now, the latest first."""
    local = now.astimezone(ZoneInfo(timezone))
    year, month = local.year, local.month
    result = []
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        result.append(Period.parse(f"{year:04d}-{month:02d}", timezone))
    return result


def window(months: Sequence[Period]) -> Period:
    """The months together, as one period (oldest start to latest end)."""
    latest, oldest = months[0], months[-1]
    if len(months) == 1:
        return latest
    return Period(f"{oldest.label}/{latest.label}", oldest.start, latest.end, latest.timezone)


# --- formatting ------------------------------------------------------------------------------------


def number(value: float, lang: str, decimals: int = 0) -> str:
    """1,234.5 in English, 1.234,5 in Indonesian."""
    text = f"{value:,.{decimals}f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "id" else text


def month_name(period: Period, texts: Any, lang: str) -> str:
    """November 2026 (the period's first month, in the page's language)."""
    local = period.start.astimezone(ZoneInfo(period.timezone))
    names = texts.plain("transparency.months", lang).split()
    return f"{names[local.month - 1]} {local.year}"


# --- the page --------------------------------------------------------------------------------------


class TransparencyPage:
    """The handler of /transparansi and /transparency, with its cache and its templates."""

    def __init__(self, db: Database, deps: Deps, templates: Templates | None = None) -> None:
        self.db = db
        self.deps = deps
        self.templates = templates or Templates()
        self.cache: Cache[PeriodTable] = Cache(deps.clock, CACHE_LIFETIME)

    def language(self, request: web.Request) -> str:
        texts = self.deps.texts
        wanted = request.query.get("lang", "")
        if wanted in texts.languages:
            return wanted
        by_path = PATHS.get(request.path)
        return by_path if by_path in texts.languages else texts.default_language

    async def table(self, period: Period, lang: str) -> PeriodTable:
        async def compute() -> PeriodTable:
            return await period_table(
                db=self.db, deps=self.deps, period=period, lang=lang, now=self.deps.clock.now()
            )

        return await self.cache.get((lang, period.label), compute)

    async def handle(self, request: web.Request) -> web.Response:
        settings = self.deps.city.transparency
        if not settings.enabled:
            raise web.HTTPNotFound(text="404: Not Found")
        lang = self.language(request)
        timezone = self.deps.city.city.timezone
        months = months_offered(self.deps.clock.now(), timezone, settings.period)
        wanted = request.query.get("period")
        chosen = next((m for m in months if m.label == wanted), None) if wanted else months[0]
        if chosen is None:
            raise web.HTTPNotFound(text="404: Not Found")
        month = await self.table(chosen, lang)
        together = await self.table(window(months), lang) if len(months) > 1 else None
        page = self.templates.get_template(TEMPLATE).render(
            self.context(request, lang, months=months, chosen=chosen, month=month, together=together)
        )
        response = web.Response(text=page, content_type="text/html", charset="utf-8")
        headers = response.headers
        headers["Content-Security-Policy"] = csp_header(default_csp())
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}"
        return response

    def context(self, request: web.Request, lang: str, **values: Any) -> dict[str, Any]:
        texts, city = self.deps.texts, self.deps.city
        t = translator(texts, lang)
        zone = ZoneInfo(city.city.timezone)
        path_of = {language or texts.default_language: path for path, language in PATHS.items()}

        def lang_url(code: str) -> str:
            query = {"period": request.query["period"]} if "period" in request.query else {}
            if code not in path_of:
                query["lang"] = code
            return str(request.rel_url.with_path(path_of.get(code, request.path)).with_query(query))

        def count(value: int) -> str:
            return number(value, lang)

        def days(value: float | None) -> str:
            return "–" if value is None else number(value, lang, 1)

        def percent(share: Share) -> str:
            if share.share is None:
                return "–"
            return str(
                t(
                    "transparency.share",
                    percent=number(100 * share.share, lang),
                    count=count(share.count),
                    of=count(share.of),
                )
            )

        def index(value: float | None) -> str:
            return "–" if value is None else number(value, lang, 2)

        def moment(value: datetime) -> str:
            return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")

        return {
            "t": t,
            "lang": lang,
            "languages": sorted(texts.languages, key=lambda code: code != texts.default_language),
            "language_name": lambda code: texts.plain("dashboard.language_name", code),
            "lang_url": lang_url,
            "city_name": city.city.name.get(lang),
            "stylesheets": [f"{MOUNT}/static/dashboard.css", f"{MOUNT}/static/transparency.css"],
            "month_name": lambda period: month_name(period, texts, lang),
            "count": count,
            "days": days,
            "percent": percent,
            "index": index,
            "moment": moment,
            "minimum": city.transparency.min_tickets,
            "path": request.path,
            "asked_lang": request.query.get("lang") if "lang" in request.query else None,
            **values,
        }


def add_transparency_routes(app: web.Application, *, db: Database, deps: Deps) -> TransparencyPage:
    """GET /transparansi and /transparency on the server's root application."""
    page = TransparencyPage(db, deps)
    for path in PATHS:
        app.router.add_get(path, page.handle)
    return page
