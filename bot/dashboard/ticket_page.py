"""A ticket's drill-down (GET /dashboard/tickets/{reference}): its facts and its timeline.

What is shown is workflows/quality_timeline.py's: never the reporter, and for a confidential
ticket neither the description nor any note. A ticket of a unit the viewer may not see is a 404,
as a reference that does not exist. Staff actors are named by their display name.
"""

from __future__ import annotations

from aiohttp import web
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dashboard.auth import viewer
from bot.dashboard.keys import DB, DEPS
from bot.dashboard.overview import present
from bot.dashboard.render import render
from bot.dashboard.selection import Refused, refusing
from models import Staff
from workflows.quality import Timeline, ticket_timeline

REFERENCE_PATTERN = "[A-Za-z0-9-]{3,40}"


async def staff_names(*, session: AsyncSession, timeline: Timeline) -> dict[str, str]:
    """The display names of the staff who acted on the ticket, by their id in the events."""
    ids = {int(e.actor_id) for e in timeline.events if e.actor_id and e.actor_id.isdigit()}
    if not ids:
        return {}
    query = select(Staff.id, Staff.display_name).where(col(Staff.id).in_(sorted(ids)))
    return {str(staff_id): name for staff_id, name in (await session.exec(query)).all() if name}


@refusing
async def ticket_page(request: web.Request) -> web.StreamResponse:
    """One ticket with every event in order, if the viewer may see its unit."""
    city = request.app[DEPS].city
    units = viewer(request).visible_units(city)
    async with request.app[DB].sessions() as session:
        timeline = await ticket_timeline(
            session=session, reference=request.match_info["reference"].upper(), units=units
        )
        if timeline is None:
            raise Refused(404, "ticket")
        names = await staff_names(session=session, timeline=timeline)
    return render(request, "ticket.html", p=present(request), ticket=timeline, names=names)
