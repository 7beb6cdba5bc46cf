"""Officers work a ticket from their unit's group, and the citizen hears about every public step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from handlers.messages import OutLocation, OutMedia, OutText
from models import Ticket, TicketEvent
from models.db import Database
from tests.desk import ADMIN, GROUP, HEAD, OFFICER, OUTSIDER, STRANGER, Desk, texts
from tests.dialog import Dialog
from tests.test_intake_dialog import file_rubbish_complaint
from workflows.clock import FrozenClock


async def ticket(db: Database, reference: str) -> Ticket:
    async with db.sessions() as session:
        return (await session.exec(select(Ticket).where(Ticket.reference == reference))).one()


async def test_a_ticket_travels_from_citizen_to_group_and_back(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await desk.flush()

    # the unit's group gets the card, the place and the photo
    posted = desk.new(GROUP)
    card = posted[0].action
    assert isinstance(card, OutText) and reference in card.text
    assert "3 hari tidak diangkut" in card.text and "maps.google.com/?q=-6.200100,106.816700" in card.text
    assert "Siti Warga" in card.text  # a public report names its reporter
    assert any(isinstance(s.action, OutLocation) for s in posted)
    assert any(isinstance(s.action, OutMedia) and s.action.media.file_id == "photo-A" for s in posted)
    card_id = await desk.card_id(GROUP, reference)

    # someone who is not staff, and an officer of another unit, cannot act
    refusal = texts(await desk.press_label(GROUP, STRANGER, "Terima"))
    assert "hanya untuk petugas terdaftar" in refusal
    refusal = texts(await desk.press_label(GROUP, OUTSIDER, "Terima"))
    assert "unit lain" in refusal
    assert (await ticket(db, reference)).status == "submitted"

    # the officer accepts: the card changes in place, the citizen is told
    await desk.press_label(GROUP, OFFICER, "Terima")
    now_card = desk.card(GROUP, card_id)
    assert "Sedang dikerjakan" in now_card.text and "Pak Budi" in now_card.text
    assert "penyelesaian" in now_card.text  # the resolution clock now runs
    await warga.say("/status " + reference)  # and the citizen's own view agrees
    assert "Sedang dikerjakan" in warga.text
    notices = texts([s for s in desk.channel.sent if s.chat_id == warga.chat_id])
    assert "sudah diterima oleh Dinas Lingkungan Hidup" in notices

    # ask the citizen: continued privately; the question reaches the citizen; the clock pauses
    assert "chat pribadi" in texts(await desk.press_label(GROUP, OFFICER, "Tanya pelapor"))
    assert "Tulis pertanyaan" in texts(desk.new(OFFICER))
    assert "Pertanyaan terkirim" in texts(
        await desk.say(OFFICER, OFFICER, "Di depan rumah nomor berapa, Bu?")
    )
    question = [s for s in desk.channel.sent if s.chat_id == warga.chat_id][-1].action
    assert isinstance(question, OutText) and "Di depan rumah nomor berapa" in question.text
    assert any("Balas" in b.label for row in question.buttons for b in row)
    assert "dijeda" in desk.card(GROUP, card_id).text
    assert (await ticket(db, reference)).status == "waiting_citizen"

    # the citizen simply types the answer; it goes to the group as a reply to the card
    await warga.say("Depan rumah nomor 12, dekat pos ronda")
    assert "Terkirim ke Dinas Lingkungan Hidup" in warga.text
    await desk.flush()
    answer = desk.new(GROUP)
    answered = [s.action for s in answer if isinstance(s.action, OutText) and "nomor 12" in s.action.text]
    assert answered and answered[0].reply_to == card_id
    assert (await ticket(db, reference)).status == "in_progress"

    # an officer's reply to the card reaches the citizen, signed with the unit, not the officer
    assert "Terkirim ke pelapor" in texts(
        await desk.say(GROUP, OFFICER, "Besok pagi truk datang", reply_to=card_id)
    )
    relayed = [s for s in desk.channel.sent if s.chat_id == warga.chat_id][-1].action
    assert isinstance(relayed, OutText)
    assert "Besok pagi truk datang" in relayed.text and "Dinas Lingkungan Hidup" in relayed.text
    assert "Pak Budi" not in relayed.text

    # resolve: a note, then the proof photo this category requires
    await desk.press_label(GROUP, OFFICER, "Selesai")
    proof_prompt = await desk.say(OFFICER, OFFICER, "Sampah sudah diangkut dan TPS dibersihkan")
    assert "foto hasil" in texts(proof_prompt) and "wajib" in texts(proof_prompt)
    assert "ditandai selesai" in texts(await desk.photo(OFFICER, OFFICER, "proof-1"))
    told = [s.action for s in desk.channel.sent if s.chat_id == warga.chat_id][-2:]
    assert any(
        isinstance(a, OutText) and "telah diselesaikan" in a.text and "TPS dibersihkan" in a.text
        for a in told
    )
    assert any(isinstance(a, OutMedia) and a.media.file_id == "proof-1" for a in told)
    final = desk.card(GROUP, card_id)
    assert "Selesai ditangani" in final.text and not final.buttons

    # the record: every step, in order, with who did it
    async with db.sessions() as session:
        events = (await session.exec(select(TicketEvent).order_by(col(TicketEvent.id)))).all()
    assert [e.action for e in events] == [
        "submitted",
        "accepted",
        "question",
        "answered",
        "officer_message",
        "resolved",
    ]
    assert [e.to_status for e in events if e.to_status] == [
        "submitted",
        "in_progress",
        "waiting_citizen",
        "in_progress",
        "resolved",
    ]


async def test_a_stale_card_button_changes_nothing(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    reference = await file_rubbish_complaint(citizen())
    await desk.flush()
    accept = desk.button(GROUP, "Terima").payload
    await desk.press(GROUP, OFFICER, accept)
    again = texts(await desk.press(GROUP, HEAD, accept))  # someone else presses the old button
    assert "Sedang dikerjakan" in again  # told why, in the words the citizen sees too
    async with db.sessions() as session:
        accepted = (await session.exec(select(TicketEvent).where(TicketEvent.action == "accepted"))).all()
    assert len(accepted) == 1
    assert (await ticket(db, reference)).holder_staff_id is not None


async def test_transfer_reroutes_and_restarts_the_response_clock(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, clock: FrozenClock
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await desk.flush()
    card_id = await desk.card_id(GROUP, reference)
    await desk.press_label(GROUP, OFFICER, "Terima")
    clock.advance(timedelta(hours=2))
    await desk.press_label(GROUP, OFFICER, "Alihkan")
    await desk.press_label(OFFICER, OFFICER, "DPUPR")
    await desk.say(OFFICER, OFFICER, "Ini saluran air tersumbat, wewenang PU")
    moved = await ticket(db, reference)
    assert (moved.unit, moved.status, moved.clock) == ("dpupr", "submitted", "response")
    assert moved.holder_staff_id is None
    assert "dialihkan ke Dinas Pekerjaan Umum" in desk.card(GROUP, card_id).text
    assert not desk.card(GROUP, card_id).buttons
    told = texts([s for s in desk.channel.sent if s.chat_id == warga.chat_id])
    assert "saluran air tersumbat" in told and "Pekerjaan Umum" in told
    # DPUPR has no group yet: its card goes to the admins
    assert reference in texts(desk.new(ADMIN))


async def test_confidential_ticket_shows_only_its_reference_in_the_group(
    citizen: Callable[..., Dialog], desk: Desk
) -> None:
    warga = citizen()
    await warga.file_complaint(
        "Oknum petugas kebersihan minta uang tiap minggu di TPS Melati", identity="Rahasia"
    )
    await desk.flush()
    group = desk.new(GROUP)
    assert len(group) == 1, "no location, no photo in the group"
    assert (
        "minta uang" not in texts(group) and "Siti" not in texts(group) and "maps.google" not in texts(group)
    )
    await desk.press_label(GROUP, OFFICER, "Terima")
    private = texts(desk.new(OFFICER))
    assert "minta uang" in private and "maps.google" in private
    assert "minta uang" not in texts(desk.new(GROUP))


async def test_unregistered_reply_to_a_card_is_refused_and_not_relayed(
    citizen: Callable[..., Dialog], desk: Desk
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await desk.flush()
    card_id = await desk.card_id(GROUP, reference)
    before = len([s for s in desk.channel.sent if s.chat_id == warga.chat_id])
    refusal = texts(await desk.say(GROUP, STRANGER, "<b>halo</b> warga", reply_to=card_id))
    assert "hanya petugas terdaftar" in refusal
    assert len([s for s in desk.channel.sent if s.chat_id == warga.chat_id]) == before


async def test_escaping_of_citizen_text_in_the_card(citizen: Callable[..., Dialog], desk: Desk) -> None:
    warga = citizen()
    await warga.file_complaint("Sampah <script>alert(1)</script> & bau di TPS sudah 3 hari")
    await desk.flush()
    card = desk.new(GROUP)[0].action
    assert isinstance(card, OutText)
    assert "&lt;script&gt;" in card.text and "<script>" not in card.text and "&amp; bau" in card.text


async def test_group_upgraded_to_supergroup_keeps_its_unit(
    citizen: Callable[..., Dialog], desk: Desk
) -> None:
    from handlers.messages import InboundKind

    await desk.event(GROUP, ADMIN, private=False, kind=InboundKind.MIGRATED, migrate_to_chat_id="-1009700")
    reference = await file_rubbish_complaint(citizen())
    await desk.flush()
    assert reference in texts(desk.new("-1009700"))
    assert not [s for s in desk.new(GROUP) if reference in getattr(s.action, "text", "")]


async def test_officer_replies_privately_to_a_confidential_ticket(
    citizen: Callable[..., Dialog], desk: Desk
) -> None:
    warga = citizen()
    await warga.file_complaint(
        "Oknum petugas kebersihan minta uang tiap minggu di TPS Melati", identity="Rahasia"
    )
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")
    details = [
        s for s in desk.new(OFFICER) if isinstance(s.action, OutText) and "minta uang" in s.action.text
    ]
    assert details
    answer = await desk.say(
        OFFICER, OFFICER, "Kami tindak lanjuti, terima kasih", reply_to=details[0].message_id
    )
    assert "Terkirim ke pelapor" in texts(answer)
    relayed = [s for s in desk.channel.sent if s.chat_id == warga.chat_id][-1].action
    assert isinstance(relayed, OutText) and "Kami tindak lanjuti" in relayed.text


async def test_an_officers_voice_note_or_document_in_reply_reaches_the_citizen(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    """An officer in the field answers the card by voice, and privately on a confidential ticket with
    a document: both reach the reporter, with the unit's words around them, and are recorded."""
    from handlers.messages import InboundKind, MediaRef

    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await desk.flush()
    card_id = await desk.card_id(GROUP, reference)
    await desk.press_label(GROUP, OFFICER, "Terima")
    voice = (MediaRef(kind="voice", file_id="voice-1", unique_id="voice-1"),)
    await desk.event(
        GROUP, OFFICER, private=False, kind=InboundKind.VOICE, media=voice, reply_to_message_id=card_id
    )
    assert "Terkirim ke pelapor" in texts(desk.new(GROUP))
    to_citizen = [s.action for s in desk.channel.sent if s.chat_id == warga.chat_id][-2:]
    assert isinstance(to_citizen[0], OutMedia) and to_citizen[0].media.file_id == "voice-1"
    assert isinstance(to_citizen[1], OutText) and "🎤" in to_citizen[1].text
    assert "Dinas Lingkungan Hidup" in to_citizen[1].text

    # a sticker cannot go: the officer is told so, and the citizen gets nothing
    before = len(desk.channel.sent)
    await desk.event(GROUP, OFFICER, private=False, kind=InboundKind.STICKER, reply_to_message_id=card_id)
    assert "Tidak terkirim ke pelapor" in texts(desk.new(GROUP))
    assert not [s for s in desk.channel.sent[before:] if s.chat_id == warga.chat_id]
    # from someone who may not reply to the reporter, or to a message that is not a card: banter,
    # left without a word from the bot
    await desk.event(GROUP, STRANGER, private=False, kind=InboundKind.STICKER, reply_to_message_id=card_id)
    await desk.event(GROUP, OFFICER, private=False, kind=InboundKind.STICKER, reply_to_message_id="4242")
    assert desk.new(GROUP) == []

    confidential = citizen(user_id="5120")
    await confidential.file_complaint(
        "Oknum petugas minta uang di TPS Kenanga", identity="Rahasia", at=(-6.2601, 106.9001)
    )
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")
    details = [
        s for s in desk.new(OFFICER) if isinstance(s.action, OutText) and "minta uang" in s.action.text
    ]
    document = (MediaRef(kind="document", file_id="surat-1", unique_id="surat-1"),)
    await desk.event(
        OFFICER,
        OFFICER,
        private=True,
        kind=InboundKind.DOCUMENT,
        media=document,
        text="Surat tindak lanjut terlampir",
        reply_to_message_id=details[0].message_id,
    )
    assert "Terkirim ke pelapor" in texts(desk.new(OFFICER))
    to_them = [s.action for s in desk.channel.sent if s.chat_id == confidential.chat_id][-2:]
    assert isinstance(to_them[0], OutMedia) and to_them[0].media.file_id == "surat-1"
    assert isinstance(to_them[1], OutText) and "Surat tindak lanjut terlampir" in to_them[1].text
    async with db.sessions() as session:
        recorded = (
            await session.exec(select(TicketEvent).where(TicketEvent.action == "officer_message"))
        ).all()
    assert sorted((e.note, e.details.get("voice", 0), e.details.get("document", 0)) for e in recorded) == [
        ("Surat tindak lanjut terlampir", 0, 1),
        ("🎤", 1, 0),
    ]


async def test_a_send_refused_because_the_group_moved_follows_it(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    """Telegram answers a send to an upgraded group with its new id: the card goes there."""
    from bot.channels.base import DeliveryError
    from models import UnitState

    original = desk.channel.deliver

    async def moved(chat_id: str, action: Any, *, skip: int = 0, paid: bool = False) -> str | None:
        if chat_id == GROUP:
            raise DeliveryError("group chat was upgraded to a supergroup chat", migrate_to_chat_id="-1009800")
        return await original(chat_id, action, skip=skip)

    desk.channel.deliver = moved  # type: ignore[method-assign]
    reference = await file_rubbish_complaint(citizen())
    await desk.flush()
    assert reference in texts(desk.new("-1009800"))
    async with db.sessions() as session:
        state = await session.get(UnitState, "dlh")
    assert state is not None and state.chat_id == "-1009800"
