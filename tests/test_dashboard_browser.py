"""The staff dashboard and the transparency page in a real headless Chromium, against the real bot.

One `civicbot run` for the module (fake Bot API, the web server on a free port, CIVICBOT_PUBLIC_URL
at that address, time frozen on Thursday 10 December 2026, 09:00 WIB through CIVICBOT_CLOCK_FILE),
on a database seeded beforehand through the real workflows:

| unit  | November 2026                                               | December 2026 (so far)       |
|-------|-------------------------------------------------------------|------------------------------|
| DLH   | 4 `sampah` (2 resolved), 1 `ketertiban` placed with DLH      | 3 `sampah`                   |
| DPUPR | 1 `jalan`, 1 `banjir`                                       | 2 `jalan`                    |

every one with a location. Budi (DLH officer) and Ratna (DPUPR officer) are staff. Each test logs in
as a person would: /dasbor in private chat through the fake Bot API, the link from the bot's
reply opened in the browser, "Log in" pressed. The browser reaches nothing beyond this machine (map
tiles fail, as offline). Every step leaves a full-page screenshot in test-output/screenshots/.

Skipped when no Chromium is found (tests/browser.py says how to get one).
"""

from __future__ import annotations

import csv
import io
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from models import Role
from models.db import Database
from tests.browser import PHONE, chromium_or_skip, horizontal_overflow, offline, screenshot
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.test_instances_e2e import ready
from tests.test_quality_figures import Office
from tests.test_telegram_e2e import STEP, TOKEN, BotProcess, bot_environment
from tests.test_whatsapp_e2e import free_port
from tests.test_workflow_e2e import WIB, set_clock
from workflows.city_config import load_city_config, sample_config_path
from workflows.lifecycle import Action
from workflows.quality import TICKET_ROW_COLUMNS
from workflows.staff import add_staff

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, ViewportSize

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=WIB)
BUDI, RATNA = 7101, 7102  # Telegram user ids: the DLH officer, the DPUPR officer
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
LINK = re.compile(r"https?://[^\s\"<>]+/dashboard/login/[A-Za-z0-9_-]+")
WAIT_MS = 15_000  # how long the browser waits for an element, generous for a loaded CI machine


def wib(month: int, day: int, hour: int = 8) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=WIB)


@dataclass
class Site:
    api: FakeTelegramAPI
    base: str  # http://127.0.0.1:PORT, CIVICBOT_PUBLIC_URL
    browser: Browser
    tickets: dict[str, dict[str, list[str]]]  # unit → period (2026-11, 2026-12) → references
    resolved: str  # a DLH ticket filed, accepted and resolved: three events on its timeline


async def seed(url: str) -> tuple[dict[str, dict[str, list[str]]], str]:
    """The module's tickets and staff, through the real workflows, before the bot starts."""
    db = Database(url)
    await db.migrate()
    city = load_city_config(sample_config_path())
    office = Office(db, city)
    tickets: dict[str, dict[str, list[str]]] = {
        unit: {"2026-11": [], "2026-12": []} for unit in ("dlh", "dpupr")
    }

    async def file(unit: str, at: datetime, category: str, lat: float, lon: float) -> str:
        reference = await office.file(at, category, unit=unit, lat=lat, lon=lon, area="kota_barat")
        tickets[unit][f"{at:%Y-%m}"].append(reference)
        return reference

    resolved = await file("dlh", wib(11, 2), "sampah", -6.2001, 106.8167)
    await office.act(resolved, Action.ACCEPT, wib(11, 2, 9))
    await office.act(resolved, Action.RESOLVE, wib(11, 3, 10))
    second = await file("dlh", wib(11, 3), "sampah", -6.2003, 106.8169)
    await office.act(second, Action.ACCEPT, wib(11, 3, 9))
    await office.act(second, Action.RESOLVE, wib(11, 5, 10))
    await file("dlh", wib(11, 4), "sampah", -6.2101, 106.8301)
    await file("dlh", wib(11, 6), "sampah", -6.2102, 106.8302)
    await file("dlh", wib(11, 5), "ketertiban", -6.2005, 106.8170)  # placed with DLH, as after a transfer
    for day in (1, 2, 3):
        await file("dlh", wib(12, day), "sampah", -6.2002 - day / 1000, 106.8168)
    await file("dpupr", wib(11, 9), "jalan", -6.25, 106.85)
    await file("dpupr", wib(11, 10), "banjir", -6.2510, 106.8510)
    for day in (4, 7):
        await file("dpupr", wib(12, day), "jalan", -6.2520, 106.8520)

    async with db.transaction() as session:
        for user_id, unit, name in ((BUDI, "dlh", "Budi"), (RATNA, "dpupr", "Ratna")):
            await add_staff(
                session=session,
                channel="telegram",
                user_id=str(user_id),
                role=Role.OFFICER,
                unit=unit,
                now=NOW,
                display_name=name,
            )
    await db.dispose()
    return tickets, resolved


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    chromium = chromium_or_skip()
    from playwright.async_api import async_playwright

    tmp = tmp_path_factory.mktemp("browser")
    clock_file = tmp / "clock"
    set_clock(clock_file, NOW)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with FakeTelegramAPI(token=TOKEN) as api:
        env = bot_environment(
            api,
            tmp,
            CIVICBOT_WEBHOOK_PORT=str(port),
            CIVICBOT_PUBLIC_URL=base,
            CIVICBOT_CLOCK_FILE=str(clock_file),
        )
        tickets, resolved = await seed(env["CIVICBOT_DATABASE_URL"])
        process = BotProcess(env, tmp / "bot.log")
        await process.start()
        try:
            await ready(port)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
                try:
                    yield Site(api, base, browser, tickets, resolved)
                finally:
                    await browser.close()
        finally:
            await process.stop(signal.SIGKILL)
            print(process.log.read_text(errors="replace")[-3000:])


