"""Queries of broadcasts: who is in a segment, the next recipients to expand, the rows' outcome,
WhatsApp's tier use, and the conditional updates that let several instances share the work.

Recipients are read in id order after a cursor, so an expansion step is "the next N after id X":
a restart (or another instance) goes on from the cursor stored with the rows it wrote.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, insert, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import (
    Broadcast,
    BroadcastStatus,
    Citizen,
    OutboxMessage,
    OutboxStatus,
    Role,
    Staff,
    Ticket,
    TicketFollower,
)

WHATSAPP = "whatsapp"
OFFICER_ROLES = (Role.OFFICER.value, Role.SUPERVISOR.value)
# a WhatsApp announcement row queued to someone whose 24-hour window was closed: it opens a
# business-initiated conversation, which counts against the number's tier
TIER_ROLE = "broadcast_tier"
ROW_ROLE = "broadcast"  # any other recipient's copy
FINAL = (BroadcastStatus.DONE.value, BroadcastStatus.CANCELLED.value)


def citizen_filter(
    *, kind: str, value: str | None, channels: Collection[str], areas: Collection[str] = ()
) -> list[ColumnElement[bool]]:
    """Citizens of a segment who may receive an announcement (not opted out, reachable).

    `areas`: for an area segment, the area and the areas inside it (its kelurahan): citizens who
    reported (or joined) a complaint there. A category segment: who reported or joined one of it.
    """
    where: list[ColumnElement[bool]] = [
        col(Citizen.announcements_off_at).is_(None),
        col(Citizen.unreachable_at).is_(None),
        col(Citizen.channel).in_(list(channels)),
    ]
    if kind == "channel":
        where.append(col(Citizen.channel) == value)
    elif kind == "language":
        where.append(col(Citizen.language) == value)
    elif kind == "area":
        where.append(_with_ticket(col(Ticket.area).in_(list(areas))))
    elif kind == "category":
        where.append(_with_ticket(col(Ticket.category) == value))
    return where


def _with_ticket(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    reported = exists().where(col(Ticket.citizen_id) == col(Citizen.id), condition)
    joined = exists().where(
        col(TicketFollower.citizen_id) == col(Citizen.id),
        col(Ticket.id) == col(TicketFollower.ticket_id),
        condition,
    )
    return or_(reported, joined)


def on_channel(channel: str) -> ColumnElement[bool]:
    return col(Citizen.channel) == channel


def wrote_after(moment: datetime) -> ColumnElement[bool]:
    """The citizen wrote after the moment (WhatsApp: their 24-hour window is open)."""
    return col(Citizen.last_seen_at) > moment


def _officers(unit: str) -> list[ColumnElement[bool]]:
    return [
        col(Staff.active).is_(True),
        col(Staff.unit) == unit,
        col(Staff.role).in_(OFFICER_ROLES),
        col(Staff.channel) == "telegram",
    ]


def no_row_yet(broadcast_id: int) -> ColumnElement[bool]:
    """The citizen's chat has no copy of this broadcast yet (WhatsApp's window-open lane).

    Looked up by the chat (ix_outbox_chat_order): `broadcast_id + 0` keeps SQLite from walking every
    row of the broadcast for each citizen instead."""
    return ~exists().where(
        col(OutboxMessage.channel) == col(Citizen.channel),
        col(OutboxMessage.chat_id) == col(Citizen.chat_id),
        col(OutboxMessage.broadcast_id) + 0 == broadcast_id,
    )


async def count_citizens(*, session: AsyncSession, where: Sequence[ColumnElement[bool]]) -> dict[str, int]:
    query = select(Citizen.channel, func.count()).where(*where).group_by(col(Citizen.channel))
    return {channel: int(n) for channel, n in (await session.exec(query)).all()}


async def count_officers(*, session: AsyncSession, unit: str, after: int = 0) -> int:
    query = select(func.count()).select_from(Staff).where(*_officers(unit), col(Staff.id) > after)
    return int((await session.exec(query)).one())


async def next_citizens(
    *, session: AsyncSession, where: Sequence[ColumnElement[bool]], after: int, limit: int
) -> list[Citizen]:
    query = select(Citizen).where(*where, col(Citizen.id) > after).order_by(col(Citizen.id)).limit(limit)
    return list(await session.exec(query))


async def count_after(*, session: AsyncSession, where: Sequence[ColumnElement[bool]], after: int) -> int:
    query = select(func.count()).select_from(Citizen).where(*where, col(Citizen.id) > after)
    return int((await session.exec(query)).one())


async def next_officers(*, session: AsyncSession, unit: str, after: int, limit: int) -> list[Staff]:
    query = select(Staff).where(*_officers(unit), col(Staff.id) > after).order_by(col(Staff.id)).limit(limit)
    return list(await session.exec(query))


async def insert_rows(*, session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Many outbox rows in one statement (an expansion step writes thousands): Core, not the ORM."""
    if rows:
        await session.exec(insert(OutboxMessage.__table__), params=rows)  # type: ignore[attr-defined]


