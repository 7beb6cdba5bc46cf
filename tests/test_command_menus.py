"""Staff find their own commands behind Telegram's "/" button: admins their tools, officers theirs,
groups the group commands; someone made admin in chat gets the admin menu within the minute, and
loses it when removed. Through the desk (tests/desk.py) and the real adapter against the fake Bot API.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.channels.telegram import TelegramAdapter, make_bot
from bot.command_menus import StaffMenus
from models.db import Database
from tests.desk import ADMIN, OFFICER, Desk
from tests.fakes.telegram_api import FakeTelegramAPI

NEWCOMER = "6666"


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
async def menus(api: FakeTelegramAPI, db: Database, desk: Desk) -> AsyncIterator[StaffMenus]:
    bot = make_bot(api.token, api.base_url)
    texts = desk.pipeline.deps.texts
    yield StaffMenus(db, TelegramAdapter(bot), lambda command, lang: texts.plain(f"commands.{command}", lang))
    await bot.session.close()


def menu(api: FakeTelegramAPI, scope: dict[str, object], language: str = "") -> dict[str, str]:
    """What a chat of this scope shows behind "/" (command → description); {} for the default menu."""
    key = json.dumps([scope, language], sort_keys=True)
    return {c["command"]: c["description"] for c in api.commands.get(key, [])}


def private(user_id: str) -> dict[str, object]:
    return {"type": "chat", "chat_id": int(user_id)}


async def test_admins_officers_and_groups_each_get_their_own_menu(
    api: FakeTelegramAPI, menus: StaffMenus
) -> None:
    await menus.start()
    admin = menu(api, private(ADMIN))
    assert {"siaran", "petugas", "cari", "tambah_admin", "hapus_admin", "jeda"} <= admin.keys()
    assert admin["siaran"] == "Kirim pengumuman (admin)"
    assert "broadcast" in menu(api, private(ADMIN), "en") and "siaran" not in menu(api, private(ADMIN), "en")
    officer = menu(api, private(OFFICER))
    assert {"tugas", "antrian", "detail"} <= officer.keys()
    assert not {"siaran", "tambah_admin"} & officer.keys()  # no tools they cannot use
    groups = menu(api, {"type": "all_group_chats"})
    assert groups.keys() == {"antrian", "link", "help"}
    assert menu(api, {"type": "all_group_chats"}, "en")["queue"] == "The unit's ticket queue"


async def test_an_admin_added_in_chat_gets_the_menu_and_loses_it_when_removed(
    api: FakeTelegramAPI, menus: StaffMenus, desk: Desk
) -> None:
    await menus.start()
    assert menu(api, private(NEWCOMER)) == {}  # a citizen: the default menu
    await desk.say(ADMIN, ADMIN, f"/tambah_admin {NEWCOMER}")
    assert await menus.refresh() == 1  # the minute's refresh
    assert "tambah_admin" in menu(api, private(NEWCOMER))
    assert await menus.refresh() == 0  # nothing changed: no calls
    await desk.say(ADMIN, ADMIN, f"/hapus_admin {NEWCOMER}")
    await menus.refresh()
    assert menu(api, private(NEWCOMER)) == {} and menu(api, private(NEWCOMER), "en") == {}
