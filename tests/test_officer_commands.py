"""Officers and admins in their private chats and groups: invites, /link, queues, pauses, prompts.

The `desk` fixture (tests/conftest.py): an admin, the DLH group linked, a DLH officer joined by
invite and the DLH head, a DPUPR officer (OUTSIDER).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import col, select

from handlers.messages import OutText
from models import InviteCode, Staff, Ticket, TicketEvent
from models.db import Database
from tests.desk import ADMIN, GROUP, HEAD, OFFICER, OUTSIDER, STRANGER, Desk, texts
from tests.dialog import Dialog
from tests.test_intake_dialog import REFERENCE, file_rubbish_complaint
from workflows.clock import FrozenClock

NEW_GROUP = "-100800"  # a group someone wants linked to DPUPR
NEWCOMER = "6666"  # joins by invite in these tests


async def invite(desk: Desk, args: str) -> str:
    """An admin's /undang; returns the code shown."""
    reply = texts(await desk.say(ADMIN, ADMIN, f"/undang {args}"))
    code = re.search(r"<code>([A-Z0-9-]+)</code>", reply)
    assert code, reply
    return code.group(1)


async def staff_of(db: Database, user_id: str) -> Staff | None:
    async with db.sessions() as session:
        return (await session.exec(select(Staff).where(Staff.user_id == user_id))).first()


async def ticket(db: Database, reference: str) -> Ticket:
    async with db.sessions() as session:
        return (await session.exec(select(Ticket).where(Ticket.reference == reference))).one()


async def events_of(db: Database, reference: str) -> list[str]:
    found = await ticket(db, reference)
    async with db.sessions() as session:
        query = select(TicketEvent).where(TicketEvent.ticket_id == found.id).order_by(col(TicketEvent.id))
        return [e.action for e in await session.exec(query)]


async def file_road_complaint(warga: Dialog, latitude: float = -6.2001) -> str:
    """A DPUPR ticket; citizens filing at the same spot would be offered "ikut melapor" instead."""
    await warga.press_payload("m|new")
    await warga.press("Jalan")
    await warga.say("Jalan berlubang besar di depan SD Negeri 3, sudah ada yang jatuh")
    await warga.share_location(latitude, 106.8167)
    await warga.press("Lewati")
    await warga.press("Publik")
    await warga.press("Kirim pengaduan")
    assert "Pengaduan terkirim" in warga.text, warga.text
    match = REFERENCE.search(warga.text)
    assert match, warga.text
    return match.group(0)


# --- invites --------------------------------------------------------------------------------------


async def test_an_invite_code_works_once(desk: Desk, db: Database) -> None:
    code = await invite(desk, "dlh")
    # the code is read aloud or typed: case and the dash do not matter
    joined = texts(
        await desk.say(NEWCOMER, NEWCOMER, f"/join {code.replace('-', '').lower()}", name="Mas Adi")
    )
    assert "Selamat bergabung" in joined and "petugas" in joined and "Dinas Lingkungan Hidup" in joined
    newcomer = await staff_of(db, NEWCOMER)
    assert newcomer is not None and (newcomer.unit, newcomer.role) == ("dlh", "officer")

    again = texts(await desk.say(STRANGER, STRANGER, f"/join {code}"))
    assert "Kode itu tidak berlaku" in again and "Minta kode baru" in again
    assert await staff_of(db, STRANGER) is None
    async with db.sessions() as session:
        used = (await session.exec(select(InviteCode).where(col(InviteCode.used_by) == NEWCOMER))).one()
    assert used.used_at is not None
    assert code.replace("-", "") not in used.code_hash  # only a hash is stored


async def test_a_supervisor_invite_makes_a_head_of_unit(desk: Desk, db: Database) -> None:
    code = await invite(desk, "dpupr kepala")
    assert "kepala unit" in texts(await desk.say(NEWCOMER, NEWCOMER, f"/join {code}"))
    newcomer = await staff_of(db, NEWCOMER)
    assert newcomer is not None and (newcomer.unit, newcomer.role) == ("dpupr", "supervisor")


