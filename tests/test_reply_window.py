"""WhatsApp's 24-hour rule as a citizen on WhatsApp notices it.

Within 24 hours of their last message they get the bot's messages as they are. After that a
status change, an officer's message and the survey reach them as the city's approved templates
(the reference, the unit, the status and the words filled in; the survey's answer buttons work);
anything without a template (the officer's photo) waits and arrives, in order, as soon as they
write again. Meta's own "outside the window" answer, at once or later as a failed receipt, leads
to the template too. The real pipeline and sender on a migrated database; a test clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.channels.base import DeliveryError
from bot.sender import OutboxSender
from handlers import router, survey_sweep
from handlers.context import Deps
from handlers.messages import Channel, Outbound, OutMedia, OutTemplate, OutText, TemplateCall
from models import OutboxMessage, OutboxStatus, Survey, Ticket
from models.db import Database
from models.queries import record_delivery
from tests.desk import GROUP, Desk, RecordingChannel, Sent, texts
from tests.dialog import Dialog
from tests.test_intake_dialog import file_rubbish_complaint
from tests.test_survey_loop import resolve
from workflows.city_config import CityConfig, WhatsAppTemplate
from workflows.clock import FrozenClock
from workflows.reply_window import TEXT_PARAMETER_MAX, Choice, ReplyWindow

WA = "6281234567890"


class WhatsAppStandIn(RecordingChannel):
    """Records deliveries; can answer the next free-form sends with Meta's 131047."""

    def __init__(self) -> None:
        super().__init__(channel=Channel.WHATSAPP)
        self.refuse_free_form = 0

    async def deliver(
        self, chat_id: str, action: Outbound, *, skip: int = 0, paid: bool = False
    ) -> str | None:
        if self.refuse_free_form and not isinstance(action, OutTemplate):
            self.refuse_free_form -= 1
            error = DeliveryError("131047 Re-engagement message", permanent=True)
            error.outside_window = True
            raise error
        return await super().deliver(chat_id, action)  # type: ignore[arg-type]


@pytest.fixture
def whatsapp(desk: Desk, db: Database, clock: FrozenClock, city: CityConfig) -> WhatsAppStandIn:
    """The desk's sender delivers to WhatsApp too, with the sample city's window and templates."""
    channel = WhatsAppStandIn()
    desk.sender = OutboxSender(
        db,
        {"telegram": desk.channel, "whatsapp": channel},
        clock,
        per_second=1e6,
        windows={"whatsapp": ReplyWindow.from_config(city.whatsapp)},
    )
    return channel


def new_to(channel: WhatsAppStandIn, seen: list[int]) -> list[Sent]:
    """What the WhatsApp citizen received since the last call."""
    mine = channel.to(WA)
    fresh, seen[0] = mine[seen[0] :], len(mine)
    return fresh


async def filed_on_whatsapp(
    citizen: Callable[..., Dialog], desk: Desk, whatsapp: WhatsAppStandIn
) -> tuple[Dialog, str, list[int], list[Sent]]:
    """A complaint filed on WhatsApp and its conversation delivered: the citizen, the reference,
    the count of messages they have seen (for new_to), and those messages."""
    warga = citizen(user_id=WA, channel=Channel.WHATSAPP)
    reference = await file_rubbish_complaint(warga)
    await desk.flush()
    seen = [0]
    return warga, reference, seen, new_to(whatsapp, seen)


def button(sent: list[Sent], label: str) -> str:
    """The payload of a button the citizen received."""
    for item in reversed(sent):
        if isinstance(item.action, OutText):
            for row in item.action.buttons:
                for choice in row:
                    if label in choice.label:
                        return choice.payload
    raise AssertionError(f"no {label!r} button in {sent}")


async def ticket_of(db: Database, reference: str) -> Ticket:
    async with db.sessions() as session:
        return (await session.exec(select(Ticket).where(Ticket.reference == reference))).one()


async def rows_to(db: Database, chat_id: str) -> list[OutboxMessage]:
    async with db.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.chat_id == chat_id).order_by(col(OutboxMessage.id))
        return list(await session.exec(query))


