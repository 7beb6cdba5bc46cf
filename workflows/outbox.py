"""Queueing outgoing messages in the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.messages import Envelope
from models import OutboxMessage


class Priority(IntEnum):
    """Lower is sent first: a citizen waiting for an answer goes ahead of bulk traffic."""

    INTERACTIVE = 0
    NOTIFICATION = 10
    BULK = 50


def enqueue(
    *,
    session: AsyncSession,
    envelope: Envelope,
    now: datetime,
    priority: Priority = Priority.INTERACTIVE,
) -> OutboxMessage:
    """Add a message to the outbox; it is sent only if the surrounding transaction commits."""
    row = OutboxMessage(
        channel=envelope.channel.value,
        chat_id=envelope.chat_id,
        payload=envelope.action.model_dump(mode="json"),
        priority=int(priority),
        ticket_id=envelope.ticket_id,
        role=envelope.role,
        template=envelope.template.model_dump(mode="json") if envelope.template else None,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    return row
