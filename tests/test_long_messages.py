"""A text too long for one message goes as several; when a later part fails, the retry goes on from it.

The citizen (or the unit's group) must not read the first part twice because the second one met a
5xx. The outbox row remembers how many parts arrived (`parts_sent`); the next attempt starts there.
Real adapters against the fake Bot API and the fake Graph API, the real sender, a migrated database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiogram import Bot
from sqlmodel import select

from bot.channels.telegram import TelegramAdapter, make_bot
from bot.channels.whatsapp import WhatsAppAdapter
from bot.channels.whatsapp_client import GraphClient
from bot.sender import OutboxSender
from handlers.messages import Channel, Envelope, Inbound, OutText
from models import OutboxMessage, OutboxStatus
from models.db import Database
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from workflows.clock import FrozenClock
from workflows.outbox import enqueue

CHAT = 1001
WA_ID = "6281234567890"
FAST = 1e6
# five paragraphs of ~2,000 characters: several messages of at most 4,096 on either platform
PARAGRAPHS = [f"Bagian {n}: " + " ".join(f"kata{n}-{i}" for i in range(230)) for n in range(1, 6)]
LONG = "\n\n".join(PARAGRAPHS)


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeTelegramAPI) -> AsyncIterator[Bot]:
    bot = make_bot(api.token, api.base_url)
    yield bot
    await bot.session.close()


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    async with FakeGraphAPI() as fake:
        yield fake


@pytest.fixture
async def whatsapp(graph: FakeGraphAPI, db: Database, tmp_path: Path) -> AsyncIterator[WhatsAppAdapter]:
    async def handle(inbound: Inbound) -> bool:
        return True

    async with GraphClient(
        access_token=graph.access_token, phone_number_id=graph.phone_number_id, base_url=graph.base_url
    ) as client:
        yield WhatsAppAdapter(
            client,
            db=db,
            handle=handle,
            media_dir=tmp_path / "media",
            list_button_labels={"id": "Pilih"},
            location_hints={"id": "Bagikan lokasi"},
        )


async def queue_long(db: Database, clock: FrozenClock, channel: Channel, chat_id: str) -> None:
    async with db.transaction() as session:
        envelope = Envelope(channel=channel, chat_id=chat_id, action=OutText(text=LONG))
        enqueue(session=session, envelope=envelope, now=clock.now())


async def the_row(db: Database) -> OutboxMessage:
    async with db.sessions() as session:
        return (await session.exec(select(OutboxMessage))).one()


async def send_until_done(sender: OutboxSender, db: Database, clock: FrozenClock) -> None:
    for _ in range(10):
        await sender.send_due()
        if (await the_row(db)).status != OutboxStatus.PENDING:
            return
        clock.advance(timedelta(minutes=1))  # past the backoff
    raise AssertionError("the row was never sent")


def words(texts: list[str]) -> list[str]:
    return " ".join(texts).split()


async def test_telegram_goes_on_from_the_part_that_failed(
    api: FakeTelegramAPI, bot: Bot, db: Database, clock: FrozenClock
) -> None:
    sender = OutboxSender(db, {"telegram": TelegramAdapter(bot)}, clock, per_second=FAST)
    await queue_long(db, clock, Channel.TELEGRAM, str(CHAT))
    api.fail_next("sendMessage", status=502, after=1)  # the first part arrives, the second meets a 502

    await sender.send_due()
    row = await the_row(db)
    assert (row.status, row.parts_sent) == (OutboxStatus.PENDING, 1)
    await send_until_done(sender, db, clock)

    received = [call.text or "" for call in api.sent(CHAT)]
    assert len(received) > 2  # several parts
    assert words(received) == LONG.split()  # every word once, in order: no part twice
    assert (await the_row(db)).status == OutboxStatus.SENT


async def test_whatsapp_goes_on_from_the_part_that_failed(
    graph: FakeGraphAPI, whatsapp: WhatsAppAdapter, db: Database, clock: FrozenClock
) -> None:
    sender = OutboxSender(db, {"whatsapp": whatsapp}, clock, per_second=FAST)
    await queue_long(db, clock, Channel.WHATSAPP, WA_ID)
    graph.fail_next(131000, after=2)  # two parts arrive, the third meets Meta's "something went wrong"

    await sender.send_due()
    assert (await the_row(db)).parts_sent == 2
    await send_until_done(sender, db, clock)

    received = graph.texts(WA_ID)
    assert len(received) > 2
    assert words(received) == LONG.split()


async def test_a_part_that_keeps_failing_is_not_sent_again_before_it(
    api: FakeTelegramAPI, bot: Bot, db: Database, clock: FrozenClock
) -> None:
    sender = OutboxSender(db, {"telegram": TelegramAdapter(bot)}, clock, per_second=FAST)
    await queue_long(db, clock, Channel.TELEGRAM, str(CHAT))
    api.fail_next("sendMessage", status=500, after=2, times=3)  # the third part fails three times

    await send_until_done(sender, db, clock)

    received = [call.text or "" for call in api.sent(CHAT)]
    assert words(received) == LONG.split()
    assert (await the_row(db)).attempts == 4
