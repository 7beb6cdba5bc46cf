"""Admins in private chat: the menu, adding and removing admins, officers per unit, ticket search.

The `desk` fixture (tests/conftest.py): ADMIN from the settings, the DLH group linked, a DLH officer
(Pak Budi, joined by invite) and the DLH head (Bu Kepala), a DPUPR officer (OUTSIDER).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import select

from models import Role, Staff
from models.db import Database
from tests.desk import ADMIN, GROUP, OFFICER, OUTSIDER, STRANGER, Desk, texts
from tests.dialog import Dialog
from tests.test_intake_dialog import file_rubbish_complaint
from workflows.clock import FrozenClock
from workflows.staff import ensure_admins

NEWCOMER = "6666"  # started the bot as a citizen, then made an admin
ABSENT = "6777"  # never talked to the bot


async def role_of(db: Database, user_id: str) -> str | None:
    """The person's role if they are active staff."""
    async with db.sessions() as session:
        staff = (await session.exec(select(Staff).where(Staff.user_id == user_id))).first()
    return staff.role if staff is not None and staff.active else None


async def invite_code(desk: Desk, args: str) -> str:
    reply = texts(await desk.say(ADMIN, ADMIN, f"/undang {args}"))
    code = re.search(r"<code>([A-Z0-9-]+)</code>", reply)
    assert code, reply
    return code.group(1)


async def test_the_admin_menu_names_the_admin_commands(desk: Desk) -> None:
    menu = texts(await desk.say(ADMIN, ADMIN, "/admin"))
    for command in ("/petugas", "/cari", "/tambah_admin", "/hapus_admin", "/undang", "/jeda", "/unit"):
        assert command in menu, command
    assert texts(await desk.say(ADMIN, ADMIN, "/adm")) == menu


async def test_an_admin_adds_an_admin_who_can_then_use_admin_commands(
    desk: Desk, db: Database, citizen: Callable[..., Dialog]
) -> None:
    await citizen(NEWCOMER).say("/start")  # has started the bot
    assert "tidak dikenal" in texts(await desk.say(NEWCOMER, NEWCOMER, "/petugas"))

    added = texts(await desk.say(ADMIN, ADMIN, f"/tambah_admin {NEWCOMER}"))
    assert f"ID {NEWCOMER} sekarang admin" in added and "sudah diberi tahu" in added
    welcome = texts(desk.new(NEWCOMER))
    assert "Anda sekarang admin" in welcome and "oleh Petugas" in welcome and "/admin" in welcome
    assert await role_of(db, NEWCOMER) == Role.ADMIN

    officers = texts(await desk.say(NEWCOMER, NEWCOMER, "/petugas"))
    assert "Pak Budi" in officers and "Perintah ini hanya untuk admin" not in officers
    assert "<code>" in texts(await desk.say(NEWCOMER, NEWCOMER, "/undang dpupr"))  # a code was made
    assert "sudah admin" in texts(await desk.say(ADMIN, ADMIN, f"/add_admin {NEWCOMER}"))


async def test_someone_who_never_started_the_bot_is_made_admin_but_not_messaged(
    desk: Desk, db: Database
) -> None:
    added = texts(await desk.say(ADMIN, ADMIN, f"/tambah_admin {ABSENT}"))
    assert "belum pernah memulai bot" in added and "/start" in added
    assert await role_of(db, ABSENT) == Role.ADMIN
    assert not desk.new(ABSENT)  # a bot cannot write first to someone who never wrote to it
    assert "Tulis /tambah_admin diikuti ID" in texts(await desk.say(ADMIN, ADMIN, "/tambah_admin @budi"))


async def test_an_admin_from_the_settings_cannot_be_removed_in_chat(desk: Desk, db: Database) -> None:
    await desk.say(ADMIN, ADMIN, f"/tambah_admin {NEWCOMER}")
    refused = texts(await desk.say(NEWCOMER, NEWCOMER, f"/hapus_admin {ADMIN}"))
    assert "CIVICBOT_ADMIN_IDS" in refused and "tidak dapat dicabut" in refused
    assert await role_of(db, ADMIN) == Role.ADMIN
    assert "Unit" in texts(await desk.say(ADMIN, ADMIN, "/unit"))  # still an admin


