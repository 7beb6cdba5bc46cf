"""Tickets, their attachments and their append-only audit trail."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Index
from sqlmodel import Field, SQLModel


class TicketStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    WAITING_CITIZEN = "waiting_citizen"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"


OPEN_STATUSES = frozenset(
    {
        TicketStatus.SUBMITTED,
        TicketStatus.ACCEPTED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.WAITING_CITIZEN,
        TicketStatus.REOPENED,
    }
)


class Identity(StrEnum):
    PUBLIC = "public"  # officers see who reported
    ANONYMOUS = "anonymous"  # officers never see who reported
    CONFIDENTIAL = "confidential"  # content hidden from the unit group; reporter hidden too


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_citizen_created", "citizen_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True, index=True)
    citizen_id: int = Field(foreign_key="citizens.id")
    channel: str = Field(max_length=16)
    category: str = Field(max_length=32)
    unit: str = Field(max_length=32, index=True)
    area: str | None = Field(default=None, max_length=32)
    description: str
    address: str | None = Field(default=None, max_length=500)
    latitude: float | None = None
    longitude: float | None = None
    identity: str = Field(default=Identity.PUBLIC, max_length=16)
    language: str = Field(default="id", max_length=5)
    status: str = Field(default=TicketStatus.SUBMITTED, max_length=24)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    response_target_seconds: int  # from the category's SLA policy, as promised to the citizen
    sla_calendar: str = Field(default="working", max_length=16)


class Attachment(SQLModel, table=True):
    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    kind: str = Field(max_length=16)  # photo, voice, document
    channel: str = Field(max_length=16)
    file_id: str = Field(max_length=256)
    unique_id: str | None = Field(default=None, max_length=128)
    added_by: str = Field(default="citizen", max_length=16)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


class TicketEvent(SQLModel, table=True):
    """One recorded action on a ticket: who, when, what, from which state to which."""

    __tablename__ = "ticket_events"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    actor_kind: str = Field(max_length=16)  # citizen, officer, system, admin
    actor_id: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str | None = Field(default=None, max_length=24)
    note: str | None = None
    public: bool = True  # shown on the citizen's timeline
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # type: ignore[call-overload]
