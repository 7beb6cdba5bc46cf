"""Conversation state, kept in the database so a restart resumes where the person was."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat_id", name="uq_conversation_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    state: str = Field(default="idle", max_length=32)
    step: int = 0  # bumped on every state change; buttons carry it to detect stale presses
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # type: ignore[call-overload]
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
