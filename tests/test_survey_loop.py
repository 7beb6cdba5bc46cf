"""The follow-up survey with a test clock: resolve → survey → "not fixed" → reopened → resolved →
survey → "fixed" → closed; the reminder and the timeout; opting out; answers taken once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from handlers import survey_sweep
from handlers.context import Deps
from handlers.messages import InboundKind, MediaRef, OutText
from models import Survey, Ticket, TicketEvent
from models.db import Database
from tests.desk import GROUP, HEAD, OFFICER, Desk, texts
from tests.dialog import Dialog
from tests.test_intake_dialog import file_rubbish_complaint
from workflows.clock import FrozenClock
from workflows.references import find_reference

WIB = ZoneInfo("Asia/Jakarta")


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB)


async def ticket_of(db: Database, reference: str) -> Ticket:
    async with db.sessions() as session:
        return (await session.exec(select(Ticket).where(Ticket.reference == reference))).one()


async def surveys_of(db: Database) -> list[Survey]:
    async with db.sessions() as session:
        return list(await session.exec(select(Survey).order_by(col(Survey.id))))


async def resolve(desk: Desk, reference: str, note: str, photo: str) -> None:
    """The officer accepts the ticket in the group and resolves it with a note and the proof photo."""
    await desk.flush()
    card_id = await desk.card_id(GROUP, reference)
    await desk.press(GROUP, OFFICER, desk.card(GROUP, card_id).buttons[0][0].payload)  # Terima
    await desk.press_label(GROUP, OFFICER, "Selesai")
    await desk.say(OFFICER, OFFICER, note)
    assert "ditandai selesai" in texts(await desk.photo(OFFICER, OFFICER, photo))


async def resolved(citizen: Callable[..., Dialog], desk: Desk) -> tuple[Dialog, Citizen, str]:
    """A complaint filed Monday 09:00 and resolved at once by the DLH officer; the notice read."""
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    me = Citizen(warga, desk)
    await resolve(desk, reference, "Sampah sudah diangkut", "proof-1")
    await me.inbox()
    return warga, me, reference


class Citizen:
    """The citizen's chat as delivered (notices from the scheduler included)."""

    def __init__(self, warga: Dialog, desk: Desk) -> None:
        self.warga, self.desk = warga, desk

    async def inbox(self) -> str:
        await self.desk.flush()
        return texts(self.desk.new(self.warga.chat_id))

    async def press(self, label: str) -> str:
        await self.warga.press_payload(self.desk.button(self.warga.chat_id, label).payload)
        return await self.inbox()

    async def say(self, text: str) -> str:
        await self.warga.say(text)
        return await self.inbox()


async def sweep(deps: Deps, db: Database) -> int:
    return await survey_sweep.sweep(db, deps)


