"""The outbox sender as a citizen notices it: messages arrive once, in order, and a slow chat holds up no one.

A real migrated database (SQLite; the two-instance test also on PostgreSQL when it answers at
127.0.0.1:5432) and a recording fake channel; time moves only when the test moves the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import SendMessage
from sqlmodel import col, select

from bot.channels.base import DeliveryError
from bot.channels.telegram import delivery_error
from bot.channels.whatsapp_client import classify
from bot.leases import Leases
from bot.rate_limits import ChannelLimits, Rate, RateLimits
from bot.sender import OutboxSender
from handlers.messages import Channel, Envelope, Outbound, OutText
from models import Citizen, OutboxMessage, OutboxStatus
from models.db import Database
from models.queries import citizen_by_identity, claim_outbox, record_delivery
from tests.postgres import database_or_skip
from workflows.clock import FrozenClock, as_utc
from workflows.outbox import Priority, enqueue

FAST = 1e6  # messages per second: no pacing pause worth the name


class FakeChannel:
    """Records what it delivers; can be told to fail the next calls (for one chat, or any).

    With a clock it also notes when each delivery happened (`moments`), and whether it went as a paid
    broadcast (`paid`); `after_delivery` runs after each one (to queue something mid-pass).
    """

    channel = Channel.TELEGRAM

    def __init__(
        self, sent: list[tuple[str, str]] | None = None, *, clock: FrozenClock | None = None
    ) -> None:
        self.sent: list[tuple[str, str]] = [] if sent is None else sent  # may be shared, in time order
        self.delivered = 0  # by this one
        self.clock = clock
        self.moments: list[datetime] = []
        self.paid: list[bool] = []
        self.after_delivery: Callable[[int], Awaitable[None]] | None = None  # called with the count
        self._failures: list[tuple[str | None, DeliveryError]] = []

    def fail_next(self, error: DeliveryError, times: int = 1, *, chat_id: str | None = None) -> None:
        self._failures.extend([(chat_id, error)] * times)

    async def deliver(
        self, chat_id: str, action: Outbound, *, skip: int = 0, paid: bool = False
    ) -> str | None:
        await asyncio.sleep(0)  # let a concurrent sender run in between, as a network call would
        if self.clock is not None:
            self.moments.append(self.clock.now())  # attempts count against the limits too
        for index, (only_for, error) in enumerate(self._failures):
            if only_for in (None, chat_id):
                del self._failures[index]
                raise error
        assert isinstance(action, OutText)
        self.sent.append((chat_id, action.text))
        self.paid.append(paid)
        self.delivered += 1
        if self.after_delivery is not None:
            await self.after_delivery(self.delivered)
        return f"m{len(self.sent)}"

    def texts(self, chat_id: str) -> list[str]:
        return [text for chat, text in self.sent if chat == chat_id]


async def queue(
    db: Database,
    clock: FrozenClock,
    chat_id: str,
    *texts: str,
    channel: Channel = Channel.TELEGRAM,
    priority: Priority = Priority.INTERACTIVE,
) -> None:
    async with db.transaction() as session:
        for text in texts:
            envelope = Envelope(channel=channel, chat_id=chat_id, action=OutText(text=text))
            enqueue(session=session, envelope=envelope, now=clock.now(), priority=priority)


async def queue_bulk(db: Database, clock: FrozenClock, chats: list[str], text: str) -> None:
    """An announcement to many chats, as a broadcast queues it."""
    async with db.transaction() as session:
        for chat in chats:
            envelope = Envelope(channel=Channel.TELEGRAM, chat_id=chat, action=OutText(text=text))
            enqueue(session=session, envelope=envelope, now=clock.now(), priority=Priority.BULK)


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
    assert waits == [timedelta(seconds=s) for s in (1, 2, 4, 8)]
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

    async def counting(*, finish: bool = True) -> bool:
        nonlocal passes
        passes += 1
        return await real_send_due(finish=finish)

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


# --- rate limits and priorities ----------------------------------------------------------------

GROUP = "-1001234567890"
SECOND = timedelta(seconds=1)


def telegram_limits(*, overall: float = 30.0, paid: float | None = None) -> RateLimits:
    """Telegram's documented limits, as the settings make them by default."""
    return RateLimits(
        {
            "telegram": ChannelLimits(
                overall=Rate.per_second(overall),
                private_chat=Rate.per_second(1),
                group_chat=Rate.per_minute(20),
                paid=Rate.per_second(paid) if paid else None,
            )
        }
    )