async def test_an_invite_code_expires_after_seven_days(desk: Desk, db: Database, clock: FrozenClock) -> None:
    early, late = await invite(desk, "dlh"), await invite(desk, "dlh")
    clock.advance(timedelta(days=6, hours=23))
    assert "Selamat bergabung" in texts(await desk.say(NEWCOMER, NEWCOMER, f"/join {early}"))
    clock.advance(timedelta(hours=1, minutes=1))  # now past 7 days
    expired = texts(await desk.say(STRANGER, STRANGER, f"/join {late}"))
    assert "Kode itu tidak berlaku" in expired and "kedaluwarsa" in expired
    assert await staff_of(db, STRANGER) is None


async def test_join_without_a_code_explains_itself(desk: Desk) -> None:
    assert "Tulis /join diikuti kode undangan" in texts(await desk.say(STRANGER, STRANGER, "/join"))
    assert "Kode itu tidak berlaku" in texts(await desk.say(STRANGER, STRANGER, "/join ZZZZ-ZZZZ"))


async def test_only_an_admin_may_invite_pause_or_list_units(desk: Desk, db: Database) -> None:
    for command in ("/undang dlh", "/jeda dlh", "/lanjut dlh", "/unit"):
        assert "Perintah ini hanya untuk admin" in texts(await desk.say(OFFICER, OFFICER, command)), command
        assert "Perintah ini hanya untuk admin" in texts(await desk.say(HEAD, HEAD, command)), command
    # someone who is not staff at all is not even told the command exists
    refused = texts(await desk.say(STRANGER, STRANGER, "/undang dlh"))
    assert "<code>" not in refused and "tidak dikenal" in refused
    async with db.sessions() as session:
        codes = (await session.exec(select(InviteCode))).all()
    assert len(codes) == 1  # only the fixture's own invite


async def test_an_invite_for_an_unknown_unit_shows_the_units(desk: Desk) -> None:
    usage = texts(await desk.say(ADMIN, ADMIN, "/undang dinas_x"))
    assert "Tulis /undang KODE_UNIT" in usage and "dlh" in usage and "kec_pesisir" in usage
    assert "<code>" not in usage  # no code was made


# --- linking a group ------------------------------------------------------------------------------


async def test_a_link_request_from_a_non_admin_is_approved_by_an_admin(
    desk: Desk, citizen: Callable[..., Dialog]
) -> None:
    asked = texts(await desk.say(NEW_GROUP, OUTSIDER, "/link dpupr", name="Pak Joko"))
    assert "Permintaan dikirim ke admin" in asked
    request = desk.new(ADMIN)
    assert "Pak Joko" in texts(request) and "Grup Unit" in texts(request)
    assert "Dinas Pekerjaan Umum" in texts(request)
    approve = desk.button(ADMIN, "Setujui")

    # not linked yet: a road complaint's card still goes to the admins
    first = await file_road_complaint(citizen())
    await desk.flush()
    assert first in texts(desk.new(ADMIN)) and not desk.new(NEW_GROUP)

    # someone else pressing (or forging) the approval changes nothing
    assert "hanya untuk admin" in texts(await desk.press(STRANGER, STRANGER, approve.payload))
    assert "hanya untuk admin" in texts(await desk.press(OUTSIDER, OUTSIDER, approve.payload))
    await file_road_complaint(citizen("1002"), latitude=-6.21)
    await desk.flush()
    assert not desk.new(NEW_GROUP)
    desk.new(ADMIN)

    assert "Grup dihubungkan ke Dinas Pekerjaan Umum" in texts(
        await desk.press(ADMIN, ADMIN, approve.payload)
    )
    assert "Grup ini sekarang menerima tiket Dinas Pekerjaan Umum" in texts(desk.new(NEW_GROUP))
    assert "sudah diproses" in texts(await desk.press(ADMIN, ADMIN, approve.payload))  # a second press
    # the next ticket's card goes to the group, no longer to the admins
    third = await file_road_complaint(citizen("1003"), latitude=-6.22)
    await desk.flush()
    card = desk.new(NEW_GROUP)
    assert isinstance(card[0].action, OutText) and third in card[0].action.text
    assert third not in texts(desk.new(ADMIN))
    # and the DPUPR officer works it from there
    await desk.press_label(NEW_GROUP, OUTSIDER, "Terima")
    assert "Sedang dikerjakan" in desk.card(NEW_GROUP, await desk.card_id(NEW_GROUP, third)).text


