"""Small keyword-only queries used around every inbound event: identities, state, dedupe, outbox."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, delete, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from models import Citizen, Conversation, MessageLink, OutboxMessage, OutboxStatus, ProcessedInbound

_INBOUND = ProcessedInbound.__table__  # type: ignore[attr-defined]
_INBOUND_VALUES: dict[str, BindParameter[Any]] = {
    "channel": bindparam("channel"),
    "event_id": bindparam("event_id"),
    "chat_id": bindparam("chat_id"),
    "processed_at": bindparam("now"),
}
# one statement both checks and records an event: nothing is inserted when it was seen before (and
# on PostgreSQL, an instance storing the same event at this moment is waited for, then it counts)
_FIRST_DELIVERY = {
    "sqlite": sqlite.insert(_INBOUND).values(_INBOUND_VALUES).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(_INBOUND).values(_INBOUND_VALUES).on_conflict_do_nothing(),
}


async def first_delivery(
    *, session: AsyncSession, channel: str, event_id: str, chat_id: str, now: datetime
) -> bool:
    """Record an inbound event as handled in this transaction; False if it was recorded before."""
    statement = _FIRST_DELIVERY[session.get_bind().dialect.name]
    params = {"channel": channel, "event_id": event_id, "chat_id": chat_id, "now": now}
    result = await session.exec(statement, params=params)
    return bool(result.rowcount)  # type: ignore[attr-defined]


# The queries below run for every inbound event: built once with bound parameters, so each call
# skips building the statement and its cache key (a good part of an update's Python time).
_RECENT_INBOUND = (
    select(func.count())
    .select_from(ProcessedInbound)
    .where(
        col(ProcessedInbound.channel) == bindparam("channel"),
        col(ProcessedInbound.chat_id) == bindparam("chat_id"),
        col(ProcessedInbound.processed_at) >= bindparam("since"),
    )
)
_CITIZEN = select(Citizen).where(
    col(Citizen.channel) == bindparam("channel"), col(Citizen.external_id) == bindparam("external_id")
)
_CONVERSATION = (
    select(Conversation)
    .where(
        col(Conversation.channel) == bindparam("channel"), col(Conversation.chat_id) == bindparam("chat_id")
    )
    .with_for_update()
)


async def recent_inbound_count(*, session: AsyncSession, channel: str, chat_id: str, since: datetime) -> int:
    """Inbound events from one chat since a moment (for the per-minute flood limit)."""
    params = {"channel": channel, "chat_id": chat_id, "since": since}
    return int((await session.exec(_RECENT_INBOUND, params=params)).one())


async def citizen_by_identity(*, session: AsyncSession, channel: str, external_id: str) -> Citizen | None:
    params = {"channel": channel, "external_id": external_id}
    return (await session.exec(_CITIZEN, params=params)).first()


async def conversation_for_update(
    *, session: AsyncSession, channel: str, chat_id: str
) -> Conversation | None:
    """The chat's conversation, locked for this transaction where the database can (PostgreSQL)."""
    return (await session.exec(_CONVERSATION, params={"channel": channel, "chat_id": chat_id})).first()


async def forget_processed_before(*, session: AsyncSession, before: datetime) -> None:
    """Dedupe records only need to outlive the platforms' redelivery window."""
    await session.execute(delete(ProcessedInbound).where(col(ProcessedInbound.processed_at) < before))


def dedupe_horizon(now: datetime) -> datetime:
    return now - timedelta(days=7)


_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_EARLIER = _OUTBOX.alias("earlier")


