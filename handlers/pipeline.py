"""From an adapter's Inbound to stored state and queued replies, in one transaction.

Dedupe, the citizen's record, the conversation step and the outbox rows for the replies all
commit together: a repeated delivery changes nothing, and a failure leaves nothing half done.
If handling fails (a bug, the database briefly away), the person is asked to send the message
again: Telegram's polling has already confirmed the update, so nothing would redeliver it. Nothing of
the event is kept, its dedupe record neither, so the same update delivered again is handled. When the
database cannot even queue that apology, it goes straight to the platform (`deliver_now`), in the
person's language as far as it can still be read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import group, router
from handlers.context import Deps, Mail, Turn
from handlers.messages import Envelope, Inbound, InboundKind, OutText
from models import Citizen, Conversation, Staff
from models.db import Database
from models.queries import (
    citizen_by_identity,
    conversation_for_update,
    first_delivery,
    recent_inbound_count,
    release_held,
)
from workflows.emergency import is_emergency
from workflows.outbox import Priority, enqueue
from workflows.staff import staff_by_user

log = logging.getLogger(__name__)

MAX_TEXT = 4000  # longer inbound texts are refused before any handler sees them

# sends one action to a chat now, past the outbox (bot/app.py: the channel's adapter)
DeliverNow = Callable[[Envelope], Awaitable[object]]


class Pipeline:
    """Handles inbound events one chat at a time, many chats at once.

    `deliver_now`: how to reach a person when the database cannot even queue the apology for a failure.
    `held_channels`: the channels whose outbox holds messages back until the person writes (a reply
    window, bot/sender.py); a message there releases them. None: every channel (one statement more
    for each message).
    """

    def __init__(
        self,
        db: Database,
        deps: Deps,
        on_queued: Callable[[], None] = lambda: None,
        deliver_now: DeliverNow | None = None,
        held_channels: Collection[str] | None = None,
    ) -> None:
        self.db = db
        self.held_channels = held_channels
        self.deps = deps
        self.on_queued = on_queued
        self.deliver_now = deliver_now
        self._chats = KeyedLocks()

    async def handle(self, inbound: Inbound) -> bool:
        """Process an inbound event once; False if it was a repeat delivery or could not be handled."""
        async with self._chats.hold((inbound.channel.value, inbound.chat_id)):
            try:
                try:
                    handled = await self._handle_once(inbound)
                except IntegrityError:
                    # another instance stored the same citizen or conversation first: look again
                    handled = await self._handle_once(inbound)
            except Exception:
                log.exception("handling %s event %s failed", inbound.channel, inbound.event_id)
                handled = await self._apologise(inbound)
        if handled:
            self.on_queued()
        return handled

    async def _apologise(self, inbound: Inbound) -> bool:
        """After a failure nothing of the event was stored: ask the person to send it again."""
        try:
            async with self.db.transaction() as session:
                if inbound.is_private:
                    # they wrote just now (WhatsApp's 24-hour window opens, so the apology may go)
                    citizen: Citizen | None = await _citizen(session, inbound, self.deps.clock.now())
                else:
                    citizen = await citizen_by_identity(
                        session=session, channel=inbound.channel.value, external_id=inbound.user_id
                    )
                language = citizen.language if citizen else self.deps.texts.default_language
                reply = OutText(text=self.deps.texts("errors.try_again", language))
                envelope = Envelope(channel=inbound.channel, chat_id=inbound.chat_id, action=reply)
                enqueue(session=session, envelope=envelope, now=self.deps.clock.now())
        except Exception:
            log.exception("could not even queue an apology for %s", inbound.event_id)
            await self._apologise_now(inbound)
            return False
        return True

    async def _apologise_now(self, inbound: Inbound) -> None:
        """The database is away: the apology straight to the platform, in the person's language if it
        can still be read (their stored choice, else their app's, else the city's default)."""
        if self.deliver_now is None:
            return
        texts = self.deps.texts
        language: str | None = None
        try:
            async with self.db.sessions() as session:
                citizen = await citizen_by_identity(
                    session=session, channel=inbound.channel.value, external_id=inbound.user_id
                )
                language = citizen.language if citizen is not None else None
        except Exception as error:
            log.info("the language of %s could not be read either: %s", inbound.user_id, error)
        if language is None:
            app_language = (inbound.platform_language or "").split("-")[0].lower()
            language = app_language if app_language in texts.languages else texts.default_language
        reply = OutText(text=texts("errors.try_again", language), language=language)
        try:
            await self.deliver_now(Envelope(channel=inbound.channel, chat_id=inbound.chat_id, action=reply))
        except Exception:
            log.exception("the apology for %s could not be sent either", inbound.event_id)

    async def _handle_once(self, inbound: Inbound) -> bool:
        now = self.deps.clock.now()
        async with self.db.transaction() as session:
            channel = inbound.channel.value
            flooded = await _flooded(session, inbound, self.deps, now)  # counted before this one is
            if not await first_delivery(
                session=session, channel=channel, event_id=inbound.event_id, chat_id=inbound.chat_id, now=now
            ):
                log.info("duplicate %s event %s ignored", channel, inbound.event_id)
                return False
            staff = await staff_by_user(session=session, channel=channel, user_id=inbound.user_id)
            if not inbound.is_private:
                await self._group_event(session, inbound, staff, now)
                return True
            citizen = await _citizen(session, inbound, now)
            conversation = await _conversation(session, inbound, now)
            turn = Turn(
                inbound=inbound,
                citizen=citizen,
                conversation=conversation,
                session=session,
                deps=self.deps,
                staff=staff,
            )
            if inbound.kind == InboundKind.TEXT and inbound.text:
                router.remember_language(turn, inbound.text[:MAX_TEXT])
            if inbound.text and is_emergency(inbound.text[:MAX_TEXT]):
                # before any limit: a life in danger is answered whatever else is wrong
                turn.emergency = True
                turn.say("emergency.call", number=self.deps.city.city.emergency_number)
            if flooded is not None:
                if flooded:
                    turn.say("limits.messages_per_minute")
            elif inbound.text is not None and len(inbound.text) > MAX_TEXT:
                turn.say("errors.text_too_long", maximum=MAX_TEXT, length=len(inbound.text))
            else:
                await router.step(turn)
            conversation.updated_at = now
            # they wrote: what waited for them (WhatsApp's 24-hour window) goes first, in its order
            if self.held_channels is None or channel in self.held_channels:
                await release_held(session=session, channel=channel, chat_id=inbound.chat_id, now=now)
            for reply in turn.replies:
                if isinstance(reply, OutText) and reply.language is None:
                    reply = reply.model_copy(update={"language": citizen.language})
                enqueue(
                    session=session,
                    envelope=Envelope(channel=inbound.channel, chat_id=inbound.chat_id, action=reply),
                    now=now,
                )
            queue_mail(session, turn.mail, now)
        return True

    async def _group_event(
        self, session: AsyncSession, inbound: Inbound, staff: Staff | None, now: datetime
    ) -> None:
        """Officers in a unit's group (handlers/group.py): no citizen record, no conversation."""
        turn = group.GroupTurn(inbound=inbound, staff=staff, session=session, deps=self.deps)
        await group.step(turn)
        for reply in turn.replies:
            envelope = Envelope(channel=inbound.channel, chat_id=inbound.chat_id, action=reply)
            enqueue(session=session, envelope=envelope, now=now, priority=Priority.INTERACTIVE)
        queue_mail(session, turn.mail, now)