async def test_the_last_admin_cannot_be_removed(desk: Desk, db: Database, clock: FrozenClock) -> None:
    await desk.say(ADMIN, ADMIN, f"/tambah_admin {NEWCOMER}")
    async with db.transaction() as session:  # the settings no longer name ADMIN (restarted without)
        await ensure_admins(session=session, channel="telegram", user_ids=[], now=clock.now())
    assert "bukan admin lagi" in texts(await desk.say(NEWCOMER, NEWCOMER, f"/remove_admin {ADMIN}"))
    assert await role_of(db, ADMIN) is None
    assert "tidak dikenal" in texts(await desk.say(ADMIN, ADMIN, "/petugas"))  # no longer staff

    refused = texts(await desk.say(NEWCOMER, NEWCOMER, f"/hapus_admin {NEWCOMER}"))
    assert "admin terakhir" in refused
    assert await role_of(db, NEWCOMER) == Role.ADMIN
    assert "bukan admin" in texts(await desk.say(NEWCOMER, NEWCOMER, f"/hapus_admin {OFFICER}"))
    assert await role_of(db, OFFICER) == Role.OFFICER  # an officer is not touched by /hapus_admin


async def test_a_non_admin_is_refused(desk: Desk, db: Database, citizen: Callable[..., Dialog]) -> None:
    reference = await file_rubbish_complaint(citizen())
    for command in (
        "/admin",
        "/petugas",
        f"/cari {reference}",
        f"/tambah_admin {OFFICER}",
        "/hapus_admin 9001",
    ):
        refused = texts(await desk.say(OFFICER, OFFICER, command))
        assert "Perintah ini hanya untuk admin" in refused, command
        assert reference not in refused and "Pak Budi" not in refused
    assert await role_of(db, OFFICER) == Role.OFFICER and await role_of(db, ADMIN) == Role.ADMIN
    # someone who is not staff is not even told the commands exist
    for command in ("/admin", f"/cari {reference}", f"/tambah_admin {STRANGER}"):
        assert "tidak dikenal" in texts(await desk.say(STRANGER, STRANGER, command)), command
    assert await role_of(db, STRANGER) is None


async def test_officers_are_listed_with_invite_counts_but_never_the_codes(
    desk: Desk, clock: FrozenClock
) -> None:
    codes = [await invite_code(desk, "dlh"), await invite_code(desk, "dlh kepala")]
    clock.advance(timedelta(days=1))
    codes.append(await invite_code(desk, "dpupr"))

    listing = texts(await desk.say(ADMIN, ADMIN, "/petugas"))
    dlh = listing[listing.index("<code>dlh</code>") : listing.index("<code>dpupr</code>")]
    assert "Pak Budi (ID 7001) — petugas" in dlh and "Bu Kepala (ID 7002) — kepala unit" in dlh
    assert "2 kode undangan berlaku" in dlh and "30/11/2026 09:00" in dlh  # 7 days after they were made
    dpupr = listing[listing.index("<code>dpupr</code>") :]
    assert f"ID {OUTSIDER} — petugas" in dpupr and "1 kode undangan berlaku" in dpupr
    assert "01/12/2026 09:00" in dpupr
    assert f"ID {ADMIN} — admin" in listing[listing.index("<b>Admin</b>") :]
    for code in codes:
        assert code not in listing and code.replace("-", "") not in listing

    one = texts(await desk.say(ADMIN, ADMIN, "/officers dpupr"))
    assert "1 kode undangan berlaku" in one and "Pak Budi" not in one and "<code>dlh</code>" not in one
    clock.advance(timedelta(days=6, minutes=1))  # the DLH codes have expired, DPUPR's not yet
    later = texts(await desk.say(ADMIN, ADMIN, "/petugas dlh"))
    assert "Tidak ada kode undangan yang berlaku" in later
    assert "Unit itu tidak dikenal" in texts(await desk.say(ADMIN, ADMIN, "/petugas dinas_x"))


async def test_find_shows_any_units_ticket_to_an_admin_without_the_reporter(
    desk: Desk, citizen: Callable[..., Dialog]
) -> None:
    reference = await file_rubbish_complaint(citizen())
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")

    found = texts(await desk.say(ADMIN, ADMIN, f"/cari {reference.lower()}"))
    assert f"<b>{reference}</b>" in found and "Sedang dikerjakan" in found
    assert "Dinas Lingkungan Hidup" in found and "Pak Budi" in found
    assert "Batas penyelesaian: 27/11/2026 15:00" in found  # the resolution clock runs
    assert "pengaduan masuk" in found and "diterima" in found  # the history
    assert "Sampah di TPS Jl. Melati" in found
    assert "Siti Warga" not in found and "-6.2001" not in found and "maps.google" not in found
    assert f"/detail {reference}" in found
    # an officer of another unit gets nothing; an unknown reference is said so
    assert reference not in texts(await desk.say(OUTSIDER, OUTSIDER, f"/cari {reference}"))
    missing = reference[:-4] + ("ZZZZ" if not reference.endswith("ZZZZ") else "YYYY")
    assert "tidak ditemukan" in texts(await desk.say(ADMIN, ADMIN, f"/find {missing}"))
    assert "Tulis /cari diikuti nomor tiket" in texts(await desk.say(ADMIN, ADMIN, "/cari"))
