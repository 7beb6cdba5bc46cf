"""The scheduler's survey work: send each survey when its time comes, remind once, and close the
ticket without feedback when no answer came (the rules: workflows/surveys.py).

Each batch runs in one transaction with the messages it queues, so a step is done once: a crash
before the commit leaves it due, a commit records it done; on PostgreSQL another instance skips
the rows this one holds.
"""

from __future__ import annotations

import logging

from handlers import ticket_actions
from handlers.context import Deps, Desk, Mail
from handlers.format import city_time
from handlers.pipeline import queue_mail
from handlers.survey import fixed_message
from models import Citizen, Survey, Ticket, TicketStatus
from models.db import Database
from workflows import surveys
from workflows.clock import as_utc
from workflows.lifecycle import Action, Actor, Refused
from workflows.surveys import Step

log = logging.getLogger(__name__)
BATCH = 200


async def sweep(db: Database, deps: Deps) -> int:
    """Do the survey steps that are due; the number done."""
    done = 0
    while True:
        async with db.transaction() as session:
            now = deps.clock.now()
            due = await surveys.due(session=session, now=now, limit=BATCH)
            if not due:
                return done
            desk = Desk(session=session, deps=deps, mail=Mail(), now=now)
            for survey in due:
                await step(desk, survey)
                done += 1
            queue_mail(session, desk.mail, now)
        if len(due) < BATCH:
            return done


async def step(desk: Desk, survey: Survey) -> None:
    ticket = await desk.session.get(Ticket, survey.ticket_id, with_for_update=True)
    citizen = await desk.session.get(Citizen, survey.citizen_id)
    assert ticket is not None and citizen is not None
    resolved = ticket.status == TicketStatus.RESOLVED
    opted_out = citizen.surveys_off_at is not None
    deps, city, now = desk.deps, desk.deps.city, desk.now
    match surveys.next_step(survey):
        case Step.SEND if not resolved:
            surveys.mark_skipped(survey, now=now)  # the ticket moved on without it
        case Step.SEND if opted_out:
            surveys.mark_skipped(survey, now=now)
            await _close(desk, ticket, "opted_out")
        case Step.SEND:
            message = fixed_message(deps, citizen.language, survey, ticket)
            desk.mail.send(citizen.channel, citizen.chat_id, message, ticket_id=ticket.id, role="survey")
            surveys.mark_sent(survey, city=city, calendars=deps.calendars, now=now)
        case Step.REMIND:
            surveys.mark_reminded(survey, city=city, calendars=deps.calendars, now=now)
            if resolved and not opted_out:
                assert survey.next_at is not None
                until = city_time(city.city.timezone, as_utc(survey.next_at))
                message = fixed_message(deps, citizen.language, survey, ticket, remind_until=until)
                desk.mail.send(citizen.channel, citizen.chat_id, message, ticket_id=ticket.id, role="survey")
        case Step.FINISH:
            if surveys.finish(survey, now=now) and resolved:
                await _close(desk, ticket, "no_feedback")


async def _close(desk: Desk, ticket: Ticket, reason: str) -> None:
    try:
        await ticket_actions.perform(desk, ticket, Action.CLOSE, Actor.system(), details={"reason": reason})
    except Refused as refused:  # not resolved any more: nothing to close
        log.info("survey of %s: not closed (%s)", ticket.reference, refused.reason)
