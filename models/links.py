"""Which ticket a sent message belongs to, so a reply to it finds its ticket; and once-a-period jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index
from sqlmodel import Field, SQLModel


class MessageLink(SQLModel, table=True):
    """A message the bot sent about a ticket (the group card, a question, a relay)."""

    __tablename__ = "message_links"
    __table_args__ = (
        Index("ix_message_links_message", "channel", "chat_id", "message_id"),
        Index("ix_message_links_ticket_role", "ticket_id", "role", "chat_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    message_id: str = Field(max_length=64)
    ticket_id: int = Field(foreign_key="tickets.id")
    role: str = Field(max_length=16)
    sent_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


class JobRun(SQLModel, table=True):
    """A job done for a period (the digest of 2026-11-23): the primary key makes it once only."""

    __tablename__ = "job_runs"

    job: str = Field(primary_key=True, max_length=32)
    period: str = Field(primary_key=True, max_length=32)
    ran_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


class Lease(SQLModel, table=True):
    """Work one instance does at a time (sending a channel's bulk messages): who holds it, until when.

    Taken and renewed with one conditional UPDATE (models/lease_queries.py); a holder that dies
    loses it when `until` passes, and another instance takes it over.
    """

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=64)
    until: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
