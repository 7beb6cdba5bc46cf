"""The outbox sender as a citizen notices it: messages arrive once, in order, and a slow chat holds up no one.

A real migrated database (SQLite; the two-instance test also on PostgreSQL when it answers at
127.0.0.1:5432) and a recording fake channel; time moves only when the test moves the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.channels.base import DeliveryError
from bot.sender import OutboxSender
from handlers.messages import Channel, Envelope, Outbound, OutText
from models import OutboxMessage, OutboxStatus
from models.db import Database
from models.queries import claim_outbox
from tests.postgres import HOST, PORT, USERS, connect_admin, fresh_database
from workflows.clock import FrozenClock, as_utc
from workflows.outbox import enqueue

FAST = 1e6  # messages per second: no pacing pause worth the name


class FakeChannel:
    """Records what it delivers; can be told to fail the next calls (for one chat, or any)."""

    channel = Channel.TELEGRAM

    def __init__(self, sent: list[tuple[str, str]] | None = None) -> None:
        self.sent: list[tuple[str, str]] = [] if sent is None else sent  # may be shared, in time order
        self.delivered = 0  # by this one
        self._failures: list[tuple[str | None, DeliveryError]] = []

    def fail_next(self, error: DeliveryError, times: int = 1, *, chat_id: str | None = None) -> None:
        self._failures.extend([(chat_id, error)] * times)

    async def deliver(self, chat_id: str, action: Outbound, *, skip: int = 0) -> str | None:
        await asyncio.sleep(0)  # let a concurrent sender run in between, as a network call would
        for index, (only_for, error) in enumerate(self._failures):
            if only_for in (None, chat_id):
                del self._failures[index]
                raise error
        assert isinstance(action, OutText)
        self.sent.append((chat_id, action.text))
        self.delivered += 1
        return f"m{len(self.sent)}"

    def texts(self, chat_id: str) -> list[str]:
        return [text for chat, text in self.sent if chat == chat_id]


async def queue(
    db: Database, clock: FrozenClock, chat_id: str, *texts: str, channel: Channel = Channel.TELEGRAM
) -> None:
    async with db.transaction() as session:
        for text in texts:
            envelope = Envelope(channel=channel, chat_id=chat_id, action=OutText(text=text))
            enqueue(session=session, envelope=envelope, now=clock.now())


async def rows(db: Database, chat_id: str | None = None) -> list[OutboxMessage]:
    async with db.sessions() as session:
        query = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if chat_id is not None:
            query = query.where(OutboxMessage.chat_id == chat_id)
        return list(await session.exec(query))


async def drain(sender: OutboxSender, passes: int = 50) -> None:
    for _ in range(passes):
        if not await sender.send_due():
            return
    raise AssertionError("the outbox never ran dry")


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel()


@pytest.fixture
def sender(db: Database, clock: FrozenClock, channel: FakeChannel) -> OutboxSender:
    return OutboxSender(db, {channel.channel.value: channel}, clock, per_second=FAST)


async def test_messages_go_out_once_in_order_and_are_recorded(
    db: Database, clock: FrozenClock, channel: FakeChannel, sender: OutboxSender
) -> None:
    await queue(db, clock, "1001", "first", "second", "third")
    await drain(sender)
    assert channel.sent == [("1001", "first"), ("1001", "second"), ("1001", "third")]
    stored = await rows(db)
    assert [r.status for r in stored] == [OutboxStatus.SENT] * 3
    assert [r.platform_message_id for r in stored] == ["m1", "m2", "m3"]
    assert all(as_utc(r.sent_at) == clock.now() for r in stored if r.sent_at)
    assert [r.attempts for r in stored] == [1, 1, 1]
    assert await sender.send_due() is False


async def test_refused_credentials_pause_the_channel_and_fail_no_message(
    db: Database, clock: FrozenClock, channel: FakeChannel, sender: OutboxSender
) -> None:
    """A revoked token: every chat would fail; the messages wait for the token to be fixed instead."""
    await queue(db, clock, "1001", "first", "second")
    await queue(db, clock, "1002", "to another citizen")
    token_revoked = DeliveryError("190 Invalid OAuth access token", permanent=True)
    token_revoked.channel_down = True
    channel.fail_next(token_revoked)
    assert await sender.send_due() is False
    stored = await rows(db)
    assert [r.status for r in stored] == [OutboxStatus.PENDING] * 3
    assert [r.attempts for r in stored] == [1, 0, 0]  # one try, not one per chat
    clock.advance(timedelta(minutes=4))
    assert await sender.send_due() is False and channel.sent == []
    clock.advance(timedelta(minutes=1))  # the admin fixed the token meanwhile
    await drain(sender)
    assert sorted(channel.sent) == [("1001", "first"), ("1001", "second"), ("1002", "to another citizen")]


async def test_a_429_holds_the_chat_until_retry_after_then_everything_goes_in_order(
    db: Database, clock: FrozenClock, channel: FakeChannel, sender: OutboxSender
) -> None:
    await queue(db, clock, "1001", "first", "second", "third")
    channel.fail_next(DeliveryError("Too Many Requests", retry_after=5))

    assert await sender.send_due() is False
    for _ in range(3):  # later passes send nothing for the chat: "first" is not due, and goes first
        assert await sender.send_due() is False
    await queue(db, clock, "1001", "a reply queued later")
    clock.advance(timedelta(seconds=4.9))
    assert await sender.send_due() is False
    assert channel.sent == []

    clock.advance(timedelta(seconds=0.1))
    await drain(sender)
    assert channel.texts("1001") == ["first", "second", "third", "a reply queued later"]
    first = (await rows(db, "1001"))[0]
    assert (first.status, first.attempts) == (OutboxStatus.SENT, 2)


async def test_a_restarted_sender_keeps_the_order_too(
    db: Database, clock: FrozenClock, channel: FakeChannel, sender: OutboxSender
) -> None:
    await queue(db, clock, "1001", "first", "second")
    channel.fail_next(DeliveryError("Bad Gateway"))
    await sender.send_due()
    restarted = OutboxSender(db, {channel.channel.value: channel}, clock, per_second=FAST)
    assert await restarted.send_due() is False
    clock.advance(timedelta(seconds=2))
    await drain(restarted)
    assert channel.texts("1001") == ["first", "second"]


async def test_one_chats_trouble_does_not_hold_up_the_others(
    db: Database, clock: FrozenClock, channel: FakeChannel, sender: OutboxSender
) -> None:
    await queue(db, clock, "1001", "to A 1", "to A 2")
    await queue(db, clock, "2002", "to B 1", "to B 2")
    channel.fail_next(DeliveryError("Bad Gateway"), times=5, chat_id="1001")
    await drain(sender)
    assert channel.texts("2002") == ["to B 1", "to B 2"]
    assert channel.texts("1001") == []


async def test_a_permanent_error_fails_the_row_with_the_reason_and_the_chat_goes_on(
    db: Database, clock: FrozenClock, channel: FakeChannel, sender: OutboxSender
) -> None:
    await queue(db, clock, "1001", "lost", "next")
    channel.fail_next(DeliveryError("Forbidden: bot was blocked by the user", permanent=True))
    await drain(sender)
    assert channel.texts("1001") == ["next"]
    lost, sent = await rows(db, "1001")
    assert (lost.status, lost.last_error) == (OutboxStatus.FAILED, "Forbidden: bot was blocked by the user")
    assert sent.status == OutboxStatus.SENT


async def test_temporary_errors_back_off_longer_each_time(
    db: Database, clock: FrozenClock, channel: FakeChannel, sender: OutboxSender
) -> None:
    await queue(db, clock, "1001", "hello")
    channel.fail_next(DeliveryError("Bad Gateway"), times=4)
    waits: list[timedelta] = []
    for _ in range(4):
        assert await sender.send_due() is False
        (row,) = await rows(db, "1001")
        assert row.last_error == "Bad Gateway"
        wait = as_utc(row.next_attempt_at) - clock.now()
        waits.append(wait)
        clock.advance(wait - timedelta(milliseconds=1))
        assert await sender.send_due() is False  # not a moment early
        clock.advance(timedelta(milliseconds=1))
    assert waits == [timedelta(seconds=s) for s in (2, 4, 8, 16)]
    await drain(sender)
    assert channel.texts("1001") == ["hello"]
    assert (await rows(db, "1001"))[0].attempts == 5


async def test_rows_no_adapter_here_can_send_do_not_keep_the_sender_busy(
    db: Database, clock: FrozenClock, channel: FakeChannel, sender: OutboxSender
) -> None:
    await queue(db, clock, "wa-1", "for WhatsApp", channel=Channel.WHATSAPP)
    assert await sender.send_due() is False
    (row,) = await rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)  # left for the process that can

    passes = 0
    real_send_due = sender.send_due

    async def counting() -> bool:
        nonlocal passes
        passes += 1
        return await real_send_due()

    sender.send_due = counting  # type: ignore[method-assign]
    sender.poll_seconds = 0.05
    task = asyncio.create_task(sender.run())
    await asyncio.sleep(0.3)
    sender.stop()
    await task
    assert passes <= 10  # it waited between passes: thousands if it spun


async def test_a_chat_waiting_for_a_retry_does_not_keep_the_sender_busy(
    db: Database, clock: FrozenClock, channel: FakeChannel, sender: OutboxSender
) -> None:
    await queue(db, clock, "1001", "first", "second")
    channel.fail_next(DeliveryError("Too Many Requests", retry_after=30))
    assert await sender.send_due() is False
    assert await sender.send_due() is False


async def test_a_row_whose_sender_died_mid_send_is_sent_after_the_lease(
    db: Database, clock: FrozenClock, channel: FakeChannel
) -> None:
    sender = OutboxSender(db, {channel.channel.value: channel}, clock, per_second=FAST, lease_seconds=60)
    await queue(db, clock, "1001", "first", "second")
    (first, _) = await rows(db, "1001")
    assert first.id is not None
    async with db.transaction() as session:  # a sender claimed it, then died before recording anything
        now = clock.now()
        assert await claim_outbox(
            session=session, row_id=first.id, attempts=0, now=now, lease_until=now + timedelta(seconds=60)
        )

    assert await sender.send_due() is False  # it may be on its way: wait, and keep the order
    clock.advance(timedelta(seconds=59))
    assert await sender.send_due() is False
    assert channel.sent == []

    clock.advance(timedelta(seconds=1))
    await drain(sender)
    assert channel.texts("1001") == ["first", "second"]
    first, second = await rows(db, "1001")
    assert (first.status, first.attempts) == (OutboxStatus.SENT, 2)
    assert second.attempts == 1


# --- two instances on one database -------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def shared_url(request: pytest.FixtureRequest, db_url: str) -> AsyncIterator[str]:
    """The URL of an empty database: a SQLite file, or a PostgreSQL database of its own (dropped after;
    the test is skipped when PostgreSQL does not answer)."""
    if request.param == "sqlite":
        yield db_url
        return
    try:
        admin, user = await connect_admin(USERS)
    except ConnectionError as error:
        pytest.skip(f"PostgreSQL at {HOST}:{PORT} is not answering: {error}")
    await admin.close()
    async with fresh_database(user, prefix="civicbot_sender") as url:
        yield url


async def test_two_senders_on_one_database_send_every_row_exactly_once_in_order(
    shared_url: str, clock: FrozenClock
) -> None:
    url = shared_url
    first_db, second_db = Database(url), Database(url)  # two processes: two engines, two pools
    try:
        await first_db.migrate()
        chats = [str(3000 + n) for n in range(6)]
        for chat in chats:
            await queue(first_db, clock, chat, *(f"{chat}-{n}" for n in range(5)))
        sent: list[tuple[str, str]] = []  # both senders' deliveries, in the order they happened
        channel_a, channel_b = FakeChannel(sent), FakeChannel(sent)
        a = OutboxSender(first_db, {"telegram": channel_a}, clock, per_second=FAST)
        b = OutboxSender(second_db, {"telegram": channel_b}, clock, per_second=FAST)
        for _ in range(3):  # a few rounds; the last finds nothing
            for _ in range(20):
                progress = await asyncio.gather(a.send_due(), b.send_due())
                if not any(progress):
                    break
            await queue(first_db, clock, chats[0], "one more")
        await drain(a)
        expected = [(chat, f"{chat}-{n}") for chat in chats for n in range(5)] + [(chats[0], "one more")] * 3
        assert sorted(sent) == sorted(expected)  # every row, exactly once
        for chat in chats:
            texts = [text for to, text in sent if to == chat]
            assert texts[:5] == [f"{chat}-{n}" for n in range(5)]  # in order
        assert channel_a.delivered and channel_b.delivered  # both took part
        stored = await rows(first_db)
        assert {r.status for r in stored} == {OutboxStatus.SENT}
        assert {r.attempts for r in stored} == {1}
    finally:
        await first_db.dispose()
        await second_db.dispose()