def queue_mail(session: AsyncSession, mail: Mail, now: datetime) -> None:
    for envelope, priority in mail.items:
        enqueue(session=session, envelope=envelope, now=now, priority=priority)


async def _flooded(session: AsyncSession, inbound: Inbound, deps: Deps, now: datetime) -> bool | None:
    """None if within the per-minute limit; True on the first message over it (answered), False after."""
    limit = deps.city.limits.messages_per_minute
    count = await recent_inbound_count(
        session=session,
        channel=inbound.channel.value,
        chat_id=inbound.chat_id,
        since=now - timedelta(minutes=1),
    )
    if count < limit:
        return None
    return count == limit


async def _citizen(session: AsyncSession, inbound: Inbound, now: datetime) -> Citizen:
    citizen = await citizen_by_identity(
        session=session, channel=inbound.channel.value, external_id=inbound.user_id
    )
    if citizen is None:
        citizen = Citizen(
            channel=inbound.channel.value,
            external_id=inbound.user_id,
            chat_id=inbound.chat_id,
            created_at=now,
            last_seen_at=now,
        )
        session.add(citizen)
    if inbound.is_private:
        citizen.chat_id = inbound.chat_id
        # they wrote to the bot: their chat takes messages again (unblocked, back on WhatsApp)
        citizen.unreachable_at = None
        citizen.unreachable_reason = None
    citizen.display_name = (inbound.display_name or citizen.display_name or "")[:128] or None
    citizen.username = (inbound.username or citizen.username or "")[:64] or None
    citizen.last_seen_at = now
    await session.flush()
    return citizen


async def _conversation(session: AsyncSession, inbound: Inbound, now: datetime) -> Conversation:
    conversation = await conversation_for_update(
        session=session, channel=inbound.channel.value, chat_id=inbound.chat_id
    )
    if conversation is None:
        conversation = Conversation(
            channel=inbound.channel.value, chat_id=inbound.chat_id, data={}, updated_at=now
        )
        session.add(conversation)
    return conversation


class KeyedLocks:
    """One lock per key, forgotten when nobody holds or waits for it: a chat's events in order."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: tuple[str, str]) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
