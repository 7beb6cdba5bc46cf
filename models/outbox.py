"""The durable outbox: every outgoing message is a row written with the change that caused it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Index
from sqlmodel import Field, SQLModel


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    # WhatsApp: outside the citizen's 24-hour window with no template to stand in; sent when they
    # next write (models.queries.release_held)
    HELD = "held"
    CANCELLED = "cancelled"  # withdrawn before it was sent (a cancelled broadcast)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        # the due rows in the order they go (models.queries.pending_outbox stops after the first few)
        Index("ix_outbox_queue", "status", "priority", "id", "next_attempt_at"),
        # "no earlier pending row of this chat" (models.queries.pending_outbox), asked for every due row
        Index("ix_outbox_chat_order", "channel", "chat_id", "status", "id"),
        Index("ix_outbox_platform_id", "channel", "platform_message_id"),  # delivery receipts
        Index("ix_outbox_broadcast", "broadcast_id", "status"),  # a broadcast's progress, counted often
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_type=JSON)  # type: ignore[call-overload]
    priority: int = 0  # lower goes first: 0 interactive replies, 10 notifications, 50 bulk
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    attempts: int = 0
    created_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    next_attempt_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    platform_message_id: str | None = Field(default=None, max_length=64)
    last_error: str | None = None
    ticket_id: int | None = None  # the ticket the message is about (see models.links.MessageLink)
    role: str | None = Field(default=None, max_length=16)
    # what the platform reported after accepting it (WhatsApp: sent, delivered, read, failed)
    delivery_status: str | None = Field(default=None, max_length=16)
    delivery_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    # WhatsApp's 24-hour rule: the template that stands in when the window is closed
    # (handlers.messages.TemplateCall as JSON), whether it must be used (Meta refused the message
    # itself), and what was sent in the end: "template" when it was
    template: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # type: ignore[call-overload]
    template_only: bool = False
    sent_as: str | None = Field(default=None, max_length=16)
    # of a message sent in several parts (a long text), how many arrived before an attempt failed:
    # the next attempt goes on from there instead of repeating them
    parts_sent: int = 0
    broadcast_id: int | None = None  # a recipient's copy of an announcement
