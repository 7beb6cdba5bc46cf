"""Small keyword-only queries used around every inbound event: identities, state, dedupe, outbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Citizen, Conversation, OutboxMessage, ProcessedInbound


async def seen_before(*, session: AsyncSession, channel: str, event_id: str) -> bool:
    return await session.get(ProcessedInbound, (channel, event_id)) is not None


def mark_seen(*, session: AsyncSession, channel: str, event_id: str, chat_id: str, now: datetime) -> None:
    session.add(ProcessedInbound(channel=channel, event_id=event_id, chat_id=chat_id, processed_at=now))


async def recent_inbound_count(*, session: AsyncSession, channel: str, chat_id: str, since: datetime) -> int:
    """Inbound events from one chat since a moment (for the per-minute flood limit)."""
    query = (
        select(func.count())
        .select_from(ProcessedInbound)
        .where(
            ProcessedInbound.channel == channel,
            ProcessedInbound.chat_id == chat_id,
            ProcessedInbound.processed_at >= since,
        )
    )
    return int((await session.exec(query)).one())


async def citizen_by_identity(*, session: AsyncSession, channel: str, external_id: str) -> Citizen | None:
    query = select(Citizen).where(Citizen.channel == channel, Citizen.external_id == external_id)
    return (await session.exec(query)).first()


async def conversation_for_update(
    *, session: AsyncSession, channel: str, chat_id: str
) -> Conversation | None:
    """The chat's conversation, locked for this transaction where the database can (PostgreSQL)."""
    query = (
        select(Conversation)
        .where(Conversation.channel == channel, Conversation.chat_id == chat_id)
        .with_for_update()
    )
    return (await session.exec(query)).first()


async def forget_processed_before(*, session: AsyncSession, before: datetime) -> None:
    """Dedupe records only need to outlive the platforms' redelivery window."""
    await session.execute(delete(ProcessedInbound).where(ProcessedInbound.processed_at < before))


def dedupe_horizon(now: datetime) -> datetime:
    return now - timedelta(days=7)


async def pending_outbox(*, session: AsyncSession, now: datetime, limit: int) -> list[OutboxMessage]:
    """Due outbox rows, most urgent first, oldest first within a priority."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.priority, OutboxMessage.id)
        .limit(limit)
    )
    return list(await session.exec(query))
