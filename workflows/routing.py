"""Which unit a ticket goes to: by category, overridden per area, around paused units.

The rules, in order:
1. A shared location outside every mapped area goes to the triage unit (it may not be the city's).
2. The category's unit, unless the category names another unit for the ticket's area (or, for a
   kelurahan, for the kecamatan it belongs to).
3. A paused unit hands its new tickets to its fallback (the triage unit unless configured),
   following fallbacks until one is not paused; if all are, the triage unit takes them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from workflows.areas import AreaFileError, AreaMap
from workflows.city_config import CityConfig, ConfigError, ConfigProblem


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]+", " ", text.casefold()).split())


@dataclass(frozen=True)
class Route:
    unit: str
    area: str | None
    reason: str  # category, area, outside_area, paused (details for the audit trail)
    skipped: tuple[str, ...] = ()  # paused units passed over


def place(
    city: CityConfig,
    areas: AreaMap,
    *,
    latitude: float | None,
    longitude: float | None,
    address: str | None,
) -> tuple[str | None, bool]:
    """The ticket's area and whether its shared location lies outside every mapped area."""
    if latitude is not None and longitude is not None and areas.keys():
        found = areas.locate(latitude, longitude)
        return found, found is None
    if address:
        return area_named_in(city, address), False
    return None, False


def area_named_in(city: CityConfig, address: str) -> str | None:
    """An area whose name appears in a typed address ("Jl. Melati 5, Sukamaju"); the most specific."""
    said = f" {_words(address)} "
    found: str | None = None
    for key, area in city.areas.items():
        name = _words(area.name)
        bare = name.split(" ", 1)[1] if name.startswith(("kecamatan ", "kelurahan ", "desa ")) else name
        if f" {bare} " in said and (found is None or area.kind != "kecamatan"):
            found = key
    return found


def route(
    city: CityConfig,
    *,
    category: str,
    area: str | None,
    outside: bool = False,
    paused: Collection[str] = (),
) -> Route:
    """The unit for a new (or reopened, or re-placed) ticket."""
    if outside:
        unit, reason = city.triage_unit, "outside_area"
    else:
        unit, reason = _by_area(city, category, area)
    skipped: list[str] = []
    while unit in paused and unit not in skipped:
        skipped.append(unit)
        unit = city.units[unit].fallback or city.triage_unit
        reason = "paused"
    if unit in skipped:  # every fallback is paused too
        unit = city.triage_unit
    return Route(unit=unit, area=area, reason=reason, skipped=tuple(skipped))


def _by_area(city: CityConfig, category_key: str, area: str | None) -> tuple[str, str]:
    category = city.category(category_key)
    seen: set[str] = set()
    while area is not None and area not in seen:
        seen.add(area)
        if area in category.area_units:
            return category.area_units[area], "area"
        parent = city.areas.get(area)
        area = parent.parent if parent else None
    return category.unit, "category"


def load_area_map(city: CityConfig, config_file: Path) -> AreaMap:
    """The polygons named by `areas_geojson` (relative to the config file); checked against `areas`."""
    if not city.areas_geojson:
        return AreaMap.empty()
    path = (config_file.parent / city.areas_geojson).resolve()
    try:
        areas = AreaMap.from_file(path)
    except AreaFileError as error:
        raise ConfigError([ConfigProblem(str(config_file), None, "areas_geojson", str(error))]) from error
    unknown = sorted(areas.keys() - set(city.areas))
    if unknown:
        message = f"{path.name} has areas not defined under `areas`: {', '.join(unknown)}"
        raise ConfigError([ConfigProblem(str(config_file), None, "areas_geojson", message)])
    return areas
