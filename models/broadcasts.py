"""Announcements an admin sends to a segment of citizens (or to the officers of a unit).

A broadcast is composed (texts per language, an optional photo, a segment, an optional send time),
confirmed, then expanded little by little into outbox rows at bulk priority (`OutboxMessage.broadcast_id`)
by the runner; its progress is counted from those rows. `cursor` is how far the expansion got, kept in
the same transaction as the rows it wrote, so a restart goes on where it left off.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlmodel import Field, SQLModel


class BroadcastStatus(StrEnum):
    DRAFT = "draft"  # composed, waiting for the admin's confirmation
    SCHEDULED = "scheduled"  # confirmed, its send time has not come
    SENDING = "sending"  # being expanded into the outbox and sent
    DONE = "done"  # every recipient's row has left the outbox (sent or failed)
    CANCELLED = "cancelled"  # stopped by an admin; rows not yet sent were withdrawn


class Broadcast(SQLModel, table=True):
    __tablename__ = "broadcasts"

    id: int | None = Field(default=None, primary_key=True)
    created_by: str = Field(max_length=64)  # staff user id, or "cli"
    created_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    status: str = Field(default=BroadcastStatus.DRAFT, max_length=16, index=True)
    # language code → text (HTML as the catalogues write it); a citizen gets theirs, else the first
    texts: dict[str, str] = Field(sa_type=JSON)  # type: ignore[call-overload]
    photo: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # type: ignore[call-overload]
    segment: dict[str, Any] = Field(sa_type=JSON)  # type: ignore[call-overload]  # workflows.broadcasts.Segment
    send_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    total: int = 0  # recipients counted when it was confirmed
    queued: int = 0  # outbox rows written so far
    # the last recipient expanded per channel, by id: "telegram:812,whatsapp:301" ("staff:12" for a
    # unit's officers); WhatsApp's stops where the tier ran out (workflows/broadcasts.py)
    cursor: str | None = Field(default=None, max_length=64)
    # where its progress is shown live (the admin's private chat), and the outbox row of that message
    report_channel: str | None = Field(default=None, max_length=16)
    report_chat_id: str | None = Field(default=None, max_length=64)
    report_row_id: int | None = None
    reported_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    cancelled_by: str | None = Field(default=None, max_length=64)
