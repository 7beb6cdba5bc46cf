"""Queueing outgoing messages in the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any

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
    row = OutboxMessage(**outbox_values(envelope, now=now, priority=priority))
    session.add(row)
    return row


def outbox_values(
    envelope: Envelope, *, now: datetime, priority: Priority = Priority.INTERACTIVE
) -> dict[str, Any]:
    """The columns of a queued message (enqueue's row, or one of many written in one INSERT)."""
    return {
        "channel": envelope.channel.value,
        "chat_id": envelope.chat_id,
        "payload": envelope.action.model_dump(mode="json"),
        "priority": int(priority),
        "ticket_id": envelope.ticket_id,
        "role": envelope.role,
        "template": envelope.template.model_dump(mode="json") if envelope.template else None,
        "created_at": now,
        "next_attempt_at": now,
    }
