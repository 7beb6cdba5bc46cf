"""The overview (GET /dashboard/, the home after log-in): the quality figures of a period and a
selection, by unit, category and area, the trend charts, the hot-spot map, the oldest open tickets.

The figures are workflows/quality.py's; this module only picks them for the page and writes them
(bot/dashboard/present.py). The charts and the map are drawn by static/dashboard.js from two JSON
islands (`trend-data`, `map-data`): the Content-Security-Policy allows no inline script.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from aiohttp import web
from sqlalchemy import select as core_select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dashboard import selection
from bot.dashboard.keys import DB, DEPS, FIGURES
from bot.dashboard.present import Present
from bot.dashboard.render import page_language, render
from bot.dashboard.selection import Selection, refusing
from models import OPEN_STATUSES, Ticket
from models.quality_queries import load_surveys, load_tickets, selected
from workflows.clock import as_utc
from workflows.quality import Figures, Filter, Share, compute_figures

OPEN_LISTED = 20  # the oldest open tickets listed under the figures
SPOTS_SHOWN = 500  # the busiest hot spots on the map (a year of a big city has thousands of cells)


@dataclass(frozen=True)
class MapTiles:
    """The map's tile layer (CIVICBOT_MAP_TILES, CIVICBOT_MAP_ATTRIBUTION); url "" for none."""

    url: str
    attribution: str


TILES = web.AppKey("dashboard.pages.tiles", MapTiles)


@dataclass(frozen=True)
class OpenTicket:
    reference: str
    category: str
    unit: str
    area: str | None
    status: str
    created_at: datetime


def present(request: web.Request) -> Present:
    deps = request.app[DEPS]
    return Present(deps.texts, page_language(request), deps.city)


async def figures_of(request: web.Request, filter: Filter) -> Figures:
    """The figures of a filter as of the injected clock's now, or as of less than a minute ago when
    someone asked for the same (keys.FIGURES_KEPT); one computation for everyone asking at once."""
    return await request.app[FIGURES].get(filter, partial(_compute_figures, request.app, filter))


async def _compute_figures(app: web.Application, filter: Filter) -> Figures:
    """quality_figures' two reads, then its pure computation in a worker thread, so that the web
    server (webhooks, health) keeps answering during the half second a month of a big city takes."""
    deps = app[DEPS]
    scope = filter.scope()
    async with app[DB].sessions() as session:
        tickets = await load_tickets(session=session, scope=scope)
        surveys = await load_surveys(session=session, scope=scope)
    compute = partial(
        compute_figures, city=deps.city, calendars=deps.calendars, filter=filter, now=deps.clock.now()
    )
    return await asyncio.to_thread(compute, tickets, surveys)


async def oldest_open(*, session: AsyncSession, filter: Filter, limit: int = OPEN_LISTED) -> list[OpenTicket]:
    """The open tickets of the selection (whatever the period, as the backlog), oldest first."""
    table = Ticket.__table__  # type: ignore[attr-defined]
    query = (
        core_select(*(table.c[name] for name in _OPEN_COLUMNS))
        .where(col(Ticket.status).in_([status.value for status in OPEN_STATUSES]), *selected(filter.scope()))
        .order_by(table.c.created_at, table.c.id)
        .limit(limit)
    )
    connection = await session.connection()
    rows = [dict(row._mapping) for row in (await connection.execute(query)).all()]
    return [OpenTicket(**{**row, "created_at": as_utc(row["created_at"])}) for row in rows]


_OPEN_COLUMNS = ("reference", "category", "unit", "area", "status", "created_at")


def trend_data(figures: Figures, p: Present) -> dict[str, Any]:
    """The charts' series: received and resolved per step, the SLA-met share (%) per step."""

    def percent(share: Share) -> float | None:
        return None if share.share is None else round(share.share * 100, 1)

    trend = figures.trend
    return {
        "granularity": figures.granularity,
        "keys": [point.label for point in trend],
        "labels": [p.step(point.label, figures.granularity) for point in trend],
        "received": [point.received for point in trend],
        "resolved": [point.resolved for point in trend],
        "response_sla": [percent(point.response_sla) for point in trend],
        "resolution_sla": [percent(point.resolution_sla) for point in trend],
        "response_sla_counts": [[point.response_sla.count, point.response_sla.of] for point in trend],
        "resolution_sla_counts": [[point.resolution_sla.count, point.resolution_sla.of] for point in trend],
        "names": {
            key: p.text(f"dashboard_pages.chart.{key}")
            for key in ("received", "resolved", "response_sla", "resolution_sla", "tickets", "share")
        },
    }


def map_data(figures: Figures, p: Present, tiles: MapTiles) -> dict[str, Any]:
    """The hot spots (busiest first) with what their popups say; the tile layer, if any."""
    spots = figures.hot_spots[:SPOTS_SHOWN]
    return {
        "tiles": {"url": tiles.url, "attribution": tiles.attribution} if tiles.url else None,
        "spots": [
            {
                "lat": spot.latitude,
                "lon": spot.longitude,
                "count": spot.count,
                "title": p.text("dashboard_pages.map.count", count=p.count(spot.count)),
                "detail": p.text("dashboard_pages.map.top", category=p.category(spot.top_category)),
            }
            for spot in spots
        ],
        "located": figures.located,
    }


def choices(request: web.Request, chosen: Selection) -> dict[str, Any]:
    """The filter form's menus: periods, the units the viewer may see, categories, areas."""
    deps = request.app[DEPS]
    city = deps.city
    return {
        "periods": selection.period_choices(deps.clock.now(), city.city.timezone, chosen.period),
        "units": selection.unit_choices(city, chosen.visible),
        "categories": list(city.categories),
        "areas": list(city.areas),
    }


def title(chosen: Selection, p: Present, *, selections: bool = True) -> str:
    """What the figures are of: "November 2026 · Dinas Lingkungan Hidup · Semua kategori · …"."""
    parts = [
        p.period_of(chosen.period),
        p.unit(chosen.unit) if chosen.unit else p.text("dashboard_pages.all_units"),
    ]
    if selections:
        parts.append(
            p.category(chosen.category) if chosen.category else p.text("dashboard_pages.all_categories")
        )
        parts.append(p.area(chosen.area) if chosen.area else p.text("dashboard_pages.all_areas"))
    return " · ".join(parts)


@refusing
async def overview(request: web.Request) -> web.StreamResponse:
    """The figures of the period and selection in the query string (the current month by default)."""
    chosen = selection.read(request)
    filter = chosen.filter()
    figures = await figures_of(request, filter)
    async with request.app[DB].sessions() as session:
        tickets = await oldest_open(session=session, filter=filter)
    p = present(request)
    now = request.app[DEPS].clock.now()
    return render(
        request,
        "overview.html",
        p=p,
        sel=chosen,
        figures=figures,
        open_tickets=tickets,
        choices=choices(request, chosen),
        heading=title(chosen, p),
        trend=trend_data(figures, p),
        map=map_data(figures, p, request.app[TILES]),
        report_query=chosen.report_query(now),
        spots_shown=min(len(figures.hot_spots), SPOTS_SHOWN),
    )