def _chat_head() -> ColumnElement[bool]:
    """No earlier pending row for the same chat: a chat's messages leave strictly in order. Used by
    the sender's read of due rows (due_outbox_query) and by its claim of one (_CLAIM).

    Asked of each candidate row as a lookup in ix_outbox_chat_order. `OFFSET 0` keeps PostgreSQL
    from turning it into a join, which it planned as a read of every pending row for each pending
    row while the table's statistics were older than its rows (a new database, a sudden backlog):
    0.8 s for 2,000 pending rows instead of 1 ms, and the sender fell behind just when it had most
    to do. SQLite asks it of each row anyway."""
    return ~(
        select(_EARLIER.c.id)
        .where(
            _EARLIER.c.channel == _OUTBOX.c.channel,
            _EARLIER.c.chat_id == _OUTBOX.c.chat_id,
            _EARLIER.c.status == OutboxStatus.PENDING.value,
            _EARLIER.c.id < _OUTBOX.c.id,
        )
        .offset(0)
        .exists()
    )


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(OutboxMessage.status) == OutboxStatus.PENDING,
        col(OutboxMessage.next_attempt_at) <= now,
        _chat_head(),
    )


def due_outbox_query(
    *, now: datetime, limit: int, channels: Collection[str] | None = None, below: int | None = None
) -> SelectOfScalar[OutboxMessage]:
    """Due outbox rows, most urgent first, oldest first within a priority.

    Due: pending, its time has come, and no earlier row of its chat is still pending (waiting for
    a retry, or being sent by someone): so at most one row per chat, the chat's oldest. Only the
    given channels when `channels` is set (those the caller can deliver to); only rows more urgent
    than `below` when it is set.
    """
    query = select(OutboxMessage).where(_due(now))
    if channels is not None:
        query = query.where(col(OutboxMessage.channel).in_(list(channels)))
    if below is not None:
        query = query.where(col(OutboxMessage.priority) < below)
    return query.order_by(col(OutboxMessage.priority), col(OutboxMessage.id)).limit(limit)


async def pending_outbox(
    *,
    session: AsyncSession,
    now: datetime,
    limit: int,
    channels: Collection[str] | None = None,
    below: int | None = None,
) -> list[OutboxMessage]:
    """The due rows (due_outbox_query), read."""
    query = due_outbox_query(now=now, limit=limit, channels=channels, below=below)
    return list(await session.exec(query))


# The sender's claim and its record of a send run for every message: plain statements on the table,
# built once (bound values at each call), skip the ORM's work that made them cost a few milliseconds.
_CLAIM = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("row_id"),
        _OUTBOX.c.attempts == bindparam("seen_attempts"),
        _OUTBOX.c.status == OutboxStatus.PENDING.value,
        _OUTBOX.c.next_attempt_at <= bindparam("now"),
        _chat_head(),
    )
    .values(attempts=bindparam("new_attempts"), next_attempt_at=bindparam("lease_until"))
)
_RELEASE = (  # run for every inbound event (release_held)
    update(_OUTBOX)
    .where(
        _OUTBOX.c.channel == bindparam("held_channel"),  # not a column's name (those are the SET's)
        _OUTBOX.c.chat_id == bindparam("held_chat"),
        _OUTBOX.c.status == OutboxStatus.HELD.value,
    )
    .values(status=OutboxStatus.PENDING.value, next_attempt_at=bindparam("now"), template_only=False)
)
_SENT = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("row_id"),
        _OUTBOX.c.status.in_([OutboxStatus.PENDING.value, OutboxStatus.CANCELLED.value]),
    )
    .values(
        status=OutboxStatus.SENT.value,
        sent_at=bindparam("now"),
        platform_message_id=bindparam("message_id"),
        last_error=None,
        sent_as=bindparam("as_what"),
    )
)


async def claim_outbox(
    *, session: AsyncSession, row_id: int, attempts: int, now: datetime, lease_until: datetime
) -> bool:
    """Take a due row for sending; False if someone else took it first (or it is no longer due).

    One conditional UPDATE, so two senders never both win: it counts the attempt and hides the row
    until `lease_until`, when it is due again should the sender die before recording the outcome.
    `attempts` is the count the caller read: the claim is the (attempts + 1)th attempt.
    """
    values = {"row_id": row_id, "seen_attempts": attempts, "now": now}
    values |= {"new_attempts": attempts + 1, "lease_until": lease_until}
    result = await session.exec(_CLAIM, params=values)
    return result.rowcount == 1  # type: ignore[attr-defined]


