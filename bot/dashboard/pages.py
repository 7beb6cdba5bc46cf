"""The dashboard's pages (bot/dashboard/app.py calls `register` once, before mounting).

| request                                   | module             | what                                   |
|-------------------------------------------|--------------------|----------------------------------------|
| GET /dashboard/?period&unit&category&area | overview.py        | the figures, charts, map, open tickets |
| GET /dashboard/tickets/{reference}        | ticket_page.py     | one ticket's facts and timeline        |
| GET /dashboard/export/tickets.csv?…       | exports.py         | the tickets of the selection, as CSV   |
| GET /dashboard/export/figures.csv?…       | exports.py         | the figures of the selection, as CSV   |
| GET /dashboard/report?period&unit         | monthly_report.py  | the printable monthly report           |

Every route needs a log-in (the dashboard's middleware) and shows only the units the viewer may see
(bot/dashboard/selection.py). The overview takes the place of app.py's placeholder home page: a
middleware answers the `home` route with it. The map's tiles come from CIVICBOT_MAP_TILES, whose host
is added to the Content-Security-Policy's img-src (with data:, which Leaflet sets on a tile it drops).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.dashboard.exports import figures_csv, tickets_csv
from bot.dashboard.keys import NavItem, add_nav, allow_sources
from bot.dashboard.monthly_report import monthly_report
from bot.dashboard.overview import TILES, MapTiles, overview
from bot.dashboard.ticket_page import REFERENCE_PATTERN, ticket_page
from bot.settings import Settings

HOME = "home"  # app.py's route at /dashboard/


def register(app: web.Application, settings: Settings | None = None) -> None:
    """The overview at /dashboard/, the ticket pages, the exports and the report; the map's tiles."""
    settings = settings if settings is not None else Settings()
    tiles = MapTiles(url=settings.map_tiles, attribution=settings.map_attribution)
    app[TILES] = tiles
    if tiles.url:  # Leaflet blanks a tile it drops with a data: image
        allow_sources(app, "img-src", tile_origin(tiles.url), "data:")
    app.middlewares.append(overview_at_home)
    app.router.add_get(f"/tickets/{{reference:{REFERENCE_PATTERN}}}", ticket_page, name="ticket")
    app.router.add_get("/export/tickets.csv", tickets_csv, name="export_tickets")
    app.router.add_get("/export/figures.csv", figures_csv, name="export_figures")
    app.router.add_get("/report", monthly_report, name="report")
    add_nav(app, NavItem("report", "dashboard_pages.nav.report"))


@web.middleware
async def overview_at_home(request: web.Request, handler: Handler) -> web.StreamResponse:
    """/dashboard/ is the overview (behind the log-in middleware, which runs first)."""
    route = request.match_info.route
    resource = route.resource if route is not None else None
    if resource is not None and resource.name == HOME:
        return await overview(request)
    return await handler(request)


def tile_origin(template: str) -> str:
    """The CSP source of a tile URL template: its scheme and host, a {s} subdomain as a wildcard."""
    parts = urlsplit(template)
    host = re.sub(r"\{[a-z]+\}", "*", parts.netloc)
    return f"{parts.scheme}://{host}"