async def test_inside_the_window_messages_go_as_they_are_and_after_it_as_templates(
    citizen: Callable[..., Dialog],
    desk: Desk,
    whatsapp: WhatsAppStandIn,
    db: Database,
    clock: FrozenClock,
) -> None:
    warga, reference, seen, conversation = await filed_on_whatsapp(citizen, desk, whatsapp)
    assert conversation and not any(isinstance(s.action, OutTemplate) for s in conversation)
    assert any(reference in texts([s]) for s in conversation)  # the reference, as a plain message

    # 23 hours later the window is still open: the resolution notice goes as itself
    clock.advance(timedelta(hours=23))
    await resolve(desk, reference, "Sampah sudah diangkut", "proof-1")
    notice = new_to(whatsapp, seen)
    assert any("telah diselesaikan" in texts([s]) for s in notice)
    assert not any(isinstance(s.action, OutTemplate) for s in notice)

    # "Belum beres" reopens it; 25 hours after that last press the unit resolves it again
    await warga.press_payload(button(notice, "Belum beres"))
    await warga.say("Masih ada sampah di pojok")
    await desk.flush()
    new_to(whatsapp, seen)
    clock.advance(timedelta(hours=25))
    await resolve(desk, reference, "Pojok juga sudah bersih\nsemua diangkut", "proof-2")
    outside = new_to(whatsapp, seen)
    assert all(isinstance(s.action, OutTemplate) for s in outside), outside  # the proof photo waits
    accepted, resolved_ = (s.action for s in outside)
    assert isinstance(accepted, OutTemplate) and isinstance(resolved_, OutTemplate)
    assert accepted.name == "civicbot_ticket_update" and accepted.language == "id"
    assert accepted.parameters[:2] == (reference, "Sedang dikerjakan")
    assert "sudah diterima oleh Dinas Lingkungan Hidup" in accepted.parameters[2]
    assert "\n" not in accepted.parameters[2] and "<b>" not in accepted.parameters[2]
    # "is it fixed?" with the resolution: the survey's template, whose three buttons answer it
    assert resolved_.name == "civicbot_survey"
    assert resolved_.parameters == (reference, "Dinas Lingkungan Hidup")
    assert [payload.split("|")[2:] for payload in resolved_.quick_replies] == [
        ["fixed", "y"],
        ["fixed", "n"],
        ["stop", "-"],
    ]
    stored = await rows_to(db, WA)
    assert [r.sent_as for r in stored if r.status == OutboxStatus.SENT][-1] == "template"
    assert [r.status for r in stored if r.role == "notice" and r.payload["kind"] == "media"][-1] == "held"

    # they write: the photo that waited comes first, then the answer to what they wrote
    await warga.say(f"/status {reference}")
    await desk.flush()
    back = new_to(whatsapp, seen)
    assert isinstance(back[0].action, OutMedia) and back[0].action.media.file_id == "proof-2"
    assert reference in texts(back[1:])
    assert not any(isinstance(s.action, OutTemplate) for s in back)


async def test_the_survey_after_the_window_is_its_template_and_its_buttons_answer_it(
    citizen: Callable[..., Dialog],
    desk: Desk,
    whatsapp: WhatsAppStandIn,
    db: Database,
    deps: Deps,
    clock: FrozenClock,
) -> None:
    warga = citizen(user_id=WA, channel=Channel.WHATSAPP)
    reference = await file_rubbish_complaint(warga)
    await resolve(desk, reference, "Sampah sudah diangkut", "proof-1")
    seen = [0]
    new_to(whatsapp, seen)
    clock.advance(timedelta(days=2))  # a working day later, and past the 24 hours
    assert await survey_sweep.sweep(db, deps) == 1
    await desk.flush()
    sent = new_to(whatsapp, seen)
    assert len(sent) == 1 and isinstance(sent[0].action, OutTemplate), sent
    survey_template = sent[0].action
    assert survey_template.name == "civicbot_survey"
    assert survey_template.parameters == (reference, "Dinas Lingkungan Hidup")
    async with db.sessions() as session:
        survey = (await session.exec(select(Survey))).one()
    assert survey_template.quick_replies == (
        f"sv|{survey.id}|fixed|y",
        f"sv|{survey.id}|fixed|n",
        f"sv|{survey.id}|stop|-",
    )
    # the template's "Sudah beres" button comes back as its payload and closes the ticket
    await warga.press_payload(survey_template.quick_replies[0])
    assert (await ticket_of(db, reference)).status == "closed"
    await desk.flush()
    assert "penilaian 1 dari 4" in texts(new_to(whatsapp, seen))


async def test_meta_refusing_the_message_itself_gets_the_template_or_a_wait(
    citizen: Callable[..., Dialog],
    desk: Desk,
    whatsapp: WhatsAppStandIn,
    db: Database,
) -> None:
    """Our clock says the window is open, Meta says it closed (131047 at once)."""
    _, reference, seen, _ = await filed_on_whatsapp(citizen, desk, whatsapp)
    whatsapp.refuse_free_form = 5
    await resolve(desk, reference, "Sampah sudah diangkut", "proof-1")
    sent = new_to(whatsapp, seen)
    assert [type(s.action) for s in sent] == [OutTemplate, OutTemplate]  # accepted, then resolved
    assert [s.action.name for s in sent] == [  # type: ignore[union-attr]
        "civicbot_ticket_update",
        "civicbot_survey",
    ]
    held = [r for r in await rows_to(db, WA) if r.status == OutboxStatus.HELD]
    assert [r.payload["kind"] for r in held] == ["media"]  # the proof photo: no template stands in
    assert "24-hour window" in (held[0].last_error or "")