async def rows_by_status(*, session: AsyncSession, broadcast_id: int) -> dict[str, int]:
    query = (
        select(OutboxMessage.status, func.count())
        .where(col(OutboxMessage.broadcast_id) == broadcast_id)
        .group_by(col(OutboxMessage.status))
    )
    return {status: int(n) for status, n in (await session.exec(query)).all()}


async def pending_by_channel(*, session: AsyncSession, broadcast_id: int) -> dict[str, int]:
    """A broadcast's rows not sent yet, per channel: what the trickle keeps bounded."""
    query = (
        select(OutboxMessage.channel, func.count())
        .where(
            col(OutboxMessage.status) == OutboxStatus.PENDING,
            col(OutboxMessage.priority) >= 0,  # lets the due index (status, priority) serve it
            col(OutboxMessage.broadcast_id) == broadcast_id,
        )
        .group_by(col(OutboxMessage.channel))
    )
    return {channel: int(n) for channel, n in (await session.exec(query)).all()}


async def rows_since(*, session: AsyncSession, broadcast_id: int, channel: str, since: datetime) -> int:
    """A broadcast's rows of one channel queued from a moment on."""
    query = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            col(OutboxMessage.broadcast_id) == broadcast_id,
            col(OutboxMessage.channel) == channel,
            col(OutboxMessage.created_at) >= since,
        )
    )
    return int((await session.exec(query)).one())


def _tier_rows(since: datetime) -> ColumnElement[bool]:
    """WhatsApp rows that opened (or will open) a business-initiated conversation after `since`:
    sent as a template (any notice), or announcement rows queued as such."""
    return and_(
        col(OutboxMessage.channel) == WHATSAPP,
        or_(col(OutboxMessage.sent_as) == "template", col(OutboxMessage.role) == TIER_ROLE),
        col(OutboxMessage.status) != OutboxStatus.CANCELLED,
        func.coalesce(col(OutboxMessage.sent_at), col(OutboxMessage.created_at)) > since,
    )


async def tier_used(*, session: AsyncSession, since: datetime) -> int:
    """Distinct WhatsApp chats that got a business-initiated message after `since`."""
    query = select(func.count(func.distinct(col(OutboxMessage.chat_id)))).where(_tier_rows(since))
    return int((await session.exec(query)).one())


async def tier_chats_among(*, session: AsyncSession, since: datetime, chat_ids: Collection[str]) -> set[str]:
    """Of these chats, the ones already counted (another message to them costs nothing more)."""
    if not chat_ids:
        return set()
    query = (
        select(OutboxMessage.chat_id)
        .where(_tier_rows(since), col(OutboxMessage.chat_id).in_(list(chat_ids)))
        .distinct()
    )
    return set((await session.exec(query)).all())


async def tier_oldest(*, session: AsyncSession, since: datetime) -> datetime | None:
    """When the oldest counted conversation began: the tier frees its first place 24 h later."""
    moment = func.coalesce(col(OutboxMessage.sent_at), col(OutboxMessage.created_at))
    return (await session.exec(select(func.min(moment)).where(_tier_rows(since)))).one()


