"""The outbox sender: delivers queued messages through the channel adapters, in order per chat.

A chat's row is due only when no earlier row of that chat is still pending (the query says so, so
it holds across passes, restarts and instances): a message waiting for a retry holds back the
chat's later messages, and only that chat's. Before sending, a row is claimed with one conditional
UPDATE that counts the attempt and leases the row for `lease_seconds`; of two senders on one
database only one wins the claim. A sender that dies mid-send leaves the attempt counted and the
row due again when the lease ends (at-least-once, never silently lost).
Platform rate limits: a global pace per channel; 429 waits what the platform says; 5xx and
network errors back off exponentially; permanent errors mark the row failed with the reason.
WhatsApp's 24-hour rule (workflows/reply_window.py): outside the window a row is sent as the template
it was queued with, or held until the person writes again (handlers/pipeline.py releases it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from pydantic import TypeAdapter

from bot.channels.base import ChannelAdapter, DeliveryError
from handlers.messages import Outbound, OutEdit, OutTemplate, TemplateCall
from models import OutboxMessage
from models.db import Database
from models.queries import (
    claim_outbox,
    hold_outbox,
    last_message_from,
    latest_link,
    pending_outbox,
    record_link,
    record_outbox_error,
    record_outbox_sent,
    release_claim,
)
from workflows.clock import Clock, as_utc
from workflows.reply_window import Choice, ReplyWindow
from workflows.staff import follow_chat_migration

log = logging.getLogger(__name__)

_ACTION: TypeAdapter[Outbound] = TypeAdapter(Outbound)
BATCH = 50
HELD_REASON = "outside the 24-hour window and no template configured: sent when the person writes again"
MAX_BACKOFF = timedelta(minutes=10)
CHANNEL_PAUSE = timedelta(minutes=5)  # after the platform refused our credentials


class OutboxSender:
    """Drains the outbox; woken at once when a transaction queued something."""

    def __init__(
        self,
        db: Database,
        adapters: dict[str, ChannelAdapter],
        clock: Clock,
        *,
        windows: Mapping[str, ReplyWindow] | None = None,
        poll_seconds: float = 1.0,
        per_second: float = 30.0,
        lease_seconds: float = 60.0,
    ) -> None:
        self.db = db
        self.adapters = adapters
        self.clock = clock
        self._paused: dict[str, datetime] = {}  # channel → until when (its credentials failed)
        self.windows = dict(windows or {})  # channel → its reply window (WhatsApp's 24-hour rule)
        self.poll_seconds = poll_seconds
        self.min_gap = 1.0 / per_second
        self.lease = timedelta(seconds=lease_seconds)
        self._wake = asyncio.Event()
        self._stopping = False
        self._pass = asyncio.Lock()  # one pass at a time in this process

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Send until stopped; a failing database or adapter never ends the loop."""
        while not self._stopping:
            self._wake.clear()
            try:
                progressed = await self.send_due()
            except Exception:
                log.exception("outbox pass failed; retrying shortly")
                progressed = False
            if progressed:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def send_due(self) -> bool:
        """One pass over due rows (at most one per chat, its oldest).

        True if a row left the queue (delivered, or failed for good), so its chat's next row may be
        due now; False if nothing could be done (nothing due, only chats waiting for a retry, rows
        claimed by another sender): the caller should wait rather than ask again at once.
        """
        async with self._pass:
            return await self._send_due()

    async def _send_due(self) -> bool:
        if not self.adapters:
            return False
        now = self.clock.now()
        channels = [c for c in self.adapters if self._paused.get(c, now) <= now]
        if not channels:
            return False
        async with self.db.sessions() as session:
            rows = await pending_outbox(session=session, now=now, limit=BATCH, channels=channels)
        progressed = False
        for row in rows:
            if row.channel in self._paused and self._paused[row.channel] > self.clock.now():
                continue  # its credentials failed during this pass
            if row.channel in self.adapters and await self._claim(row):
                progressed = await self._deliver(row) or progressed
        return progressed

    async def _claim(self, row: OutboxMessage) -> bool:
        """Take the row if nobody else has (it is then our (row.attempts + 1)th attempt)."""
        assert row.id is not None
        now = self.clock.now()
        async with self.db.transaction() as session:
            won = await claim_outbox(
                session=session, row_id=row.id, attempts=row.attempts, now=now, lease_until=now + self.lease
            )
        if won:
            row.attempts += 1
        return won

    async def _deliver(self, row: OutboxMessage) -> bool:
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
                message_id = await self.adapters[row.channel].deliver(row.chat_id, action, skip=skip)
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
                message_id = await self.adapters[row.channel].deliver(row.chat_id, template)
        except DeliveryError as error:
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
        async with self.db.transaction() as session:
            now = self.clock.now()
            await record_outbox_sent(
                session=session,
                row_id=row.id,
                now=now,
                platform_message_id=message_id or None,
                sent_as=sent_as,
            )
            if message_id:
                record_link(session=session, row=row, message_id=message_id, chat_id=row.chat_id, now=now)
        await asyncio.sleep(self.min_gap)
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
        async with self.db.transaction() as session:
            await record_outbox_error(
                session=session,
                row_id=row.id,
                attempts=row.attempts,
                error=error.reason[:500],
                retry_at=retry_at,
                parts_sent=progress,
            )


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    if retry_after is not None:
        return timedelta(seconds=retry_after)
    return min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)
