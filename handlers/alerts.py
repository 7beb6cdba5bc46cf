"""The scheduler's work: SLA reminders and escalations, and the supervisors' daily digest.

Each runs in one transaction with the messages it queues, so an alert is sent once: a crash
before the commit leaves it due, a commit records it done (workflows/sla.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import ticket_actions
from handlers.cards import deadline_line
from handlers.context import Deps, Desk, Mail
from handlers.i18n import Safe
from handlers.messages import OutText
from handlers.pipeline import queue_mail
from models import Attachment, Citizen, JobRun, MessageLink, Role, Staff, Ticket, TicketEvent, UnitState
from models.broadcast_queries import insert_rows
from models.db import Database
from models.tickets import OPEN_STATUSES
from workflows import sla
from workflows import staff as staff_rules
from workflows.outbox import outbox_values

log = logging.getLogger(__name__)
SWEEP_BATCH = 200


async def sweep(db: Database, deps: Deps, counts: Counter[str] | None = None) -> int:
    """Send the reminders and escalations that are due; the number of alerts sent.

    In batches (as handlers/batches.py), each one transaction with its messages and events. A
    batch reads what its alerts need at once and writes their rows at once: with 1,000 due,
    queries and inserts one alert at a time would take most of the sweep's time.
    `counts`, when given, gets what was sent by kind once it is committed: `remind`, `escalate`,
    and `breach` (a ticket's first escalation: its deadline was missed).
    """
    sent = 0
    while True:
        committed: Counter[str] = Counter()
        async with db.transaction() as session:
            now = deps.clock.now()
            tickets = await sla.tickets_with_alerts_due(session=session, now=now, limit=SWEEP_BATCH)
            if not tickets:
                return sent
            session.autoflush = False  # nothing read below depends on what the batch writes
            batch = await _Batch.load(session, tickets)
            desk = Desk(session=session, deps=deps, mail=Mail(), now=now)
            for ticket in tickets:
                sent += await _alert_due(desk, ticket, batch, committed)
            await batch.write(session, desk.mail, now)
        if counts is not None:
            counts.update(committed)
        if len(tickets) < SWEEP_BATCH:
            return sent


@dataclass
class _Batch:
    """What a batch of alerts reads, loaded once, and the events it records, written once."""

    rows: list[object]  # reporters, holders, groups: held (the session's identity map holds weakly)
    cards: dict[tuple[int, str], str]  # (ticket, chat) → the newest card's message id
    photos: dict[int, list[Attachment]]  # ticket → the citizen's attachments, in order (for its card)
    people: dict[tuple[str, str], list[Staff]] = field(default_factory=dict)  # (unit, to) → escalated to
    events: list[dict[str, Any]] = field(default_factory=list)  # ticket_events rows

    @classmethod
    async def load(cls, session: AsyncSession, tickets: list[Ticket]) -> _Batch:
        """The tickets' reporters, holders and unit groups (session.get then finds them), their cards
        and the citizens' photos (the refreshed cards count them)."""
        reporters = {t.citizen_id for t in tickets}
        holders = {t.holder_staff_id for t in tickets if t.holder_staff_id is not None}
        groups = list(await session.exec(select(UnitState)))
        citizens = list(await session.exec(select(Citizen).where(col(Citizen.id).in_(reporters))))
        staff = list(await session.exec(select(Staff).where(col(Staff.id).in_(holders)))) if holders else []
        rows: list[object] = [*groups, *citizens, *staff]
        query = (
            select(MessageLink.ticket_id, MessageLink.chat_id, MessageLink.message_id)
            .where(col(MessageLink.ticket_id).in_([t.id for t in tickets]), MessageLink.role == "card")
            .order_by(col(MessageLink.id))
        )
        cards = {
            (ticket_id, chat_id): message_id for ticket_id, chat_id, message_id in await session.exec(query)
        }
        photos: dict[int, list[Attachment]] = {}
        query_photos = (
            select(Attachment)
            .where(col(Attachment.ticket_id).in_([t.id for t in tickets]), Attachment.added_by == "citizen")
            .order_by(col(Attachment.id))
        )
        for photo in await session.exec(query_photos):
            photos.setdefault(photo.ticket_id, []).append(photo)
        return cls(rows=rows, cards=cards, photos=photos)

    async def escalated_to(self, desk: Desk, ticket: Ticket, to: str) -> list[Staff]:
        key = (ticket.unit, to)
        if key not in self.people:
            self.people[key] = await ticket_actions.escalation_people(desk, ticket, to)
        return self.people[key]

    async def write(self, session: AsyncSession, mail: Mail, now: datetime) -> None:
        """The events and the messages (as workflows/outbox.py queues them), one INSERT each."""
        if self.events:
            await session.exec(insert(TicketEvent.__table__), params=self.events)  # type: ignore[attr-defined]
        rows = [outbox_values(envelope, now=now, priority=priority) for envelope, priority in mail.items]
        await insert_rows(session=session, rows=rows)


async def _alert_due(desk: Desk, ticket: Ticket, batch: _Batch, counts: Counter[str]) -> int:
    stages = sla.due_stages(ticket, city=desk.deps.city, calendars=desk.deps.calendars, now=desk.now)
    for stage in stages:
        await alert(desk, ticket, stage, batch)
        counts[stage.kind] += 1
        if stage.kind == "escalate" and stage.level == 1:
            counts["breach"] += 1
    if stages:
        photos = batch.photos.get(ticket.id or 0, [])
        await ticket_actions.show_card(desk, ticket, photos=photos)  # the time left, refreshed
    return len(stages)


async def alert(desk: Desk, ticket: Ticket, stage: sla.Stage, batch: _Batch) -> None:
    assert ticket.id is not None
    deadline = Safe(deadline_line(desk, ticket))
    percent = round(stage.fraction * 100)
    recipients: list[tuple[str, str]]
    if stage.kind == "remind":
        recipients = await ticket_actions.card_chats(desk, ticket)
        text = desk.staff_text(
            "alert.reminder", reference=ticket.reference, percent=percent, deadline=deadline
        )
        action = "reminder"
    else:
        people = await batch.escalated_to(desk, ticket, stage.to)
        recipients = [(p.channel, p.user_id) for p in people]
        unit = staff_rules.unit_name(desk.deps.city, ticket.unit, desk.deps.staff_language)
        text = desk.staff_text(
            f"alert.escalation_{stage.level if stage.level <= 2 else 2}",
            reference=ticket.reference,
            unit=unit,
            deadline=deadline,
        )
        action = "escalated"
    for channel, chat_id in recipients:
        card_id = batch.cards.get((ticket.id, chat_id))  # the alert answers the card
        desk.mail.send(
            channel, chat_id, OutText(text=text, reply_to=card_id), ticket_id=ticket.id, role="alert"
        )
    if not recipients:
        log.warning("no one to send the %s of %s to (unit %s)", action, ticket.reference, ticket.unit)
    batch.events.append(
        {
            "ticket_id": ticket.id,
            "at": desk.now,
            "actor_kind": "system",
            "action": action,
            "public": False,
            "details": {
                "clock": ticket.clock,
                "fraction": stage.fraction,
                "level": stage.level,
                "to": stage.to,
                "recipients": len(recipients),
            },
        }
    )


def _local_day(deps: Deps, now: datetime) -> datetime:
    zone = ZoneInfo(deps.city.city.timezone)
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def digest(db: Database, deps: Deps) -> int:
    """Once a working day: each supervisor gets their unit's overdue and at-risk tickets.

    Returns the number of digests queued; 0 on a day off or when today's digest was already made
    (by this instance before a restart, or by another instance).
    """
    now = deps.clock.now()
    day = _local_day(deps, now)
    working = deps.calendars.working
    if working.add(day, 1) >= day + timedelta(days=1):
        return 0  # nobody works today
    sent = 0
    try:
        async with db.transaction() as session:
            session.add(JobRun(job="digest", period=day.date().isoformat(), ran_at=now))
            await session.flush()
            desk = Desk(session=session, deps=deps, mail=Mail(), now=now)
            supervisors = list(
                await session.exec(select(Staff).where(Staff.role == Role.SUPERVISOR, col(Staff.active)))
            )
            for supervisor in supervisors:
                text = await digest_text(desk, supervisor.unit or "")
                if text:
                    desk.mail.send(supervisor.channel, supervisor.user_id, OutText(text=text), role="digest")
                    sent += 1
            queue_mail(session, desk.mail, now)
    except IntegrityError:
        return 0
    return sent


async def digest_text(desk: Desk, unit: str) -> str | None:
    """Overdue and at-risk tickets of a unit; None if there are none."""
    query = select(Ticket).where(
        Ticket.unit == unit,
        col(Ticket.status).in_([s.value for s in OPEN_STATUSES]),
        col(Ticket.due_at).is_not(None),
    )
    overdue: list[str] = []
    at_risk: list[str] = []
    first_reminder = min(desk.deps.city.sla_alerts.reminders, default=0.5)
    for ticket in sorted(await desk.session.exec(query), key=lambda t: sla_sort(t)):
        fraction = sla.elapsed_fraction(ticket, calendars=desk.deps.calendars, now=desk.now)
        line = desk.staff_text(
            "digest.line",
            reference=ticket.reference,
            status=desk.staff_text(f"staff_status.{ticket.status}"),
            deadline=Safe(deadline_line(desk, ticket)),
        )
        if fraction >= 1:
            overdue.append(line)
        elif fraction >= first_reminder:
            at_risk.append(line)
    if not overdue and not at_risk:
        return None
    unit_name = staff_rules.unit_name(desk.deps.city, unit, desk.deps.staff_language)
    return desk.staff_text(
        "digest.text",
        unit=unit_name,
        overdue=Safe("\n".join(overdue) or desk.staff_text("digest.none")),
        at_risk=Safe("\n".join(at_risk) or desk.staff_text("digest.none")),
        overdue_count=len(overdue),
        at_risk_count=len(at_risk),
    )


def sla_sort(ticket: Ticket) -> datetime:
    assert ticket.due_at is not None
    return ticket.due_at
