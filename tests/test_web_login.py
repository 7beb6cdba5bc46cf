"""Staff log in to the dashboard with a one-time link from the bot; sessions, CSRF, who sees what.

The `desk` fixture (tests/conftest.py): ADMIN, the DLH officer Pak Budi (OFFICER), the DLH head
(HEAD), a DPUPR officer (OUTSIDER), a citizen (STRANGER). The dashboard runs on the bot's web server
(bot/web.py) in aiohttp's test server; a small `Browser` keeps the cookies as a browser would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.dashboard import NavItem, add_nav, csrf_token, dashboard_app, viewer
from bot.health import Health
from bot.metrics import Metrics
from bot.settings import Settings
from bot.web import WebServer
from handlers.context import Deps
from models import OutboxMessage, OutboxStatus, Role, Staff, WebLoginToken, WebSession
from models.db import Database
from tests.desk import ADMIN, HEAD, OFFICER, OUTSIDER, STRANGER, Desk, texts
from workflows.city_config import CityConfig
from workflows.clock import FrozenClock
from workflows.staff import add_staff
from workflows.web_login import Viewer

PUBLIC = "https://pengaduan.kota.example.go.id"
LINK = re.compile(re.escape(PUBLIC) + r"(/dashboard/login/[A-Za-z0-9_-]+)")
QUALITY = "7700"  # made a quality manager by the admin in chat
NASTY = "7900"  # an officer whose Telegram name is markup


@pytest.fixture
def deps(deps: Deps) -> Deps:
    return dataclasses.replace(deps, dashboard_url=PUBLIC + "/dashboard")


def probe(app: web.Application) -> None:
    """A page as the pages builder adds them: a protected POST and a navigation entry."""

    async def done(request: web.Request) -> web.Response:
        return web.Response(text=f"done for {viewer(request).name}")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=csrf_token(request))

    app.router.add_post("/probe", done, name="probe")
    app.router.add_get("/probe", page, name="probe_page")
    add_nav(app, NavItem("probe_page", "dashboard.nav.label"))


@pytest.fixture
async def client(db: Database, deps: Deps) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    settings = Settings(_env_file=None, CIVICBOT_PUBLIC_URL=PUBLIC)  # type: ignore[call-arg]
    server = WebServer("127.0.0.1", 0, Health(db), Metrics(db, {}))
    server.add_dashboard(dashboard_app(db=db, deps=deps, settings=settings, registrars=[probe]))
    async with TestClient(TestServer(server.app), cookie_jar=DummyCookieJar()) as test_client:
        yield test_client


class Browser:
    """Cookies kept per name (all of the dashboard's have Path=/dashboard), sent with each request."""

    def __init__(self, client: TestClient[web.Request, web.Application]) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []  # every Set-Cookie header received

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, str, dict[str, str]]:
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        async with self.client.request(
            method, path, headers=headers, allow_redirects=False, **kwargs
        ) as response:
            body = await response.text()
            for header in response.headers.getall("Set-Cookie", []):
                self.set_cookies.append(header)
                for name, morsel in SimpleCookie(header).items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return response.status, body, dict(response.headers)

    async def get(self, path: str, **kwargs: object) -> tuple[int, str, dict[str, str]]:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: object) -> tuple[int, str, dict[str, str]]:
        return await self.request("POST", path, **kwargs)

    async def csrf(self) -> str:
        status, body, _ = await self.get("/dashboard/probe")
        assert status == 200, body
        return body


async def link_for(desk: Desk, user_id: str, command: str = "/dasbor") -> str:
    """The path of the login link the bot sends the person."""
    reply = texts(await desk.say(user_id, user_id, command))
    found = LINK.search(reply)
    assert found, reply
    return found.group(1)


async def logged_in(desk: Desk, client: TestClient[web.Request, web.Application], user_id: str) -> Browser:
    browser = Browser(client)
    status, _, headers = await browser.post(await link_for(desk, user_id))
    assert status == 303 and headers["Location"] == "/dashboard/"
    return browser


