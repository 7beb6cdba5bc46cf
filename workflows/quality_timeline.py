"""One ticket's drill-down for the dashboard: its facts and every event, without personal data.

The rule is the admins' `/find` (handlers/admin.py), which shows any unit's ticket to staff who
did not take it on:

* never the reporter: no citizen id, name, phone number or address; events written by a citizen
  carry no actor id (staff events keep the staff id, for the page to name the officer);
* a confidential ticket shows neither its description nor any event's note (what the citizen
  wrote, and the unit's questions, messages and resolution note about it): `content_hidden` is
  set, and so is `note_hidden` on each event whose note was left out. The whole ticket stays with
  its holder and the admins, through `/detail` in chat;
* a ticket of a unit outside the viewer's `units` is not shown at all: None, as for a reference
  that does not exist, so a page cannot tell the two apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from models import Identity
from models.quality_queries import load_timeline


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    actor_kind: str  # citizen, system, officer, supervisor, admin
    actor_id: str | None  # staff only; never a citizen's
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    note_hidden: bool  # there is a note, left out because the ticket is confidential
    from_unit: str | None = None  # a transfer's units
    to_unit: str | None = None


@dataclass(frozen=True)
class Timeline:
    reference: str
    category: str
    unit: str
    area: str | None
    status: str
    identity: str  # public, anonymous, confidential
    content_hidden: bool  # confidential: no description, no notes
    description: str | None
    created_at: datetime
    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    clock: str | None  # the SLA clock running: response, resolution; None when stopped
    due_at: datetime | None  # its deadline
    paused: bool  # waiting for the citizen
    response_target_seconds: int
    priority: int
    reopen_count: int
    events: tuple[TimelineEvent, ...]


async def ticket_timeline(
    *, session: AsyncSession, reference: str, units: frozenset[str] | None
) -> Timeline | None:
    """The ticket and all its events in order; None when there is none or it is outside `units`."""
    facts = await load_timeline(session=session, reference=reference)
    if facts is None or (units is not None and facts.ticket["unit"] not in units):
        return None
    return build_timeline(facts.ticket, facts.events)


def build_timeline(ticket: Mapping[str, Any], events: Any) -> Timeline:
    """The timeline from the ticket's columns and its event rows (pure)."""
    hidden = ticket["identity"] == Identity.CONFIDENTIAL
    return Timeline(
        reference=ticket["reference"],
        category=ticket["category"],
        unit=ticket["unit"],
        area=ticket["area"],
        status=ticket["status"],
        identity=ticket["identity"],
        content_hidden=hidden,
        description=None if hidden else ticket["description"],
        created_at=ticket["created_at"],
        accepted_at=ticket["accepted_at"],
        resolved_at=ticket["resolved_at"],
        closed_at=ticket["closed_at"],
        clock=ticket["clock"],
        due_at=ticket["due_at"],
        paused=ticket["paused_at"] is not None,
        response_target_seconds=ticket["response_target_seconds"],
        priority=ticket["priority"],
        reopen_count=ticket["reopen_count"],
        events=tuple(_event(row, hidden) for row in events),
    )


def _event(row: Mapping[str, Any], hidden: bool) -> TimelineEvent:
    details = row.get("details") or {}
    note = row["note"]
    return TimelineEvent(
        at=row["at"],
        actor_kind=row["actor_kind"],
        actor_id=None if row["actor_kind"] == "citizen" else row["actor_id"],
        action=row["action"],
        from_status=row["from_status"],
        to_status=row["to_status"],
        note=None if hidden else note,
        note_hidden=hidden and bool(note),
        from_unit=details.get("from_unit") if row["action"] == "transferred" else None,
        to_unit=details.get("to_unit") if row["action"] == "transferred" else None,
    )
