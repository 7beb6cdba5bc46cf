"""The CSV downloads of the overview, scoped like the page (bot/dashboard/selection.py).

| request                                   | what                                                    |
|-------------------------------------------|---------------------------------------------------------|
| GET /dashboard/export/tickets.csv?filters | one row per ticket filed in the period (workflows/      |
|                                           | quality.py `ticket_rows`: no citizen, no address, no    |
|                                           | description), streamed a thousand rows at a time        |
| GET /dashboard/export/figures.csv?filters | the figures per unit, category and area and the total   |
|                                           | (the columns of `civicbot report quality --format csv`) |

UTF-8 with a byte order mark, so that Excel on an Indonesian Windows opens it right; stable English
column keys; names in the page's language; the file name says the period and the selection:
`tickets_2026-11_dlh.csv`, `figures_2026-Q4_all_sampah.csv`.
"""

from __future__ import annotations

import csv
import io

from aiohttp import web

from bot.cli_quality import render_csv
from bot.dashboard import selection
from bot.dashboard.keys import DB, DEPS
from bot.dashboard.overview import figures_of, present
from bot.dashboard.selection import Selection, refusing
from workflows.quality import TICKET_ROW_COLUMNS, ticket_rows

BOM = "\ufeff"
FLUSH_ROWS = 1000  # rows written to the network at a time


def file_name(kind: str, chosen: Selection) -> str:
    parts = [kind, chosen.period.label, chosen.unit_key, chosen.category, chosen.area]
    return "_".join(part for part in parts if part) + ".csv"


def download_headers(name: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


@refusing
async def tickets_csv(request: web.Request) -> web.StreamResponse:
    """The tickets filed in the period and selection, one row each, streamed."""
    chosen = selection.read(request)
    deps = request.app[DEPS]
    response = web.StreamResponse(headers=download_headers(file_name("tickets", chosen)))
    response.content_type = "text/csv"
    response.charset = "utf-8"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(TICKET_ROW_COLUMNS)
    await response.prepare(request)
    pending = 0
    async with request.app[DB].sessions() as session:
        async for row in ticket_rows(
            session=session,
            city=deps.city,
            calendars=deps.calendars,
            filter=chosen.filter(),
            now=deps.clock.now(),
        ):
            writer.writerow(row.cells(deps.city.city.timezone))
            pending += 1
            if pending >= FLUSH_ROWS:
                await _flush(response, buffer)
                pending = 0
    await _flush(response, buffer)
    await response.write_eof()
    return response


async def _flush(response: web.StreamResponse, buffer: io.StringIO) -> None:
    await response.write(buffer.getvalue().encode("utf-8"))
    buffer.seek(0)
    buffer.truncate()


@refusing
async def figures_csv(request: web.Request) -> web.StreamResponse:
    """The figures of the period and selection: a row per unit, category and area, the total last."""
    chosen = selection.read(request)
    figures = await figures_of(request, chosen.filter())
    text = BOM + render_csv(figures, present(request).name)
    return web.Response(
        body=text.encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers=download_headers(file_name("figures", chosen)),
    )