async def make_staff(
    db: Database, clock: FrozenClock, user_id: str, role: Role, unit: str | None, name: str
) -> None:
    async with db.transaction() as session:
        await add_staff(
            session=session,
            channel="telegram",
            user_id=user_id,
            role=role,
            unit=unit,
            now=clock.now(),
            display_name=name,
        )


# --- the bot command --------------------------------------------------------------------------------


async def test_staff_get_a_one_time_link_and_others_a_polite_refusal_in_their_language(desk: Desk) -> None:
    reply = texts(await desk.say(OFFICER, OFFICER, "/dasbor"))
    assert LINK.search(reply) and "10 menit" in reply and "satu kali" in reply
    assert "09:10" in reply  # valid until: Monday 09:00 Jakarta time + 10 minutes

    await desk.press(OFFICER, OFFICER, "m|lang:en")
    desk.new(OFFICER)
    english = texts(await desk.say(OFFICER, OFFICER, "/dashboard"))
    assert LINK.search(english) and "10 minutes" in english and "works once" in english
    assert LINK.search(english).group(1) != LINK.search(reply).group(1)  # type: ignore[union-attr]

    refused = texts(await desk.say(STRANGER, STRANGER, "/dasbor"))
    assert "dasbor hanya untuk petugas" in refused and "/lapor" in refused and "/dashboard/" not in refused
    await desk.press(STRANGER, STRANGER, "m|lang:en")
    desk.new(STRANGER)
    refused_en = texts(await desk.say(STRANGER, STRANGER, "/dashboard"))
    assert "only for the complaint desk's staff" in refused_en and "/dashboard/" not in refused_en