async def test_an_approved_group_is_listed_by_its_title(desk: Desk) -> None:
    await desk.say(NEW_GROUP, OUTSIDER, "/link dpupr")
    await desk.press_label(ADMIN, ADMIN, "Setujui")
    units = texts(await desk.say(ADMIN, ADMIN, "/unit"))
    dpupr = next(line for line in units.splitlines() if "<code>dpupr</code>" in line)
    assert "grup: Grup Unit" in dpupr  # as for a group an admin linked directly
    dlh = next(line for line in units.splitlines() if "<code>dlh</code>" in line)
    assert "grup: Grup Unit" in dlh


async def test_a_link_to_an_unknown_unit_shows_the_units(desk: Desk) -> None:
    usage = texts(await desk.say(NEW_GROUP, STRANGER, "/link dinas_x"))
    assert "Tulis /link diikuti kode unit" in usage and "dpupr" in usage
    assert not desk.new(ADMIN)  # nothing asked of the admins


# --- queues ---------------------------------------------------------------------------------------


async def test_queue_lists_the_units_open_tickets_nearest_deadline_first(
    desk: Desk, citizen: Callable[..., Dialog], db: Database, clock: FrozenClock
) -> None:
    warga = citizen()
    held = await file_rubbish_complaint(warga)  # accepted: due in 5 working days
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")
    clock.advance(timedelta(hours=1))
    sooner = await file_rubbish_complaint(warga)  # response due tomorrow 09:30
    clock.advance(timedelta(hours=1))
    later = await file_rubbish_complaint(warga)  # response due tomorrow 10:30
    road = await file_road_complaint(citizen("1002"))  # another unit's
    await desk.flush()
    desk.new(GROUP)

    queue = texts(await desk.say(OFFICER, OFFICER, "/antrian"))
    assert "3 tiket terbuka" in queue
    assert queue.index(sooner) < queue.index(later) < queue.index(held)
    assert road not in queue
    assert "Sedang dikerjakan" in queue and "Baru, belum diterima" in queue
    assert "24/11/2026 09:30" in queue and "24/11/2026 10:30" in queue  # each with its deadline
    # the head of unit and the group see the same queue
    assert texts(await desk.say(HEAD, HEAD, "/antrian")) == queue
    assert texts(await desk.say(GROUP, STRANGER, "/antrian")) == queue  # anyone in the group may look
    # DPUPR's officer sees only DPUPR's ticket
    other = texts(await desk.say(OUTSIDER, OUTSIDER, "/antrian"))
    assert road in other and "1 tiket terbuka" in other and held not in other
    # an admin has no unit of their own
    assert "Admin tidak terikat" in texts(await desk.say(ADMIN, ADMIN, "/antrian"))


