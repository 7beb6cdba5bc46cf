"""Follow-up surveys after a resolution: one per ticket and resolution round.

The answers are kept on the row (fixed?, the ratings per question, the comment); the satisfaction
index is computed from them (workflows/satisfaction.py) and never names the citizen.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class SurveyStatus(StrEnum):
    SCHEDULED = "scheduled"  # waits for its time (the citizen may answer early from the resolved notice)
    OPEN = "open"  # asked; answers are being given
    DONE = "done"  # every question answered, or the answering time is over after "fixed?" was answered
    EXPIRED = "expired"  # "fixed?" never answered: the ticket was closed without feedback
    SKIPPED = "skipped"  # not sent: the citizen had opted out, or the ticket moved on without it


class Survey(SQLModel, table=True):
    __tablename__ = "surveys"
    __table_args__ = (
        UniqueConstraint("ticket_id", "round", name="uq_survey_round"),
        Index("ix_surveys_next_at", "next_at"),  # the survey sweep: one indexed range read
        Index("ix_surveys_rated_at", "rated_at"),  # the satisfaction report of a period
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    round: int = 0  # the ticket's reopen count when it was resolved
    citizen_id: int = Field(foreign_key="citizens.id", index=True)  # whom to ask; never reported
    unit: str = Field(max_length=32)  # the unit that resolved it
    category: str = Field(max_length=32)
    status: str = Field(default=SurveyStatus.SCHEDULED, max_length=16)
    resolved_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    send_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    reminded_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    next_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    fixed: bool | None = None
    fixed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    ratings: dict[str, int] = Field(default_factory=dict, sa_type=JSON)  # type: ignore[call-overload]
    rated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    comment: str | None = None  # "" when skipped
    comment_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
