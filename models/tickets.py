"""Tickets, their attachments and their append-only audit trail."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Index
from sqlmodel import Field, SQLModel


class TicketStatus(StrEnum):
    """See workflows/lifecycle.py for the transitions between them."""

    SUBMITTED = "submitted"  # waiting for its unit to accept it (the response clock runs)
    IN_PROGRESS = "in_progress"  # accepted by an officer (the resolution clock runs)
    WAITING_CITIZEN = "waiting_citizen"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"


OPEN_STATUSES = frozenset(
    {
        TicketStatus.SUBMITTED,
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
    __table_args__ = (
        Index("ix_tickets_citizen_created", "citizen_id", "created_at"),
        Index("ix_tickets_next_alert", "next_alert_at"),  # the SLA sweep: one indexed range read
        Index("ix_tickets_nearby", "category", "status", "created_at"),  # "me too" candidates
        # the quality figures (models/quality_queries.py): a period's tickets, and the open backlog
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_resolved_at", "resolved_at"),
        Index("ix_tickets_closed_at", "closed_at"),
        Index("ix_tickets_status", "status"),
    )

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
    # who holds it, and the SLA clock that runs now (response until accepted, then resolution)
    holder_staff_id: int | None = Field(default=None, foreign_key="staff.id")
    clock: str | None = Field(default=None, max_length=16)  # response, resolution; None when stopped
    clock_target_seconds: int | None = None
    due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    paused_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    alert_stage: int = 0  # reminders and escalations already done for the running clock
    next_alert_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    accepted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    resolved_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    closed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    reporters: int = 1  # the reporter and every citizen who joined with "me too"
    priority: int = 0  # rises with the number of reporters
    reopen_count: int = 0


class TicketFollower(SQLModel, table=True):
    """A citizen who joined a ticket ("ikut melapor") and gets its updates like the reporter."""

    __tablename__ = "ticket_followers"

    ticket_id: int = Field(foreign_key="tickets.id", primary_key=True)
    citizen_id: int = Field(foreign_key="citizens.id", primary_key=True, index=True)
    joined_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


class Attachment(SQLModel, table=True):
    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    kind: str = Field(max_length=16)  # photo, voice, document
    channel: str = Field(max_length=16)
    file_id: str = Field(max_length=256)
    unique_id: str | None = Field(default=None, max_length=128)
    added_by: str = Field(default="citizen", max_length=16)  # citizen, officer (proof of resolution)
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
