"""The map of the quality figures: hot spots on a grid, and the points of the latest tickets.

Hot spots: located tickets counted on a grid of cells about 300 m square (300 m of latitude; the
longitude step is 300 m at the cell row's latitude, so cells stay square from Aceh to Papua), each
with its centre, its count and its most frequent category (ties: the city's order). A cell's
centre is a fixed point of the grid, never a ticket's own position.

Map points: the 2,000 most recently filed located tickets with reference, category, status and
position only, no citizen data; a confidential ticket is counted in its cell but never a point.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from models import Identity
from models.quality_queries import TicketFact
from workflows.city_config import CityConfig

CELL_METRES = 300.0
METRES_PER_DEGREE = 111_320.0  # of latitude, and of longitude at the equator
POINTS_LIMIT = 2000


@dataclass(frozen=True)
class HotSpot:
    latitude: float  # the cell's centre
    longitude: float
    count: int
    top_category: str


@dataclass(frozen=True)
class MapPoint:
    reference: str
    category: str
    status: str
    latitude: float
    longitude: float


def cell_of(latitude: float, longitude: float, metres: float = CELL_METRES) -> tuple[int, int, float, float]:
    """The grid cell of a position: (row, column, centre latitude, centre longitude)."""
    lat_step = metres / METRES_PER_DEGREE
    row = math.floor(latitude / lat_step)
    centre_lat = (row + 0.5) * lat_step
    lon_step = metres / (METRES_PER_DEGREE * max(math.cos(math.radians(centre_lat)), 0.01))
    column = math.floor(longitude / lon_step)
    return row, column, centre_lat, (column + 0.5) * lon_step


def hot_spots(tickets: Iterable[TicketFact], city: CityConfig | None = None) -> tuple[HotSpot, ...]:
    """The located tickets counted per grid cell, busiest first."""
    order = list(city.categories) if city else []
    cells: dict[tuple[int, int], tuple[float, float, Counter[str]]] = {}
    for ticket in tickets:
        if ticket.latitude is None or ticket.longitude is None:
            continue
        row, column, lat, lon = cell_of(ticket.latitude, ticket.longitude)
        cells.setdefault((row, column), (lat, lon, Counter()))[2][ticket.category] += 1

    def top(counts: Counter[str]) -> str:
        return min(counts, key=lambda c: (-counts[c], order.index(c) if c in order else len(order), c))

    spots = [
        HotSpot(latitude=round(lat, 6), longitude=round(lon, 6), count=sum(c.values()), top_category=top(c))
        for lat, lon, c in cells.values()
    ]
    return tuple(sorted(spots, key=lambda s: (-s.count, s.latitude, s.longitude)))


def map_points(tickets: Iterable[TicketFact], limit: int = POINTS_LIMIT) -> tuple[MapPoint, ...]:
    """The most recently filed located tickets, confidential ones left out: no citizen data."""
    shown = [
        t
        for t in tickets
        if t.latitude is not None and t.longitude is not None and t.identity != Identity.CONFIDENTIAL
    ]
    shown.sort(key=lambda t: (t.created_at, t.id), reverse=True)
    return tuple(
        MapPoint(t.reference, t.category, t.status, t.latitude, t.longitude)  # type: ignore[arg-type]
        for t in shown[:limit]
    )
