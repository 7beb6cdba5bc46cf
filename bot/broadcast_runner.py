"""The broadcast runner: a periodic job that starts scheduled announcements when their time comes,
expands the ones being sent into the outbox a little at a time, marks them done, and keeps each
admin's progress message up to date by editing that one message.

Everything it knows is in the database (the broadcast's status, cursor and rows), so a restart or a
second instance goes on where the work stands: an expansion step is claimed with a conditional
UPDATE of the cursor (workflows/broadcasts.py), a status change with one of the status, and a turn
at the progress message with one of `reported_at`. The rules live in workflows/broadcasts.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from handlers.context import Deps
from handlers.messages import Channel, Envelope, OutEdit, OutText
from models import Broadcast, BroadcastStatus, OutboxMessage, OutboxStatus
from models import broadcast_queries as q
from models.db import Database
from workflows import broadcasts as rules
from workflows.clock import as_utc
from workflows.outbox import Priority, enqueue

log = logging.getLogger(__name__)

REPORT_EVERY = timedelta(seconds=5)  # the progress message is edited at most this often
MAX_STEPS = 20  # expansion steps per broadcast per run (each is bounded by the trickle anyway)


def bulk_rates(settings: Settings) -> dict[str, float]:
    """Messages per second each channel sends announcements at (Telegram's paid broadcast if on)."""
    telegram = settings.telegram_paid_broadcast_per_second or settings.telegram_per_second
    return {Channel.TELEGRAM.value: telegram, Channel.WHATSAPP.value: settings.whatsapp_per_second}


def report_role(broadcast_id: int | None) -> str:
    """The outbox role of a broadcast's progress message and its edits."""
    return f"bc:{broadcast_id}"


@dataclass
class BroadcastRunner:
    db: Database
    deps: Deps
    rates: Mapping[str, float]
    tier: int = 250
    report_every: timedelta = REPORT_EVERY
    on_queued: Callable[[], None] = lambda: None
    ahead: timedelta = rules.BACKLOG  # how much sending per channel is queued at a time
    caps: dict[str, int] = field(init=False)  # the trickle's bound per channel
    whatsapp: rules.WhatsAppLimits = field(init=False)

    def __post_init__(self) -> None:
        self.caps = rules.backlog(self.rates, self.ahead)
        self.whatsapp = rules.WhatsAppLimits.of(self.deps.city.whatsapp, self.tier)

    @classmethod
    def from_settings(
        cls, db: Database, deps: Deps, settings: Settings, on_queued: Callable[[], None] = lambda: None
    ) -> BroadcastRunner:
        return cls(
            db,
            deps,
            bulk_rates(settings),
            tier=settings.whatsapp_tier,
            on_queued=on_queued,
            ahead=timedelta(seconds=settings.broadcast_ahead_seconds),
        )

    async def run_once(self) -> int:
        """One round over every broadcast that needs work; the outbox rows it queued."""
        await self._start_due()
        async with self.db.sessions() as session:
            ids = [b.id for b in await q.in_progress(session=session) if b.id is not None]
        queued = 0
        for broadcast_id in ids:
            try:
                queued += await self._work(broadcast_id)
            except Exception:
                log.exception("broadcast %s: this round failed; the next one retries", broadcast_id)
        if queued:
            self.on_queued()
        return queued

    async def _start_due(self) -> None:
        async with self.db.transaction() as session:
            now = self.deps.clock.now()
            for broadcast_id in await q.due_scheduled(session=session, now=now):
                if await rules.start_broadcast(
                    session=session, broadcast_id=broadcast_id, city=self.deps.city, now=now
                ):
                    log.info("broadcast %s: its time has come; sending", broadcast_id)

    async def _work(self, broadcast_id: int) -> int:
        queued = await self._expand(broadcast_id)
        await self._finish_if_done(broadcast_id)
        return queued + await self._report(broadcast_id)

    async def _expand(self, broadcast_id: int) -> int:
        """Steps until the trickle is full, nobody is left, or another instance has the turn."""
        written = 0
        for _ in range(MAX_STEPS):
            async with self.db.transaction() as session:
                broadcast = await session.get(Broadcast, broadcast_id)
                if broadcast is None or broadcast.status != BroadcastStatus.SENDING:
                    return written
                step = await rules.expand_step(
                    session=session,
                    broadcast=broadcast,
                    city=self.deps.city,
                    texts=self.deps.texts,
                    now=self.deps.clock.now(),
                    caps=self.caps,
                    whatsapp=self.whatsapp,
                )
            written += step.written
            if not step.written or not step.claimed or step.exhausted:
                return written
        return written

    async def _progress(self, session: AsyncSession, broadcast: Broadcast) -> rules.Progress:
        channels = rules.segment_of(broadcast).channels
        rate = sum(self.rates.get(channel, 1.0) for channel in channels)
        return await rules.broadcast_progress(
            session=session,
            broadcast=broadcast,
            now=self.deps.clock.now(),
            rate=rate,
            city=self.deps.city,
            whatsapp=self.whatsapp,
            rates=self.rates,
        )

    async def _finish_if_done(self, broadcast_id: int) -> None:
        """Done when nobody is left to expand and no copy is waiting in the outbox.

        Counted outside any write transaction (on SQLite the sender waits for those)."""
        async with self.db.sessions() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None or broadcast.status != BroadcastStatus.SENDING:
                return
            progress = await self._progress(session, broadcast)
        if progress.remaining:
            return
        async with self.db.transaction() as session:
            done = await q.set_status(
                session=session,
                broadcast_id=broadcast_id,
                old=(BroadcastStatus.SENDING.value,),
                values={
                    "status": BroadcastStatus.DONE,
                    "finished_at": self.deps.clock.now(),
                    "reported_at": None,  # the final report is still to be made
                },
            )
        if done:
            log.info("broadcast %s done: %s sent, %s failed", broadcast_id, progress.sent, progress.failed)

    async def _report(self, broadcast_id: int) -> int:
        """Queue the progress message, an edit of it, or the final report; the rows queued.

        The text is made from a read; the turn is then claimed (conditional UPDATE of `reported_at`,
        also on the status the text was made for) in the transaction that queues it."""
        now = self.deps.clock.now()
        async with self.db.sessions() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None or broadcast.report_chat_id is None or broadcast.report_channel is None:
                return 0
            final = broadcast.status in q.FINAL
            last = broadcast.reported_at
            if last is not None and (final or as_utc(last) > now - self.report_every):
                return 0
            # the admin's own language in their private chat, as the rest of the conversation
            chosen = await q.chat_language(
                session=session, channel=broadcast.report_channel, chat_id=broadcast.report_chat_id
            )
            lang = chosen or self.deps.staff_language
            text = rules.progress_text(
                broadcast,
                await self._progress(session, broadcast),
                texts=self.deps.texts,
                lang=lang,
                city=self.deps.city,
                tier=self.tier,
            )
            buttons = () if final else ((rules.cancel_button(broadcast, self.deps.texts, lang),),)
            newest, shown = await q.report_rows(
                session=session,
                channel=broadcast.report_channel,
                chat_id=broadcast.report_chat_id,
                role=report_role(broadcast_id),
            )
        if newest is not None and shown is None:
            if final and newest.status == OutboxStatus.FAILED:  # the admin cannot be reached: give up
                async with self.db.transaction() as session:
                    await q.claim_report(
                        session=session,
                        broadcast_id=broadcast_id,
                        statuses=q.FINAL,
                        last_before=None,
                        now=now,
                    )
            return 0  # the first is not out yet: an edit needs its message id (the final one waits too)
        if (
            not final
            and newest is not None
            and (newest.status == OutboxStatus.PENDING or newest.payload.get("text") == text)
        ):
            return 0  # the last edit is still on its way, or nothing changed
        async with self.db.transaction() as session:
            if not await q.claim_report(
                session=session,
                broadcast_id=broadcast_id,
                statuses=q.FINAL if final else (BroadcastStatus.SENDING.value,),
                last_before=None if final else now - self.report_every,
                now=now,
            ):
                return 0
            if shown is None:  # the first: a new message, whose edits follow
                row = self._queue(session, broadcast, OutText(text=text, buttons=buttons), now)
                await session.flush()
                await q.set_report_row(session=session, broadcast_id=broadcast_id, row_id=row.id)
                return 1
            edit = OutEdit(text=text, buttons=buttons, message_id=shown.platform_message_id)
            self._queue(session, broadcast, edit, now)
            if not final:
                return 1
            # the final report also as a new message: an edit makes no sound
            self._queue(session, broadcast, OutText(text=text), now, role=None)
            return 2

    def _queue(
        self,
        session: AsyncSession,
        broadcast: Broadcast,
        action: OutText | OutEdit,
        now: datetime,
        *,
        role: str | None = "",
    ) -> OutboxMessage:
        assert broadcast.report_channel is not None and broadcast.report_chat_id is not None
        envelope = Envelope(
            channel=Channel(broadcast.report_channel),
            chat_id=broadcast.report_chat_id,
            action=action,
            role=report_role(broadcast.id) if role == "" else role,
        )
        return enqueue(session=session, envelope=envelope, now=now, priority=Priority.NOTIFICATION)
