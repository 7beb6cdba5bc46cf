"""Inbound events already handled: a repeated delivery of the same event is ignored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel


class ProcessedInbound(SQLModel, table=True):
    __tablename__ = "processed_inbound"

    channel: str = Field(primary_key=True, max_length=16)
    event_id: str = Field(primary_key=True, max_length=128)
    chat_id: str = Field(max_length=64, index=True)
    processed_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)  # type: ignore[call-overload]
