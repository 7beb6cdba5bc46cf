"""The monthly report (GET /dashboard/report?period=2026-11&unit=dlh): one unit's figures of a month
(or every unit's, for quality managers and admins) as a printable page with its charts.

A4 print styles (static/dashboard.css `@media print`): the navigation and the buttons are left out,
each section starts a page; "Print / Save as PDF" opens the browser's print dialog, which saves a
PDF as well. No PDF library. Officers and unit heads get their own unit's report (also when no unit
is named); another unit's is refused (403). A quarter or a year is accepted too.
"""

from __future__ import annotations

from aiohttp import web

from bot.dashboard import selection
from bot.dashboard.overview import figures_of, present, title, trend_data
from bot.dashboard.render import render
from bot.dashboard.selection import refusing

SPOTS_LISTED = 10  # the busiest places, as a table (a tiled map does not print reliably)


@refusing
async def monthly_report(request: web.Request) -> web.StreamResponse:
    """The printable report of a unit (or of every unit) for a month."""
    chosen = selection.read(request, report=True)
    if chosen.unit is None and chosen.visible is not None and len(chosen.visible) == 1:
        [only] = chosen.visible
        chosen = selection.Selection(chosen.period, only, None, None, chosen.visible)
    figures = await figures_of(request, chosen.filter())
    p = present(request)
    return render(
        request,
        "report.html",
        p=p,
        sel=chosen,
        figures=figures,
        heading=title(chosen, p, selections=False),
        trend=trend_data(figures, p),
        spots=figures.hot_spots[:SPOTS_LISTED],
        generated=figures.now,  # the moment of its figures (kept up to a minute: overview.figures_of)
    )
