"""The public transparency page (/transparansi, /transparency): figures per unit, no personal data.

Seen on Tuesday 1 December 2026, 09:00 WIB: the last full month is November 2026, the last 12 months
December 2025 – November 2026. Tickets go through the real workflows (tests/test_quality_figures.py's
Office): DLH gets six complaints in November (five resolved and rated) and one in October, DPUPR two
in November (one resolved and rated), no other unit any. The sample city publishes units with at
least 5 complaints in a period (`transparency.min_tickets`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.dashboard.transparency import CACHE_LIFETIME, TransparencyPage, add_transparency_routes
from bot.health import Health
from bot.metrics import Metrics
from bot.web import WebServer
from handlers.context import Deps
from models.db import Database
from tests.test_quality_figures import ADDRESS, CITIZEN_NAME, CITIZEN_PHONE, NOW, Office, wib
from workflows.city_config import CityConfig, Transparency
from workflows.clock import FrozenClock
from workflows.lifecycle import Action
from workflows.quality import Block, Figures, Filter, quality_figures
from workflows.satisfaction import Period

TIMEZONE = "Asia/Jakarta"
REFERENCE = re.compile(r"\b[A-Z]{2,5}-\d{4}-[0-9A-Z]{4}\b")
DESCRIPTION = "Tumpukan sampah di samping rumah Bu Sri Wahyuni belum diangkut"
Client = TestClient[web.Request, web.Application]
Tables = dict[str, dict[str, dict[str, str]]]  # table id → unit key ("total") → figure → text


class FigureTables(HTMLParser):
    """The page's tables as the reader sees them: the text of each cell by table, unit and figure."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: Tables = {}
        self._table: str | None = None
        self._unit: str | None = None
        self._figure: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self._table = attributes.get("id") or ""
            self.tables[self._table] = {}
        elif tag == "tr" and self._table is not None and attributes.get("data-unit"):
            self._unit = attributes["data-unit"]
            self.tables[self._table][self._unit or ""] = {}
        elif tag in ("td", "th") and self._unit is not None:
            self._figure = attributes.get("data-figure") or (
                "name" if attributes.get("scope") == "row" else None
            )
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._figure is not None:
            assert self._table is not None and self._unit is not None
            self.tables[self._table][self._unit][self._figure] = " ".join(" ".join(self._text).split())
            self._figure = None
        elif tag == "tr":
            self._unit = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._figure is not None:
            self._text.append(data)


def tables(body: str) -> Tables:
    parser = FigureTables()
    parser.feed(body)
    return parser.tables


@pytest.fixture
def clock(clock: FrozenClock) -> FrozenClock:
    clock.set(NOW)  # Tuesday 1 December 2026, 09:00 WIB
    return clock


def with_transparency(deps: Deps, **settings: object) -> Deps:
    city = deps.city.model_copy(update={"transparency": Transparency(**settings)})  # type: ignore[arg-type]
    return dataclasses.replace(deps, city=city)


Serve = Callable[[Deps], Awaitable[tuple[Client, TransparencyPage]]]


@pytest.fixture
async def serve(db: Database) -> AsyncIterator[Serve]:
    """serve(deps) → (client, page): the bot's web server with the page, in aiohttp's test server."""
    clients: list[Client] = []

    async def start(deps: Deps) -> tuple[Client, TransparencyPage]:
        server = WebServer("127.0.0.1", 0, Health(db), Metrics(db, {}))
        page = add_transparency_routes(server.app, db=db, deps=deps)
        client: Client = TestClient(TestServer(server.app))
        await client.start_server()
        clients.append(client)
        return client, page

    yield start
    for client in clients:
        await client.close()


async def get(client: Client, path: str) -> tuple[int, str]:
    async with client.get(path) as response:
        return response.status, await response.text()


async def seed(office: Office) -> list[str]:
    """The module's tickets; the references filed."""
    references = []
    # DLH, November: six complaints, filed on working mornings; five resolved a few days later
    for day, resolved_after in ((2, 1), (3, 2), (4, 2), (5, 6), (9, 3), (10, None)):
        reference = await office.file(wib(11, day, 8), area="kota_barat", description=DESCRIPTION)
        references.append(reference)
        await office.act(reference, Action.ACCEPT, wib(11, day, 9))
        if resolved_after is not None:
            await office.act(reference, Action.RESOLVE, wib(11, day + resolved_after, 10))
            await office.rate(reference, (4, 3, 4, 3) if day % 2 else (3, 3, 2, 3), wib(11, 25, 9))
    # DLH, October: one, resolved in October
    october = await office.file(wib(10, 12, 8), description=DESCRIPTION)
    await office.act(october, Action.ACCEPT, wib(10, 12, 9))
    await office.act(october, Action.RESOLVE, wib(10, 14, 9))
    references.append(october)
    # DPUPR, November: two road complaints, one resolved and rated
    for day in (16, 17):
        reference = await office.file(wib(11, day, 8), "jalan", area="kota_timur", lat=-6.25, lon=106.85)
        references.append(reference)
    await office.act(references[-1], Action.ACCEPT, wib(11, 17, 9))
    await office.act(references[-1], Action.RESOLVE, wib(11, 19, 9))
    await office.rate(references[-1], (1, 1, 1, 1), wib(11, 25, 9))
    return references