async def test_a_later_failed_receipt_for_the_window_sends_the_template_once(
    citizen: Callable[..., Dialog],
    desk: Desk,
    whatsapp: WhatsAppStandIn,
    db: Database,
    clock: FrozenClock,
) -> None:
    """Meta accepts the text, then reports 131047 in a status webhook: the template follows, once."""
    _, reference, seen, _ = await filed_on_whatsapp(citizen, desk, whatsapp)
    await resolve(desk, reference, "Sampah sudah diangkut", "proof-1")
    notice = next(s for s in new_to(whatsapp, seen) if "telah diselesaikan" in texts([s]))

    async def receipt(message_id: str, error: str) -> None:
        async with db.transaction() as session:
            assert await record_delivery(
                session=session,
                channel="whatsapp",
                platform_message_id=message_id,
                status="failed",
                at=clock.now(),
                error=error,
            )

    await receipt(notice.message_id, "131047 Re-engagement message")
    await desk.flush()
    again = new_to(whatsapp, seen)
    assert len(again) == 1 and isinstance(again[0].action, OutTemplate)
    assert again[0].action.parameters[0] == reference
    row = next(r for r in await rows_to(db, WA) if r.platform_message_id == again[0].message_id)
    assert row.status == OutboxStatus.SENT and row.sent_as == "template" and row.delivery_status is None

    # the template itself failing is final: no loop
    await receipt(again[0].message_id, "131047 Re-engagement message")
    await desk.flush()
    assert new_to(whatsapp, seen) == []
    row = next(r for r in await rows_to(db, WA) if r.id == row.id)
    assert row.status == OutboxStatus.FAILED


async def test_telegram_citizens_have_no_window(
    citizen: Callable[..., Dialog], desk: Desk, whatsapp: WhatsAppStandIn, db: Database, clock: FrozenClock
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    clock.advance(timedelta(days=3))
    await resolve(desk, reference, "Sampah sudah diangkut", "proof-1")
    await desk.flush()
    assert "telah diselesaikan" in texts(desk.new(warga.chat_id))
    assert whatsapp.sent == []
    assert all(r.template is None for r in await rows_to(db, warga.chat_id))
    assert texts(desk.new(GROUP))


def test_a_template_is_filled_as_meta_accepts_it() -> None:
    window = ReplyWindow(
        length=timedelta(hours=24),
        templates={
            "officer_message": WhatsAppTemplate(
                name="pesan_petugas",
                languages={"en": "en_US"},
                parameters=["unit", "text", "reference"],
                quick_replies=1,
            )
        },
    )
    call = TemplateCall(
        kind="officer_message",
        language="en",
        params={"reference": "ADU-1", "unit": "", "text": "line one\n\n\tline   two" + " x" * 800},
        quick_replies=("m|ans:1", "m|other"),
    )
    template = window.template(call)
    assert template is not None
    assert template.name == "pesan_petugas" and template.language == "en_US"
    unit, text, ref = template.parameters
    assert unit == "-"  # Meta refuses an empty parameter
    assert text.startswith("line one line two x") and len(text) == TEXT_PARAMETER_MAX and text.endswith("…")
    assert ref == "ADU-1"
    assert template.quick_replies == ("m|ans:1",)  # the template has one button
    indonesian = window.template(call.model_copy(update={"language": "id"}))
    assert indonesian is not None and indonesian.language == "id"  # not listed: the same code
    assert window.template(call.model_copy(update={"kind": "survey"})) is None


def test_the_window_is_open_for_24_hours_since_the_last_message() -> None:
    from datetime import UTC, datetime

    window = ReplyWindow(length=timedelta(hours=24), templates={})
    wrote = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert window.is_open(wrote, wrote + timedelta(hours=23, minutes=59))
    assert not window.is_open(wrote, wrote + timedelta(hours=24))
    assert not window.is_open(None, wrote)
    choice, template = window.choose(last_message_at=wrote, now=wrote + timedelta(hours=30), call=None)
    assert choice == Choice.HOLD and template is None
    choice, _ = window.choose(last_message_at=wrote, now=wrote, call=None, template_only=True)
    assert choice == Choice.HOLD


async def test_the_apology_for_a_failed_message_is_not_held_back(
    citizen: Callable[..., Dialog],
    desk: Desk,
    whatsapp: WhatsAppStandIn,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first message, or one after days away, that fails: they just wrote, so the window is open."""

    async def broken(turn: object) -> None:
        raise RuntimeError("database went away")

    seen = [0]
    monkeypatch.setattr(router, "step", broken)
    newcomer = citizen(user_id=WA, channel=Channel.WHATSAPP)
    await newcomer.say("Halo")
    await desk.flush()
    assert "gangguan sementara" in texts(new_to(whatsapp, seen))

    clock.advance(timedelta(days=3))
    await newcomer.say("Halo lagi")
    await desk.flush()
    assert "gangguan sementara" in texts(new_to(whatsapp, seen))
