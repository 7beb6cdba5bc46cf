"""Staff (officers, supervisors, admins), one-time invite codes, and each unit's runtime state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


class Role(StrEnum):
    OFFICER = "officer"  # acts on the unit's tickets from its group
    SUPERVISOR = "supervisor"  # unit head: an officer who also gets escalations and the digest
    ADMIN = "admin"  # binds groups, invites staff, pauses units; may act on any ticket
    QUALITY = "quality"  # quality manager: sees every unit on the dashboard, read-only; no unit


class Staff(SQLModel, table=True):
    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("channel", "user_id", name="uq_staff_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(default="telegram", max_length=16)
    user_id: str = Field(max_length=64)  # the platform's user id; on Telegram also their private chat
    display_name: str | None = Field(default=None, max_length=128)
    role: str = Field(default=Role.OFFICER, max_length=16)
    unit: str | None = Field(default=None, max_length=32, index=True)  # None for admins, quality managers
    active: bool = True
    added_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


class InviteCode(SQLModel, table=True):
    """A one-time code an admin gives an officer: `/join CODE` makes them staff of the unit."""

    __tablename__ = "invite_codes"

    code_hash: str = Field(primary_key=True, max_length=64)  # sha256 of the code; the code is shown once
    unit: str = Field(max_length=32)
    role: str = Field(default=Role.OFFICER, max_length=16)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    used_by: str | None = Field(default=None, max_length=64)
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


class UnitState(SQLModel, table=True):
    """What changes about a unit at run time: its group chat and whether it is paused (and until when)."""

    __tablename__ = "unit_states"

    unit: str = Field(primary_key=True, max_length=32)
    channel: str = Field(default="telegram", max_length=16)
    chat_id: str | None = Field(default=None, max_length=64, index=True)  # the unit's group
    chat_title: str | None = Field(default=None, max_length=128)
    linked_by: str | None = Field(default=None, max_length=64)
    linked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    paused: bool = False  # new tickets go to the unit's fallback
    paused_reason: str | None = Field(default=None, max_length=200)
    paused_by: str | None = Field(default=None, max_length=64)
    paused_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    # the pause ends by itself then (unit_resume sweep); None: until someone resumes the unit
    paused_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


class LinkRequest(SQLModel, table=True):
    """Someone who is not an admin asked, in a group, to link it to a unit; an admin approves."""

    __tablename__ = "link_requests"

    chat_id: str = Field(primary_key=True, max_length=64)
    channel: str = Field(default="telegram", max_length=16)
    unit: str = Field(max_length=32)
    chat_title: str | None = Field(default=None, max_length=128)
    requested_by: str = Field(max_length=64)
    requested_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