class Pacer:
    """The sender's sleep in tests: moves the clock instead of waiting, and adds up how long."""

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self.slept = timedelta(0)

    async def __call__(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.slept += timedelta(seconds=seconds)


@pytest.fixture
def timed(clock: FrozenClock) -> FakeChannel:
    return FakeChannel(clock=clock)


@pytest.fixture
def pacer(clock: FrozenClock) -> Pacer:
    return Pacer(clock)


@pytest.fixture
def limited(db: Database, clock: FrozenClock, timed: FakeChannel, pacer: Pacer) -> OutboxSender:
    """A sender under Telegram's limits whose waiting moves the test clock."""
    return OutboxSender(db, {"telegram": timed}, clock, limits=telegram_limits(), sleep=pacer)


def moments_of(channel: FakeChannel, chat_id: str) -> list[datetime]:
    return [at for (chat, _), at in zip(channel.sent, channel.moments, strict=True) if chat == chat_id]


async def test_a_private_chat_gets_one_message_a_second_and_holds_up_no_other_chat(
    db: Database, clock: FrozenClock, timed: FakeChannel, limited: OutboxSender
) -> None:
    start = clock.now()
    await queue(db, clock, "1001", "first", "second", "third")
    await queue(db, clock, "1002", "to another citizen")
    await drain(limited)
    assert sorted(timed.sent) == [("1001", "first"), ("1002", "to another citizen")]

    clock.set(start + timedelta(milliseconds=999))
    assert await limited.send_due() is False  # "second" is due, but the chat is not free yet
    assert limited.counters["waiting_for_rate"] >= 1
    clock.set(start + SECOND)
    await drain(limited)
    assert timed.texts("1001") == ["first", "second"]
    clock.advance(SECOND)
    await drain(limited)
    assert timed.texts("1001") == ["first", "second", "third"]
    first, second, third = moments_of(timed, "1001")
    assert second - first >= SECOND and third - second >= SECOND


async def test_a_group_gets_twenty_messages_in_the_first_minute_and_the_rest_after(
    db: Database, clock: FrozenClock, timed: FakeChannel, limited: OutboxSender
) -> None:
    start = clock.now()
    cards = [f"card {n}" for n in range(25)]
    await queue(db, clock, GROUP, *cards)
    await drain(limited)
    assert timed.texts(GROUP) == cards[:20]
    assert all(at - start < timedelta(minutes=1) for at in timed.moments)

    clock.set(start + timedelta(seconds=59.9))
    assert await limited.send_due() is False
    clock.set(start + timedelta(seconds=61))
    await drain(limited)
    assert timed.texts(GROUP) == cards  # in order
    moments = moments_of(timed, GROUP)
    assert all(at - start >= timedelta(minutes=1) for at in moments[20:])
    assert all(moments[n + 20] - moments[n] >= timedelta(minutes=1) for n in range(5))  # any minute: 20


async def test_the_overall_pace_is_kept_and_the_sender_is_no_slower_than_it(
    db: Database, clock: FrozenClock, timed: FakeChannel, limited: OutboxSender, pacer: Pacer
) -> None:
    chats = [str(5000 + n) for n in range(90)]
    for chat in chats:
        await queue(db, clock, chat, f"hello {chat}")
    await drain(limited)
    assert sorted(chat for chat, _ in timed.sent) == chats
    moments = timed.moments
    assert all(moments[n + 30] - moments[n] >= SECOND for n in range(len(moments) - 30))  # 30 in any second
    assert moments[-1] - moments[0] <= 89 * SECOND / 30 + timedelta(milliseconds=1)  # and no slower
    assert pacer.slept == moments[-1] - moments[0]  # it slept only for the pace


async def test_an_interactive_reply_goes_before_the_rest_of_a_long_announcement(
    db: Database, clock: FrozenClock, timed: FakeChannel, limited: OutboxSender
) -> None:
    await queue_bulk(db, clock, [str(100_000 + n) for n in range(500)], "Pengumuman: pemadaman air besok")

    async def a_citizen_writes_meanwhile(delivered: int) -> None:
        if delivered == 10:  # the pipeline queues the answer and wakes the sender after its commit
            await queue(db, clock, "7777", "Laporan Anda kami terima")
            limited.wake()

    timed.after_delivery = a_citizen_writes_meanwhile
    for _ in range(5):
        await limited.send_due()
        if timed.texts("7777"):
            break
    assert timed.sent.index(("7777", "Laporan Anda kami terima")) == 10  # the very next message
    assert timed.sent[11][1].startswith("Pengumuman")  # and the announcement goes on after it


async def test_a_reply_queued_without_a_wake_up_waits_at_most_a_second_of_announcement(
    db: Database, clock: FrozenClock, timed: FakeChannel, limited: OutboxSender
) -> None:
    """Another process queued it (or a retry came due): the pass reads the queue again each second."""
    await queue_bulk(db, clock, [str(100_000 + n) for n in range(500)], "Pengumuman")

    async def queued_elsewhere(delivered: int) -> None:
        if delivered == 10:
            await queue(db, clock, "7777", "Laporan Anda kami terima")

    timed.after_delivery = queued_elsewhere
    for _ in range(5):
        await limited.send_due()
        if timed.texts("7777"):
            break
    assert timed.sent.index(("7777", "Laporan Anda kami terima")) <= 10 + 31  # 30 a second, one second


async def test_a_reply_whose_chat_is_not_free_yet_goes_as_soon_as_it_is_not_after_the_announcement(
    db: Database, clock: FrozenClock, timed: FakeChannel, limited: OutboxSender
) -> None:
    await queue(db, clock, "7777", "Laporan Anda kami terima")
    await drain(limited)
    clock.advance(SECOND / 2)
    await queue(db, clock, "7777", "Nomor tiket: ABC-123")  # the chat is free again in half a second
    await queue_bulk(db, clock, [str(100_000 + n) for n in range(200)], "Pengumuman")
    for _ in range(5):
        await limited.send_due()
        if len(timed.texts("7777")) == 2:
            break
    first, second = moments_of(timed, "7777")
    assert second - first <= SECOND + SECOND / 30 + timedelta(milliseconds=1)  # its slot, or the next one
    assert timed.sent.index(("7777", "Nomor tiket: ABC-123")) > 10  # the announcement ran meanwhile


@pytest.mark.parametrize("paid", [None, 1000.0], ids=["free", "paid"])
async def test_bulk_rows_go_as_paid_broadcasts_at_their_own_pace_only_when_configured(
    db: Database, clock: FrozenClock, timed: FakeChannel, pacer: Pacer, paid: float | None
) -> None:
    sender = OutboxSender(db, {"telegram": timed}, clock, limits=telegram_limits(paid=paid), sleep=pacer)
    chats = [str(100_000 + n) for n in range(60)]
    await queue(db, clock, "7777", "Laporan Anda kami terima")
    await queue_bulk(db, clock, chats, "Pengumuman")
    await drain(sender)
    went_paid = dict(zip((chat for chat, _ in timed.sent), timed.paid, strict=True))
    assert went_paid.pop("7777") is False  # a reply to a citizen is never billed
    assert set(went_paid.values()) == {paid is not None}
    bulk = moments_of(timed, chats[-1])[0] - moments_of(timed, chats[0])[0]
    if paid:
        assert bulk <= timedelta(milliseconds=60)  # 1000 a second
    else:
        assert bulk >= 59 * SECOND / 30  # the free 30 a second


async def test_with_telegram_limits_a_429_and_a_5xx_are_still_retried_in_order(
    db: Database, clock: FrozenClock, timed: FakeChannel, limited: OutboxSender
) -> None:
    await queue(db, clock, "1001", "first", "second")
    timed.fail_next(DeliveryError("Too Many Requests: retry after 5", retry_after=5))
    timed.fail_next(DeliveryError("Bad Gateway"))
    start = clock.now()
    assert await limited.send_due() is False
    (first, _) = await rows(db, "1001")
    assert as_utc(first.next_attempt_at) == start + 5 * SECOND  # what Telegram said
    clock.set(start + 5 * SECOND)
    assert await limited.send_due() is False  # the 5xx: backs off
    (first, _) = await rows(db, "1001")
    assert as_utc(first.next_attempt_at) == start + 7 * SECOND  # 2 seconds after the second try
    clock.set(start + 7 * SECOND)
    await drain(limited)
    clock.advance(SECOND)
    await drain(limited)
    assert timed.texts("1001") == ["first", "second"]
    assert limited.counters["retried"] == 2 and limited.counters["sent"] == 2


# --- unreachable citizens ----------------------------------------------------------------------


def blocked_on_telegram() -> DeliveryError:
    method = SendMessage(chat_id=4242, text="x")
    return delivery_error(
        TelegramForbiddenError(method=method, message="Forbidden: bot was blocked by the user")
    )


def not_on_whatsapp() -> DeliveryError:
    message = "Message Undeliverable."
    return classify(400, {"error": {"code": 131026, "message": message}})


@pytest.mark.parametrize(
    ("channel_name", "refusal"),
    [(Channel.TELEGRAM, blocked_on_telegram), (Channel.WHATSAPP, not_on_whatsapp)],
    ids=["telegram-blocked", "whatsapp-undeliverable"],
)
async def test_a_citizen_who_cannot_be_reached_is_marked_until_they_write_again(
    db: Database,
    clock: FrozenClock,
    citizen: Callable[..., Any],
    channel_name: Channel,
    refusal: Callable[[], DeliveryError],
) -> None:
    channel = FakeChannel()
    channel.channel = channel_name  # type: ignore[misc]
    sender = OutboxSender(db, {channel_name.value: channel}, clock, per_second=FAST)
    siti = citizen("4242", channel_name)
    await siti.say("halo")
    await drain(sender)  # the bot's answers reached her
    clock.advance(timedelta(days=1))
    await queue(db, clock, "4242", "Tiket Anda selesai", channel=channel_name)
    error = refusal()
    channel.fail_next(error)
    await drain(sender)

    (last,) = [r for r in await rows(db, "4242") if r.status == OutboxStatus.FAILED]
    assert last.last_error == error.reason
    marked = await citizen_row(db, channel_name, "4242")
    assert as_utc(marked.unreachable_at or clock.now() - SECOND) == clock.now()
    assert marked.unreachable_reason == error.reason
    assert sender.counters["unreachable"] == 1 and sender.counters["failed"] == 1

    clock.advance(timedelta(hours=2))
    await siti.say("maaf, sudah saya buka blokirnya")
    back = await citizen_row(db, channel_name, "4242")
    assert (back.unreachable_at, back.unreachable_reason) == (None, None)


async def test_a_whatsapp_receipt_saying_undeliverable_marks_the_citizen_too(
    db: Database, clock: FrozenClock, citizen: Callable[..., Any]
) -> None:
    """Meta often accepts the message and reports 131026 later, in the status webhook."""
    channel = FakeChannel()
    channel.channel = Channel.WHATSAPP  # type: ignore[misc]
    sender = OutboxSender(db, {"whatsapp": channel}, clock, per_second=FAST)
    budi = citizen("6281234567890", Channel.WHATSAPP)
    await budi.say("halo")
    await queue(db, clock, "6281234567890", "Tiket Anda selesai", channel=Channel.WHATSAPP)
    await drain(sender)
    last = (await rows(db, "6281234567890"))[-1]
    assert last.status == OutboxStatus.SENT and last.platform_message_id is not None
    clock.advance(timedelta(minutes=1))
    async with db.transaction() as session:
        await record_delivery(
            session=session,
            channel="whatsapp",
            platform_message_id=last.platform_message_id,
            status="failed",
            at=clock.now(),
            error="131026 Message undeliverable",
        )
    assert (await rows(db, "6281234567890"))[-1].status == OutboxStatus.FAILED
    marked = await citizen_row(db, Channel.WHATSAPP, "6281234567890")
    assert as_utc(marked.unreachable_at or clock.now() - SECOND) == clock.now()
    assert marked.unreachable_reason == "131026 Message undeliverable"


async def test_a_group_that_removed_the_bot_marks_no_citizen(
    db: Database, clock: FrozenClock, channel: FakeChannel, sender: OutboxSender
) -> None:
    """The refusal is about the group: nobody is marked, even a person recorded with the group's id."""
    async with db.transaction() as session:
        session.add(
            Citizen(
                channel="telegram",
                external_id="5151",
                chat_id=GROUP,
                created_at=clock.now(),
                last_seen_at=clock.now(),
            )
        )
    await queue(db, clock, GROUP, "Tiket baru")
    channel.fail_next(DeliveryError("Forbidden: bot was kicked from the supergroup chat", unreachable=True))
    await drain(sender)
    (row,) = await rows(db, GROUP)
    assert row.status == OutboxStatus.FAILED
    assert (await citizen_row(db, Channel.TELEGRAM, "5151")).unreachable_at is None
    assert sender.counters["unreachable"] == 0


async def test_a_permanent_error_that_is_not_about_the_person_marks_no_one(
    db: Database, clock: FrozenClock, channel: FakeChannel, sender: OutboxSender, citizen: Callable[..., Any]
) -> None:
    siti = citizen("4242")
    await siti.say("halo")
    await drain(sender)
    await queue(db, clock, "4242", "<b>broken")
    channel.fail_next(DeliveryError("Bad Request: can't parse entities", permanent=True))
    await drain(sender)
    assert (await citizen_row(db, Channel.TELEGRAM, "4242")).unreachable_at is None


async def citizen_row(db: Database, channel: Channel, external_id: str) -> Citizen:
    async with db.sessions() as session:
        found = await citizen_by_identity(session=session, channel=channel.value, external_id=external_id)
    assert found is not None
    return found


# --- two instances on one database -------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def shared_url(request: pytest.FixtureRequest, db_url: str) -> AsyncIterator[str]:
    """The URL of an empty database: a SQLite file, or a PostgreSQL database of its own (dropped after;
    the test is skipped when PostgreSQL does not answer)."""
    if request.param == "sqlite":
        yield db_url
        return
    async with database_or_skip("civicbot_sender") as url:
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


async def test_of_two_instances_one_sends_the_announcements_and_the_other_takes_over_when_it_stops(
    shared_url: str, clock: FrozenClock
) -> None:
    first_db, second_db = Database(shared_url), Database(shared_url)
    try:
        await first_db.migrate()
        sent: list[tuple[str, str]] = []
        channel_a, channel_b = FakeChannel(sent), FakeChannel(sent)
        a = OutboxSender(
            first_db, {"telegram": channel_a}, clock, per_second=FAST, leases=Leases(first_db, clock, "a")
        )
        b = OutboxSender(
            second_db, {"telegram": channel_b}, clock, per_second=FAST, leases=Leases(second_db, clock, "b")
        )
        await queue_bulk(first_db, clock, [str(4000 + n) for n in range(4)], "Pengumuman 1")
        await drain(a)
        assert await b.send_due() is False  # a leads Telegram's announcements: b leaves them alone
        await queue_bulk(first_db, clock, [str(4100 + n) for n in range(4)], "Pengumuman 2")
        assert await b.send_due() is False and channel_b.delivered == 0
        # a citizen's reply is sent by whichever instance finds it: b, which queued it
        await queue(second_db, clock, "4999", "Tiket Anda diterima")
        await drain(b)
        assert channel_b.texts("4999") == ["Tiket Anda diterima"] and channel_b.delivered == 1
        # a dies without a word: its lease runs out, and b carries on with the announcement
        clock.advance(timedelta(seconds=9))
        assert await b.send_due() is False
        clock.advance(timedelta(seconds=2))
        await drain(b)
        assert sorted(channel_b.texts(str(4100 + n)) for n in range(4)) == [["Pengumuman 2"]] * 4
        # b shuts down cleanly: a takes the announcements back at once, without waiting for the lease
        await b.leases.give_up()
        await queue_bulk(first_db, clock, ["4200"], "Pengumuman 3")
        await drain(a)
        assert channel_a.texts("4200") == ["Pengumuman 3"]
        assert sorted(sent) == sorted(set(sent))  # nothing twice
    finally:
        await first_db.dispose()
        await second_db.dispose()


class SlowChannel(FakeChannel):
    """Sends answer only once `gather` of them are in flight (a slow network, seen from the sender);
    counts how many were in flight at once. A sender that sends one at a time waits 0.2 s per send."""

    def __init__(self, gather: int) -> None:
        super().__init__()
        self.gather = gather
        self.gathered = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0

    async def deliver(
        self, chat_id: str, action: Outbound, *, skip: int = 0, paid: bool = False
    ) -> str | None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.in_flight >= self.gather:
            self.gathered.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.gathered.wait(), timeout=0.2)
            return await super().deliver(chat_id, action)
        finally:
            self.in_flight -= 1


