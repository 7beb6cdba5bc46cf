"""The ticket state machine: who may do what from which state, and what each action changes.

| action   | from                                        | to              | who                          |
|----------|---------------------------------------------|-----------------|------------------------------|
| accept   | submitted, reopened                         | in_progress     | staff of the unit, admin     |
| ask      | in_progress                                 | waiting_citizen | staff of the unit, admin     |
| answer   | waiting_citizen                             | in_progress     | the reporter                 |
| transfer | submitted, in_progress, waiting, reopened   | submitted       | staff of the unit, admin     |
| resolve  | in_progress, waiting_citizen                | resolved        | staff of the unit, admin     |
| reject   | submitted, in_progress, waiting, reopened   | rejected        | staff of the unit, admin     |
| reopen   | resolved                                    | reopened        | the reporter, system         |
| close    | resolved                                    | closed          | the reporter, system         |

Clocks: filing, transfer and reopening start the response clock; accepting starts the resolution
clock; asking pauses it and the answer resumes it; resolving, rejecting and closing stop it.
Ask, transfer, resolve and reject need a note (the question, the reason, the resolution).
Every applied action writes one event (who, when, from, to, note). Refusals change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from models import Role, Staff, Ticket, TicketEvent, TicketFollower, TicketStatus
from workflows import sla
from workflows.city_config import CityConfig

S = TicketStatus


class Action(StrEnum):
    ACCEPT = "accept"
    ASK = "ask"
    ANSWER = "answer"
    TRANSFER = "transfer"
    RESOLVE = "resolve"
    REJECT = "reject"
    REOPEN = "reopen"
    CLOSE = "close"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[TicketStatus]
    target: TicketStatus
    by: frozenset[str]  # staff, citizen, system
    note_required: bool = False


_WORKING = frozenset({S.SUBMITTED, S.IN_PROGRESS, S.WAITING_CITIZEN, S.REOPENED})
RULES: dict[Action, Rule] = {
    Action.ACCEPT: Rule(frozenset({S.SUBMITTED, S.REOPENED}), S.IN_PROGRESS, frozenset({"staff"})),
    Action.ASK: Rule(frozenset({S.IN_PROGRESS}), S.WAITING_CITIZEN, frozenset({"staff"}), True),
    Action.ANSWER: Rule(frozenset({S.WAITING_CITIZEN}), S.IN_PROGRESS, frozenset({"citizen"}), True),
    Action.TRANSFER: Rule(_WORKING, S.SUBMITTED, frozenset({"staff"}), True),
    Action.RESOLVE: Rule(
        frozenset({S.IN_PROGRESS, S.WAITING_CITIZEN}), S.RESOLVED, frozenset({"staff"}), True
    ),
    Action.REJECT: Rule(_WORKING, S.REJECTED, frozenset({"staff"}), True),
    Action.REOPEN: Rule(frozenset({S.RESOLVED}), S.REOPENED, frozenset({"citizen", "system"})),
    Action.CLOSE: Rule(frozenset({S.RESOLVED}), S.CLOSED, frozenset({"citizen", "system"})),
}


@dataclass(frozen=True)
class Actor:
    """Who acts: a member of staff, a citizen (the reporter or a follower), or the system."""

    kind: str  # staff, citizen, system
    id: int | None = None
    role: str | None = None
    unit: str | None = None
    name: str | None = None

    @classmethod
    def of_staff(cls, staff: Staff) -> Actor:
        return cls("staff", staff.id, staff.role, staff.unit, staff.display_name)

    @classmethod
    def citizen(cls, citizen_id: int) -> Actor:
        return cls("citizen", citizen_id)

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    def may_act_for(self, unit: str) -> bool:
        """Staff of the unit, or an admin."""
        return self.kind == "staff" and (self.role == Role.ADMIN or self.unit == unit)


class Refused(Exception):
    """The action is not allowed; `reason` is a catalogue key (refused.*), `params` fill it."""

    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


@dataclass
class Change:
    """An applied action: the event written, and what the caller should tell whom."""

    action: Action
    event: TicketEvent
    from_status: TicketStatus
    from_unit: str
    extra: dict[str, Any] = field(default_factory=dict)


def check(ticket: Ticket, action: Action, actor: Actor, note: str | None) -> Rule:
    """The rule that allows this, or Refused with the reason."""
    rule = RULES[action]
    if actor.kind not in rule.by:
        raise Refused("refused.not_yours")
    if actor.kind == "staff" and not actor.may_act_for(ticket.unit):
        raise Refused("refused.other_unit", unit=ticket.unit)
    if ticket.status not in rule.sources:
        raise Refused("refused.state", status=ticket.status)
    if rule.note_required and not (note and note.strip()):
        raise Refused("refused.note_required")
    return rule


async def apply(
    *,
    session: AsyncSession,
    ticket: Ticket,
    action: Action,
    actor: Actor,
    city: CityConfig,
    calendars: sla.Calendars,
    now: datetime,
    note: str | None = None,
    to_unit: str | None = None,
    details: dict[str, Any] | None = None,
) -> Change:
    """Check and apply one action to a ticket, writing its event; raise Refused otherwise."""
    rule = check(ticket, action, actor, note)
    if actor.kind == "citizen" and ticket.citizen_id != actor.id:
        raise Refused("refused.not_yours")  # those who joined follow the ticket; the reporter speaks for it
    if action == Action.TRANSFER:
        if to_unit is None or to_unit not in city.units:
            raise Refused("refused.no_such_unit")
        if to_unit == ticket.unit:
            raise Refused("refused.same_unit")
    before, before_unit = TicketStatus(ticket.status), ticket.unit
    ticket.status = rule.target
    ticket.updated_at = now
    _move_clocks(ticket, action, city=city, calendars=calendars, now=now)
    if action == Action.ACCEPT:
        ticket.holder_staff_id = actor.id
        ticket.accepted_at = ticket.accepted_at or now
    elif action == Action.TRANSFER:
        assert to_unit is not None
        ticket.unit = to_unit
        ticket.holder_staff_id = None
    elif action == Action.RESOLVE:
        ticket.resolved_at = now
    elif action == Action.REOPEN:
        ticket.reopen_count += 1
        ticket.resolved_at = None
    elif action in (Action.CLOSE, Action.REJECT):
        ticket.closed_at = now
    event = TicketEvent(
        ticket_id=ticket.id or 0,
        at=now,
        actor_kind=actor.kind if actor.kind != "staff" else (actor.role or "officer"),
        actor_id=str(actor.id) if actor.id is not None else None,
        action=_EVENT_NAMES[action],
        from_status=before,
        to_status=rule.target,
        note=(note or "").strip() or None,
        details={**(details or {}), **({"from_unit": before_unit, "to_unit": to_unit} if to_unit else {})},
    )
    session.add(event)
    await session.flush()
    return Change(action=action, event=event, from_status=before, from_unit=before_unit)


_EVENT_NAMES = {
    Action.ACCEPT: "accepted",
    Action.ASK: "question",
    Action.ANSWER: "answered",
    Action.TRANSFER: "transferred",
    Action.RESOLVE: "resolved",
    Action.REJECT: "rejected",
    Action.REOPEN: "reopened",
    Action.CLOSE: "closed",
}


def _move_clocks(
    ticket: Ticket, action: Action, *, city: CityConfig, calendars: sla.Calendars, now: datetime
) -> None:
    if action in (Action.TRANSFER, Action.REOPEN):
        sla.start_clock(ticket, "response", city=city, calendars=calendars, now=now)
    elif action == Action.ACCEPT:
        sla.start_clock(ticket, "resolution", city=city, calendars=calendars, now=now)
    elif action == Action.ASK:
        sla.pause_clock(ticket, now=now)
    elif action == Action.ANSWER:
        sla.resume_clock(ticket, city=city, calendars=calendars, now=now)
    elif action in (Action.RESOLVE, Action.REJECT, Action.CLOSE):
        sla.stop_clock(ticket)


async def is_reporter(session: AsyncSession, ticket: Ticket, citizen_id: int | None) -> bool:
    """The citizen filed the ticket or joined it ("me too")."""
    if citizen_id is None:
        return False
    if ticket.citizen_id == citizen_id:
        return True
    return await session.get(TicketFollower, (ticket.id, citizen_id)) is not None


def allowed_actions(ticket: Ticket) -> list[Action]:
    """What staff may do now (the card's buttons)."""
    return [a for a, rule in RULES.items() if "staff" in rule.by and ticket.status in rule.sources]