async def record_outbox_sent(
    *,
    session: AsyncSession,
    row_id: int,
    now: datetime,
    platform_message_id: str | None,
    sent_as: str | None = None,
) -> None:
    """Sent; `sent_as` "template" when a WhatsApp template stood in for the message.

    Also when its broadcast was cancelled while it was on its way (withdrawn, status cancelled): it
    arrived, and the broadcast's report must count it as sent.
    """
    values = {"row_id": row_id, "now": now, "message_id": platform_message_id, "as_what": sent_as}
    await session.exec(_SENT, params=values)


SECRET_SENT = {"kind": "text", "text": "(a one-time login link: removed once sent)"}


async def forget_secret(*, session: AsyncSession, row_id: int) -> None:
    """A sent message that held a secret (a dashboard login link) keeps only a note of what it was."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id)
        .values(payload=SECRET_SENT)
        .execution_options(synchronize_session=False)
    )


def _still_claimed(row_id: int, attempts: int) -> ColumnElement[bool]:
    """The row is still pending and its attempt count is the claimer's: nobody claimed it since."""
    return and_(
        col(OutboxMessage.id) == row_id,
        col(OutboxMessage.status) == OutboxStatus.PENDING,
        col(OutboxMessage.attempts) == attempts,
    )


async def hold_outbox(*, session: AsyncSession, row_id: int, attempts: int, reason: str) -> None:
    """Keep a claimed row back until the person writes again (release_held); not failed, not due."""
    await session.exec(
        update(OutboxMessage)
        .where(_still_claimed(row_id, attempts))
        .values(status=OutboxStatus.HELD, last_error=reason[:500])
        .execution_options(synchronize_session=False)
    )


async def release_held(*, session: AsyncSession, channel: str, chat_id: str, now: datetime) -> int:
    """The person wrote: what was held back for them is due again, in its order. The number released."""
    params = {"held_channel": channel, "held_chat": chat_id, "now": now}
    result = await session.exec(_RELEASE, params=params)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def last_message_from(*, session: AsyncSession, channel: str, chat_id: str) -> datetime | None:
    """When the person of a private chat last wrote (WhatsApp: the chat id is their id)."""
    query = select(Citizen.last_seen_at).where(Citizen.channel == channel, Citizen.external_id == chat_id)
    return (await session.exec(query)).first()


