"""Follow-up surveys: when each is sent, reminded and given up; which question comes next; an
answer taken once.

| when                         | what happens                                                     |
|------------------------------|------------------------------------------------------------------|
| a ticket is resolved         | a survey is scheduled `delay` later; the reporter may answer     |
|                              | early from the resolved notice                                   |
| its time comes               | "fixed?" is sent; one reminder `remind_after` later if unanswered |
| `close_after` after sending  | "fixed?" unanswered: the ticket closes without feedback;         |
|                              | otherwise the survey just ends                                   |
| "fixed" yes / no             | the ticket closes / reopens to the same unit; ratings, comment   |
| an answer twice, or late     | acknowledged, nothing changes                                    |
| the citizen opted out        | nothing is sent; the ticket closes when the survey would go      |

The order of questions: "fixed?", the rated questions, the comment; after "not fixed" the comment
(what is still wrong) comes right after, for the unit that has to fix it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Survey, SurveyStatus, Ticket
from workflows.calendar import WorkCalendar
from workflows.city_config import CityConfig
from workflows.clock import as_utc
from workflows.sla import Calendars

FIXED = "fixed"
COMMENT = "comment"
SCALE = (1, 2, 3, 4)  # SKM: 1 not good … 4 very good
OPEN_SURVEY = (SurveyStatus.SCHEDULED, SurveyStatus.OPEN)


class Outcome(StrEnum):
    TAKEN = "taken"
    ALREADY = "already"  # this question was answered before: the first answer stands
    CLOSED = "closed"  # the survey is over (answered, expired or skipped)
    INVALID = "invalid"  # no such question or value (a forged or outdated button)


class Step(StrEnum):
    SEND = "send"
    REMIND = "remind"
    FINISH = "finish"


def calendar(city: CityConfig, calendars: Calendars) -> WorkCalendar:
    return calendars(city.surveys.calendar)


async def schedule(
    *, session: AsyncSession, ticket: Ticket, city: CityConfig, calendars: Calendars, now: datetime
) -> Survey | None:
    """The survey of this resolution (one per ticket and round); None when surveys are off."""
    if not city.surveys.enabled:
        return None
    existing = (
        await session.exec(
            select(Survey).where(Survey.ticket_id == ticket.id, Survey.round == ticket.reopen_count)
        )
    ).first()
    if existing is not None:
        return existing
    send_at = calendar(city, calendars).add(now, city.surveys.delta("delay").total_seconds())
    survey = Survey(
        ticket_id=ticket.id or 0,
        round=ticket.reopen_count,
        citizen_id=ticket.citizen_id,
        unit=ticket.unit,
        category=ticket.category,
        resolved_at=now,
        send_at=send_at,
        next_at=send_at,
    )
    session.add(survey)
    await session.flush()
    return survey


def questions(survey: Survey, city: CityConfig) -> list[str]:
    rated = city.surveys.rated
    if survey.fixed is False:
        return [FIXED, COMMENT, *rated]
    return [FIXED, *rated, COMMENT]


def answered(survey: Survey, question: str) -> bool:
    if question == FIXED:
        return survey.fixed is not None
    if question == COMMENT:
        return survey.comment_at is not None
    return question in survey.ratings


def pending(survey: Survey, city: CityConfig) -> str | None:
    """The next question to ask; None when all are answered."""
    return next((q for q in questions(survey, city) if not answered(survey, q)), None)


def is_open(survey: Survey) -> bool:
    return survey.status in OPEN_SURVEY


def record(
    survey: Survey,
    question: str,
    value: bool | int | str,
    *,
    city: CityConfig,
    calendars: Calendars,
    now: datetime,
) -> Outcome:
    """Take one answer, once. "fixed" takes a bool, a rated question 1–4, the comment a text
    ("" when skipped). The caller closes or reopens the ticket after "fixed"."""
    if question not in questions(survey, city):
        return Outcome.INVALID
    if answered(survey, question):
        return Outcome.ALREADY
    if not is_open(survey):
        return Outcome.CLOSED
    if question == FIXED:
        if not isinstance(value, bool):
            return Outcome.INVALID
        survey.fixed = value
        survey.fixed_at = now
    elif question == COMMENT:
        if not isinstance(value, str):
            return Outcome.INVALID
        survey.comment = value.strip()
        survey.comment_at = now
    else:
        if isinstance(value, bool) or not isinstance(value, int) or value not in SCALE:
            return Outcome.INVALID
        survey.ratings = {**survey.ratings, question: value}  # a new dict: the JSON column changes
        if all(q in survey.ratings for q in city.surveys.rated):
            survey.rated_at = now
    if survey.status == SurveyStatus.SCHEDULED:  # answered early, from the resolved notice
        survey.status = SurveyStatus.OPEN
        survey.sent_at = now
    if pending(survey, city) is None:
        _finish(survey, now)
    elif survey.fixed is not None:
        # no reminders for the rest: the answering time just runs out
        assert survey.sent_at is not None
        survey.next_at = calendar(city, calendars).add(
            as_utc(survey.sent_at), city.surveys.delta("close_after").total_seconds()
        )
    return Outcome.TAKEN


def next_step(survey: Survey) -> Step:
    """What the sweep does with a survey whose time has come."""
    if survey.status == SurveyStatus.SCHEDULED:
        return Step.SEND
    if survey.fixed is None and survey.reminded_at is None:
        return Step.REMIND
    return Step.FINISH


def mark_sent(survey: Survey, *, city: CityConfig, calendars: Calendars, now: datetime) -> None:
    survey.status = SurveyStatus.OPEN
    survey.sent_at = now
    survey.next_at = calendar(city, calendars).add(now, city.surveys.delta("remind_after").total_seconds())


def mark_reminded(survey: Survey, *, city: CityConfig, calendars: Calendars, now: datetime) -> None:
    assert survey.sent_at is not None
    survey.reminded_at = now
    close_at = calendar(city, calendars).add(
        as_utc(survey.sent_at), city.surveys.delta("close_after").total_seconds()
    )
    survey.next_at = max(close_at, now)


def mark_skipped(survey: Survey, *, now: datetime) -> None:
    survey.status = SurveyStatus.SKIPPED
    survey.finished_at = now
    survey.next_at = None


def finish(survey: Survey, *, now: datetime) -> bool:
    """The answering time is over; True when "fixed?" was never answered (no feedback)."""
    no_feedback = survey.fixed is None
    _finish(survey, now)
    if no_feedback:
        survey.status = SurveyStatus.EXPIRED
    return no_feedback


def _finish(survey: Survey, now: datetime) -> None:
    survey.status = SurveyStatus.DONE
    survey.finished_at = now
    survey.next_at = None


async def due(*, session: AsyncSession, now: datetime, limit: int) -> list[Survey]:
    """Surveys with a step due, oldest first, locked for this transaction (skipped if another
    instance holds them, on PostgreSQL)."""
    query = (
        select(Survey)
        .where(col(Survey.next_at).is_not(None), col(Survey.next_at) <= now)
        .order_by(col(Survey.next_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.exec(query))


async def awaiting_fixed(
    *, session: AsyncSession, citizen_id: int, ticket_id: int | None = None
) -> Survey | None:
    """The citizen's newest open survey (of that ticket) whose "fixed?" is unanswered."""
    query = select(Survey).where(
        Survey.citizen_id == citizen_id,
        col(Survey.status).in_([s.value for s in OPEN_SURVEY]),
        col(Survey.fixed).is_(None),
    )
    if ticket_id is not None:
        query = query.where(Survey.ticket_id == ticket_id)
    return (await session.exec(query.order_by(col(Survey.resolved_at).desc()))).first()