async def test_mytickets_lists_what_the_officer_holds(
    desk: Desk, citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    mine = await file_rubbish_complaint(warga)
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")
    theirs = await file_rubbish_complaint(warga)
    await desk.flush()
    await desk.press_label(GROUP, HEAD, "Terima")
    waiting = await file_rubbish_complaint(warga)
    await desk.flush()

    held = texts(await desk.say(OFFICER, OFFICER, "/tugas"))
    assert "1 tiket terbuka" in held and mine in held
    assert theirs not in held and waiting not in held
    head = texts(await desk.say(HEAD, HEAD, "/tugas"))
    assert theirs in head and mine not in head
    assert "Tidak ada tiket terbuka" in texts(await desk.say(OUTSIDER, OUTSIDER, "/tugas"))
    # once resolved, the ticket leaves the list
    card = desk.card(GROUP, await desk.card_id(GROUP, mine))
    [resolve] = [b for row in card.buttons for b in row if "Selesai" in b.label]
    await desk.press(GROUP, OFFICER, resolve.payload)
    await desk.say(OFFICER, OFFICER, "Sampah sudah diangkut semua")
    assert "ditandai selesai" in texts(await desk.photo(OFFICER, OFFICER, "proof-1"))
    assert "Tidak ada tiket terbuka" in texts(await desk.say(OFFICER, OFFICER, "/tugas"))


async def test_a_ticket_waiting_for_the_citizen_reads_so_to_the_officer(
    desk: Desk, citizen: Callable[..., Dialog]
) -> None:
    reference = await file_rubbish_complaint(citizen())
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")
    await desk.press_label(GROUP, OFFICER, "Tanya pelapor")
    await desk.say(OFFICER, OFFICER, "Di depan rumah nomor berapa?")
    held = texts(await desk.say(OFFICER, OFFICER, "/tugas"))
    assert reference in held and "dijeda" in held
    # "Menunggu jawaban Anda" is the citizen's wording: to an officer it says the reverse
    assert "Menunggu jawaban Anda" not in held
    assert "Menunggu jawaban Anda" not in desk.card(GROUP, await desk.card_id(GROUP, reference)).text


# --- pausing a unit -------------------------------------------------------------------------------


async def test_a_paused_unit_hands_new_tickets_to_its_fallback_until_resumed(
    desk: Desk, citizen: Callable[..., Dialog], db: Database
) -> None:
    paused = texts(await desk.say(ADMIN, ADMIN, "/jeda dlh cuti bersama"))
    assert "Dinas Lingkungan Hidup dijeda" in paused and "Pengelola Pengaduan (Triase)" in paused
    assert "⏸ dijeda" in next(
        line
        for line in texts(await desk.say(ADMIN, ADMIN, "/unit")).splitlines()
        if "<code>dlh</code>" in line
    )
    warga = citizen()
    during = await file_rubbish_complaint(warga)
    assert "Diteruskan ke: Pengelola Pengaduan (Triase)" in warga.text
    assert (await ticket(db, during)).unit == "triase"
    await desk.flush()
    assert during not in texts(desk.new(GROUP))
    assert during in texts(desk.new(ADMIN))  # triase has no group: its cards reach the admins

    assert "aktif kembali" in texts(await desk.say(ADMIN, ADMIN, "/lanjut dlh"))
    after = await file_rubbish_complaint(warga)
    assert "Diteruskan ke: Dinas Lingkungan Hidup" in warga.text
    assert (await ticket(db, after)).unit == "dlh"
    await desk.flush()
    assert after in texts(desk.new(GROUP))
    assert (await ticket(db, during)).unit == "triase"  # resuming does not move tickets already filed


async def test_pausing_a_unit_with_a_fallback_names_it(desk: Desk) -> None:
    assert "Tiket baru untuknya masuk ke Dinas Lingkungan Hidup" in texts(
        await desk.say(ADMIN, ADMIN, "/jeda kec_pesisir")
    )
    usage = texts(await desk.say(ADMIN, ADMIN, "/jeda"))
    assert "Tulis /jeda KODE_UNIT" in usage


async def test_a_transfer_to_a_paused_unit_is_refused(
    desk: Desk, citizen: Callable[..., Dialog], db: Database
) -> None:
    reference = await file_rubbish_complaint(citizen())
    await desk.flush()
    await desk.say(ADMIN, ADMIN, "/jeda dpupr")
    await desk.press_label(GROUP, OFFICER, "Terima")
    await desk.press_label(GROUP, OFFICER, "Alihkan")
    offered = [b.label for s in desk.new(OFFICER) for row in getattr(s.action, "buttons", ()) for b in row]
    assert "Dishub" in offered and "DPUPR" not in offered  # a paused unit is not offered
    # an old prompt's button for it (before the pause) is refused with the reason
    await desk.press(OFFICER, OFFICER, desk.button(OFFICER, "Dishub").payload.replace("dishub", "dpupr"))
    refused = texts(await desk.say(OFFICER, OFFICER, "Ini saluran air tersumbat, wewenang PU"))
    assert "dijeda" in refused
    moved = await ticket(db, reference)
    assert (moved.unit, moved.status) == ("dlh", "in_progress")


# --- card buttons and private prompts -------------------------------------------------------------


async def test_an_officer_of_another_unit_is_refused_at_every_button(
    desk: Desk, citizen: Callable[..., Dialog], db: Database
) -> None:
    reference = await file_rubbish_complaint(citizen())
    await desk.flush()
    for label in ("Terima", "Alihkan", "Tolak"):
        refusal = texts(await desk.press_label(GROUP, OUTSIDER, label))
        assert "unit lain" in refusal and "(DLH)" in refusal, label
    assert not desk.new(OUTSIDER)  # no private prompt was opened
    await desk.press_label(GROUP, OFFICER, "Terima")
    for label in ("Tanya pelapor", "Selesai"):
        assert "unit lain" in texts(await desk.press_label(GROUP, OUTSIDER, label)), label
    assert not desk.new(OUTSIDER)
    found = await ticket(db, reference)
    assert (found.unit, found.status) == ("dlh", "in_progress")
    assert await events_of(db, reference) == ["submitted", "accepted"]


async def test_cancel_leaves_the_ticket_unchanged_and_the_old_prompt_stale(
    desk: Desk, citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await desk.flush()
    card_id = await desk.card_id(GROUP, reference)
    before = desk.card(GROUP, card_id).text
    told_before = len(desk.channel.to(warga.chat_id))

    assert "chat pribadi" in texts(await desk.press_label(GROUP, OFFICER, "Tolak"))
    assert "Tulis alasan penolakan" in texts(desk.new(OFFICER))
    cancel = desk.button(OFFICER, "Batal")
    cancelled = texts(await desk.press(OFFICER, OFFICER, cancel.payload))
    assert f"Dibatalkan. Tiket <b>{reference}</b> tidak berubah" in cancelled
    found = await ticket(db, reference)
    assert (found.status, found.holder_staff_id) == ("submitted", None)
    assert await events_of(db, reference) == ["submitted"]
    assert desk.card(GROUP, card_id).text == before
    assert len(desk.channel.to(warga.chat_id)) == told_before  # the citizen heard nothing

    # the prompt's Batal, pressed again: stale, and still nothing changes
    stale = texts(await desk.press(OFFICER, OFFICER, cancel.payload))
    assert "Tombol itu sudah tidak berlaku" in stale
    # and what the officer types now is no rejection reason
    await desk.say(OFFICER, OFFICER, "Lokasi ini lahan pribadi")
    assert (await ticket(db, reference)).status == "submitted"
    assert await events_of(db, reference) == ["submitted"]


async def test_a_cancel_by_command_works_too(
    desk: Desk, citizen: Callable[..., Dialog], db: Database
) -> None:
    reference = await file_rubbish_complaint(citizen())
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")
    await desk.press_label(GROUP, OFFICER, "Tanya pelapor")
    assert "Dibatalkan" in texts(await desk.say(OFFICER, OFFICER, "/batal"))
    assert (await ticket(db, reference)).status == "in_progress"
    assert await events_of(db, reference) == ["submitted", "accepted"]


async def test_a_prompt_replaced_by_a_newer_one_is_stale(
    desk: Desk, citizen: Callable[..., Dialog], db: Database
) -> None:
    reference = await file_rubbish_complaint(citizen())
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")
    await desk.press_label(GROUP, OFFICER, "Tolak")
    old_cancel = desk.button(OFFICER, "Batal")
    await desk.press_label(GROUP, OFFICER, "Tanya pelapor")  # changed their mind: ask instead
    desk.new(OFFICER)
    stale = texts(await desk.press(OFFICER, OFFICER, old_cancel.payload))
    assert "Tombol itu sudah tidak berlaku" in stale
    assert "Tulis pertanyaan" in stale  # reminded of what is pending now
    assert "Pertanyaan terkirim" in texts(await desk.say(OFFICER, OFFICER, "Di depan rumah nomor berapa?"))
    assert (await ticket(db, reference)).status == "waiting_citizen"
    assert await events_of(db, reference) == ["submitted", "accepted", "question"]
