"""The facts the quality figures are computed from (workflows/quality.py), read in a few queries.

Only identity-free columns are read, as plain rows (no ORM object per ticket): never the citizen,
the address, the attachments, nor (outside the timeline of a ticket that is not confidential)
the description or the notes.

The tickets of a period are the ones open now (the backlog, which the figures show whatever the
period) and those alive in it: filed before its end, and resolved or closed after its start. That
is everything a figure of the period can depend on: a deadline that passed in the period belongs
to a ticket that was still being handled then.

Indexes: the tickets are read by status, resolved_at and closed_at ranges (and created_at), of
which no column has an index of its own yet; SQLite scans the table (about 30 ms for 50,000
tickets), PostgreSQL would want `tickets(status)`, `tickets(resolved_at)`, `tickets(closed_at)` and
`tickets(created_at)` at a million tickets. The events are read through `ix_ticket_events_ticket_id`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, String, and_, or_, type_coerce
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import OPEN_STATUSES, Survey, SurveyStatus, Ticket, TicketEvent

# the events that move an SLA clock (workflows/lifecycle.py); the others (messages, alerts) do not
CLOCK_ACTIONS = (
    *("accepted", "question", "answered", "transferred"),
    *("resolved", "rejected", "reopened", "closed"),
)
_OPEN = sorted(status.value for status in OPEN_STATUSES)


@dataclass(frozen=True)
class Scope:
    """Which tickets: a time range [start, end) in UTC and the unit, category and area selections.

    `units` None: every unit; otherwise only those (the units a viewer may see), whatever else."""

    start: datetime
    end: datetime
    units: frozenset[str] | None = None
    unit: str | None = None
    category: str | None = None
    area: str | None = None


@dataclass(frozen=True)
class EventFact:
    at: datetime
    action: str


@dataclass(frozen=True)
class TicketFact:
    """A ticket's identity-free columns, with the events that moved its clocks (oldest first)."""

    id: int
    reference: str
    category: str
    unit: str
    area: str | None
    status: str
    identity: str
    created_at: datetime
    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    response_target_seconds: int
    sla_calendar: str
    priority: int
    reopen_count: int
    latitude: float | None
    longitude: float | None
    events: tuple[EventFact, ...] = ()


@dataclass(frozen=True)
class SurveyFact:
    """A survey as the satisfaction index reads it (workflows.satisfaction.SurveyFacts), plus its
    ticket and that ticket's area."""

    ticket_id: int
    round: int
    unit: str
    category: str
    area: str | None
    status: str
    fixed: bool | None
    fixed_at: datetime | None
    ratings: Mapping[str, int]
    rated_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class TimelineFacts:
    """One ticket for the drill-down: its columns (no citizen, no address) and every event."""

    ticket: Mapping[str, Any]
    events: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


_TICKET_COLUMNS = (
    *("id", "reference", "category", "unit", "area", "status", "identity"),
    *("created_at", "accepted_at", "resolved_at", "closed_at"),
    *("response_target_seconds", "sla_calendar", "priority", "reopen_count", "latitude", "longitude"),
)
_DATES = ("created_at", "accepted_at", "resolved_at", "closed_at")


def selected(scope: Scope) -> list[ColumnElement[bool]]:
    """The unit, category and area selections in SQL."""
    where: list[ColumnElement[bool]] = []
    if scope.units is not None:
        where.append(col(Ticket.unit).in_(sorted(scope.units)))
    if scope.unit is not None:
        where.append(col(Ticket.unit) == scope.unit)
    if scope.category is not None:
        where.append(col(Ticket.category) == scope.category)
    if scope.area is not None:
        where.append(col(Ticket.area) == scope.area)
    return where


def alive(scope: Scope) -> ColumnElement[bool]:
    """Open now (the backlog), or filed before the end and resolved or closed after the start.

    Written as three alternatives, each a range of one column, so that a database with indexes on
    status, resolved_at and closed_at can read the union of three index ranges."""
    before_end = col(Ticket.created_at) < scope.end
    return or_(
        col(Ticket.status).in_(_OPEN),
        and_(col(Ticket.resolved_at) >= scope.start, before_end),
        and_(col(Ticket.closed_at) >= scope.start, before_end),
    )


def filed(scope: Scope) -> ColumnElement[bool]:
    return and_(col(Ticket.created_at) >= scope.start, col(Ticket.created_at) < scope.end)


async def load_tickets(*, session: AsyncSession, scope: Scope) -> list[TicketFact]:
    """The tickets alive in the scope's range, with their clock events (two queries)."""
    return await _tickets_with_events(session, [alive(scope), *selected(scope)])


async def load_filed_tickets(
    *, session: AsyncSession, scope: Scope, after_id: int = 0, limit: int = 1000
) -> list[TicketFact]:
    """Up to `limit` tickets filed in the scope's range, in filing order (by id) after `after_id`,
    with their clock events: a page of an export."""
    where = [filed(scope), *selected(scope), col(Ticket.id) > after_id]
    return await _tickets_with_events(session, where, limit=limit)


