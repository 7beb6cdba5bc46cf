"""Faults as a citizen notices them: the database away for a while, Telegram answering 502 for a while.

The database: a message that cannot be stored is answered "try again shortly" in the person's
language (straight to the platform when the outbox cannot be written either), nothing of it is kept,
its dedupe record neither (the same update delivered again is handled), and once the database is
back the next message works in the same process. Telegram down: the outbox keeps every message
pending, counts the attempts, fails none, and sends them all in order once Telegram answers again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import col, func, select

from bot.channels.telegram import TelegramAdapter, make_bot
from bot.sender import OutboxSender
from handlers.context import Deps
from handlers.messages import Channel, Envelope, Inbound, InboundKind, OutText
from handlers.pipeline import Pipeline
from models import Conversation, OutboxMessage, OutboxStatus, Ticket
from models.db import Database
from models.inbound import ProcessedInbound
from tests.dialog import Dialog
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.test_intake_dialog import REFERENCE
from workflows.clock import FrozenClock, as_utc
from workflows.outbox import enqueue

SORRY_ID = (
    "Maaf, pesan Anda belum dapat kami proses karena gangguan sementara. Mohon kirim lagi sebentar lagi."
)
SORRY_EN = (
    "Sorry, we could not process your message because of a temporary problem. "
    "Please send it again in a moment."
)


class Platform:
    """What reaches the people without the outbox: the pipeline's `deliver_now`."""

    def __init__(self) -> None:
        self.sent: list[Envelope] = []

    async def deliver(self, envelope: Envelope) -> str:
        self.sent.append(envelope)
        return str(len(self.sent))

    def texts(self, chat_id: str) -> list[str]:
        return [e.action.text for e in self.sent if e.chat_id == chat_id and isinstance(e.action, OutText)]


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def hurried(db: Database) -> Database:
    """The database, giving up on a lock after 50 ms instead of 30 s (the production busy timeout)."""

    def short_timeout(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA busy_timeout=50")
        cursor.close()

    event.listen(db.engine.sync_engine, "connect", short_timeout)
    return db


@pytest.fixture
async def pipeline_now(hurried: Database, deps: Deps, platform: Platform) -> AsyncIterator[Pipeline]:
    await hurried.engine.dispose()  # connections opened before the short timeout was set
    yield Pipeline(hurried, deps, deliver_now=platform.deliver)


def text_from(user_id: str, event_id: str, text: str, app_language: str) -> Inbound:
    return Inbound(
        channel=Channel.TELEGRAM,
        event_id=event_id,
        chat_id=user_id,
        user_id=user_id,
        kind=InboundKind.TEXT,
        text=text,
        platform_language=app_language,
    )


def database_file(db: Database) -> Path:
    database = db.engine.url.database
    assert database
    return Path(database)


class WriteLock:
    """Another process holding SQLite's write lock (a long migration, a backup tool)."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(model).where(*where))).one())


async def to_summary_in_english(warga: Dialog) -> None:
    await warga.say("/language")
    await warga.press("English")
    await warga.say("/start")
    await warga.press("File a complaint")
    await warga.press("Waste")
    await warga.say("Rubbish not collected for three days at the market corner, it smells")
    await warga.share_location(-6.2001, 106.8167)
    await warga.press("Skip")
    await warga.press("Public")
    assert "Send complaint" in " ".join(b.label for b in warga.buttons)


async def conversation_now(db: Database) -> tuple[str, int, dict[str, Any]]:
    async with db.sessions() as session:
        conversation = (await session.exec(select(Conversation))).one()
    return conversation.state, conversation.step, conversation.data


async def test_a_locked_database_gets_an_apology_in_english_keeps_nothing_and_recovers(
    pipeline_now: Pipeline, platform: Platform, db: Database
) -> None:
    warga = Dialog(pipeline_now, user_id="1001")
    await to_summary_in_english(warga)
    outbox_before = await count(db, OutboxMessage)
    seen_before = await count(db, ProcessedInbound)
    send = warga.button("Send complaint").payload
    at_summary = await conversation_now(db)

    lock = WriteLock(database_file(db))
    try:
        await warga.send(event_id="tg-77", kind=InboundKind.BUTTON, payload=send)
        # what the citizen sees: the apology in their language, straight from the platform
        assert platform.texts("1001") == [SORRY_EN]
        assert warga.replies == []  # nothing could be queued
        # what is stored: nothing of the press, not even that it was seen
        assert await count(db, Ticket) == 0
        assert await count(db, OutboxMessage) == outbox_before
        assert await count(db, ProcessedInbound) == seen_before
        assert await count(db, ProcessedInbound, col(ProcessedInbound.event_id) == "tg-77") == 0
        assert await conversation_now(db) == at_summary  # still at the summary, draft and all
    finally:
        lock.release()

    # the same update delivered again (a Telegram webhook retry) is handled, in the same process
    await warga.send(event_id="tg-77", kind=InboundKind.BUTTON, payload=send)
    assert REFERENCE.search(warga.text), warga.text
    assert await count(db, Ticket) == 1
    assert await count(db, ProcessedInbound, col(ProcessedInbound.event_id) == "tg-77") == 1
    assert platform.texts("1001") == [SORRY_EN]  # no second apology: it went through the outbox as usual
    # and once more: a repeat now, a duplicate ignored
    await warga.send(event_id="tg-77", kind=InboundKind.BUTTON, payload=send)
    assert warga.replies == [] and await count(db, Ticket) == 1


async def test_while_the_outbox_can_still_be_written_the_apology_is_queued_as_usual(
    pipeline_now: Pipeline, platform: Platform, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure that is not the database's (a bug in a step): the apology goes the ordinary way."""
    from handlers import router

    async def broken(turn: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(router, "step", broken)
    warga = Dialog(pipeline_now, user_id="1002")
    await warga.say("halo")
    assert [r.text for r in warga.replies if isinstance(r, OutText)] == [SORRY_ID]
    assert platform.sent == []


async def test_a_database_that_cannot_be_opened_answers_in_the_app_language_and_recovers_by_itself(
    pipeline_now: Pipeline, platform: Platform, db: Database, tmp_path: Path
) -> None:
    """The database gone altogether (its volume unmounted): new connections fail, then work again."""
    path = database_file(db)
    folder = path.parent
    moved = tmp_path.parent / f"{tmp_path.name}-away"
    await db.engine.dispose()
    folder.rename(moved)
    try:
        assert await pipeline_now.handle(text_from("2001", "tg-1", "hello", "en-GB")) is False
        assert await pipeline_now.handle(text_from("2002", "tg-2", "halo", "id")) is False
        assert platform.texts("2001") == [SORRY_EN]
        assert platform.texts("2002") == [SORRY_ID]
    finally:
        moved.rename(folder)

    assert await count(db, ProcessedInbound) == 0 and await count(db, OutboxMessage) == 0
    # the same update again (Telegram retries an unanswered webhook): handled, without a restart
    assert await pipeline_now.handle(text_from("2001", "tg-1", "hello", "en-GB")) is True
    replies = await outbox(db)
    assert replies and {row.chat_id for row in replies} == {"2001"}
    assert await count(db, ProcessedInbound, col(ProcessedInbound.event_id) == "tg-1") == 1
    assert len(platform.sent) == 2  # nothing more went past the outbox


# --- Telegram down ---------------------------------------------------------------------------


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        yield fake


async def queue(db: Database, clock: FrozenClock, chat_id: str, *texts: str) -> None:
    async with db.transaction() as session:
        for text in texts:
            envelope = Envelope(channel=Channel.TELEGRAM, chat_id=chat_id, action=OutText(text=text))
            enqueue(session=session, envelope=envelope, now=clock.now())


async def outbox(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


async def test_telegram_answering_502_for_a_while_holds_the_outbox_and_it_drains_in_order(
    api: FakeTelegramAPI, db: Database, clock: FrozenClock
) -> None:
    bot = make_bot(api.token, api.base_url)
    try:
        sender = OutboxSender(db, {"telegram": TelegramAdapter(bot)}, clock, per_second=1e6)
        chats = {"1001": ("satu", "dua", "tiga"), "1002": ("one", "two")}
        for chat, texts in chats.items():
            await queue(db, clock, chat, *texts)
        outage = 6  # passes while Telegram is down: each tries the first message of each chat
        api.fail_next("sendMessage", status=502, description="Bad Gateway", times=outage * len(chats))

        retry_at: list[Any] = []
        for _ in range(outage):
            assert await sender.send_due() is False  # nothing left the queue
            rows = await outbox(db)
            assert all(row.status == OutboxStatus.PENDING for row in rows)  # nothing failed for good
            heads = [rows[0], rows[3]]
            assert all("Bad Gateway" in (row.last_error or "") for row in heads)
            retry_at.append(as_utc(heads[0].next_attempt_at) - clock.now())
            clock.advance(retry_at[-1])  # until the retry is due
        # what the citizens saw: nothing; what is stored: every attempt counted, backing off
        assert api.sent(1001) == [] and api.sent(1002) == []
        rows = await outbox(db)
        assert [row.attempts for row in rows] == [outage, 0, 0, outage, 0]
        assert retry_at == sorted(retry_at) and retry_at[-1] > retry_at[0]
        assert len(api.sent(include_failed=True)) == outage * len(chats)

        # Telegram answers again: everything goes, once, in order
        for _ in range(20):
            if not await sender.send_due():
                break
        assert [call.text for call in api.sent(1001)] == ["satu", "dua", "tiga"]
        assert [call.text for call in api.sent(1002)] == ["one", "two"]
        rows = await outbox(db)
        assert [row.status for row in rows] == [OutboxStatus.SENT] * 5
        assert [row.attempts for row in rows] == [outage + 1, 1, 1, outage + 1, 1]
    finally:
        await bot.session.close()
