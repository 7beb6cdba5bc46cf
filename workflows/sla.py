"""SLA clocks on tickets: deadlines as columns, and the alerts (reminders, escalations) due on them.

A ticket runs at most one clock: `response` from filing (or transfer, or reopening) until an
officer accepts it, then `resolution` until it is resolved. Waiting for the citizen pauses the
clock; answering resumes it with the working time that was left.

Alerts are stages at fractions of the target: reminders before the deadline (0.5, 0.9 of the
target by default) to the holding group, escalations at and after it (1.0 to supervisors, 1.5 to
admins). `alert_stage` counts the stages done and `next_alert_at` is when the next one falls due,
so a sweep reads only tickets with something due (one indexed range read) and each stage happens
once: it is recorded in the same transaction as the messages it sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Ticket
from workflows.calendar import WorkCalendar
from workflows.city_config import CityConfig
from workflows.clock import as_utc


@dataclass(frozen=True)
class Stage:
    fraction: float  # of the target, counted from the clock's start
    kind: str  # remind, escalate
    to: str  # group, supervisors, admins
    level: int  # 1, 2: the escalation level (0 for reminders)


class Calendars:
    """The city's working-time calendar and the 24/7 one, by the name tickets carry."""

    def __init__(self, city: CityConfig) -> None:
        self.working = WorkCalendar(city.city.timezone, city.working_time)
        self.continuous = WorkCalendar.continuous()

    def __call__(self, name: str) -> WorkCalendar:
        return self.continuous if name == "continuous" else self.working


def stages(city: CityConfig) -> list[Stage]:
    reminders = [Stage(f, "remind", "group", 0) for f in city.sla_alerts.reminders]
    escalations = [
        Stage(1 + e.after, "escalate", e.to, level)
        for level, e in enumerate(sorted(city.sla_alerts.escalations, key=lambda e: e.after), start=1)
    ]
    return reminders + escalations


def start_clock(ticket: Ticket, clock: str, *, city: CityConfig, calendars: Calendars, now: datetime) -> None:
    """Start the response or resolution clock from now, with the target of the ticket's policy."""
    policy = city.sla_for(ticket.category)
    target = policy.target(clock, ticket.priority)
    ticket.sla_calendar = policy.calendar
    ticket.clock = clock
    ticket.clock_target_seconds = int(target.total_seconds())
    ticket.due_at = calendars(policy.calendar).add(now, target.total_seconds())
    ticket.paused_at = None
    ticket.alert_stage = 0
    ticket.next_alert_at = next_alert(ticket, city=city, calendars=calendars)


def pause_clock(ticket: Ticket, *, now: datetime) -> None:
    """Stop counting (waiting for the citizen); nothing falls due while paused."""
    if ticket.clock and ticket.paused_at is None:
        ticket.paused_at = now
        ticket.next_alert_at = None


def resume_clock(ticket: Ticket, *, city: CityConfig, calendars: Calendars, now: datetime) -> None:
    """Count again from now, with the working time that was left when the clock paused."""
    if not ticket.clock or ticket.paused_at is None or ticket.due_at is None:
        return
    calendar = calendars(ticket.sla_calendar)
    left = calendar.between(as_utc(ticket.paused_at), as_utc(ticket.due_at))
    ticket.due_at = calendar.add(now, left)
    ticket.paused_at = None
    ticket.next_alert_at = next_alert(ticket, city=city, calendars=calendars)


def retarget(ticket: Ticket, *, city: CityConfig, calendars: Calendars) -> None:
    """The ticket's priority changed: a running clock takes the new target if it is tighter.

    Counted from when the clock started, so a ticket that became urgent may now be overdue; the
    next sweep then sends what that means.
    """
    if not ticket.clock or ticket.due_at is None or not ticket.clock_target_seconds:
        return
    target = city.sla_for(ticket.category).target(ticket.clock, ticket.priority).total_seconds()
    if target >= ticket.clock_target_seconds:
        return
    calendar = calendars(ticket.sla_calendar)
    started = calendar.add(as_utc(ticket.due_at), -ticket.clock_target_seconds)
    ticket.due_at = calendar.add(started, target)
    ticket.clock_target_seconds = int(target)
    if ticket.paused_at is None:
        ticket.next_alert_at = next_alert(ticket, city=city, calendars=calendars)


def stop_clock(ticket: Ticket) -> None:
    ticket.clock = None
    ticket.clock_target_seconds = None
    ticket.due_at = None
    ticket.paused_at = None
    ticket.next_alert_at = None


def stage_time(ticket: Ticket, stage: Stage, *, calendars: Calendars) -> datetime:
    """When a stage falls due: measured back (or on) from the deadline, in the clock's calendar."""
    assert ticket.due_at is not None and ticket.clock_target_seconds is not None
    offset = (stage.fraction - 1) * ticket.clock_target_seconds
    return calendars(ticket.sla_calendar).add(as_utc(ticket.due_at), offset)


def next_alert(ticket: Ticket, *, city: CityConfig, calendars: Calendars) -> datetime | None:
    all_stages = stages(city)
    if ticket.clock is None or ticket.paused_at is not None or ticket.alert_stage >= len(all_stages):
        return None
    return stage_time(ticket, all_stages[ticket.alert_stage], calendars=calendars)


def due_stages(ticket: Ticket, *, city: CityConfig, calendars: Calendars, now: datetime) -> list[Stage]:
    """The stages due now, marked done (the caller sends them in the same transaction).

    After a long outage several may be due at once: every escalation level is sent (they go to
    different people), but of the reminders only the latest, and none once the deadline passed.
    """
    all_stages = stages(city)
    due: list[Stage] = []
    while (
        ticket.alert_stage < len(all_stages)
        and stage_time(ticket, all_stages[ticket.alert_stage], calendars=calendars) <= now
    ):
        due.append(all_stages[ticket.alert_stage])
        ticket.alert_stage += 1
    ticket.next_alert_at = next_alert(ticket, city=city, calendars=calendars)
    escalations = [s for s in due if s.kind == "escalate"]
    reminders = [s for s in due if s.kind == "remind"]
    if escalations or not reminders:
        return escalations
    return [reminders[-1]]


async def tickets_with_alerts_due(*, session: AsyncSession, now: datetime, limit: int) -> list[Ticket]:
    """Tickets with a stage due, oldest first, locked for this transaction (skipped if another
    instance holds them, on PostgreSQL): a sweep with nothing due is one indexed range read."""
    query = (
        select(Ticket)
        .where(col(Ticket.next_alert_at).is_not(None), col(Ticket.next_alert_at) <= now)
        .order_by(col(Ticket.next_alert_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.exec(query))


def time_left(ticket: Ticket, *, calendars: Calendars, now: datetime) -> float | None:
    """Working seconds until the deadline (negative once breached); None with no clock running."""
    if ticket.due_at is None or ticket.clock is None:
        return None
    since = as_utc(ticket.paused_at) if ticket.paused_at is not None else now
    return calendars(ticket.sla_calendar).between(since, as_utc(ticket.due_at))


def elapsed_fraction(ticket: Ticket, *, calendars: Calendars, now: datetime) -> float:
    left = time_left(ticket, calendars=calendars, now=now)
    if left is None or not ticket.clock_target_seconds:
        return 0.0
    return 1 - left / ticket.clock_target_seconds


__all__ = [
    "Calendars",
    "Stage",
    "due_stages",
    "elapsed_fraction",
    "next_alert",
    "pause_clock",
    "resume_clock",
    "retarget",
    "stage_time",
    "start_clock",
    "stop_clock",
    "tickets_with_alerts_due",
    "time_left",
]