async def log_in(
    site: Site, user_id: int, shot: str | None = None, **options: Any
) -> tuple[BrowserContext, Page]:
    """/dasbor in private chat, the link from the bot's reply opened, "Log in" pressed: the overview."""
    site.api.push_command(user_id, "/dasbor", first_name="Petugas")
    reply = await site.api.wait_for_text(user_id, "/dashboard/login/", timeout=STEP)
    found = LINK.search(reply.params.get("text", ""))
    assert found, reply.params
    assert found.group(0).startswith(site.base + "/dashboard/login/")  # CIVICBOT_PUBLIC_URL's address
    context = await site.browser.new_context(viewport=options.pop("viewport", DESKTOP), **options)
    context.set_default_timeout(WAIT_MS)
    await offline(context)
    page = await context.new_page()
    await page.goto(found.group(0))
    if shot:
        await screenshot(page, f"{shot}-login")
    async with page.expect_navigation():
        await page.locator("main form button[type=submit]").click()
    assert page.url == site.base + "/dashboard/", page.url
    return context, page


def downloaded_text(path: Path) -> str:
    """A downloaded CSV's text (UTF-8, its byte order mark dropped)."""
    return path.read_text(encoding="utf-8-sig")


async def figure(page: Page, name: str) -> str:
    return (await page.locator(f"#fig-{name}").inner_text()).strip()


async def set_field(page: Page, name: str, value: str) -> None:
    """A filter field, a select or an input alike."""
    field = page.locator(f"#filters [name={name}]")
    if await field.evaluate("element => element.tagName") == "SELECT":
        await field.select_option(value)
    else:
        await field.fill(value)


async def apply(page: Page) -> None:
    async with page.expect_navigation():
        await page.locator("#apply").click()


# --- the steps ---------------------------------------------------------------------------------------


async def test_an_officer_logs_in_with_the_link_from_the_bot(site: Site) -> None:
    context, page = await log_in(site, BUDI, shot="01")
    await page.locator("#figures-title").wait_for()
    assert await figure(page, "received") == "3"  # DLH's in December, the current month
    await screenshot(page, "02-overview")
    await context.close()


async def test_the_filters_change_the_figures(site: Site) -> None:
    context, page = await log_in(site, BUDI)
    december_title = await page.locator("#figures-title").inner_text()

    await set_field(page, "period", "2026-11")
    await apply(page)
    assert await figure(page, "received") == "5"
    assert await page.locator("#filters [name=period]").input_value() == "2026-11"  # shown back
    title = await page.locator("#figures-title").inner_text()
    assert title != december_title
    await screenshot(page, "03-filter-november")

    await set_field(page, "category", "sampah")
    await apply(page)
    assert await figure(page, "received") == "4"  # the ketertiban one is left out
    assert await page.locator("#filters [name=category]").input_value() == "sampah"
    assert await page.locator("#filters [name=period]").input_value() == "2026-11"
    units = await page.locator("#filters [name=unit] option").all_inner_texts()
    assert not any("Pekerjaan Umum" in unit for unit in units)  # only the units Budi may see
    await screenshot(page, "04-filter-category")
    await context.close()


async def test_charts_and_the_map_are_drawn_without_tiles(site: Site) -> None:
    context, page = await log_in(site, BUDI)
    await page.goto(site.base + "/dashboard/?period=2026-11")
    await page.locator('#trend-chart[data-rendered="1"]').wait_for()
    await page.locator('#sla-chart[data-rendered="1"]').wait_for()
    await page.locator('#map[data-rendered="1"]').wait_for()
    assert await page.locator("#map .leaflet-interactive").count() >= 2  # the hot spots' circles
    assert await page.locator("#map img.leaflet-tile-loaded").count() == 0  # offline: no tile came
    await page.locator("#map .leaflet-interactive").first.click()
    popup = await page.locator(".leaflet-popup-content").inner_text()
    assert re.search(r"\d", popup), popup  # the count (and the top category)
    await screenshot(page, "05-charts-and-map")
    await context.close()