async def _tickets_with_events(
    session: AsyncSession, where: list[ColumnElement[bool]], *, limit: int | None = None
) -> list[TicketFact]:
    table = Ticket.__table__  # type: ignore[attr-defined]
    query = core_select(*(_raw(table.c[name]) for name in _TICKET_COLUMNS)).where(*where)
    if limit is not None:
        query = query.order_by(table.c.id).limit(limit)
    connection = await session.connection()
    rows = (await connection.execute(query)).all()
    if not rows:
        return []
    # a page: its ids; otherwise the same condition again, so the database joins by the index
    ids: Any = [row[0] for row in rows] if limit is not None else core_select(table.c.id).where(*where)
    events_table = TicketEvent.__table__  # type: ignore[attr-defined]
    query = (
        core_select(events_table.c.ticket_id, _raw(events_table.c.at), events_table.c.action)
        .where(events_table.c.ticket_id.in_(ids), events_table.c.action.in_(CLOCK_ACTIONS))
        .order_by(events_table.c.ticket_id, events_table.c.at, events_table.c.id)
    )
    events: dict[int, list[EventFact]] = defaultdict(list)
    for ticket_id, at, action in (await connection.execute(query)).all():
        events[ticket_id].append(EventFact(at=_at(at), action=action))
    return [_ticket(row, events.get(row[0], ())) for row in rows]


def _ticket(row: Sequence[Any], events: Sequence[EventFact]) -> TicketFact:
    values = dict(zip(_TICKET_COLUMNS, row, strict=True))
    for name in _DATES:
        values[name] = _utc(values[name])
    return TicketFact(**values, events=tuple(events))


def _raw(column: Any) -> Any:
    """A datetime column read as the driver gives it: SQLite's text is parsed by _at, several
    times faster than the generic conversion (tens of thousands of values for one page view)."""
    return type_coerce(column, String).label(column.name) if isinstance(column.type, DateTime) else column


def _utc(moment: datetime | str | None) -> datetime | None:
    return None if moment is None else _at(moment)


def _at(moment: datetime | str) -> datetime:
    """A stored time as an aware UTC datetime: SQLite gives it back as text without its zone."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def load_surveys(*, session: AsyncSession, scope: Scope) -> list[SurveyFact]:
    """Surveys with something in the range (rated, "fixed?" answered, or expired), as
    workflows/satisfaction.py reads them; scoped by the survey's unit and category (the unit that
    resolved the ticket) and by its ticket's area."""
    where: list[ColumnElement[bool]] = [
        or_(
            _within(Survey.rated_at, scope),
            _within(Survey.fixed_at, scope),
            and_(col(Survey.status) == SurveyStatus.EXPIRED.value, _within(Survey.finished_at, scope)),
        )
    ]
    if scope.units is not None:
        where.append(col(Survey.unit).in_(sorted(scope.units)))
    if scope.unit is not None:
        where.append(col(Survey.unit) == scope.unit)
    if scope.category is not None:
        where.append(col(Survey.category) == scope.category)
    if scope.area is not None:
        where.append(col(Ticket.area) == scope.area)
    surveys = Survey.__table__  # type: ignore[attr-defined]
    tickets = Ticket.__table__  # type: ignore[attr-defined]
    query = (
        core_select(*(surveys.c[name] for name in _SURVEY_COLUMNS), tickets.c.area)
        .select_from(surveys.join(tickets, tickets.c.id == surveys.c.ticket_id))
        .where(*where)
    )
    connection = await session.connection()
    facts = []
    for found in (await connection.execute(query)).all():
        row = dict(found._mapping)
        for name in ("fixed_at", "rated_at", "finished_at"):
            row[name] = _utc(row[name])
        row["ratings"] = dict(row["ratings"] or {})
        facts.append(SurveyFact(**row))
    return facts


_SURVEY_COLUMNS = (
    *("ticket_id", "round", "unit", "category", "status"),
    *("fixed", "fixed_at", "ratings", "rated_at", "finished_at"),
)


def _within(column: datetime | None, scope: Scope) -> ColumnElement[bool]:
    stored = col(column)
    return and_(stored >= scope.start, stored < scope.end)


async def latest_ratings(*, session: AsyncSession, ticket_ids: Sequence[int]) -> dict[int, Mapping[str, int]]:
    """Each ticket's ratings from its latest survey answered in full (by round); none if never."""
    if not ticket_ids:
        return {}
    query = (
        select(Survey.ticket_id, Survey.ratings)
        .where(col(Survey.ticket_id).in_(list(ticket_ids)), col(Survey.rated_at).is_not(None))
        .order_by(col(Survey.ticket_id), col(Survey.round))
    )
    latest: dict[int, Mapping[str, int]] = {}
    for ticket_id, ratings in (await session.exec(query)).all():
        latest[ticket_id] = dict(ratings or {})  # a later round overwrites an earlier one
    return latest


_TIMELINE_TICKET = (
    *_TICKET_COLUMNS,
    *("description", "clock", "clock_target_seconds", "due_at", "paused_at"),
)
_TIMELINE_EVENT = (
    *("id", "at", "actor_kind", "actor_id", "action"),
    *("from_status", "to_status", "note", "details"),
)


async def load_timeline(*, session: AsyncSession, reference: str) -> TimelineFacts | None:
    """A ticket by its reference with all its events in order; None when there is no such ticket.

    The reporter (citizen id), the address and the attachments are not read."""
    tickets = Ticket.__table__  # type: ignore[attr-defined]
    events = TicketEvent.__table__  # type: ignore[attr-defined]
    connection = await session.connection()
    query = core_select(*(tickets.c[name] for name in _TIMELINE_TICKET)).where(
        tickets.c.reference == reference
    )
    found = (await connection.execute(query)).first()
    if found is None:
        return None
    ticket = dict(found._mapping)
    for name in (*_DATES, "due_at", "paused_at"):
        ticket[name] = _utc(ticket[name])
    query = (
        core_select(*(events.c[name] for name in _TIMELINE_EVENT))
        .where(events.c.ticket_id == ticket["id"])
        .order_by(events.c.at, events.c.id)
    )
    rows = [dict(row._mapping) for row in (await connection.execute(query)).all()]
    for row in rows:
        row["at"] = _utc(row["at"])
    return TimelineFacts(ticket=ticket, events=tuple(rows))
