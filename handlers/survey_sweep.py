"""The scheduler's survey work: send each survey when its time comes, remind once, and close the
ticket without feedback when no answer came (the rules: workflows/surveys.py).

Each batch runs in one transaction with the messages it queues (handlers/batches.py), so a step
is done once; on PostgreSQL another instance skips the rows this one holds.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import ticket_actions
from handlers.batches import in_batches
from handlers.context import Deps, Desk
from handlers.format import city_time
from handlers.messages import OutText
from handlers.survey import fixed_message
from models import Citizen, Survey, Ticket, TicketStatus
from models.db import Database
from workflows import staff as staff_rules
from workflows import surveys
from workflows.clock import as_utc
from workflows.lifecycle import Action, Actor, Refused
from workflows.surveys import Step

log = logging.getLogger(__name__)
BATCH = 200


async def sweep(db: Database, deps: Deps) -> int:
    """Do the survey steps that are due; the number done."""

    async def due(session: AsyncSession, now: datetime, limit: int) -> list[Survey]:
        return await surveys.due(session=session, now=now, limit=limit)

    return await in_batches(db, deps, due, step, batch=BATCH)


async def step(desk: Desk, survey: Survey) -> int:
    ticket = await desk.session.get(Ticket, survey.ticket_id, with_for_update=True)
    citizen = await desk.session.get(Citizen, survey.citizen_id)
    assert ticket is not None and citizen is not None
    resolved = ticket.status == TicketStatus.RESOLVED
    opted_out = citizen.surveys_off_at is not None
    deps, city, now = desk.deps, desk.deps.city, desk.now
    if not city.surveys.enabled:  # turned off since: nothing more is sent, the ticket stays as it is
        surveys.mark_skipped(survey, now=now)
        return 1
    match surveys.next_step(survey):
        case Step.SEND if not resolved:
            surveys.mark_skipped(survey, now=now)  # the ticket moved on without it
        case Step.SEND if opted_out:
            surveys.mark_skipped(survey, now=now)
            await _close(desk, ticket, "opted_out")
        case Step.SEND:
            message = fixed_message(deps, citizen.language, survey, ticket)
            _invite(desk, citizen, ticket, message)
            surveys.mark_sent(survey, city=city, calendars=deps.calendars, now=now)
        case Step.REMIND:
            surveys.mark_reminded(survey, city=city, calendars=deps.calendars, now=now)
            if resolved and not opted_out:
                assert survey.next_at is not None
                until = city_time(city.city.timezone, as_utc(survey.next_at))
                message = fixed_message(deps, citizen.language, survey, ticket, remind_until=until)
                _invite(desk, citizen, ticket, message)
        case Step.FINISH if opted_out and survey.fixed is None:
            surveys.mark_skipped(survey, now=now)  # opted out after it was sent: not "no feedback"
            if resolved:
                await _close(desk, ticket, "opted_out")
        case Step.FINISH:
            if surveys.finish(survey, now=now) and resolved:
                await _close(desk, ticket, "no_feedback")
    return 1


def _invite(desk: Desk, citizen: Citizen, ticket: Ticket, message: OutText) -> None:
    """The survey question; on WhatsApp after 24 hours its template, with the same answer buttons."""
    lang = citizen.language
    desk.mail.send(
        citizen.channel,
        citizen.chat_id,
        message,
        ticket_id=ticket.id,
        role="survey",
        language=lang,
        template="survey",
        template_params={
            "reference": ticket.reference,
            "unit": staff_rules.unit_name(desk.deps.city, ticket.unit, lang),
        },
    )


async def _close(desk: Desk, ticket: Ticket, reason: str) -> None:
    try:
        await ticket_actions.perform(desk, ticket, Action.CLOSE, Actor.system(), details={"reason": reason})
    except Refused as refused:  # not resolved any more: nothing to close
        log.info("survey of %s: not closed (%s)", ticket.reference, refused.reason)