async def test_not_fixed_reopens_then_fixed_closes_with_ratings(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    me = Citizen(warga, desk)
    await me.inbox()
    await resolve(desk, reference, "Sampah sudah diangkut", "proof-1")
    notice = await me.inbox()
    assert "telah diselesaikan" in notice and "Apakah masalahnya sudah beres" in notice
    desk.new(GROUP)

    # nothing before the delay (one working day: Monday 09:00–16:00, Tuesday 07:30–08:30)
    clock.set(wib(24, 8, 29))
    assert await sweep(deps, db) == 0
    clock.set(wib(24, 8, 30))
    assert await sweep(deps, db) == 1
    asked = await me.inbox()
    assert "Survei kepuasan" in asked and reference in asked and "benar-benar sudah beres" in asked
    assert await sweep(deps, db) == 0  # sent once

    # "not fixed": reopened to the same unit with a new deadline, the group is told, the comment asked
    reply = await me.press("Belum beres")
    assert (
        "dibuka kembali" in reply
        and "Dinas Lingkungan Hidup" in reply
        and "apa yang masih belum beres" in reply
    )
    ticket = await ticket_of(db, reference)
    assert ticket.status == "reopened" and ticket.unit == "dlh" and ticket.reopen_count == 1
    assert ticket.due_at is not None and ticket.due_at.replace(tzinfo=ZoneInfo("UTC")) > wib(24, 8, 30)
    await desk.flush()
    group = texts(desk.new(GROUP))
    assert f"{reference}</b> dibuka kembali oleh pelapor" in group
    card = desk.card(GROUP, await desk.card_id(GROUP, reference))
    assert "Dibuka kembali" in card.text and any("Terima" in b.label for row in card.buttons for b in row)

    # the comment goes to the group as a reply to the card; then the ratings, one at a time
    reply = await me.say("Sampahnya masih menumpuk di pojok TPS")
    assert "diteruskan ke Dinas Lingkungan Hidup" in reply and "penilaian 1 dari 4" in reply
    await desk.flush()
    comment = [s for s in desk.new(GROUP) if "masih menumpuk" in texts([s])]
    assert comment and isinstance(comment[0].action, OutText)
    assert comment[0].action.reply_to == await desk.card_id(GROUP, reference)
    for label in ("2 · Kurang", "2 · Kurang", "3 · Baik"):
        assert "penilaian" in await me.press(label)
    assert "Terima kasih atas penilaian" in await me.press("2 · Kurang")

    # the unit works it again; the second survey; "fixed" closes it
    clock.set(wib(24, 10, 0))
    await resolve(desk, reference, "Sudah diangkut semua, pojok dibersihkan", "proof-2")
    await me.inbox()
    clock.set(wib(25, 10, 0))
    assert await sweep(deps, db) == 1
    assert "benar-benar sudah beres" in await me.inbox()
    reply = await me.press("Sudah beres")
    assert "ditutup" in reply and "penilaian 1 dari 4" in reply
    for label in ("4 · Sangat", "4 · Sangat", "3 · Baik", "4 · Sangat"):
        reply = await me.press(label)
    assert "saran atau komentar" in reply
    assert "Terima kasih atas penilaian" in await me.say("Petugasnya cepat, terima kasih")
    assert (await ticket_of(db, reference)).status == "closed"
    await desk.flush()
    group = texts(desk.new(GROUP))
    assert "mengonfirmasi" in group and "Petugasnya cepat" in group  # the unit hears the good word too

    first, second = await surveys_of(db)
    assert (first.fixed, first.ratings, first.comment) == (
        False,
        {"waktu": 2, "hasil": 2, "perilaku": 3, "pengaduan": 2},
        "Sampahnya masih menumpuk di pojok TPS",
    )
    assert (second.round, second.fixed, second.status) == (1, True, "done")
    assert second.ratings == {"waktu": 4, "hasil": 4, "perilaku": 3, "pengaduan": 4}
    assert second.comment == "Petugasnya cepat, terima kasih"

    # the timeline says what happened, in the citizen's words
    await warga.say(f"/status {reference}")
    assert "Dibuka kembali" in warga.text and "Ditutup: pelapor menyatakan sudah beres" in warga.text


async def test_unanswered_survey_is_reminded_once_then_closes_without_feedback(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    me = Citizen(warga, desk)
    await resolve(desk, reference, "Sampah sudah diangkut", "proof-1")  # Monday 09:00
    await me.inbox()
    clock.set(wib(24, 8, 30))
    assert await sweep(deps, db) == 1  # sent Tuesday 08:30
    await me.inbox()
    clock.set(wib(25, 7, 59))
    assert await sweep(deps, db) == 0
    clock.set(wib(25, 8, 0))  # one working day later (7.5 h on Tuesday): the one reminder, saying until when
    assert await sweep(deps, db) == 1
    reminder = await me.inbox()
    assert "Pengingat survei" in reminder and "26/11/2026 15:30" in reminder
    clock.set(wib(26, 15, 29))
    assert await sweep(deps, db) == 0  # no second reminder
    assert await me.inbox() == ""
    clock.set(wib(26, 15, 30))  # three working days after sending: closed without feedback
    assert await sweep(deps, db) == 1
    assert "tidak menerima tanggapan" in await me.inbox()
    ticket = await ticket_of(db, reference)
    assert ticket.status == "closed"
    (survey,) = await surveys_of(db)
    assert survey.status == "expired" and survey.fixed is None
    async with db.sessions() as session:
        closed = (await session.exec(select(TicketEvent).where(TicketEvent.action == "closed"))).one()
    assert closed.actor_kind == "system" and closed.details["reason"] == "no_feedback"

    # a late answer is acknowledged and changes nothing
    reply = await me.press("Belum beres")
    assert "sudah ditutup" in reply and "pengaduan baru" in reply
    assert (await ticket_of(db, reference)).status == "closed"
    assert (await surveys_of(db))[0].fixed is None


async def test_answers_are_taken_once(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    warga, me, reference = await resolved(citizen, desk)
    # answered early from the resolved notice: closed at once, the ratings follow
    fixed = desk.button(warga.chat_id, "Sudah beres").payload
    not_fixed = desk.button(warga.chat_id, "Belum beres").payload
    await warga.press_payload(fixed)
    assert "ditutup" in await me.inbox()
    rate_3 = desk.button(warga.chat_id, "3 · Baik").payload
    await warga.press_payload(rate_3)
    assert "penilaian 2 dari 4" in await me.inbox()

    # the same buttons again, and the other answer to "fixed?": acknowledged, the next question again
    for payload in (fixed, not_fixed, rate_3):
        await warga.press_payload(payload)
        again = await me.inbox()
        assert "sudah kami catat" in again and "penilaian 2 dari 4" in again
    ticket = await ticket_of(db, reference)
    assert ticket.status == "closed" and ticket.reopen_count == 0
    (survey,) = await surveys_of(db)
    assert survey.ratings == {"waktu": 3} and survey.fixed is True

    # the survey's own time comes: nothing is sent twice
    clock.set(wib(25, 9, 0))
    await sweep(deps, db)
    assert "Survei kepuasan" not in await me.inbox()

    # a forged button for someone else's survey is refused
    other = citizen("2002")
    await other.press_payload(f"sv|{survey.id}|waktu|1")
    assert "tidak berlaku" in other.text
    assert (await surveys_of(db))[0].ratings == {"waktu": 3}


async def test_opted_out_citizens_are_never_surveyed(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    warga = citizen()
    await warga.say("/stop")
    assert "tidak akan menerima survei" in warga.text
    reference = await file_rubbish_complaint(warga)
    me = Citizen(warga, desk)
    await resolve(desk, reference, "Sampah sudah diangkut", "proof-1")
    notice = await me.inbox()
    assert "telah diselesaikan" in notice and "sudah beres" not in notice  # no survey question
    clock.set(wib(24, 9, 5))
    assert await sweep(deps, db) == 1
    told = await me.inbox()
    assert "Survei" not in told and "sekarang ditutup" in told  # the ticket just closes
    assert (await ticket_of(db, reference)).status == "closed"
    assert [s.status for s in await surveys_of(db)] == ["skipped"]

    # the button under a survey opts out as well; /survei turns them back on
    await warga.say("/survei")
    assert "akan kami kirim lagi" in warga.text
    second = await file_second_complaint(warga)
    await resolve(desk, second, "Lampu sudah diganti", "proof-2")
    clock.set(wib(25, 9, 5))
    assert await sweep(deps, db) == 1
    assert "Survei kepuasan" in await me.inbox()
    assert "tidak akan menerima survei" in await me.press("Berhenti survei")
    clock.set(wib(30, 9, 5))
    await sweep(deps, db)
    assert "Pengingat" not in await me.inbox()


async def file_second_complaint(warga: Dialog) -> str:
    await warga.file_complaint("Sampah liar menumpuk lagi di gang Mawar dekat sekolah", at=(-6.25, 106.9))
    reference = find_reference(warga.text)
    assert reference, warga.text
    return reference


async def test_reopened_twice_escalates_to_the_supervisor(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    me = Citizen(warga, desk)
    for round_, day in ((1, 24), (2, 26)):
        await resolve(desk, reference, f"Sudah diangkut ({round_})", f"proof-{round_}")
        await me.inbox()
        clock.set(wib(day, 9, 30))
        # typed words bring the question back to confirm with a button; nothing changes before
        assert "benar-benar sudah beres" in await me.say("belum beres, sampahnya masih ada")
        assert (await ticket_of(db, reference)).status == "resolved"
        reply = await me.press("Belum beres")
        assert "dibuka kembali" in reply and "penilaian 1 dari 4" in reply  # the typed words were the comment
    ticket = await ticket_of(db, reference)
    assert ticket.reopen_count == 2
    await desk.flush()
    escalation = texts(desk.new(HEAD))
    assert "2 kali dibuka kembali" in escalation and reference in escalation
    group = texts(desk.new(GROUP))
    assert "sampahnya masih ada" in group  # the typed reason reached the unit


async def test_an_anonymous_english_reporter_is_surveyed_in_english_and_stays_anonymous(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    warga = citizen()
    await warga.file_complaint(
        "Sampah menumpuk di pinggir jalan Kenanga sejak minggu lalu", identity="Anonim"
    )
    reference = find_reference(warga.text)
    assert reference
    await warga.say("/language")
    await warga.press("English")
    me = Citizen(warga, desk)
    await resolve(desk, reference, "Sudah diangkut", "proof-1")
    assert "Is the problem really fixed?" in await me.inbox()
    clock.set(wib(24, 8, 30))
    assert await sweep(deps, db) == 1
    assert "Satisfaction survey" in await me.inbox()
    reply = await me.press("Not fixed")
    assert "reopened" in reply and "what is still not fixed?" in reply
    reply = await me.say("It still smells <bad> & nobody came")
    assert "we passed your note on" in reply and "rating 1 of 4" in reply
    await desk.flush()
    group = texts(desk.new(GROUP))
    assert "It still smells &lt;bad&gt; &amp; nobody came" in group  # escaped for the group
    assert "Siti Warga" not in group and warga.user_id not in group  # and still anonymous
    card = desk.card(GROUP, await desk.card_id(GROUP, reference))
    assert "Siti Warga" not in card.text


async def test_typed_words_never_close_or_reopen_by_themselves(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    warga, me, reference = await resolved(citizen, desk)
    # the status view of a resolved ticket asks whether it is really fixed
    status = await me.say(f"/status {reference}")
    assert "Selesai ditangani" in status and "benar-benar sudah beres" in status
    # a question, sarcasm, a new complaint that starts like "not fixed": none is a verdict
    for text in (
        "Sudah beres belum yang lampu jalan?",
        "Masih rusak lampu jalan di Jl. Kenanga depan sekolah sudah seminggu",
    ):
        assert "benar-benar sudah beres" not in await me.say(text)
        await warga.say("/batal")
        await me.inbox()
    assert (await ticket_of(db, reference)).status == "resolved"
    # "sudah beres, makasih" asks to confirm; the button closes it
    assert "benar-benar sudah beres" in await me.say("sudah beres, makasih ya")
    assert (await ticket_of(db, reference)).status == "resolved"
    assert "ditutup" in await me.press("Sudah beres")
    assert (await ticket_of(db, reference)).status == "closed"


async def test_the_comment_step_lets_go_of_what_is_not_a_comment(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    warga, me, reference = await resolved(citizen, desk)
    assert "apa yang masih belum beres" in await me.press("Belum beres")

    # /batal at the comment is a skip: the ratings still come
    assert "penilaian 1 dari 4" in await me.say("/batal")

    # an album as the comment: every photo reaches the unit, none starts a complaint
    await resolve(desk, reference, "Sudah diangkut lagi", "proof-2")
    clock.set(wib(24, 8, 30))
    await survey_sweep.sweep(db, deps)
    await me.inbox()
    await me.press("Belum beres")
    desk.new(GROUP)
    for n in (1, 2):
        await warga.send(
            kind=InboundKind.PHOTO, media=(MediaRef(kind="photo", file_id=f"masih-{n}", group_id="al1"),)
        )
    told = await me.inbox()
    assert "Pengaduan Anda tentang apa" not in told and "diteruskan" in told
    await desk.flush()
    group = texts(desk.new(GROUP))
    assert "[media masih-1]" in group and "[media masih-2]" in group

    # two hours later the next message is not taken as a comment any more
    await resolve(desk, reference, "Sudah diangkut ketiga kali", "proof-3")
    clock.set(wib(25, 8, 30))
    await survey_sweep.sweep(db, deps)
    await me.press("Belum beres")
    clock.set(wib(25, 10, 31))
    reply = await me.say("Jalan berlubang besar di depan pasar Minggu, bahaya untuk motor")
    assert "diteruskan" not in reply
    async with db.sessions() as session:
        surveys = list(await session.exec(select(Survey).order_by(col(Survey.id))))
    assert surveys[-1].comment is None


async def test_not_fixed_while_writing_a_complaint_asks_the_comment_afterwards(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    warga, me, reference = await resolved(citizen, desk)
    not_fixed = desk.button(warga.chat_id, "Belum beres").payload
    await warga.say("/lapor")
    await warga.press("Jalan")
    await warga.press_payload(not_fixed)  # in the middle of the new complaint
    reply = await me.inbox()
    assert "dibuka kembali" in reply and "apa yang masih belum beres" not in reply
    await warga.say("Jalan berlubang besar di depan pasar Minggu, bahaya untuk motor")
    assert (await ticket_of(db, reference)).status == "reopened"
    assert "lokasi" in (await me.inbox()).lower()  # the words went to the new complaint
    assert "apa yang masih belum beres" in await me.say("/batal")  # and then the comment is asked


async def test_surveys_turned_off_in_the_configuration_stop_going_out(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    me = Citizen(warga, desk)
    await resolve(desk, reference, "Sampah sudah diangkut", "proof-1")  # scheduled while on
    await me.inbox()
    off = Deps(
        city=deps.city.model_copy(
            update={"surveys": deps.city.surveys.model_copy(update={"enabled": False})}
        ),
        texts=deps.texts,
        clock=clock,
        classifier=deps.classifier,
    )
    clock.set(wib(30, 9, 0))
    assert await survey_sweep.sweep(db, off) == 1
    assert await me.inbox() == ""  # nothing sent, nothing closed behind the citizen's back
    assert (await ticket_of(db, reference)).status == "resolved"
    assert [s.status for s in await surveys_of(db)] == ["skipped"]


async def reopened_at_comment(citizen: Callable[..., Dialog], desk: Desk) -> tuple[Dialog, Citizen, str]:
    """A resolved ticket; the reporter pressed "Belum beres" and is asked what is still wrong."""
    warga, me, reference = await resolved(citizen, desk)
    assert "apa yang masih belum beres" in await me.press("Belum beres")
    return warga, me, reference


async def test_at_the_comment_step_other_intents_win(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, clock: FrozenClock
) -> None:
    _warga, me, reference = await reopened_at_comment(citizen, desk)
    # "tiket saya" lists the tickets; the next words are then not taken as the comment
    listed = await me.say("tiket saya")
    assert reference in listed and "diteruskan" not in listed
    assert "diteruskan" not in await me.say("Sampah liar menumpuk di gang Mawar dekat sekolah dasar")
    async with db.sessions() as session:
        (survey,) = await session.exec(select(Survey))
    assert survey.comment is None


async def test_a_stale_comment_step_falls_back_to_the_menu(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, clock: FrozenClock
) -> None:
    warga, me, _reference = await reopened_at_comment(citizen, desk)
    clock.set(wib(23, 16, 0))  # long after the question
    reply = await me.say("/batal")
    assert "penilaian" not in reply and "Tidak ada yang perlu dibatalkan" in reply
    await warga.say("/foo")
    assert "Tulis keterangan" not in warga.text


async def test_a_complaint_started_at_the_comment_step_puts_the_comment_aside(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, clock: FrozenClock
) -> None:
    _warga, me, _reference = await reopened_at_comment(citizen, desk)
    await me.say("/lapor")
    reply = await me.say("/batal")
    assert "Pengaduan dibatalkan" in reply and "apa yang masih belum beres" in reply


async def test_a_comment_put_aside_is_dropped_once_the_ticket_is_resolved_again(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, clock: FrozenClock
) -> None:
    warga, me, reference = await resolved(citizen, desk)
    not_fixed = desk.button(warga.chat_id, "Belum beres").payload
    await warga.say("/lapor")
    await warga.press_payload(not_fixed)
    await resolve(desk, reference, "Sudah dibersihkan lagi", "proof-2")  # while the citizen still writes
    await me.inbox()
    assert "apa yang masih belum beres" not in await me.say("/batal")


async def test_a_reply_to_another_message_at_the_comment_step_is_not_the_comment(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, clock: FrozenClock
) -> None:
    warga, me, _reference = await reopened_at_comment(citizen, desk)
    await me.say("/start")  # a message of no ticket to reply to
    welcome = desk.channel.to(warga.chat_id)[-1].message_id
    await warga.say("Halo, ini balasan untuk pesan sambutan", reply_to_message_id=welcome)
    await me.inbox()
    assert "diteruskan" not in await me.say("oke makasih")
    async with db.sessions() as session:
        (survey,) = await session.exec(select(Survey))
    assert survey.comment is None


async def test_opted_out_typed_verdict_reopens_without_ratings(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, clock: FrozenClock
) -> None:
    warga, me, _reference = await resolved(citizen, desk)
    await me.say("/stop")
    asked = await me.say("belum beres, masih bau")
    assert "salah satu tombol" in asked
    assert not any("Berhenti" in b.label for b in warga.buttons)  # already off
    reply = await me.press("Belum beres")
    assert "dibuka kembali" in reply and "penilaian" not in reply and "sudah kami catat" in reply
    await desk.flush()
    assert "masih bau" in texts(desk.new(GROUP))
