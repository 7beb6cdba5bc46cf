"""Citizens: one row per channel identity (a person on Telegram and on WhatsApp is two)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


class Citizen(SQLModel, table=True):
    __tablename__ = "citizens"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_citizen_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)  # the platform's user id
    chat_id: str = Field(max_length=64)  # where to reach them privately
    language: str = Field(default="id", max_length=5)
    language_source: str = Field(default="default", max_length=16)  # default, detected, chosen
    display_name: str | None = Field(default=None, max_length=128)
    username: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    last_seen_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    # opted out of follow-up surveys (a button or /stop); None while they are welcome
    surveys_off_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    # opted out of announcements (broadcasts); None while they receive them
    announcements_off_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    # the platform refused a message for good (blocked the bot, account gone): no more broadcasts until
    # they write again; None while reachable
    unreachable_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    unreachable_reason: str | None = Field(default=None, max_length=200)
