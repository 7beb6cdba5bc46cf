"""One row per ticket for a CSV export of the quality figures: no personal data.

A row has the reference, filing time, category, unit, area, status, first acceptance, the
resolution that stands, the working hours to each, whether the response and resolution targets
were met (as decided by now, workflows/quality_sla.py; empty while undecided), the reopenings and
the SKM index of the ticket's latest survey answered in full. Never the citizen, the address or a
description, of any ticket: an export leaves the office, and a description may name people.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from models.quality_queries import TicketFact, latest_ratings, load_filed_tickets
from workflows.city_config import CityConfig
from workflows.quality_sla import assess
from workflows.satisfaction import element_means, skm_index
from workflows.sla import Calendars

if TYPE_CHECKING:
    from workflows.quality import Filter

TICKET_ROW_COLUMNS = (
    *("reference", "created", "category", "unit", "area", "status", "accepted", "resolved"),
    *("response_hours", "resolution_hours", "response_met", "resolution_met", "reopen_count"),
    "satisfaction",
)


@dataclass(frozen=True)
class TicketRow:
    """A ticket for a CSV export: no citizen, no address, no description (of any ticket)."""

    reference: str
    created: datetime
    category: str
    unit: str
    area: str | None
    status: str
    accepted: datetime | None  # the first acceptance
    resolved: datetime | None  # the final resolution, while resolved or closed
    response_hours: float | None  # working hours from filing
    resolution_hours: float | None
    response_met: bool | None  # None: not decided (yet)
    resolution_met: bool | None
    reopen_count: int
    satisfaction: float | None  # the SKM index of its latest survey answered in full

    def cells(self, timezone: str) -> list[str]:
        """The row as CSV cells: local ISO times, hours to 2 decimals, yes/no, "" for none."""
        zone = ZoneInfo(timezone)

        def moment(value: datetime | None) -> str:
            return value.astimezone(zone).isoformat(timespec="minutes") if value else ""

        def number(value: float | None) -> str:
            return "" if value is None else f"{value:.2f}"

        def flag(value: bool | None) -> str:
            return "" if value is None else ("yes" if value else "no")

        return [
            *(self.reference, moment(self.created), self.category, self.unit, self.area or "", self.status),
            *(moment(self.accepted), moment(self.resolved)),
            *(number(self.response_hours), number(self.resolution_hours)),
            *(flag(self.response_met), flag(self.resolution_met), str(self.reopen_count)),
            number(self.satisfaction),
        ]


async def ticket_rows(
    *,
    session: AsyncSession,
    city: CityConfig,
    calendars: Calendars,
    filter: Filter,
    now: datetime,
    limit: int | None = None,
    batch: int = 1000,
) -> AsyncIterator[TicketRow]:
    """The tickets filed in the filter's period, in filing order, read `batch` at a time; the
    outcomes are as of now, whenever decided."""
    after, given = 0, 0
    while limit is None or given < limit:
        size = batch if limit is None else min(batch, limit - given)
        page = await load_filed_tickets(session=session, scope=filter.scope(), after_id=after, limit=size)
        if not page:
            return
        ratings = await latest_ratings(session=session, ticket_ids=[t.id for t in page])
        for ticket in page:
            yield _ticket_row(ticket, city=city, calendars=calendars, now=now, ratings=ratings.get(ticket.id))
        given += len(page)
        after = page[-1].id


def _ticket_row(
    ticket: TicketFact,
    *,
    city: CityConfig,
    calendars: Calendars,
    now: datetime,
    ratings: Mapping[str, int] | None,
) -> TicketRow:
    judged = assess(ticket, city=city, calendars=calendars, now=now)
    final = judged.final_resolution()
    index = skm_index(element_means([ratings], city.surveys.rated)) if ratings else None
    return TicketRow(
        reference=ticket.reference,
        created=ticket.created_at,
        category=ticket.category,
        unit=ticket.unit,
        area=ticket.area,
        status=ticket.status,
        accepted=judged.first_accepted,
        resolved=final.at if final else None,
        response_hours=judged.response_hours,
        resolution_hours=final.hours if final else None,
        response_met=judged.response.met if judged.response else None,
        resolution_met=judged.resolution.met if judged.resolution else None,
        reopen_count=ticket.reopen_count,
        satisfaction=float(index) if index is not None else None,
    )
