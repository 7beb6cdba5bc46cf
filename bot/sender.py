"""The outbox sender: delivers queued messages through the channel adapters, in order per chat.

A chat's row is due only when no earlier row of that chat is still pending (the query says so, so
it holds across passes, restarts and instances): a message waiting for a retry holds back the
chat's later messages, and only that chat's. Before sending, a row is claimed with one conditional
UPDATE that counts the attempt and leases the row for `lease_seconds`; of two senders on one
database only one wins the claim. A sender that dies mid-send leaves the attempt counted and the
row due again when the lease ends (at-least-once, never silently lost). The claims and records of
the sends in flight are written several to a transaction (models/group_commit.py): one commit, not
two, per message at a broadcast's pace.
Platform rate limits (bot/rate_limits.py): a row whose chat is not free yet (Telegram: one message a
second in a private chat, 20 a minute in a group) waits for a later pass, and its chat's later rows
with it; between sends the pass sleeps as long as the channel's overall pace needs. Rows come most
urgent first, and a bulk row (priority >= Priority.BULK, a broadcast) never takes a slot a more urgent
row is waiting for: before each bulk send the pass asks whether something was queued meanwhile (the
wake-up), a put-off urgent row's chat has come free, or the pass is older than REQUERY, and if so it
ends so the next pass reads the queue afresh. Bulk rows go as Telegram paid broadcasts when that is
configured. 429 waits what the platform says; 5xx and network errors back off exponentially;
permanent errors mark the row failed with the reason, and when the person cannot be reached at all
(blocked the bot, account gone) the citizen is marked unreachable in the same transaction (cleared
when they write again, handlers/pipeline.py).
WhatsApp's 24-hour rule (workflows/reply_window.py): outside the window a row is sent as the template
it was queued with, or held until the person writes again (handlers/pipeline.py releases it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from pydantic import TypeAdapter
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.base import ChannelAdapter, DeliveryError
from bot.leases import LEAD_FOR, Leases
from bot.rate_limits import RateLimits, is_group_chat
from handlers.messages import Outbound, OutEdit, OutTemplate, OutText, TemplateCall
from models import OutboxMessage
from models.db import Database
from models.group_commit import GroupCommit
from models.queries import (
    claim_outbox,
    forget_secret,
    hold_outbox,
    last_message_from,
    latest_link,
    mark_unreachable,
    pending_outbox,
    record_link,
    record_outbox_error,
    record_outbox_sent,
    release_claim,
)
from workflows.clock import Clock, as_utc
from workflows.outbox import Priority
from workflows.reply_window import Choice, ReplyWindow
from workflows.staff import follow_chat_migration

log = logging.getLogger(__name__)

_ACTION: TypeAdapter[Outbound] = TypeAdapter(Outbound)
BATCH = 50
HELD_REASON = "outside the 24-hour window and no template configured: sent when the person writes again"
MAX_BACKOFF = timedelta(minutes=10)
CHANNEL_PAUSE = timedelta(minutes=5)  # after the platform refused our credentials
REQUERY = timedelta(seconds=1)  # a pass sending bulk rows reads the queue again after this long
DEFAULT_PER_SECOND = 30.0
COUNTERS = ("sent", "failed", "retried", "held", "waiting_for_rate", "paced", "unreachable", "refunded")


class OutboxSender:
    """Drains the outbox; woken at once when a transaction queued something.

    `limits`: the platforms' rate limits; without them one pace of `per_second` for every channel and
    no limit per chat. `rate_clock` measures them (the platforms count real seconds; by default the
    sender's clock) and `sleep` waits for the pace (tests pass one that moves their clock instead).
    `counters` holds running totals for metrics: sent, failed (for good), retried, held (WhatsApp
    window), waiting_for_rate (rows put off because their chat was not free), paced (sleeps for a
    channel's pace), unreachable (citizens marked), refunded (slots of sends the platform failed,
    given to the next one).
    """

    def __init__(
        self,
        db: Database,
        adapters: dict[str, ChannelAdapter],
        clock: Clock,
        *,
        windows: Mapping[str, ReplyWindow] | None = None,
        poll_seconds: float = 1.0,
        per_second: float | None = None,
        limits: RateLimits | None = None,
        rate_clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        lease_seconds: float = 60.0,
        concurrency: int = 1,
        leases: Leases | None = None,
    ) -> None:
        if limits is not None and per_second is not None:
            raise ValueError("give the sender its rate limits or one pace, not both")
        self.db = db
        self.adapters = adapters
        self.clock = clock
        self._paused: dict[str, datetime] = {}  # channel → until when (its credentials failed)
        self.windows = dict(windows or {})  # channel → its reply window (WhatsApp's 24-hour rule)
        self.poll_seconds = poll_seconds
        self.limits = limits or RateLimits.flat(per_second or DEFAULT_PER_SECOND)
        self.rate_clock = rate_clock or clock
        self._sleep = sleep
        self.lease = timedelta(seconds=lease_seconds)
        # sends in flight at once (each to another chat: a pass holds one row per chat); one call
        # takes longer than a pace of 30 a second leaves, so a real instance keeps several going
        self.concurrency = max(1, concurrency)
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._next_free: datetime | None = None  # (rate clock) when a chat put off by its rate is free
        self._wake = asyncio.Event()  # something was queued
        self._freed = asyncio.Event()  # a send in flight finished and its row left the queue
        # sends in flight, per channel (row id → its task); they outlive the pass that started them, so
        # the next pass reads the queue while they finish instead of after (no gap at each pass's end)
        self._flights: dict[str, dict[int, asyncio.Task[bool]]] = {}
        self._stopping = False
        self._pass = asyncio.Lock()  # one pass at a time in this process
        # several instances on one database: each sends the interactive rows it finds, but a channel's
        # bulk rows (announcements) go from one instance at a time, the lease's holder, so that the
        # channel's overall pace (and WhatsApp's tier) is kept once, not once per instance
        self.leases = leases or Leases(db, clock)
        # the claims and records of the sends in flight, several to a transaction (models/group_commit.py)
        self.commits = GroupCommit(db)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Send until stopped; a failing database or adapter never ends the loop. The sends in flight
        when it stops are finished (and recorded) before it returns."""
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    progressed = await self.send_due(finish=False)
                except Exception:
                    log.exception("outbox pass failed; retrying shortly")
                    progressed = False
                if progressed:
                    continue
                await self._idle()
        finally:
            await self._land()
            try:
                await self.leases.give_up()
            except Exception:  # the database is gone: the leases run out by themselves
                log.warning("could not hand back the sending leases; they run out in %s", LEAD_FOR)

    async def _idle(self) -> None:
        """Wait until something is queued, a send in flight frees its chat, or a chat comes free."""
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(self._freed.wait())]
        try:
            await asyncio.wait(waits, timeout=self._idle_seconds(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _land(self) -> None:
        """Let every send in flight finish."""
        tasks = [task for flights in self._flights.values() for task in flights.values()]
        if tasks:
            await asyncio.wait(tasks)

    async def leads(self, channel: str) -> bool:
        """Whether this instance sends the channel's bulk rows now (bot/leases.py)."""
        return await self.leases.hold(f"send:{channel}")

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def _idle_seconds(self) -> float:
        """How long to wait for a wake-up: the poll interval, or less when a chat comes free sooner."""
        if self._next_free is None:
            return self.poll_seconds
        until = (self._next_free - self.rate_clock.now()).total_seconds()
        return min(self.poll_seconds, max(until, 0.001))

    async def send_due(self, *, finish: bool = True) -> bool:
        """One pass over due rows (at most one per chat, its oldest), most urgent first.

        True if a row left the queue (delivered, or failed for good), so its chat's next row may be
        due now, or if the pass stopped early for a more urgent row: ask again at once. False if
        nothing could be done (nothing due, only chats waiting for a retry or for their rate, rows
        claimed by another sender): the caller should wait rather than ask again at once.
        `finish`: wait for the pass's sends to finish; without it (the running loop) they go on after
        it, and one that frees its chat sets `_freed`.
        """
        async with self._pass:
            self._freed.clear()
            progressed = await self._send_due()
        if finish:
            await self._land()
        return progressed or self._freed.is_set()

    async def _send_due(self) -> bool:
        if not self.adapters:
            return False
        now = self.clock.now()
        channels = [c for c in self.adapters if self._paused.get(c, now) <= now]
        if not channels:
            return False
        self._wake.clear()  # what is queued from here on may not be in the rows read next
        leading = {channel: await self.leads(channel) for channel in channels}
        async with self.db.sessions() as session:
            batches = [
                await pending_outbox(
                    session=session,
                    now=now,
                    limit=BATCH,
                    channels=[channel],
                    below=None if leading[channel] else Priority.BULK,
                )
                for channel in channels
            ]
        self._next_free = None
        batches = [rows for rows in batches if rows]
        if len(batches) == 1:
            return await self._send_channel(batches[0])
        # each channel at its own pace, side by side: an announcement to Telegram and WhatsApp
        # citizens goes at both rates, not one after the other
        return any(await asyncio.gather(*(self._send_channel(rows) for rows in batches)))

    async def _send_channel(self, rows: list[OutboxMessage]) -> bool:
        """Send one channel's due rows in order of urgency (several in flight when allowed)."""
        return await self._send_rows(rows, self._flights.setdefault(rows[0].channel, {}))

    async def _send_rows(self, rows: list[OutboxMessage], in_flight: dict[int, asyncio.Task[bool]]) -> bool:
        started = self.rate_clock.now()
        urgent_free_at: datetime | None = None  # when a more urgent row put off by its chat's rate may go
        progressed = False
        for row in rows:
            if row.id in in_flight:
                continue  # read again before its claim was written: it is on its way
            if row.channel in self._paused and self._paused[row.channel] > self.clock.now():
                continue  # its credentials failed during this pass
            if row.channel not in self.adapters:
                continue
            bulk = row.priority >= Priority.BULK
            if bulk and self._more_urgent_waiting(started, urgent_free_at):
                return True
            moment = self.rate_clock.now()
            free_at = self.limits.chat_free_at(row.channel, row.chat_id, moment)
            if free_at > moment:  # its chat's later rows are not due before it anyway
                self.counters["waiting_for_rate"] += 1
                self._next_free = free_at if self._next_free is None else min(self._next_free, free_at)
                if not bulk:
                    urgent_free_at = free_at if urgent_free_at is None else min(urgent_free_at, free_at)
                continue
            paid = bulk and self.limits.paid_broadcast(row.channel)
            slot = await self._pace(row.channel, paid=paid)
            if slot is not None and bulk and self._more_urgent_waiting(started, urgent_free_at):
                return True
            # the send counts against the chat's rate and the channel's pace, in flight or not, from the
            # moment the pace gave it: a sleep that overran by a millisecond does not delay the next one
            self.limits.record(row.channel, row.chat_id, slot or self.rate_clock.now(), paid=paid)
            if self.concurrency == 1:
                progressed = await self._claim_and_deliver(row, paid) or progressed
                continue
            while len(in_flight) >= self.concurrency:
                done, _ = await asyncio.wait(in_flight.values(), return_when=asyncio.FIRST_COMPLETED)
                progressed = any(task.result() for task in done) or progressed
            assert row.id is not None
            in_flight[row.id] = asyncio.create_task(self._flight(row, paid, in_flight))
        return progressed

    async def _flight(self, row: OutboxMessage, paid: bool, in_flight: dict[int, asyncio.Task[bool]]) -> bool:
        """One send in flight: claimed, delivered, recorded; then out of the channel's flights."""
        try:
            left = await self._claim_and_deliver(row, paid)
        except Exception:  # the database failed: the row is due again when its lease ends
            log.exception("outbox row %s: claim or record failed", row.id)
            left = False
        finally:
            in_flight.pop(row.id or 0, None)
        if left:
            self._freed.set()
        return left

    async def _claim_and_deliver(self, row: OutboxMessage, paid: bool) -> bool:
        """True if the row left the queue (another sender's claim: nothing happened here)."""
        return await self._claim(row) and await self._deliver(row, paid=paid)

    def _more_urgent_waiting(self, started: datetime, urgent_free_at: datetime | None) -> bool:
        """Before a bulk send: may a more urgent row be due that this pass has not read (or put off)?"""
        now = self.rate_clock.now()
        return (
            self._wake.is_set()  # something was queued since the rows were read
            or (urgent_free_at is not None and urgent_free_at <= now)
            or now - started >= REQUERY  # a retry may have come due, or another process queued one
        )

    async def _pace(self, channel: str, *, paid: bool) -> datetime | None:
        """Sleep until the channel's overall pace allows the next send: the moment it did (None: no wait)."""
        now = self.rate_clock.now()
        free_at = self.limits.channel_free_at(channel, now, paid=paid)
        if free_at <= now:
            return None
        self.counters["paced"] += 1
        await self._sleep((free_at - now).total_seconds())
        return free_at

    async def _claim(self, row: OutboxMessage) -> bool:
        """Take the row if nobody else has (it is then our (row.attempts + 1)th attempt)."""
        assert row.id is not None
        row_id, attempts = row.id, row.attempts

        async def claim(session: AsyncSession) -> bool:
            now = self.clock.now()
            return await claim_outbox(
                session=session, row_id=row_id, attempts=attempts, now=now, lease_until=now + self.lease
            )

        won = await self.commits.run(claim)
        if won:
            row.attempts += 1
        return won

    async def _send(
        self, row: OutboxMessage, action: Outbound, *, skip: int = 0, paid: bool = False, counted: bool = True
    ) -> str | None:
        """One call to the channel, counted against the chat's rate and the channel's pace (unless the
        pass counted it when it let the row go)."""
        if not counted:
            self.limits.record(row.channel, row.chat_id, self.rate_clock.now(), paid=paid)
        adapter = self.adapters[row.channel]
        if paid:  # only then: a channel without paid sending need not know the word
            return await adapter.deliver(row.chat_id, action, skip=skip, paid=True)
        return await adapter.deliver(row.chat_id, action, skip=skip)

    async def _deliver(self, row: OutboxMessage, *, paid: bool = False) -> bool:
        """Send a claimed row and record the outcome; True if it left the queue."""
        sent_as: str | None = None
        try:
            action: Outbound = _ACTION.validate_python(row.payload)
            if isinstance(action, OutEdit) and row.ticket_id is not None:
                action = await self._edit_target(row, action)
            window = self.windows.get(row.channel)
            if window is not None:
                choice, template = await self._window_choice(row, window)
                if choice == Choice.HOLD:
                    await self._hold(row)
                    return True
                if template is not None:
                    action, sent_as = template, Choice.TEMPLATE.value
            try:
                skip = row.parts_sent if sent_as is None else 0  # a template is one message
                message_id = await self._send(row, action, skip=skip, paid=paid, counted=True)
            except DeliveryError as error:
                # the platform saw the window closed before we did (clocks differ): the template now
                if not error.outside_window or window is None or sent_as is not None:
                    raise
                call = TemplateCall.model_validate(row.template) if row.template else None
                template = window.template(call) if call is not None else None
                if template is None:
                    await self._hold(row)
                    return True
                sent_as = Choice.TEMPLATE.value
                message_id = await self._send(row, template, counted=False)
        except DeliveryError as error:
            if error.not_taken and self.limits.refund(row.channel, paid=paid):
                self.counters["refunded"] += 1
            if error.migrate_to_chat_id:
                await self._follow_migration(row, error.migrate_to_chat_id)
                return True
            if error.channel_down:  # not this message's fault: keep it, and the channel's others
                until = self.clock.now() + CHANNEL_PAUSE
                self._paused[row.channel] = until
                log.error(
                    "%s refuses our credentials (%s); sending paused until %s",
                    row.channel,
                    error.reason,
                    until,
                )
                paused = DeliveryError(error.reason, retry_after=CHANNEL_PAUSE.total_seconds())
                paused.parts_sent, error = error.parts_sent, paused
            await self._record_error(row, error)
            return error.permanent
        except Exception as error:  # an adapter bug must not stop the queue
            log.exception("delivering outbox row %s failed", row.id)
            await self._record_error(row, DeliveryError(repr(error)))
            return False
        assert row.id is not None
        row_id = row.id

        async def record(session: AsyncSession) -> None:
            now = self.clock.now()
            await record_outbox_sent(
                session=session,
                row_id=row_id,
                now=now,
                platform_message_id=message_id or None,
                sent_as=sent_as,
            )
            if message_id:
                record_link(session=session, row=row, message_id=message_id, chat_id=row.chat_id, now=now)
            if isinstance(action, OutText) and action.secret:  # a login link: not kept once delivered
                await forget_secret(session=session, row_id=row_id)

        await self.commits.run(record)
        self.counters["sent"] += 1
        return True

    async def _window_choice(
        self, row: OutboxMessage, window: ReplyWindow
    ) -> tuple[Choice, OutTemplate | None]:
        """WhatsApp's 24-hour rule for this row: the message, its template, or hold it."""
        async with self.db.sessions() as session:
            last = await last_message_from(session=session, channel=row.channel, chat_id=row.chat_id)
        return window.choose(
            last_message_at=as_utc(last) if last is not None else None,
            now=self.clock.now(),
            call=TemplateCall.model_validate(row.template) if row.template else None,
            template_only=row.template_only,
        )

    async def _hold(self, row: OutboxMessage) -> None:
        assert row.id is not None
        log.info(
            "outbox row %s held: %s's 24-hour window is closed and no template stands in", row.id, row.chat_id
        )
        async with self.db.transaction() as session:
            await hold_outbox(session=session, row_id=row.id, attempts=row.attempts, reason=HELD_REASON)
        self.counters["held"] += 1

    async def _edit_target(self, row: OutboxMessage, action: OutEdit) -> OutEdit:
        """The message to edit: the newest one of the row's ticket and role in its chat."""
        assert row.ticket_id is not None
        async with self.db.sessions() as session:
            message_id = await latest_link(
                session=session, ticket_id=row.ticket_id, role=row.role or "card", chat_id=row.chat_id
            )
        return action.model_copy(update={"message_id": message_id})

    async def _follow_migration(self, row: OutboxMessage, new_chat_id: str) -> None:
        """The group became a supergroup: this row and the chat's queued ones go to the new id."""
        log.info("chat %s moved to %s; following it", row.chat_id, new_chat_id)
        async with self.db.transaction() as session:
            await follow_chat_migration(
                session=session, channel=row.channel, old_chat_id=row.chat_id, new_chat_id=new_chat_id
            )
            await release_claim(session=session, row_id=row.id or 0, now=self.clock.now())

    async def _record_error(self, row: OutboxMessage, error: DeliveryError) -> None:
        assert row.id is not None
        if error.permanent:
            log.warning("outbox row %s failed for good: %s", row.id, error.reason)
            retry_at = None
        else:
            retry_at = self.clock.now() + _backoff(row.attempts, error.retry_after)
        progress = error.parts_sent if error.parts_sent > row.parts_sent else None
        if progress is not None:
            log.info("outbox row %s: %s parts arrived; the next attempt goes on from there", row.id, progress)
        unreachable = error.permanent and error.unreachable and not is_group_chat(row.chat_id)
        async with self.db.transaction() as session:
            recorded = await record_outbox_error(
                session=session,
                row_id=row.id,
                attempts=row.attempts,
                error=error.reason[:500],
                retry_at=retry_at,
                parts_sent=progress,
            )
            marked = 0
            if recorded and unreachable:  # with the row's failure: one without the other never shows
                marked = await mark_unreachable(
                    session=session,
                    channel=row.channel,
                    chat_id=row.chat_id,
                    now=self.clock.now(),
                    reason=error.reason,
                )
        self.counters["failed" if error.permanent else "retried"] += 1
        if marked:
            log.info("%s chat %s cannot be reached any more: %s", row.channel, row.chat_id, error.reason)
            self.counters["unreachable"] += marked


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    if retry_after is not None:
        return timedelta(seconds=retry_after)
    # 1, 2, 4, ... seconds after the 1st, 2nd, 3rd attempt: a passing 5xx costs a second, not more
    return min(timedelta(seconds=2 ** min(max(attempts - 1, 0), 10)), MAX_BACKOFF)
