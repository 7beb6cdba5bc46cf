"""Filing tickets and reading them back for their reporter."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Attachment, Citizen, Identity, Ticket, TicketEvent, TicketFollower, TicketStatus
from workflows import routing, sla
from workflows import staff as staff_rules
from workflows.areas import AreaMap
from workflows.city_config import CityConfig
from workflows.drafts import Draft
from workflows.references import new_reference
from workflows.routing import Route

REFERENCE_ATTEMPTS = 8


class DraftIncomplete(ValueError):
    """The draft lacks something the category needs."""


async def tickets_filed_since(*, session: AsyncSession, citizen_id: int, since: datetime) -> int:
    """How many tickets the citizen filed from `since` on (one indexed query)."""
    query = (
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.citizen_id == citizen_id, Ticket.created_at >= since)
    )
    return int((await session.exec(query)).one())


async def may_file(*, session: AsyncSession, citizen: Citizen, city: CityConfig, now: datetime) -> bool:
    """False when the citizen reached the per-day limit (a rolling 24 hours)."""
    assert citizen.id is not None
    filed = await tickets_filed_since(session=session, citizen_id=citizen.id, since=now - timedelta(days=1))
    return filed < city.limits.tickets_per_day


def check_draft(draft: Draft, city: CityConfig) -> None:
    """Raise DraftIncomplete unless the draft can become a ticket."""
    if not draft.category or draft.category not in city.categories:
        raise DraftIncomplete("category")
    if not draft.description:
        raise DraftIncomplete("description")
    category = city.categories[draft.category]
    if category.location == "required" and draft.latitude is None and not draft.address:
        raise DraftIncomplete("location")
    if draft.identity is None:
        raise DraftIncomplete("identity")


async def route_draft(
    *, session: AsyncSession, city: CityConfig, areas: AreaMap, draft: Draft, now: datetime
) -> Route:
    """Where a new ticket goes: the area its place lies in (or the area the citizen named), around
    the units paused now (workflows/routing.py)."""
    area, outside = routing.place(
        city, areas, latitude=draft.latitude, longitude=draft.longitude, address=draft.address
    )
    paused = await staff_rules.paused_units(session=session, now=now)
    return routing.route(
        city, category=draft.category or "", area=area or draft.area, outside=outside, paused=paused
    )


async def submit(
    *,
    session: AsyncSession,
    citizen: Citizen,
    draft: Draft,
    city: CityConfig,
    now: datetime,
    route: Route | None = None,
    calendars: sla.Calendars | None = None,
    origin: Mapping[str, Any] | None = None,
) -> Ticket:
    """Store the confirmed draft as a ticket with its attachments and a 'submitted' event.

    `route` (workflows.routing) names the unit and area; without it, the category's unit. The
    response clock starts now. `origin`: recorded on the 'submitted' event besides the routing (a
    ticket filed through the Open311 API: the key's name).
    """
    check_draft(draft, city)
    assert draft.category and draft.description and draft.identity and citizen.id is not None
    category = city.categories[draft.category]
    policy = city.sla_for(draft.category)
    route = route or Route(unit=category.unit, area=None, reason="category")
    identity = draft.identity
    if category.sensitive and identity == Identity.PUBLIC:
        identity = Identity.CONFIDENTIAL  # complaints about officials never carry a public name
    ticket = Ticket(
        reference="",
        citizen_id=citizen.id,
        channel=citizen.channel,
        category=draft.category,
        unit=route.unit,
        area=route.area,
        description=draft.description,
        address=draft.address,
        latitude=draft.latitude,
        longitude=draft.longitude,
        identity=identity,
        language=citizen.language,
        status=TicketStatus.SUBMITTED,
        created_at=now,
        updated_at=now,
        response_target_seconds=int(policy.response_delta.total_seconds()),
        sla_calendar=policy.calendar,
    )
    sla.start_clock(ticket, "response", city=city, calendars=calendars or sla.Calendars(city), now=now)
    await _insert_with_fresh_reference(session, ticket, city, now)
    assert ticket.id is not None
    for item in draft.attachments:
        session.add(
            Attachment(
                ticket_id=ticket.id,
                kind=item.kind,
                channel=citizen.channel,
                file_id=item.file_id,
                unique_id=item.unique_id,
                created_at=now,
            )
        )
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=now,
            actor_kind="citizen",
            actor_id=str(citizen.id),
            action="submitted",
            to_status=TicketStatus.SUBMITTED,
            details={
                "category": ticket.category,
                "unit": ticket.unit,
                "area": ticket.area,
                "routed_by": route.reason,
                "paused_units": list(route.skipped),
                "identity": identity,
                **(origin or {}),
            },
        )
    )
    return ticket


async def _insert_with_fresh_reference(
    session: AsyncSession, ticket: Ticket, city: CityConfig, now: datetime
) -> None:
    for _ in range(REFERENCE_ATTEMPTS):
        ticket.reference = new_reference(city.city.reference_prefix, now, city.city.timezone)
        try:
            async with session.begin_nested():
                session.add(ticket)
                await session.flush()
            return
        except IntegrityError:
            continue  # the reference was taken: draw another
    raise RuntimeError("could not draw a free ticket reference")


async def own_ticket(*, session: AsyncSession, citizen: Citizen, reference: str) -> Ticket | None:
    """The ticket with this reference if the citizen filed or joined it; None otherwise, whoever owns it."""
    joined = select(TicketFollower.ticket_id).where(TicketFollower.citizen_id == citizen.id)
    query = select(Ticket).where(
        Ticket.reference == reference, (col(Ticket.citizen_id) == citizen.id) | col(Ticket.id).in_(joined)
    )
    return (await session.exec(query)).first()


async def recent_tickets(*, session: AsyncSession, citizen: Citizen, limit: int = 5) -> list[Ticket]:
    """The citizen's newest tickets (filed or joined), newest first."""
    joined = select(TicketFollower.ticket_id).where(TicketFollower.citizen_id == citizen.id)
    query = (
        select(Ticket)
        .where((col(Ticket.citizen_id) == citizen.id) | col(Ticket.id).in_(joined))
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(limit)
    )
    return list(await session.exec(query))


async def public_timeline(
    *, session: AsyncSession, ticket: Ticket, viewer: Citizen | None = None
) -> list[TicketEvent]:
    """The events a citizen sees, oldest first: the same record officers keep.

    What another citizen of the ticket wrote is left out; so, for a citizen who joined, are the
    exchanges between the unit and the reporter (questions, answers, messages).
    """
    query = (
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, col(TicketEvent.public).is_(True))
        .order_by(col(TicketEvent.at), col(TicketEvent.id))
    )
    events = list(await session.exec(query))
    if viewer is None:
        return events
    own = str(viewer.id)
    if ticket.citizen_id != viewer.id:
        events = [e for e in events if e.action not in ("question", "officer_message", "answered")]
    return [
        e for e in events if not (e.actor_kind == "citizen" and e.actor_id != own and e.action != "submitted")
    ]


async def count_attachments(*, session: AsyncSession, ticket: Ticket) -> int:
    query = select(func.count()).select_from(Attachment).where(Attachment.ticket_id == ticket.id)
    return int((await session.exec(query)).one())
