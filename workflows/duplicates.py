"""'Me too' (ikut melapor): a new complaint close to an open one joins it instead of duplicating it.

Close means: the same category, an open ticket filed within `duplicates.within`, a shared
location within `duplicates.radius_m`. Confidential tickets and sensitive categories are never
offered (that would reveal that someone reported them), nor is a confidential complaint offered
to join a public one (its words would reach the unit's group). Joining adds the citizen as a follower,
counts them, and raises the ticket's priority from `duplicates.priority_at` reporters.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Citizen, Identity, Ticket, TicketEvent, TicketFollower
from models.tickets import OPEN_STATUSES
from workflows import sla
from workflows.city_config import CityConfig, parse_duration
from workflows.drafts import Draft

EARTH_RADIUS_M = 6_371_000


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), good to a metre at city scale."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


async def nearby_open_ticket(
    *, session: AsyncSession, citizen: Citizen, draft: Draft, city: CityConfig, now: datetime
) -> Ticket | None:
    """The closest open ticket the draft duplicates, if any (never the citizen's own)."""
    if draft.latitude is None or draft.longitude is None or not draft.category:
        return None
    if draft.identity == Identity.CONFIDENTIAL:
        return None  # its content must not reach the group through another ticket's thread
    category = city.categories.get(draft.category)
    if category is None or category.sensitive:
        return None
    rules = city.duplicates
    # a bounding box first (cheap, uses the index on category/status/created_at), then the distance
    dlat = rules.radius_m / 111_320
    dlon = rules.radius_m / (111_320 * max(0.01, math.cos(math.radians(draft.latitude))))
    query = select(Ticket).where(
        Ticket.category == draft.category,
        col(Ticket.status).in_([s.value for s in OPEN_STATUSES]),
        col(Ticket.created_at) >= now - parse_duration(rules.within),
        Ticket.identity != Identity.CONFIDENTIAL,
        Ticket.citizen_id != citizen.id,
        col(Ticket.latitude).between(draft.latitude - dlat, draft.latitude + dlat),
        col(Ticket.longitude).between(draft.longitude - dlon, draft.longitude + dlon),
    )
    best: tuple[float, Ticket] | None = None
    for ticket in await session.exec(query.limit(50)):
        assert ticket.latitude is not None and ticket.longitude is not None
        d = distance_m(draft.latitude, draft.longitude, ticket.latitude, ticket.longitude)
        if d <= rules.radius_m and (best is None or d < best[0]):
            best = (d, ticket)
    if best is None:
        return None
    if await session.get(TicketFollower, (best[1].id, citizen.id)) is not None:
        return None  # already joined: file a new one if they insist
    return best[1]


async def join(
    *,
    session: AsyncSession,
    ticket: Ticket,
    citizen: Citizen,
    city: CityConfig,
    now: datetime,
    calendars: sla.Calendars | None = None,
) -> bool:
    """Add the citizen to the ticket's reporters; False if they already were."""
    assert ticket.id is not None and citizen.id is not None
    if ticket.citizen_id == citizen.id:
        return False
    try:
        async with session.begin_nested():
            session.add(TicketFollower(ticket_id=ticket.id, citizen_id=citizen.id, joined_at=now))
            await session.flush()
    except IntegrityError:
        return False
    ticket.reporters += 1
    ticket.updated_at = now
    raised = ticket.priority == 0 and ticket.reporters >= city.duplicates.priority_at
    if raised:
        ticket.priority = 1
        sla.retarget(ticket, city=city, calendars=calendars or sla.Calendars(city))
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=now,
            actor_kind="citizen",
            actor_id=str(citizen.id),
            action="joined",
            public=False,
            details={"reporters": ticket.reporters, "priority_raised": raised},
        )
    )
    return True


async def followers(*, session: AsyncSession, ticket: Ticket) -> list[Citizen]:
    """Everyone told about the ticket's progress: the reporter first, then who joined."""
    reporter = await session.get(Citizen, ticket.citizen_id)
    query = (
        select(Citizen)
        .join(TicketFollower, col(TicketFollower.citizen_id) == col(Citizen.id))
        .where(TicketFollower.ticket_id == ticket.id)
        .order_by(col(TicketFollower.joined_at))
    )
    joined = list(await session.exec(query))
    return ([reporter] if reporter else []) + joined