async def release_claim(*, session: AsyncSession, row_id: int, now: datetime) -> None:
    """Make a claimed row due again at once (its chat moved; the attempt did not happen)."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == OutboxStatus.PENDING)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


async def record_outbox_error(
    *,
    session: AsyncSession,
    row_id: int,
    attempts: int,
    error: str,
    retry_at: datetime | None,
    parts_sent: int | None = None,
) -> bool:
    """A failed attempt: retry at `retry_at`, or never (status failed) when it is None. True if recorded.

    `parts_sent`: of a message in several parts, how many have arrived by now (kept for the retry).

    Only while the row is still the caller's claim (`attempts` unchanged): a sender that took longer
    than its lease does not overwrite the outcome of the one that claimed the row after it.
    """
    values: dict[str, object] = {"last_error": error}
    if parts_sent is not None:
        values["parts_sent"] = parts_sent
    if retry_at is None:
        values["status"] = OutboxStatus.FAILED
    else:
        values["next_attempt_at"] = retry_at
    result = await session.exec(
        update(OutboxMessage)
        .where(_still_claimed(row_id, attempts))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def mark_unreachable(
    *, session: AsyncSession, channel: str, chat_id: str, now: datetime, reason: str
) -> int:
    """The platform refused the citizen's private chat for good (blocked, account gone): say so on them
    (broadcasts pass them by) until they write again. The number of citizens marked (0 or 1)."""
    result = await session.exec(
        update(Citizen)
        .where(
            col(Citizen.channel) == channel,
            col(Citizen.chat_id) == chat_id,
            col(Citizen.unreachable_at).is_(None),
        )
        .values(unreachable_at=now, unreachable_reason=reason[:200])
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def ticket_for_message(
    *, session: AsyncSession, channel: str, chat_id: str, message_id: str
) -> int | None:
    """The ticket a message the bot sent belongs to (a reply to it is about that ticket)."""
    query = (
        select(MessageLink.ticket_id)
        .where(
            MessageLink.channel == channel,
            MessageLink.chat_id == chat_id,
            MessageLink.message_id == message_id,
        )
        .order_by(col(MessageLink.id).desc())
    )
    return (await session.exec(query)).first()


async def latest_link(*, session: AsyncSession, ticket_id: int, role: str, chat_id: str) -> str | None:
    """The platform id of the newest message of this role for the ticket in this chat."""
    query = (
        select(MessageLink.message_id)
        .where(MessageLink.ticket_id == ticket_id, MessageLink.role == role, MessageLink.chat_id == chat_id)
        .order_by(col(MessageLink.id).desc())
    )
    return (await session.exec(query)).first()


def record_link(
    *, session: AsyncSession, row: OutboxMessage, message_id: str, chat_id: str, now: datetime
) -> None:
    """Remember which ticket a sent message was about (rows queued with a ticket id)."""
    if row.ticket_id is None:
        return
    session.add(
        MessageLink(
            channel=row.channel,
            chat_id=chat_id,
            message_id=message_id,
            ticket_id=row.ticket_id,
            role=row.role or "message",
            sent_at=now,
        )
    )


OUTSIDE_WINDOW = "131047"  # WhatsApp: more than 24 hours since the person last wrote
UNDELIVERABLE = "131026"  # WhatsApp: the number cannot receive messages (not on WhatsApp, app too old)
_RECEIPT_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}


async def record_delivery(
    *,
    session: AsyncSession,
    channel: str,
    platform_message_id: str,
    status: str,
    at: datetime,
    error: str | None = None,
) -> bool:
    """A platform's receipt for a message it accepted; False when no outbox row has that id.

    Receipts can arrive out of order: a later stage is never overwritten by an earlier one
    ("delivered" after "read" changes nothing). "failed" marks the row failed with the reason,
    except WhatsApp's "outside the 24-hour window" (131047) for a message sent as itself: it is sent
    again as its template when it has one, or held until the person writes again; and "undeliverable"
    (131026) marks the citizen unreachable, as a refused send does.
    """
    query = select(OutboxMessage).where(
        OutboxMessage.channel == channel, OutboxMessage.platform_message_id == platform_message_id
    )
    row = (await session.exec(query.with_for_update())).first()
    if row is None:
        return False
    if _RECEIPT_RANK.get(row.delivery_status or "", 0) >= _RECEIPT_RANK.get(status, 0):
        return True
    row.delivery_status, row.delivery_at = status, at
    if status != "failed":
        return True
    row.last_error = (error or "failed")[:500]
    if (error or "").startswith(OUTSIDE_WINDOW) and row.sent_as != "template":
        row.delivery_status = row.delivery_at = None  # the next send has receipts of its own
        if row.template is not None:
            row.status, row.template_only, row.next_attempt_at = OutboxStatus.PENDING, True, at
        else:
            row.status = OutboxStatus.HELD
        return True
    row.status = OutboxStatus.FAILED
    if (error or "").startswith(UNDELIVERABLE) and not row.chat_id.startswith("-"):
        await mark_unreachable(
            session=session, channel=channel, chat_id=row.chat_id, now=at, reason=row.last_error
        )
    return True