async def claim_step(
    *,
    session: AsyncSession,
    broadcast_id: int,
    cursor: str | None,
    queued: int,
    new_cursor: str | None,
    new_queued: int,
) -> bool:
    """Record an expansion step, if nobody else recorded one since we read the broadcast.

    One conditional UPDATE: of two instances that read the same cursor, only one moves it; the
    other's transaction is rolled back with the rows it meant to write. Only while it is sending.
    """
    same_cursor = col(Broadcast.cursor).is_(None) if cursor is None else col(Broadcast.cursor) == cursor
    result = await session.exec(
        update(Broadcast)
        .where(
            col(Broadcast.id) == broadcast_id,
            col(Broadcast.status) == BroadcastStatus.SENDING,
            same_cursor,
            col(Broadcast.queued) == queued,
        )
        .values(cursor=new_cursor, queued=new_queued)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def set_status(
    *, session: AsyncSession, broadcast_id: int, old: Collection[str], values: dict[str, object]
) -> bool:
    """Move a broadcast on from one of the `old` statuses; False if it had moved already."""
    result = await session.exec(
        update(Broadcast)
        .where(col(Broadcast.id) == broadcast_id, col(Broadcast.status).in_(list(old)))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def due_scheduled(*, session: AsyncSession, now: datetime) -> list[int]:
    query = select(Broadcast.id).where(
        col(Broadcast.status) == BroadcastStatus.SCHEDULED, col(Broadcast.send_at) <= now
    )
    return [i for i in (await session.exec(query)).all() if i is not None]


async def in_progress(*, session: AsyncSession) -> list[Broadcast]:
    """Broadcasts being sent, and finished ones whose final report is still to be queued."""
    query = select(Broadcast).where(
        or_(
            col(Broadcast.status) == BroadcastStatus.SENDING,
            and_(
                col(Broadcast.status).in_(FINAL),
                col(Broadcast.report_chat_id).is_not(None),
                col(Broadcast.reported_at).is_(None),
            ),
        )
    )
    return list(await session.exec(query.order_by(col(Broadcast.id))))


async def withdraw_rows(*, session: AsyncSession, broadcast_id: int) -> int:
    """A cancelled broadcast's copies not sent yet are withdrawn; the number withdrawn."""
    result = await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.broadcast_id) == broadcast_id,
            col(OutboxMessage.status).in_([OutboxStatus.PENDING.value, OutboxStatus.HELD.value]),
        )
        .values(status=OutboxStatus.CANCELLED, last_error="broadcast cancelled")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def report_rows(
    *, session: AsyncSession, channel: str, chat_id: str, role: str
) -> tuple[OutboxMessage | None, OutboxMessage | None]:
    """Of the progress message's rows (the first text and its edits): the newest, and the newest
    that reached the chat (its message id is the one to edit)."""
    query = select(OutboxMessage).where(
        col(OutboxMessage.channel) == channel,
        col(OutboxMessage.chat_id) == chat_id,
        col(OutboxMessage.role) == role,
    )
    newest = (await session.exec(query.order_by(col(OutboxMessage.id).desc()).limit(1))).first()
    shown_query = query.where(col(OutboxMessage.platform_message_id).is_not(None))
    shown = (await session.exec(shown_query.order_by(col(OutboxMessage.id).desc()).limit(1))).first()
    return newest, shown


async def set_report_row(*, session: AsyncSession, broadcast_id: int, row_id: int | None) -> None:
    await session.exec(
        update(Broadcast)
        .where(col(Broadcast.id) == broadcast_id)
        .values(report_row_id=row_id)
        .execution_options(synchronize_session=False)
    )


async def claim_report(
    *,
    session: AsyncSession,
    broadcast_id: int,
    statuses: Collection[str],
    last_before: datetime | None,
    now: datetime,
) -> bool:
    """Take the turn to update the progress message: one instance per turn, at most one turn per
    interval (`last_before`: the previous one must be older; None: only if none was made yet)."""
    due: ColumnElement[bool] = col(Broadcast.reported_at).is_(None)
    if last_before is not None:
        due = or_(due, col(Broadcast.reported_at) <= last_before)
    result = await session.exec(
        update(Broadcast)
        .where(col(Broadcast.id) == broadcast_id, col(Broadcast.status).in_(list(statuses)), due)
        .values(reported_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def recent_broadcasts(*, session: AsyncSession, limit: int) -> list[Broadcast]:
    query = select(Broadcast).order_by(col(Broadcast.id).desc()).limit(limit)
    return list(await session.exec(query))


async def chat_language(*, session: AsyncSession, channel: str, chat_id: str) -> str | None:
    """The language of whoever writes in this private chat (None: nobody known there)."""
    query = select(Citizen.language).where(Citizen.channel == channel, Citizen.chat_id == chat_id)
    return (await session.exec(query)).first()