@pytest.fixture
def office(db: Database, city: CityConfig) -> Office:
    return Office(db, city)


async def figures_of(db: Database, deps: Deps, period: Period) -> Figures:
    async with db.sessions() as session:
        return await quality_figures(
            session=session, city=deps.city, calendars=deps.calendars, filter=Filter.of(period), now=NOW
        )


def shown(block: Block, lang: str) -> dict[str, str]:
    """What the page must show of a block, formatted as a reader of that language reads numbers."""

    def decimal(value: float, places: int) -> str:
        text = f"{value:.{places}f}"
        return text.replace(".", ",") if lang == "id" else text

    sla, satisfaction, median = block.resolution_sla, block.satisfaction, block.resolution_hours.median
    assert sla.share is not None and median is not None and satisfaction.index is not None
    word = "dari" if lang == "id" else "of"
    answers = "jawaban" if lang == "id" else "answers"
    return {
        "received": str(block.received),
        "resolved": str(block.resolved),
        "median_days": decimal(median / 8, 1),
        "on_time": f"{round(100 * sla.share)}% ({sla.count} {word} {sla.of})",
        "satisfaction_index": decimal(satisfaction.index, 2),
        "grade": str(satisfaction.grade),
        "answers": f"{satisfaction.responses} {answers}",
    }


def check_row(row: dict[str, str], expected: dict[str, str]) -> None:
    for name in ("received", "resolved", "median_days", "on_time"):
        assert row[name] == expected[name], name
    index, grade, answers = expected["satisfaction_index"], expected["grade"], expected["answers"]
    assert row["satisfaction"].startswith(f"{index} · {grade} ("), row["satisfaction"]
    assert row["satisfaction"].endswith(answers)


# --- tests ---------------------------------------------------------------------------------------------


async def test_a_city_that_has_not_enabled_it_has_no_such_page(
    serve: Serve, deps: Deps, office: Office
) -> None:
    await seed(office)
    client, _ = await serve(with_transparency(deps))  # the default: disabled
    for path in ("/transparansi", "/transparency", "/transparansi?period=2026-11"):
        status, body = await get(client, path)
        assert status == 404, path
        assert "Dinas" not in body and "Agency" not in body


async def test_the_figures_per_unit_are_the_quality_figures_and_nothing_personal(
    serve: Serve, deps: Deps, db: Database, office: Office
) -> None:
    references = await seed(office)
    client, _ = await serve(deps)
    status, body = await get(client, "/transparency")
    assert status == 200
    page = tables(body)

    november = await figures_of(db, deps, Period.parse("2026-11"))
    twelve = Period("2025-12/2026-11", Period.parse("2025-12").start, Period.parse("2026-11").end, TIMEZONE)
    year = await figures_of(db, deps, twelve)
    dlh_november = next(row.figures for row in november.rows_of("unit") if row.key == "dlh")
    assert (dlh_november.received, dlh_november.resolved, dlh_november.satisfaction.responses) == (6, 5, 5)
    check_row(page["month-table"]["dlh"], shown(dlh_november, "en"))
    assert page["month-table"]["dlh"]["name"] == "Environment Agency"

    dlh_year = next(row.figures for row in year.rows_of("unit") if row.key == "dlh")
    assert (dlh_year.received, dlh_year.resolved) == (7, 6)  # the October complaint too
    check_row(page["window-table"]["dlh"], shown(dlh_year, "en"))
    total = page["window-table"]["total"]
    assert (total["received"], total["resolved"]) == ("9", str(year.total.resolved))
    # DPUPR (not published) resolved one complaint, decided one deadline and has one answer: the total's
    # time, share and index minus DLH's would give them away, so they are not published either
    assert total["median_days"] == total["on_time"] == total["satisfaction"] == "not published"
    assert "December 2025 – November 2026" in body and "The last 12 months" in body

    # every unit of the city is listed, in the city's order
    assert list(page["month-table"]) == [*deps.city.units, "total"]

    # nothing of a ticket but the counts: no reference, no citizen, no text, no place
    assert not REFERENCE.search(body), REFERENCE.search(body)
    for reference in references:
        assert reference not in body
    for personal in (
        CITIZEN_NAME,
        CITIZEN_PHONE,
        ADDRESS,
        DESCRIPTION,
        "Wahyuni",
        "Sudah ditangani",
        "-6.25",
    ):
        assert personal not in body, personal


