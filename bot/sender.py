"""The outbox sender: delivers queued messages through the channel adapters, in order per chat.

Each row is marked as attempted before it is sent and as sent after, so a crash in between
leaves a record that it may have gone out (it is retried: at-least-once, never silently lost).
Platform rate limits: a global pace per channel; 429 waits what the platform says; 5xx and
network errors back off exponentially; permanent errors mark the row failed with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from pydantic import TypeAdapter

from bot.channels.base import ChannelAdapter, DeliveryError
from handlers.messages import Outbound
from models import OutboxMessage, OutboxStatus
from models.db import Database
from models.queries import pending_outbox
from workflows.clock import Clock

log = logging.getLogger(__name__)

_ACTION = TypeAdapter(Outbound)
BATCH = 50
MAX_BACKOFF = timedelta(minutes=10)


class OutboxSender:
    """Drains the outbox; woken at once when a transaction queued something."""

    def __init__(
        self,
        db: Database,
        adapters: dict[str, ChannelAdapter],
        clock: Clock,
        *,
        poll_seconds: float = 1.0,
        per_second: float = 30.0,
    ) -> None:
        self.db = db
        self.adapters = adapters
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.min_gap = 1.0 / per_second
        self._wake = asyncio.Event()
        self._stopping = False
        self._pass = asyncio.Lock()  # one pass at a time, whoever asks: a row is never sent twice

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Send until stopped; a failing database or adapter never ends the loop."""
        while not self._stopping:
            self._wake.clear()
            try:
                sent_any = await self.send_due()
            except Exception:
                log.exception("outbox pass failed; retrying shortly")
                sent_any = False
            if sent_any:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def send_due(self) -> bool:
        """One pass over due rows; True if any row was handled."""
        async with self._pass:
            return await self._send_due()

    async def _send_due(self) -> bool:
        async with self.db.sessions() as session:
            rows = await pending_outbox(session=session, now=self.clock.now(), limit=BATCH)
        blocked: set[tuple[str, str]] = set()
        for row in rows:
            chat = (row.channel, row.chat_id)
            if chat in blocked or row.channel not in self.adapters:
                continue  # keep the chat's order: later rows wait for the failed one
            if not await self._deliver(row):
                blocked.add(chat)
        return bool(rows) and len(blocked) < len(rows)

    async def _deliver(self, row: OutboxMessage) -> bool:
        await self._record(row.id, attempted=True)
        try:
            action = _ACTION.validate_python(row.payload)
            message_id = await self.adapters[row.channel].deliver(row.chat_id, action)
        except DeliveryError as error:
            await self._record(row.id, error=error)
            return False
        except Exception as error:  # an adapter bug must not stop the queue
            log.exception("delivering outbox row %s failed", row.id)
            await self._record(row.id, error=DeliveryError(repr(error)))
            return False
        await self._record(row.id, sent_id=message_id or "")
        await asyncio.sleep(self.min_gap)
        return True

    async def _record(
        self,
        row_id: int | None,
        *,
        attempted: bool = False,
        sent_id: str | None = None,
        error: DeliveryError | None = None,
    ) -> None:
        now = self.clock.now()
        async with self.db.transaction() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None:
                return
            if attempted:
                row.attempts += 1
            if sent_id is not None:
                row.status = OutboxStatus.SENT
                row.sent_at = now
                row.platform_message_id = sent_id or None
                row.last_error = None
            if error is not None:
                row.last_error = error.reason[:500]
                if error.permanent:
                    row.status = OutboxStatus.FAILED
                    log.warning("outbox row %s failed for good: %s", row.id, error.reason)
                else:
                    row.next_attempt_at = now + _backoff(row.attempts, error.retry_after)


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    if retry_after is not None:
        return timedelta(seconds=retry_after)
    return min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)