async def test_the_tickets_export_downloads_the_units_tickets_only(site: Site) -> None:
    context, page = await log_in(site, BUDI, accept_downloads=True)
    await page.goto(site.base + "/dashboard/?period=2026-11")
    link = page.locator("#export-tickets")
    assert "period=2026-11" in (await link.get_attribute("href") or "")
    async with page.expect_download() as started:
        await link.click()
    download = await started.value
    assert download.suggested_filename.endswith(".csv")
    text = downloaded_text(await download.path())
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == TICKET_ROW_COLUMNS
    references = {row[0] for row in rows[1:]}
    assert references == set(site.tickets["dlh"]["2026-11"])
    for other in (*site.tickets["dpupr"]["2026-11"], *site.tickets["dpupr"]["2026-12"]):
        assert other not in text
    assert {row[TICKET_ROW_COLUMNS.index("unit")] for row in rows[1:]} == {"dlh"}

    async with page.expect_download() as started:
        await page.locator("#export-figures").click()
    figures = downloaded_text(await (await started.value).path())
    assert "Dinas Lingkungan Hidup" in figures and "Pekerjaan Umum" not in figures
    await screenshot(page, "06-export")
    await context.close()


async def test_the_monthly_report_prints_with_its_charts(site: Site) -> None:
    context, page = await log_in(site, BUDI)
    await page.goto(site.base + "/dashboard/?period=2026-11")
    async with page.expect_navigation():
        await page.locator("#monthly-report").click()
    assert "period=2026-11" in page.url
    await page.locator('#trend-chart[data-rendered="1"]').wait_for()
    await page.emulate_media(media="print")
    await screenshot(page, "12-monthly-report-print")
    await context.close()


async def test_a_ticket_opens_with_its_timeline_and_another_units_ticket_does_not(site: Site) -> None:
    context, page = await log_in(site, BUDI)
    await page.goto(site.base + "/dashboard/?period=2026-11")
    links = page.locator("a.ticket-link")
    assert await links.count() >= 1
    href = await links.first.get_attribute("href") or ""
    assert re.fullmatch(r"/dashboard/tickets/[A-Z]+-\d{4}-[0-9A-Z]{4}", href), href
    async with page.expect_navigation():
        await links.first.click()
    assert await page.locator("#timeline > li").count() >= 1
    await page.goto(f"{site.base}/dashboard/tickets/{site.resolved}")
    assert await page.locator("#timeline > li").count() == 3  # filed, accepted, resolved
    await screenshot(page, "07-ticket-timeline")
    await context.close()

    context, page = await log_in(site, RATNA)  # DPUPR
    response = await page.goto(f"{site.base}/dashboard/tickets/{site.resolved}")
    assert response is not None and response.status == 404
    assert site.resolved not in await page.locator("main").inner_text()  # nothing of the ticket shown
    await screenshot(page, "08-other-unit-404")
    await context.close()


async def test_the_overview_fits_a_phone(site: Site) -> None:
    context, page = await log_in(site, BUDI, viewport=PHONE, is_mobile=True, has_touch=True)
    await page.goto(site.base + "/dashboard/?period=2026-11")
    await page.locator('#trend-chart[data-rendered="1"]').wait_for()
    await page.locator('#map[data-rendered="1"]').wait_for()
    assert await horizontal_overflow(page) <= 0
    assert await figure(page, "received") == "5"
    await screenshot(page, "09-phone-overview")
    await context.close()


async def test_the_transparency_page_renders(site: Site) -> None:
    context = await site.browser.new_context(viewport=DESKTOP)
    await offline(context)
    page = await context.new_page()
    response = await page.goto(site.base + "/transparansi?period=2026-11")
    assert response is not None and response.status == 200
    dlh = page.locator('#month-table tr[data-unit="dlh"]')
    assert "Dinas Lingkungan Hidup" in await dlh.inner_text()
    assert await dlh.locator('[data-figure="received"]').inner_text() == "5"
    dpupr = page.locator('#month-table tr[data-unit="dpupr"] [data-figure="received"]')
    assert await dpupr.inner_text() == "kurang dari 5"  # two complaints: not published
    year = page.locator('#window-table tr[data-unit="dlh"] [data-figure="received"]')
    assert await year.inner_text() == "5"  # December 2025 – November 2026
    for reference in site.tickets["dlh"]["2026-11"]:
        assert reference not in await page.content()
    await screenshot(page, "10-transparency")
    await page.set_viewport_size(PHONE)
    assert await horizontal_overflow(page) <= 0
    await screenshot(page, "11-transparency-phone")
    await page.locator('nav.languages a[hreflang="en"]').click()
    await page.locator("#window-table").wait_for()
    assert "Environment Agency" in await page.locator("#window-table").inner_text()
    await context.close()