async def test_several_sends_are_in_flight_at_once_each_chat_still_in_order(
    db: Database, clock: FrozenClock
) -> None:
    slow = SlowChannel(gather=4)
    sender = OutboxSender(db, {"telegram": slow}, clock, per_second=FAST, concurrency=4)
    chats = [str(7000 + n) for n in range(12)]
    for chat in chats:
        await queue(db, clock, chat, f"{chat}: satu", f"{chat}: dua", f"{chat}: tiga")
    await drain(sender)
    assert slow.most_in_flight == 4  # never more than allowed, and more than one at a time
    for chat in chats:
        assert slow.texts(chat) == [f"{chat}: satu", f"{chat}: dua", f"{chat}: tiga"]
    assert all(r.status == OutboxStatus.SENT and r.attempts == 1 for r in await rows(db))


async def test_each_channel_goes_at_its_own_pace_side_by_side(db: Database, clock: FrozenClock) -> None:
    sent: list[tuple[str, str]] = []
    telegram, whatsapp = FakeChannel(sent), FakeChannel(sent)
    whatsapp.channel = Channel.WHATSAPP
    sender = OutboxSender(
        db, {"telegram": telegram, "whatsapp": whatsapp}, clock, per_second=10, sleep=Pacer(clock)
    )
    await queue_bulk(db, clock, [str(9000 + n) for n in range(20)], "Pengumuman")
    async with db.transaction() as session:
        for n in range(20):
            envelope = Envelope(
                channel=Channel.WHATSAPP, chat_id=f"62811{n:05d}", action=OutText(text="Pengumuman")
            )
            enqueue(session=session, envelope=envelope, now=clock.now(), priority=Priority.BULK)
    await drain(sender)
    chats = [chat for chat, _ in sent]
    assert len(chats) == 40
    first_ten = chats[:10]  # the WhatsApp copies do not wait for the Telegram ones, queued first
    assert any(c.startswith("62811") for c in first_ten) and any(c.startswith("9") for c in first_ten)


async def test_the_sends_in_flight_share_their_claims_and_records_in_few_transactions(
    db: Database, clock: FrozenClock
) -> None:
    slow = SlowChannel(gather=8)
    sender = OutboxSender(db, {"telegram": slow}, clock, per_second=FAST, concurrency=8)
    chats = [str(8000 + n) for n in range(40)]
    await queue_bulk(db, clock, chats, "Pengumuman")
    await drain(sender)
    assert sorted(chat for chat, _ in slow.sent) == sorted(chats)  # each once
    assert all(r.status == OutboxStatus.SENT and r.attempts == 1 for r in await rows(db))
    # a claim and a record per message, but fewer transactions than messages
    assert sender.commits.units == 80
    assert sender.commits.transactions < 40
