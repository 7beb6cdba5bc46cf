"""Officer flows that went wrong in review: words that cancel, prompts crossed or stale, albums, links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlmodel import select

from handlers.messages import MediaRef, OutText
from models import Attachment, Ticket, UnitState
from models.db import Database
from tests.desk import ADMIN, GROUP, OFFICER, OUTSIDER, Desk, texts
from tests.dialog import Dialog
from tests.test_intake_dialog import file_rubbish_complaint
from tests.test_workflow_dialog import ticket
from workflows.clock import FrozenClock


async def status_of(db: Database, reference: str) -> str:
    return (await ticket(db, reference)).status


async def test_typing_batal_at_a_prompt_cancels_instead_of_becoming_the_reason(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Tolak")
    assert "Dibatalkan" in texts(await desk.say(OFFICER, OFFICER, "batal"))
    assert await status_of(db, reference) == "submitted"
    assert "Alasan: batal" not in texts(desk.channel.to(warga.chat_id))


async def test_a_reply_to_another_tickets_prompt_is_not_applied_to_the_pending_one(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    first = await file_rubbish_complaint(citizen())
    await desk.flush()
    second_warga = citizen(user_id="2002")
    await second_warga.file_complaint(
        "Sampah berserakan di taman kota, sudah dua hari", at=(-6.24, 106.85), identity="Anonim"
    )
    await desk.flush()
    second = next(t for t in await _references(db) if t != first)
    await desk.press(GROUP, OFFICER, f"t|accept|{await _id(db, first)}")
    await desk.press(GROUP, OFFICER, f"t|accept|{await _id(db, second)}")
    await desk.press(GROUP, OFFICER, f"t|ask|{await _id(db, first)}")
    ask_prompt = [s for s in desk.new(OFFICER) if isinstance(s.action, OutText) and first in s.action.text][
        -1
    ]
    await desk.press(GROUP, OFFICER, f"t|reject|{await _id(db, second)}")
    desk.new(OFFICER)
    answer = texts(
        await desk.say(OFFICER, OFFICER, "Rumah nomor berapa, Bu?", reply_to=ask_prompt.message_id)
    )
    assert f"catatan untuk <b>{second}</b>" in answer  # told which note is awaited
    assert await status_of(db, second) == "in_progress" and await status_of(db, first) == "in_progress"


async def test_an_unanswered_prompt_lapses(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, clock: FrozenClock
) -> None:
    reference = await file_rubbish_complaint(citizen())
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Tolak")
    clock.advance(timedelta(days=2))
    assert "kedaluwarsa" in texts(await desk.say(OFFICER, OFFICER, "Selamat pagi semua"))
    assert await status_of(db, reference) == "submitted"


async def test_the_rest_of_a_proof_album_is_kept_not_filed_as_a_complaint(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    from handlers.messages import InboundKind

    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")
    await desk.press_label(GROUP, OFFICER, "Selesai")
    await desk.say(OFFICER, OFFICER, "TPS sudah dibersihkan")
    for file_id in ("before", "after"):
        media = (MediaRef(kind="photo", file_id=file_id, unique_id=file_id, group_id="album-1"),)
        await desk.event(OFFICER, OFFICER, private=True, kind=InboundKind.PHOTO, media=media)
    reply = texts(desk.new(OFFICER))
    assert "Pengaduan Anda tentang apa" not in reply
    async with db.sessions() as session:
        proof = (await session.exec(select(Attachment).where(Attachment.added_by == "officer"))).all()
    assert sorted(p.file_id for p in proof) == ["after", "before"]
    assert await status_of(db, reference) == "resolved"
    got = texts(desk.channel.to(warga.chat_id))
    assert "[media before]" in got and "[media after]" in got


async def test_a_link_request_replaced_by_another_unit_keeps_its_own_button(desk: Desk, db: Database) -> None:
    group = "-100900"
    await desk.say(group, OUTSIDER, "/link dpupr")
    first = desk.button(ADMIN, "Setujui").payload
    await desk.say(group, OUTSIDER, "/link inspektorat")
    second = desk.button(ADMIN, "Setujui").payload
    assert first != second
    assert "sudah diproses" in texts(
        await desk.press(ADMIN, ADMIN, first)
    )  # what it said is not what is asked now
    async with db.sessions() as session:
        assert (await session.get(UnitState, "inspektorat")) is None
    assert "Inspektorat" in texts(await desk.press(ADMIN, ADMIN, second))


async def test_an_officer_gets_a_confidential_reporters_earlier_messages_on_accepting(
    citizen: Callable[..., Dialog], desk: Desk
) -> None:
    warga = citizen()
    await warga.file_complaint(
        "Oknum petugas kebersihan minta uang tiap minggu di TPS Melati", identity="Rahasia"
    )
    await desk.flush()
    await warga.press("Tiket saya")
    await warga.press_payload("m|ans:1")
    await warga.say("Namanya Pak Joko, datang tiap Senin")
    await desk.flush()
    assert "Pak Joko" not in texts(desk.new(GROUP))
    await desk.press_label(GROUP, OFFICER, "Terima")
    assert "Pak Joko" in texts(desk.new(OFFICER))
    # and again on request, to the holder only
    assert "Pak Joko" in texts(await desk.say(OFFICER, OFFICER, "/detail " + _ref(desk)))
    assert "Pak Joko" not in texts(await desk.say(ADMIN, ADMIN, "/detail XYZ"))


def _ref(desk: Desk) -> str:
    import re

    for sent in desk.channel.to(OFFICER):
        found = re.search(r"ADU-\d{4}-\w{4}", getattr(sent.action, "text", ""))
        if found:
            return found.group(0)
    raise AssertionError("no reference sent to the officer")


async def _references(db: Database) -> list[str]:
    async with db.sessions() as session:
        return [t.reference for t in (await session.exec(select(Ticket))).all()]


async def _id(db: Database, reference: str) -> int:
    async with db.sessions() as session:
        ticket = (await session.exec(select(Ticket).where(Ticket.reference == reference))).one()
    assert ticket.id is not None
    return ticket.id
