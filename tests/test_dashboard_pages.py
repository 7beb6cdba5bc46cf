"""The dashboard's pages: the overview's figures, filters and scoping, a ticket's timeline, the CSV
exports and the monthly report, against the real application on a seeded SQLite database.

The data are tests/test_quality_figures.py's hand-worked November 2026 (seen on Tuesday 1 December
09:00 WIB): T1, T2, T4 (DLH, sampah), T3 (DPUPR, jalan), T5 (DLH, filed in October), T6
(Inspektorat, pungli, confidential), T7 (BPBD, bencana). Its totals: 6 received, 3 open now,
response 2.0 h median / 12.8 h p90 over 4 tickets, resolution 32.5 h / 86.4 h over 4, response
on time 3 of 5, resolution on time 3 of 4, reopened 1 of 4.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from html.parser import HTMLParser

import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer

from bot.dashboard import dashboard_app, exports
from bot.dashboard.pages import register, tile_origin
from bot.health import Health
from bot.metrics import Metrics
from bot.settings import Settings
from bot.web import WebServer
from handlers.context import Deps
from models import Role
from models.db import Database
from tests.test_quality_figures import (
    ADDRESS,
    CITIZEN_NAME,
    CITIZEN_PHONE,
    NOW,
    SECRET,
    Office,
    november,
    wib,
)
from tests.test_web_login import Browser
from workflows.city_config import CityConfig
from workflows.clock import FrozenClock
from workflows.lifecycle import Action
from workflows.staff import add_staff
from workflows.web_login import issue_login

Client = TestClient[web.Request, web.Application]
NOVEMBER = "/dashboard/?period=2026-11"
PERSONAL = (CITIZEN_NAME, CITIZEN_PHONE, ADDRESS, SECRET)


# --- a small DOM, enough to read what a person sees ----------------------------------------------


class Node:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node | str] = []

    @property
    def text(self) -> str:
        parts = [child if isinstance(child, str) else child.text for child in self.children]
        return " ".join("".join(parts).split())

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                wanted = (tag is None or child.tag == tag) and all(
                    child.attrs.get(name.rstrip("_")) == value for name, value in attrs.items()
                )
                if wanted:
                    found.append(child)
                found += child.all(tag, **attrs)
        return found

    def by_id(self, id: str) -> Node:
        [node] = self.all(id=id)
        return node

    def rows(self, id: str) -> list[list[str]]:
        """A table's body rows as the cells' texts."""
        [body] = self.by_id(id).all("tbody")
        return [[cell.text for cell in row.all() if cell.tag in ("th", "td")] for row in body.all("tr")]


VOID = {"meta", "link", "input", "br", "img", "hr", "source", "col"}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def dom(page: str) -> Node:
    builder = _Builder()
    builder.feed(page)
    return builder.root


# --- the application, people logged in ------------------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)  # Tuesday 1 December 2026, 09:00 WIB


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture
async def client(db: Database, deps: Deps, settings: Settings) -> AsyncIterator[Client]:
    server = WebServer("127.0.0.1", 0, Health(db), Metrics(db, {}))
    app = dashboard_app(
        db=db, deps=deps, settings=settings, registrars=[partial(register, settings=settings)]
    )
    server.add_dashboard(app)
    async with TestClient(TestServer(server.app), cookie_jar=DummyCookieJar()) as test_client:
        yield test_client


@pytest.fixture
def office(db: Database, city: CityConfig) -> Office:
    return Office(db, city)


@pytest.fixture
async def tickets(office: Office) -> dict[str, str]:
    t = await november(office)
    await office.rate(t["T1"], (4, 4, 4, 4), wib(11, 25, 10))
    await office.rate(t["T2"], (3, 3, 3, 3), wib(11, 19, 10))
    return t


async def login(
    client: Client, db: Database, clock: FrozenClock, role: Role, unit: str | None, name: str = "Bu Ani"
) -> Browser:
    user_id = f"{role.value}-{unit}"
    async with db.transaction() as session:
        staff = await add_staff(
            session=session,
            channel="telegram",
            user_id=user_id,
            role=role,
            unit=unit,
            now=clock.now(),
            display_name=name,
        )
        token = await issue_login(session=session, staff=staff, now=clock.now())
    browser = Browser(client)
    status, _, headers = await browser.post(f"/dashboard/login/{token}")
    assert status == 303 and headers["Location"] == "/dashboard/"
    return browser


@pytest.fixture
async def manager(client: Client, db: Database, clock: FrozenClock) -> Browser:
    return await login(client, db, clock, Role.QUALITY, None)


@pytest.fixture
async def officer(client: Client, db: Database, clock: FrozenClock) -> Browser:
    return await login(client, db, clock, Role.OFFICER, "dlh", "Pak Budi")


async def page(browser: Browser, path: str, status: int = 200) -> Node:
    got, body, _ = await browser.get(path)
    assert got == status, body
    return dom(body)


def figures(document: Node) -> dict[str, str]:
    names: tuple[str, ...] = ("received", "backlog", "response-median", "response-p90", "resolution-median")
    names += ("resolution-p90", "sla", "response-sla", "reopened", "satisfaction")
    return {name: document.by_id(f"fig-{name}").text for name in names}


# --- the overview ---------------------------------------------------------------------------------


async def test_the_overview_shows_the_months_figures(tickets: dict[str, str], manager: Browser) -> None:
    document = await page(manager, NOVEMBER)
    assert figures(document) == {
        "received": "6",
        "backlog": "3",
        "response-median": "2,0 jam kerja",
        "response-p90": "12,8 jam kerja",
        "resolution-median": "32,5 jam kerja",
        "resolution-p90": "86,4 jam kerja",
        "sla": "75%",
        "response-sla": "60%",
        "reopened": "25%",
        "satisfaction": "87,50 (B)",  # T1 all 4s (100), T2 all 3s (75)
    }
    assert document.by_id("fig-sla").attrs["title"] == "3 dari 4"
    assert "Jumlah jawaban survei: 2" in document.text
    title = document.by_id("figures-title").text
    assert title == "November 2026 · Semua unit · Semua kategori · Semua wilayah"

    units = {row[0]: row for row in document.rows("by-unit")}
    assert list(units) == [
        "Dinas Lingkungan Hidup",
        "Dinas Pekerjaan Umum dan Penataan Ruang",
        "Badan Penanggulangan Bencana Daerah",
        "Inspektorat Daerah",
    ]
    dlh = units["Dinas Lingkungan Hidup"]
    assert dlh[1:4] == ["3", "3", "1"]  # received T1 T2 T4; resolved T1 T2 T5; open T4
    assert dlh[6] == "50% 1/2"  # response on time: T1 yes, T2 no
    categories = {row[0]: row[1] for row in document.rows("by-category")}
    assert categories["Sampah & Kebersihan"] == "3" and sum(map(int, categories.values())) == 6
    areas = {row[0]: row[1] for row in document.rows("by-area")}
    assert areas == {"Kecamatan Kota Barat": "2", "Kecamatan Kota Timur": "1", "Kecamatan Pesisir": "1"} | {
        "(tanpa wilayah)": "2"
    }
    assert [row[1] for row in document.rows("backlog-age")] == ["1", "0", "0", "2", "0"]

    # the oldest open tickets lead to their timelines
    links = document.by_id("open-tickets").all("a", class_="ticket-link")
    assert [a.text for a in links] == [tickets["T3"], tickets["T6"], tickets["T4"]]
    assert links[0].attrs["href"] == f"/dashboard/tickets/{tickets['T3']}"


async def test_the_same_figures_within_a_minute_are_computed_once(
    tickets: dict[str, str], manager: Browser, office: Office, clock: FrozenClock
) -> None:
    """A manager going back to the overview, or to the figures' CSV, within a minute gets the figures
    computed the first time (a year of a big city takes seconds), saying as of when; then new ones."""
    first = await page(manager, "/dashboard/")
    assert first.by_id("fig-received").text == "0"
    await office.file(clock.now())  # a complaint arrives meanwhile
    clock.advance(timedelta(seconds=30))
    again = await page(manager, "/dashboard/")
    assert again.by_id("fig-received").text == "0"

    def as_of(document: Node) -> list[str]:
        return [note.text for note in document.all("p", class_="note") if "Angka per" in note.text]

    assert as_of(again) == as_of(first) != []  # the first view's moment
    clock.advance(timedelta(seconds=31))
    later = await page(manager, "/dashboard/")
    assert later.by_id("fig-received").text == "1"


async def test_the_overview_in_english_and_the_selection_kept(
    tickets: dict[str, str], manager: Browser
) -> None:
    document = await page(manager, NOVEMBER + "&unit=dlh&category=sampah&lang=en")
    assert (
        document.by_id("figures-title").text
        == "November 2026 · Environment Agency · Waste & Cleanliness · All areas"
    )
    assert document.by_id("fig-resolution-p90").text.endswith(" working hours")
    form = document.by_id("filters")
    chosen = {
        select.attrs["name"]: [o.attrs["value"] for o in select.all("option") if "selected" in o.attrs]
        for select in form.all("select")
    }
    assert chosen == {"period": ["2026-11"], "unit": ["dlh"], "category": ["sampah"], "area": ["all"]}
    assert form.attrs["method"] == "get" and form.all("button", id="apply")


async def test_filters_change_the_figures(tickets: dict[str, str], manager: Browser) -> None:
    received = {}
    for query in ("unit=dpupr", "category=sampah", "area=kota_barat", "unit=inspektorat"):
        received[query] = (await page(manager, f"{NOVEMBER}&{query}")).by_id("fig-received").text
    assert received == {
        "unit=dpupr": "1",
        "category=sampah": "3",
        "area=kota_barat": "2",
        "unit=inspektorat": "1",
    }
    october = await page(manager, "/dashboard/?period=2026-10&unit=dlh")
    assert october.by_id("fig-received").text == "1"  # T5
    quarter = await page(manager, "/dashboard/?period=2026-Q4")
    assert quarter.by_id("fig-received").text == "7"
    assert quarter.by_id("figures-title").text.startswith("Triwulan IV 2026")


async def test_the_current_month_by_default_and_dashes_saying_why(
    tickets: dict[str, str], manager: Browser
) -> None:
    document = await page(manager, "/dashboard/")  # December has only begun
    assert document.by_id("figures-title").text.startswith("Desember 2026")
    assert document.by_id("fig-received").text == "0"
    assert document.by_id("fig-backlog").text == "3"  # open now, whatever the period
    for name in ("response-median", "resolution-p90", "sla", "reopened", "satisfaction"):
        assert document.by_id(f"fig-{name}").text == "—"
    text = document.text
    assert "Tidak ada tiket yang selesai ditangani pada periode ini." in text
    assert "Tidak ada survei kepuasan yang dijawab pada periode ini." in text
    assert document.by_id("monthly-report").attrs["href"] == "/dashboard/report?period=2026-12&unit=all"
    status, body, _ = await manager.get("/dashboard/?period=2026-13")
    assert status == 400 and "Periode tidak dikenali" in body
    for wrong in ("category=unicorns", "area=atlantis", "unit=nasa"):
        status, body, _ = await manager.get(f"{NOVEMBER}&{wrong}")
        assert status == 400 and "Pilihan tidak dikenali" in body, wrong


async def test_the_json_islands_hold_the_charts_and_the_map(
    tickets: dict[str, str], manager: Browser
) -> None:
    document = await page(manager, NOVEMBER)
    trend = json.loads(document.by_id("trend-data").text)
    assert trend["granularity"] == "day" and len(trend["labels"]) == 30
    assert trend["labels"][0] == "1 Nov" and trend["keys"][-1] == "2026-11-30"
    assert sum(trend["received"]) == 6 and sum(trend["resolved"]) == 4
    day = trend["keys"].index("2026-11-24")
    assert trend["resolved"][day] == 1 and trend["resolution_sla"][day] == 50.0  # T1 met, T6 missed
    assert trend["resolution_sla_counts"][day] == [1, 2]
    assert trend["names"]["received"] == "Masuk"
    assert document.by_id("trend-chart").tag == "canvas" and document.by_id("sla-chart").tag == "canvas"

    places = json.loads(document.by_id("map-data").text)
    assert places["tiles"]["url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert places["located"] == 5
    busiest = places["spots"][0]
    assert (busiest["count"], busiest["title"], busiest["detail"]) == (
        3,
        "3 pengaduan",
        "Terbanyak: Sampah & Kebersihan",
    )
    assert sum(spot["count"] for spot in places["spots"]) == 5
    assert document.by_id("map").tag == "div"
    text = json.dumps(places, ensure_ascii=False) + json.dumps(trend, ensure_ascii=False)
    assert not any(secret in text for secret in PERSONAL)

    head = " ".join(node.attrs.get("src", "") for node in document.all("script"))
    assert "/dashboard/static/vendor/chartjs/chart.umd.min.js" in head
    assert "/dashboard/static/vendor/leaflet/leaflet.js" in head and "/dashboard/static/dashboard.js" in head
    inline = [node.text for node in document.all("script") if node.attrs.get("type") != "application/json"]
    assert inline == ["", "", ""]  # no inline code: the CSP forbids it


async def test_the_scripts_and_styles_are_served(client: Client, manager: Browser) -> None:
    for path, kind in (
        ("dashboard.js", "javascript"),
        ("vendor/chartjs/chart.umd.min.js", "javascript"),
        ("vendor/leaflet/leaflet.js", "javascript"),
        ("vendor/leaflet/leaflet.css", "css"),
    ):
        status, _, headers = await manager.get(f"/dashboard/static/{path}")
        assert status == 200 and kind in headers["Content-Type"], path
    _, css, _ = await manager.get("/dashboard/static/dashboard.css")
    assert "@media print" in css and "break-before: page" in css and "size: A4" in css


# --- who sees what --------------------------------------------------------------------------------


async def test_an_officer_sees_their_unit_only(tickets: dict[str, str], officer: Browser) -> None:
    document = await page(officer, NOVEMBER)
    assert document.by_id("fig-received").text == "3"
    units = [o.attrs["value"] for o in document.by_id("unit").all("option")]
    assert units == ["all", "dlh"]
    assert [row[0] for row in document.rows("by-unit")] == ["Dinas Lingkungan Hidup"]
    assert [a.text for a in document.all("a", class_="ticket-link")] == [tickets["T4"]]
    assert document.by_id("monthly-report").attrs["href"] == "/dashboard/report?period=2026-11&unit=all"

    for path in (
        NOVEMBER + "&unit=dpupr",
        "/dashboard/export/tickets.csv?period=2026-11&unit=dpupr",
        "/dashboard/export/figures.csv?period=2026-11&unit=inspektorat",
        "/dashboard/report?period=2026-11&unit=dpupr",
    ):
        status, body, _ = await officer.get(path)
        assert status == 403 and "unit Anda sendiri" in body, path
    for reference in (tickets["T3"], tickets["T6"], "ADU-NOPE-00"):
        status, body, _ = await officer.get(f"/dashboard/tickets/{reference}")
        assert status == 404 and "Tiket tidak ditemukan" in body
    status, _, _ = await officer.get(f"/dashboard/tickets/{tickets['T1']}")
    assert status == 200

    _, body, _ = await officer.get("/dashboard/export/tickets.csv?period=2026-11")
    references = [row["reference"] for row in csv.DictReader(io.StringIO(body.lstrip("\ufeff")))]
    assert sorted(references) == sorted([tickets["T1"], tickets["T2"], tickets["T4"]])


async def test_an_officer_without_a_unit_is_told_why(
    tickets: dict[str, str], client: Client, db: Database, clock: FrozenClock
) -> None:
    lost = await login(client, db, clock, Role.OFFICER, None)
    status, body, _ = await lost.get(NOVEMBER)
    assert status == 403 and "belum terhubung dengan unit" in body
    assert not any(reference in body for reference in tickets.values())


async def test_pages_need_a_log_in(client: Client) -> None:
    for path in (NOVEMBER, "/dashboard/export/tickets.csv", "/dashboard/report", "/dashboard/tickets/ADU-1"):
        status, _, headers = await Browser(client).get(path)
        assert status == 303 and headers["Location"] == "/dashboard/login", path


# --- a ticket's timeline --------------------------------------------------------------------------


async def test_the_drill_down_shows_the_timeline_in_order(tickets: dict[str, str], manager: Browser) -> None:
    document = await page(manager, f"/dashboard/tickets/{tickets['T2']}?lang=en")
    events = document.by_id("timeline").all("li")
    assert [event.attrs["data-action"] for event in events] == [
        *("submitted", "accepted", "question", "answered"),
        *("resolved", "reopened", "accepted", "resolved"),
    ]
    assert events[0].all("time")[0].text == "2 Nov 2026 08:00"
    assert events[2].text.startswith("4 Nov 2026 10:00 Question to the reporter Admin")
    assert "Di sebelah mana tepatnya?" in events[2].text and "Depan gerbang pasar" in events[3].text
    assert document.by_id("ticket-title").text == f"Ticket {tickets['T2']}"
    assert "Sampah menumpuk di depan pasar" in document.text  # not confidential: the description shows
    assert not any(secret in document.text for secret in (CITIZEN_NAME, CITIZEN_PHONE, ADDRESS))


async def test_a_confidential_tickets_content_stays_hidden(
    tickets: dict[str, str], manager: Browser, office: Office
) -> None:
    await office.act(tickets["T6"], Action.ASK, wib(11, 12, 9), note="Siapa nama petugasnya?")
    _, body, _ = await manager.get(f"/dashboard/tickets/{tickets['T6']}")
    document = dom(body)
    assert len(document.by_id("timeline").all("li")) == 3
    assert "Pengaduan rahasia: isi dan catatannya tidak ditampilkan" in document.text
    assert "(catatan tidak ditampilkan: rahasia)" in document.text
    assert SECRET not in body and "Siapa nama" not in body


async def test_user_text_is_escaped(office: Office, manager: Browser) -> None:
    reference = await office.file(wib(11, 9, 9), description='<script>alert("x")</script> di jalan')
    await office.act(reference, Action.ACCEPT, wib(11, 9, 10))
    await office.act(reference, Action.ASK, wib(11, 9, 11), note="<img src=x onerror=alert(1)>")
    _, body, _ = await manager.get(f"/dashboard/tickets/{reference}")
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; di jalan" in body
    assert dom(body).by_id("timeline").all("li")[-1].text.endswith("<img src=x onerror=alert(1)>")


# --- exports --------------------------------------------------------------------------------------


async def test_the_tickets_csv(tickets: dict[str, str], manager: Browser) -> None:
    status, body, headers = await manager.get("/dashboard/export/tickets.csv?period=2026-11&unit=all")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert headers["Content-Disposition"] == 'attachment; filename="tickets_2026-11_all.csv"'
    assert headers["Cache-Control"] == "no-store"
    assert body.startswith("\ufeffreference,created,category,unit,area,status,accepted,resolved,")
    rows = list(csv.DictReader(io.StringIO(body[1:])))
    assert len(rows) == 6
    first = next(row for row in rows if row["reference"] == tickets["T1"])
    assert (first["created"], first["unit"], first["response_hours"], first["resolution_met"]) == (
        "2026-11-20T15:00+07:00",
        "dlh",
        "3.00",
        "yes",
    )
    assert first["satisfaction"] == "100.00"
    assert not any(secret in body for secret in (*PERSONAL, "Sampah menumpuk"))

    _, body, headers = await manager.get("/dashboard/export/tickets.csv?period=2026-11&unit=dpupr")
    assert headers["Content-Disposition"] == 'attachment; filename="tickets_2026-11_dpupr.csv"'
    assert [row["reference"] for row in csv.DictReader(io.StringIO(body[1:]))] == [tickets["T3"]]


async def test_the_figures_csv(tickets: dict[str, str], manager: Browser) -> None:
    status, body, headers = await manager.get(
        "/dashboard/export/figures.csv?period=2026-11&category=sampah&lang=en"
    )
    assert status == 200
    assert headers["Content-Disposition"] == 'attachment; filename="figures_2026-11_all_sampah.csv"'
    assert body.startswith("\ufeffscope,key,name,received,resolved,open,")
    rows = list(csv.DictReader(io.StringIO(body[1:])))
    total = rows[-1]
    assert (total["scope"], total["received"], total["resolution_met"], total["resolution_decided"]) == (
        "total",
        "3",
        "2",
        "2",
    )
    assert {(row["scope"], row["name"]) for row in rows if row["scope"] == "unit"} == {
        ("unit", "Environment Agency")
    }


async def test_a_long_export_is_streamed_in_pieces_and_whole(
    office: Office, manager: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    filed = [await office.file(wib(11, 2, 8) + timedelta(hours=hour)) for hour in range(12)]
    monkeypatch.setattr(exports, "FLUSH_ROWS", 5)  # three writes to the network, and the rest
    _, body, _ = await manager.get("/dashboard/export/tickets.csv?period=2026-11")
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert [row["reference"] for row in rows] == filed and "\ufeff" not in body[1:]


# --- the monthly report ---------------------------------------------------------------------------


async def test_the_monthly_report_per_unit_in_both_languages(
    tickets: dict[str, str], officer: Browser
) -> None:
    document = await page(officer, "/dashboard/report?period=2026-11")  # an officer: their unit
    assert document.by_id("figures-title").text == "November 2026 · Dinas Lingkungan Hidup"
    assert document.by_id("report-title").text == "Laporan penanganan pengaduan"
    assert document.by_id("print").text == "Cetak / Simpan sebagai PDF"
    assert document.by_id("fig-received").text == "3"
    assert document.by_id("trend-chart").tag == "canvas" and json.loads(document.by_id("trend-data").text)
    assert len(document.all("section", class_="card report-section page-break")) == 2
    assert document.all("table", id="by-unit") == []  # one unit: no table of units

    english = await page(officer, "/dashboard/report?period=2026-11&unit=dlh&lang=en")
    assert english.by_id("figures-title").text == "November 2026 · Environment Agency"
    assert english.by_id("print").text == "Print / Save as PDF"
    assert english.by_id("fig-resolution-median").text == "43.0 working hours"  # T1 12.5, T5 43, T2 105


async def test_quality_managers_get_the_report_of_every_unit(
    tickets: dict[str, str], manager: Browser
) -> None:
    document = await page(manager, "/dashboard/report?period=2026-11&unit=all")
    assert document.by_id("figures-title").text == "November 2026 · Semua unit"
    assert len(document.rows("by-unit")) == 4
    assert document.rows("hot-spots")[0][1:] == ["3", "Sampah & Kebersihan"]


# --- the map's tiles ------------------------------------------------------------------------------


async def test_the_map_tiles_come_from_a_setting_and_widen_the_csp(
    db: Database, deps: Deps, clock: FrozenClock, tickets: dict[str, str]
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        CIVICBOT_MAP_TILES="https://{s}.tiles.example.go.id/peta/{z}/{x}/{y}.png",
        CIVICBOT_MAP_ATTRIBUTION="© Pemkot Contoh",
    )
    server = WebServer("127.0.0.1", 0, Health(db), Metrics(db, {}))
    server.add_dashboard(
        dashboard_app(db=db, deps=deps, settings=settings, registrars=[partial(register, settings=settings)])
    )
    async with TestClient(TestServer(server.app), cookie_jar=DummyCookieJar()) as client:
        browser = await login(client, db, clock, Role.ADMIN, None)
        status, body, headers = await browser.get(NOVEMBER)
    assert status == 200
    assert (
        "img-src 'self' https://tile.openstreetmap.org https://*.tiles.example.go.id data:"
        in (headers["Content-Security-Policy"])
    )
    places = json.loads(dom(body).by_id("map-data").text)
    assert places["tiles"] == {
        "url": "https://{s}.tiles.example.go.id/peta/{z}/{x}/{y}.png",
        "attribution": "© Pemkot Contoh",
    }
    assert tile_origin("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == "https://tile.openstreetmap.org"
    offline = Settings(_env_file=None, CIVICBOT_MAP_TILES="")  # type: ignore[call-arg]
    assert offline.map_tiles == ""
    with pytest.raises(ValueError, match="CIVICBOT_MAP_TILES"):
        Settings(_env_file=None, CIVICBOT_MAP_TILES="https://tiles.example.org/{z}.png")  # type: ignore[call-arg]