async def test_only_the_tokens_hash_is_stored(desk: Desk, db: Database) -> None:
    path = await link_for(desk, OFFICER)
    token = path.rsplit("/", 1)[1]
    async with db.sessions() as session:
        rows = list(await session.exec(select(WebLoginToken)))
    assert [row.token_hash for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    # the message that carried the link is sent: the outbox keeps no copy of the token either
    async with db.sessions() as session:
        sent = list(await session.exec(select(OutboxMessage)))
    assert sent and all(row.status == OutboxStatus.SENT for row in sent)
    assert not [row for row in sent if token in str(row.payload)]


# --- the link ---------------------------------------------------------------------------------------


async def test_opening_the_link_does_not_use_it_and_pressing_log_in_does(
    desk: Desk, client: TestClient[web.Request, web.Application], db: Database
) -> None:
    path = await link_for(desk, OFFICER)
    browser = Browser(client)
    for _ in range(2):  # Telegram's link preview, then the person
        status, page, _ = await browser.get(path)
        assert status == 200 and '<form method="post">' in page and ">Masuk</button>" in page
    assert not browser.cookies

    status, _, headers = await browser.post(path)
    assert status == 303 and headers["Location"] == "/dashboard/"
    cookie = next(c for c in browser.set_cookies if c.startswith("civicbot_session="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "path=/dashboard", "samesite=lax", "max-age=43200"} <= flags
    async with db.sessions() as session:
        stored = list(await session.exec(select(WebSession)))
    token = browser.cookies["civicbot_session"]
    assert [s.token_hash for s in stored] == [hashlib.sha256(token.encode()).hexdigest()]

    status, home, _ = await browser.get("/dashboard/")
    assert status == 200 and "Selamat datang, Pak Budi." in home and "Keluar" in home


async def test_a_link_works_once(desk: Desk, client: TestClient[web.Request, web.Application]) -> None:
    path = await link_for(desk, OFFICER)
    first, second = Browser(client), Browser(client)
    assert (await first.post(path))[0] == 303
    status, page, _ = await second.post(path)
    assert status == 410 and "sudah kedaluwarsa atau sudah digunakan" in page and "/dasbor" in page
    assert "civicbot_session" not in second.cookies
    assert (await second.get(path))[0] == 410  # no "Log in" button for a used link either
    assert (await first.get("/dashboard/"))[0] == 200


async def test_a_link_expires_after_ten_minutes(
    desk: Desk, client: TestClient[web.Request, web.Application], clock: FrozenClock
) -> None:
    path = await link_for(desk, OFFICER)
    browser = Browser(client)
    clock.advance(timedelta(minutes=9, seconds=59))
    assert (await browser.get(path))[0] == 200
    clock.advance(timedelta(seconds=1))
    status, page, _ = await browser.get(path)
    assert status == 410 and "Tautan tidak berlaku lagi" in page and "10 menit" in page
    assert (await browser.post(path))[0] == 410 and not browser.cookies


async def test_a_link_posted_from_another_site_is_refused_and_left_unused(
    desk: Desk, client: TestClient[web.Request, web.Application]
) -> None:
    """Login CSRF: a staff member's own link, posted by their page from the victim's browser, would log
    the victim in as them (and end the victim's session)."""
    path = await link_for(desk, OFFICER)
    victim = await logged_in(desk, client, HEAD)
    for site in ("cross-site", "same-site"):
        status, page, _ = await victim.post(path, headers={"Sec-Fetch-Site": site})
        assert status == 403 and "Formulir ini sudah tidak berlaku" in page
    _, page, _ = await victim.get("/dashboard/")
    assert "kepala unit" in page  # still the head's own session
    status, _, headers = await Browser(client).post(path, headers={"Sec-Fetch-Site": "same-origin"})
    assert status == 303 and headers["Location"] == "/dashboard/"  # the link still works for its owner


async def test_a_made_up_or_malformed_token_gets_nothing(
    client: TestClient[web.Request, web.Application],
) -> None:
    browser = Browser(client)
    status, page, _ = await browser.post("/dashboard/login/" + "A" * 43)
    assert status == 410 and "Tautan tidak berlaku lagi" in page and not browser.cookies
    status, _, headers = await browser.get("/dashboard/login/<script>")  # no such route: how to log in
    assert status == 303 and headers["Location"] == "/dashboard/login" and not browser.cookies


# --- sessions ---------------------------------------------------------------------------------------


async def test_without_a_session_pages_lead_to_how_to_log_in(
    client: TestClient[web.Request, web.Application],
) -> None:
    browser = Browser(client)
    status, _, headers = await browser.get("/dashboard")
    assert status == 301 and headers["Location"] == "/dashboard/"
    status, _, headers = await browser.get("/dashboard/")
    assert status == 303 and headers["Location"] == "/dashboard/login"
    status, page, _ = await browser.get("/dashboard/login")
    assert status == 200 and "<b>/dasbor</b>" in page and "10 menit" in page and "Keluar" not in page
    status, page, _ = await browser.post("/dashboard/probe", data={"csrf": "x"})
    assert status == 403 and "Sesi Anda telah berakhir" in page


async def test_a_session_ends_after_its_lifetime(
    desk: Desk, client: TestClient[web.Request, web.Application], clock: FrozenClock, db: Database
) -> None:
    browser = await logged_in(desk, client, OFFICER)
    clock.advance(timedelta(hours=11, minutes=59))
    assert (await browser.get("/dashboard/"))[0] == 200
    clock.advance(timedelta(minutes=1))
    status, _, headers = await browser.get("/dashboard/")
    assert status == 303 and headers["Location"] == "/dashboard/login"
    async with db.sessions() as session:
        assert not list(await session.exec(select(WebSession)))  # forgotten, not just refused


async def test_logging_out_ends_the_session(
    desk: Desk, client: TestClient[web.Request, web.Application]
) -> None:
    browser = await logged_in(desk, client, OFFICER)
    cookie = browser.cookies["civicbot_session"]
    status, _, headers = await browser.post("/dashboard/logout", data={"csrf": await browser.csrf()})
    assert status == 303 and headers["Location"] == "/dashboard/login?out=1"
    assert "civicbot_session" not in browser.cookies
    status, page, _ = await browser.get("/dashboard/login?out=1")
    assert "Anda telah keluar." in page

    browser.cookies["civicbot_session"] = cookie  # the old cookie, kept by someone: worth nothing
    assert (await browser.get("/dashboard/"))[0] == 303


async def test_a_new_log_in_replaces_the_browsers_earlier_session(
    desk: Desk, client: TestClient[web.Request, web.Application], db: Database
) -> None:
    browser = await logged_in(desk, client, OFFICER)
    earlier = browser.cookies["civicbot_session"]
    assert (await browser.post(await link_for(desk, OFFICER)))[0] == 303
    assert browser.cookies["civicbot_session"] != earlier
    async with db.sessions() as session:
        assert len(list(await session.exec(select(WebSession)))) == 1


async def test_a_post_without_the_csrf_token_is_refused(
    desk: Desk, client: TestClient[web.Request, web.Application]
) -> None:
    browser = await logged_in(desk, client, OFFICER)
    csrf = await browser.csrf()
    for extra in ({}, {"data": {"csrf": "forged"}}, {"headers": {"X-CSRF-Token": csrf[:-1] + "x"}}):
        status, page, _ = await browser.post("/dashboard/logout", **extra)
        assert status == 403 and "Formulir ini sudah tidak berlaku" in page, extra
        assert (await browser.post("/dashboard/probe", **extra))[0] == 403
    assert (await browser.get("/dashboard/"))[0] == 200  # still logged in
    status, body, _ = await browser.post("/dashboard/probe", headers={"X-CSRF-Token": csrf})
    assert status == 200 and body == "done for Pak Budi"
    assert (await browser.post("/dashboard/probe", data={"csrf": csrf}))[0] == 200


async def test_a_deactivated_or_moved_staff_members_session_stops_working(
    desk: Desk, client: TestClient[web.Request, web.Application], db: Database, clock: FrozenClock
) -> None:
    await desk.say(ADMIN, ADMIN, f"/tambah_kualitas {QUALITY}")
    quality = await logged_in(desk, client, QUALITY)
    officer = await logged_in(desk, client, OFFICER)
    assert (await quality.get("/dashboard/"))[0] == 200

    removed = texts(await desk.say(ADMIN, ADMIN, f"/hapus_kualitas {QUALITY}"))
    assert "bukan manajer kualitas layanan lagi" in removed
    assert (await quality.get("/dashboard/"))[0] == 303

    await make_staff(db, clock, OFFICER, Role.OFFICER, "dpupr", "Pak Budi")  # moved to another unit
    assert (await officer.get("/dashboard/"))[0] == 303


async def test_a_session_refused_meanwhile_does_not_come_back_when_the_person_is_staff_again(
    desk: Desk, client: TestClient[web.Request, web.Application], db: Database, clock: FrozenClock
) -> None:
    await desk.say(ADMIN, ADMIN, f"/tambah_kualitas {QUALITY}")
    quality = await logged_in(desk, client, QUALITY)
    officer = await logged_in(desk, client, OFFICER)
    unchanged = await logged_in(desk, client, HEAD)

    # removed, then made a quality manager again before the old browser came back
    await desk.say(ADMIN, ADMIN, f"/hapus_kualitas {QUALITY}")
    await desk.say(ADMIN, ADMIN, f"/tambah_kualitas {QUALITY}")
    assert (await quality.get("/dashboard/"))[0] == 303
    # moved to another unit and back, likewise
    await make_staff(db, clock, OFFICER, Role.OFFICER, "dpupr", "Pak Budi")
    await make_staff(db, clock, OFFICER, Role.OFFICER, "dlh", "Pak Budi")
    assert (await officer.get("/dashboard/"))[0] == 303
    # added again with the same role and unit: nothing ended
    await make_staff(db, clock, HEAD, Role.SUPERVISOR, "dlh", "Bu Kepala")
    assert (await unchanged.get("/dashboard/"))[0] == 200


async def test_a_post_body_that_cannot_be_read_is_refused_not_an_error(
    desk: Desk, client: TestClient[web.Request, web.Application]
) -> None:
    browser = await logged_in(desk, client, OFFICER)
    for body, media in (
        (b"--x\r\n", "multipart/form-data"),  # no boundary
        (b"csrf=\xff\xfe", "application/x-www-form-urlencoded"),  # not UTF-8
    ):
        status, page, _ = await browser.post("/dashboard/probe", data=body, headers={"Content-Type": media})
        assert status == 403 and "Formulir ini sudah tidak berlaku" in page, media
    # a CSRF header of bytes that are not UTF-8 (only a hand-made request can send one)
    reader, writer = await asyncio.open_connection(client.host, client.port)
    cookie = browser.cookies["civicbot_session"].encode()
    writer.write(
        b"POST /dashboard/probe HTTP/1.1\r\nHost: x\r\nCookie: civicbot_session="
        + cookie
        + b"\r\nX-CSRF-Token: \xe9\xff\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 403"), answer[:40]


# --- who sees what ----------------------------------------------------------------------------------


def test_officers_and_heads_see_their_unit_quality_managers_and_admins_every_unit(city: CityConfig) -> None:
    officer = Viewer(staff_id=1, name="Pak Budi", role=Role.OFFICER, unit="dlh", language="id")
    head = dataclasses.replace(officer, role=Role.SUPERVISOR)
    quality = Viewer(staff_id=2, name="Bu Mutu", role=Role.QUALITY, unit=None, language="id")
    admin = dataclasses.replace(quality, role=Role.ADMIN)
    for unit_person in (officer, head):
        assert unit_person.visible_units(city) == frozenset({"dlh"})
        assert unit_person.may_see("dlh") and not unit_person.may_see("dpupr")
        assert not unit_person.read_only
    for everyone in (quality, admin):
        assert everyone.visible_units(city) is None
        assert all(everyone.may_see(unit) for unit in city.units)
    assert quality.read_only and not admin.read_only
    lost = dataclasses.replace(officer, unit=None)  # an officer without a unit sees nothing
    assert lost.visible_units(city) == frozenset() and not lost.may_see("dlh")


async def test_the_home_page_lists_the_units_the_viewer_sees(
    desk: Desk, client: TestClient[web.Request, web.Application], city: CityConfig
) -> None:
    others = [html.escape(unit.name.get("id")) for key, unit in city.units.items() if key != "dlh"]
    _, page, _ = await (await logged_in(desk, client, HEAD)).get("/dashboard/")
    assert "Dinas Lingkungan Hidup" in page and "kepala unit" in page
    assert not any(name in page for name in others)

    added = texts(await desk.say(ADMIN, ADMIN, f"/tambah_kualitas {QUALITY}"))
    assert "sekarang manajer kualitas layanan" in added
    _, page, _ = await (await logged_in(desk, client, QUALITY)).get("/dashboard/")
    assert all(html.escape(unit.name.get("id")) in page for unit in city.units.values())
    assert "manajer kualitas layanan" in page and "hanya-baca" in page


# --- quality managers in chat ----------------------------------------------------------------------


async def test_admins_make_and_unmake_quality_managers_in_chat(desk: Desk, db: Database) -> None:
    await desk.say(QUALITY, QUALITY, "/start")
    desk.new(QUALITY)
    assert "sekarang manajer kualitas layanan" in texts(
        await desk.say(ADMIN, ADMIN, f"/tambah_kualitas {QUALITY}")
    )
    assert "/dasbor" in texts(desk.new(QUALITY))  # told, with how to log in
    assert "sudah menjadi" in texts(await desk.say(ADMIN, ADMIN, f"/add_quality {QUALITY}"))
    assert "adalah admin" in texts(await desk.say(ADMIN, ADMIN, f"/tambah_kualitas {ADMIN}"))
    assert "Perintah ini hanya untuk admin" in texts(
        await desk.say(OUTSIDER, OUTSIDER, f"/tambah_kualitas {STRANGER}")
    )
    assert "/dasbor" in texts(await desk.say(QUALITY, QUALITY, "/antrian"))  # no unit: the dashboard instead
    async with db.sessions() as session:
        quality = (await session.exec(select(Staff).where(Staff.user_id == QUALITY))).one()
        admin = (await session.exec(select(Staff).where(Staff.user_id == ADMIN))).one()
    assert quality.role == Role.QUALITY and quality.unit is None and admin.role == Role.ADMIN
    assert "bukan manajer kualitas" in texts(await desk.say(ADMIN, ADMIN, f"/hapus_kualitas {OFFICER}"))


# --- pages -----------------------------------------------------------------------------------------


async def test_user_supplied_text_is_escaped(
    desk: Desk, client: TestClient[web.Request, web.Application], db: Database, clock: FrozenClock
) -> None:
    await make_staff(db, clock, NASTY, Role.OFFICER, "dlh", '<script>alert("x")</script>')
    _, page, _ = await (await logged_in(desk, client, NASTY)).get("/dashboard/")
    assert "<script>alert" not in page
    assert "Selamat datang, &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;." in page


async def test_both_languages_render_and_the_choice_is_remembered(
    desk: Desk, client: TestClient[web.Request, web.Application]
) -> None:
    browser = await logged_in(desk, client, OFFICER)
    _, page, _ = await browser.get("/dashboard/")
    assert '<html lang="id">' in page and "Beranda" in page and "Keluar" in page
    _, page, _ = await browser.get("/dashboard/?lang=en")
    assert (
        '<html lang="en">' in page and "Home" in page and "Log out" in page and "Welcome, Pak Budi." in page
    )
    _, page, _ = await browser.get("/dashboard/")  # remembered in a cookie
    assert '<html lang="en">' in page
    _, page, _ = await browser.get("/dashboard/login?lang=id")
    assert '<html lang="id">' in page and "Untuk masuk" in page

    await desk.press(HEAD, HEAD, "m|lang:en")  # chats in English: the dashboard follows
    _, page, _ = await (await logged_in(desk, client, HEAD)).get("/dashboard/")
    assert '<html lang="en">' in page and "unit head" in page


async def test_security_headers_navigation_and_the_stylesheet(
    desk: Desk, client: TestClient[web.Request, web.Application]
) -> None:
    browser = Browser(client)
    for path in ("/dashboard/login", await link_for(desk, OFFICER)):
        _, _, headers = await browser.get(path)
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
    _, _, headers = await browser.get("/dashboard/")  # a redirect carries them too
    assert headers["X-Frame-Options"] == "DENY"

    status, css, headers = await browser.get("/dashboard/static/dashboard.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css") and "@media" in css

    logged = await logged_in(desk, client, OFFICER)
    _, page, _ = await logged.get("/dashboard/")
    assert 'href="/dashboard/" aria-current="page">Beranda' in page  # the home entry, current
    assert 'href="/dashboard/probe">Halaman' in page  # a registrar's entry
    assert 'name="viewport"' in page and 'href="/dashboard/static/dashboard.css"' in page


def test_the_command_menus_offer_the_dashboard_and_quality_managers_get_their_own() -> None:
    from handlers.command_menus import menu_for

    for role in (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN):
        assert "dasbor" in menu_for(role)["id"] and "dashboard" in menu_for(role)["en"]
    quality = menu_for(Role.QUALITY)
    assert "dasbor" in quality["id"] and not {"tugas", "antrian", "siaran"} & set(quality["id"])


def test_the_public_url_setting() -> None:
    assert Settings(_env_file=None).dashboard_url == "http://localhost:8080/dashboard"  # type: ignore[call-arg]
    given = Settings(_env_file=None, CIVICBOT_PUBLIC_URL="https://aduan.example.go.id/")  # type: ignore[call-arg]
    assert given.dashboard_url == "https://aduan.example.go.id/dashboard"
    for wrong in ("aduan.example.go.id", "ftp://aduan.example.go.id", "https://aduan.example.go.id/?x=1"):
        with pytest.raises(ValueError, match="CIVICBOT_PUBLIC_URL"):
            Settings(_env_file=None, CIVICBOT_PUBLIC_URL=wrong)  # type: ignore[call-arg]
