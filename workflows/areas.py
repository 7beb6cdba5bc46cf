"""Area boundaries: place a shared location in its kecamatan / kelurahan for routing.

The boundaries come from a GeoJSON FeatureCollection (RFC 7946). Every feature has a Polygon
or MultiPolygon geometry and a property ``"area"`` with the area's key as written in the city
configuration (lower-case, e.g. ``"kota_barat"``); a ``"name"`` property is allowed for people
reading the file and is otherwise ignored. Several features with the same key are joined into
one area. Remember that GeoJSON writes coordinates as ``[longitude, latitude]``; a ring that is
not closed is closed by shapely (RFC 7946 wants closed rings, counter-clockwise exteriors, but
the orientation does not matter here).

``AreaMap.locate(latitude, longitude)`` returns the key of the area that contains the point, or
None outside every area (such tickets go to the triage desk). Points on a boundary count as
inside. When several areas contain the point - a kelurahan inside its kecamatan, or two
neighbours sharing a border - the tie-break is:

1. the smallest area by surface (the most specific one: the kelurahan before its kecamatan),
2. then the alphabetically first key (two equally large neighbours on their shared border).

The point-in-polygon work is done by shapely (GEOS): an STRtree narrows the candidates by
bounding box, then prepared geometries answer ``covers``, so locating many points stays cheap
even for detailed boundaries with thousands of vertices.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import shapely
from shapely.errors import ShapelyError
from shapely.geometry import Point, shape
from shapely.validation import explain_validity

AREA_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # same rule as the keys in the city config
_POLYGONAL = ("Polygon", "MultiPolygon")


class AreaFileError(ValueError):
    """The area boundaries file cannot be used; the message names the file and the feature."""


class AreaMap:
    """Area boundaries that place a (latitude, longitude) point in its most specific area."""

    def __init__(self, areas: Mapping[str, Any]) -> None:
        """Build from already valid shapely (Multi)Polygons keyed by area; prefer the constructors."""
        # Sorted by the tie-break (surface, then key): the first match is the answer.
        ordered = sorted(areas.items(), key=lambda item: (float(item[1].area), item[0]))
        self._keys: tuple[str, ...] = tuple(key for key, _ in ordered)
        self._tree: Any = shapely.STRtree([geometry for _, geometry in ordered])
        self._geometries: Any = self._tree.geometries  # numpy array, index i is self._keys[i]
        shapely.prepare(self._geometries)

    @classmethod
    def empty(cls) -> AreaMap:
        """A map without areas: every point is outside (locate always returns None)."""
        return cls({})

    @classmethod
    def from_file(cls, path: Path) -> AreaMap:
        """Read a GeoJSON FeatureCollection of area boundaries, raising AreaFileError if unusable."""
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise AreaFileError(f"{source}: cannot be read: {error}") from error
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise AreaFileError(
                f"{source}: is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            ) from error
        return cls.from_geojson(data, source=source)

    @classmethod
    def from_geojson(cls, data: Mapping[str, Any], *, source: str = "<geojson>") -> AreaMap:
        """Build from a parsed GeoJSON FeatureCollection; `source` names it in error messages."""
        if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
            found = data.get("type") if isinstance(data, Mapping) else type(data).__name__
            raise AreaFileError(f"{source}: must be a GeoJSON FeatureCollection, found {found!r}")
        features = data.get("features")
        if not isinstance(features, list):
            raise AreaFileError(f"{source}: a FeatureCollection needs a list of 'features'")
        parts: dict[str, list[Any]] = {}
        for index, feature in enumerate(features):
            key, geometry = _read_feature(feature, f"{source}: features[{index}]")
            parts.setdefault(key, []).append(geometry)
        areas: dict[str, Any] = {}
        for key, geometries in parts.items():
            areas[key] = geometries[0] if len(geometries) == 1 else shapely.union_all(geometries)
        return cls(areas)

    def keys(self) -> set[str]:
        """The area keys present in the boundaries (to check against the city config)."""
        return set(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._keys))

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __repr__(self) -> str:
        return f"AreaMap({sorted(self._keys)!r})"

    def locate(self, latitude: float, longitude: float) -> str | None:
        """The key of the most specific area covering the point (boundary included), else None."""
        if not self._keys or not (math.isfinite(latitude) and math.isfinite(longitude)):
            return None
        point = Point(longitude, latitude)  # GeoJSON / shapely order: x = longitude, y = latitude
        candidates = self._tree.query(point)  # indices of the areas whose bounding box has the point
        if len(candidates) == 0:
            return None
        candidates.sort()  # tree order is the tie-break order
        hits = candidates[shapely.covers(self._geometries[candidates], point)]  # prepared geometries
        return self._keys[int(hits[0])] if len(hits) else None


def sample_areas_path() -> Path:
    """The boundaries of the sample city shipped with civicbot."""
    import config as sample_package  # the `config` package ships the sample city

    return Path(sample_package.__file__).resolve().parent / "sample_areas.geojson"


def _read_feature(feature: Any, where: str) -> tuple[str, Any]:
    """One feature's area key and validated shapely geometry; `where` prefixes error messages."""
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise AreaFileError(f"{where}: must be a GeoJSON Feature")
    properties = feature.get("properties")
    key = properties.get("area") if isinstance(properties, Mapping) else None
    if key is None:
        raise AreaFileError(f"{where}: has no 'area' property; set it to the area's key from the city config")
    if not isinstance(key, str) or not AREA_KEY_PATTERN.match(key):
        raise AreaFileError(
            f"{where}: area {key!r} must be a key as in the city config: "
            "lower-case letters, digits or '_' (max 32), starting with a letter"
        )
    where = f"{where} (area {key!r})"
    geojson = feature.get("geometry")
    kind = geojson.get("type") if isinstance(geojson, Mapping) else None
    if kind not in _POLYGONAL:
        found = "no geometry" if geojson is None else f"a {kind or 'malformed'} geometry"
        raise AreaFileError(f"{where}: has {found}; an area must be a Polygon or MultiPolygon")
    try:
        geometry = shape(geojson)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, ShapelyError) as error:
        raise AreaFileError(f"{where}: has malformed {kind} coordinates ({error})") from error
    if geometry.is_empty:
        raise AreaFileError(f"{where}: the {kind} has no coordinates")
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise AreaFileError(
            f"{where}: coordinates are outside longitude -180..180 / latitude -90..90; "
            "GeoJSON order is [longitude, latitude]"
        )
    if not geometry.is_valid:
        reason = explain_validity(geometry)
        raise AreaFileError(f"{where}: the {kind} is not valid ({reason}); fix the outline in a GIS tool")
    return key, geometry