async def test_units_with_few_complaints_show_fewer_than_n_and_nothing_else(
    serve: Serve, deps: Deps, office: Office
) -> None:
    await seed(office)
    client, _ = await serve(deps)
    _, body = await get(client, "/transparency")
    page = tables(body)
    dpupr = page["month-table"]["dpupr"]
    assert dpupr == {
        "name": "Public Works and Spatial Planning",
        "received": "fewer than 5",
        "withheld": "not published",
    }
    assert page["month-table"]["dishub"]["received"] == "fewer than 5"  # none at all reads the same
    # October: DLH had one complaint
    _, october = await get(client, "/transparency?period=2026-10")
    assert tables(october)["month-table"]["dlh"]["received"] == "fewer than 5"
    assert "October 2026" in october

    # a city that publishes from 2 complaints shows DPUPR's, but not a satisfaction index from 1 answer
    client, _ = await serve(with_transparency(deps, enabled=True, min_tickets=2))
    _, body = await get(client, "/transparency")
    dpupr = tables(body)["month-table"]["dpupr"]
    assert (dpupr["received"], dpupr["resolved"]) == ("2", "1")
    assert dpupr["satisfaction"] == "fewer than 2 answers"
    assert "25.00" not in body  # its one answer (all 1s: index 25) is not published
    total = tables(body)["month-table"]["total"]
    assert total["satisfaction"] == "not published"  # nor through the total: (6 × total − 5 × DLH)
    november = await figures_of(office.db, deps, Period.parse("2026-11"))
    assert total["on_time"] == shown(november.total, "en")["on_time"]  # DPUPR's deadline is shown

    # publishing from 1 complaint: every figure, the total's exactly quality_figures' total
    client, _ = await serve(with_transparency(deps, enabled=True, min_tickets=1))
    _, body = await get(client, "/transparency")
    check_row(tables(body)["month-table"]["total"], shown(november.total, "en"))
    assert "25.00 · D (Poor)" in body  # DPUPR's one answer, now published


async def test_both_languages(serve: Serve, deps: Deps, office: Office) -> None:
    await seed(office)
    client, _ = await serve(deps)
    november = await figures_of(office.db, deps, Period.parse("2026-11"))
    dlh = next(row.figures for row in november.rows_of("unit") if row.key == "dlh")

    status, indonesian = await get(client, "/transparansi")
    assert status == 200 and '<html lang="id">' in indonesian
    page = tables(indonesian)
    assert page["month-table"]["dlh"]["name"] == "Dinas Lingkungan Hidup"
    check_row(page["month-table"]["dlh"], shown(dlh, "id"))  # 2,5 hari kerja; "5 dari 5"
    assert page["month-table"]["dpupr"]["received"] == "kurang dari 5"
    assert page["month-table"]["total"]["name"] == "Seluruh unit kerja"
    for words in (
        "Pengaduan diterima",
        "Selesai tepat waktu",
        "12 bulan terakhir",
        "Desember 2025 – November 2026",
    ):
        assert words in indonesian, words
    assert "Environment Agency" not in indonesian and "fewer than" not in indonesian

    _, english = await get(client, "/transparansi?lang=en")
    assert '<html lang="en">' in english and "Environment Agency" in english
    assert 'href="/transparansi"' in english  # the switch back to Indonesian
    _, switched = await get(client, "/transparency?period=2026-10")
    assert 'href="/transparansi?period=2026-10"' in switched  # the month is kept


async def test_only_the_months_offered_can_be_asked_for(serve: Serve, deps: Deps, office: Office) -> None:
    client, _ = await serve(deps)
    _, body = await get(client, "/transparansi")
    offered = re.findall(r'<option value="(\d{4}-\d{2})"', body)
    assert offered[0] == "2026-11" and offered[-1] == "2025-12" and len(offered) == 12
    for wrong in ("2026-12", "2025-11", "2026-13", "2026", "x"):
        status, _ = await get(client, f"/transparansi?period={wrong}")
        assert status == 404, wrong


async def test_figures_are_cached_for_a_few_minutes_then_refreshed(
    serve: Serve, deps: Deps, office: Office, clock: FrozenClock
) -> None:
    await seed(office)
    client, page = await serve(deps)
    answers = await asyncio.gather(*(get(client, "/transparency") for _ in range(10)))  # all at once
    assert {status for status, _ in answers} == {200}
    _, before = answers[0]
    assert tables(before)["month-table"]["dlh"]["received"] == "6"
    computed = page.cache.computed
    assert computed == 2  # November, and the 12 months

    await office.file(wib(11, 27, 8), description=DESCRIPTION)  # a late-registered November complaint
    clock.advance(CACHE_LIFETIME - timedelta(seconds=1))
    for _ in range(20):  # a crawler hammering the page: the database is not asked again
        _, again = await get(client, "/transparency")
    assert tables(again)["month-table"]["dlh"]["received"] == "6"
    assert page.cache.computed == computed

    _, indonesian = await get(client, "/transparansi")  # another language: its own entry
    assert tables(indonesian)["month-table"]["dlh"]["received"] == "7"

    clock.advance(timedelta(seconds=2))  # past the lifetime
    _, after = await get(client, "/transparency")
    assert tables(after)["month-table"]["dlh"]["received"] == "7"
    assert tables(after)["window-table"]["dlh"]["received"] == "8"


async def test_the_page_is_public_cacheable_and_locked_down(serve: Serve, deps: Deps) -> None:
    client, _ = await serve(deps)
    async with client.get("/transparansi") as response:
        assert response.status == 200
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "public, max-age=300"
        assert "Set-Cookie" not in response.headers
        body = await response.text()
    assert "<script" not in body and 'href="/dashboard/static/transparency.css"' in body
