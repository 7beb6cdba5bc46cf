"""Area boundaries place a shared location in its most specific area; bad files are named clearly."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import Point, shape

from workflows.areas import AreaFileError, AreaMap, sample_areas_path
from workflows.city_config import load_city_config, sample_config_path

SAMPLE_KEYS = {"kota_barat", "kota_timur", "pesisir", "sukamaju", "mekarsari"}


def rectangle(west: float, south: float, east: float, north: float) -> list[list[list[float]]]:
    """A Polygon's coordinates: one closed, counter-clockwise ring, [longitude, latitude]."""
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def feature(area: Any, geometry: Any, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"area": area, **properties}, "geometry": geometry}


def polygon(area: str, west: float, south: float, east: float, north: float) -> dict[str, Any]:
    return feature(area, {"type": "Polygon", "coordinates": rectangle(west, south, east, north)})


def collection(*features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


@pytest.fixture(scope="module")
def sample() -> AreaMap:
    return AreaMap.from_file(sample_areas_path())


def sample_features() -> list[dict[str, Any]]:
    data = json.loads(sample_areas_path().read_text(encoding="utf-8"))
    features: list[dict[str, Any]] = data["features"]
    return features


# --- the sample file -------------------------------------------------------------------------------------


def test_sample_file_loads_with_every_area(sample: AreaMap) -> None:
    assert sample.keys() == SAMPLE_KEYS
    assert len(sample) == 5
    assert "sukamaju" in sample and "bandung" not in sample


def test_sample_areas_are_the_sample_city_areas() -> None:
    config = load_city_config(sample_config_path())
    assert AreaMap.from_file(sample_areas_path()).keys() == set(config.areas)
    for item in sample_features():
        assert item["properties"]["name"] == config.areas[item["properties"]["area"]].name


def test_sample_rings_are_closed_counter_clockwise_and_kelurahan_inside_their_kecamatan() -> None:
    geometries = {item["properties"]["area"]: item["geometry"] for item in sample_features()}
    for geometry in geometries.values():
        ring = geometry["coordinates"][0]
        assert ring[0] == ring[-1]
        assert shapely.LinearRing(ring).is_ccw
    config = load_city_config(sample_config_path())
    for key, area in config.areas.items():
        if area.parent is not None:
            assert shape(geometries[area.parent]).contains(shape(geometries[key]))


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        (-6.28, 106.72, "kota_barat"),
        (-6.16, 106.805, "kota_barat"),
        (-6.28, 106.93, "kota_timur"),
        (-6.10, 106.75, "pesisir"),
        (-6.09, 106.94, "pesisir"),
        (-6.21, 106.77, "sukamaju"),
        (-6.22, 106.85, "mekarsari"),
    ],
)
def test_a_point_inside_each_area(sample: AreaMap, latitude: float, longitude: float, expected: str) -> None:
    assert sample.locate(latitude, longitude) == expected


def test_points_used_by_the_dialog_tests(sample: AreaMap) -> None:
    assert sample.locate(-6.2, 106.8) == "sukamaju"  # on sukamaju's east edge, inside kota_barat
    assert sample.locate(-6.2001, 106.8167) == "kota_timur"
    assert sample.locate(-6.2000, 106.8166) == "kota_timur"  # the console demo location
    assert sample.locate(-6.21, 106.81) == "kota_barat"  # on the kota_barat / kota_timur border


def test_a_kelurahan_point_resolves_to_the_kelurahan_not_its_kecamatan(sample: AreaMap) -> None:
    assert sample.locate(-6.20, 106.76) == "sukamaju"
    assert sample.locate(-6.20, 106.74) == "kota_barat"  # same kecamatan, outside the kelurahan
    assert sample.locate(-6.20, 106.83) == "mekarsari"
    assert sample.locate(-6.20, 106.90) == "kota_timur"


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [
        (-6.9, 107.6),  # Bandung
        (-6.31, 106.80),  # just south of the city
        (-6.07, 106.80),  # just north of pesisir
        (-6.20, 106.96),  # just east
        (0.0, 0.0),
        (106.8, -6.2),  # latitude and longitude swapped
        (math.nan, 106.8),
        (-6.2, math.inf),
    ],
)
def test_a_point_outside_every_area_is_none(sample: AreaMap, latitude: float, longitude: float) -> None:
    assert sample.locate(latitude, longitude) is None


def test_points_on_an_outer_boundary_count_as_inside(sample: AreaMap) -> None:
    assert sample.locate(-6.30, 106.75) == "kota_barat"  # south edge
    assert sample.locate(-6.25, 106.70) == "kota_barat"  # west edge, a corner-free point
    assert sample.locate(-6.30, 106.70) == "kota_barat"  # south-west corner
    assert sample.locate(-6.08, 106.95) == "pesisir"  # north-east corner


# --- tie-break -------------------------------------------------------------------------------------------


def test_shared_border_goes_to_the_smaller_area_whatever_the_feature_order(sample: AreaMap) -> None:
    # kota_barat (0.11° x 0.15°) is smaller than kota_timur (0.14° x 0.15°) and pesisir (0.25° x 0.07°)
    reversed_map = AreaMap.from_geojson(collection(*reversed(sample_features())))
    for latitude, longitude, expected in [
        (-6.21, 106.81, "kota_barat"),  # kota_barat | kota_timur
        (-6.15, 106.75, "kota_barat"),  # kota_barat | pesisir
        (-6.15, 106.85, "pesisir"),  # kota_timur | pesisir
        (-6.15, 106.81, "kota_barat"),  # all three meet
    ]:
        assert sample.locate(latitude, longitude) == expected
        assert reversed_map.locate(latitude, longitude) == expected
        assert sample.locate(latitude, longitude) == expected  # and again: no state between calls


def test_equally_large_neighbours_tie_on_the_alphabetically_first_key() -> None:
    west_east = [polygon("zeta", 0, 0, 1, 1), polygon("alpha", 1, 0, 2, 1)]
    for features in (west_east, west_east[::-1]):
        areas = AreaMap.from_geojson(collection(*features))
        assert areas.locate(0.5, 1.0) == "alpha"
        assert areas.locate(0.5, 0.5) == "zeta"
        assert areas.locate(0.5, 1.5) == "alpha"


# --- geometry kinds --------------------------------------------------------------------------------------


def test_a_multipolygon_area_covers_each_of_its_parts() -> None:
    islands = {
        "type": "MultiPolygon",
        "coordinates": [rectangle(106.60, -5.80, 106.62, -5.78), rectangle(106.50, -5.60, 106.55, -5.55)],
    }
    areas = AreaMap.from_geojson(
        collection(feature("kepulauan", islands), polygon("daratan", 106, -7, 107, -6))
    )
    assert areas.keys() == {"kepulauan", "daratan"}
    assert areas.locate(-5.79, 106.61) == "kepulauan"
    assert areas.locate(-5.58, 106.52) == "kepulauan"
    assert areas.locate(-5.70, 106.58) is None  # sea between the islands, inside the bounding box
    assert areas.locate(-6.5, 106.5) == "daratan"


def test_a_polygon_hole_is_outside() -> None:
    ring = rectangle(0, 0, 10, 10)[0]
    hole = [[4, 4], [4, 6], [6, 6], [6, 4], [4, 4]]
    areas = AreaMap.from_geojson(
        collection(feature("donut", {"type": "Polygon", "coordinates": [ring, hole]}))
    )
    assert areas.locate(5, 5) is None
    assert areas.locate(4, 5) == "donut"  # the hole's edge belongs to the area
    assert areas.locate(2, 2) == "donut"


def test_features_with_the_same_area_are_joined() -> None:
    areas = AreaMap.from_geojson(collection(polygon("pulau", 0, 0, 1, 1), polygon("pulau", 5, 5, 6, 6)))
    assert areas.keys() == {"pulau"}
    assert areas.locate(0.5, 0.5) == "pulau"
    assert areas.locate(5.5, 5.5) == "pulau"
    assert areas.locate(3, 3) is None


def test_an_empty_map_has_no_areas() -> None:
    for areas in (AreaMap.empty(), AreaMap.from_geojson(collection())):
        assert areas.keys() == set()
        assert len(areas) == 0
        assert areas.locate(-6.2, 106.8) is None


def test_locating_many_points_matches_plain_shapely_and_uses_an_index(sample: AreaMap) -> None:
    geometries = {item["properties"]["area"]: shape(item["geometry"]) for item in sample_features()}
    by_size = sorted(geometries, key=lambda key: (geometries[key].area, key))
    found: dict[str | None, int] = {}
    for i in range(100):
        for j in range(100):  # 10,000 points over the city and around it, boundaries included
            latitude, longitude = -6.32 + i * 0.0026, 106.68 + j * 0.003
            point = Point(longitude, latitude)
            expected = next((key for key in by_size if geometries[key].covers(point)), None)
            result = sample.locate(latitude, longitude)
            assert result == expected, (latitude, longitude)
            found[result] = found.get(result, 0) + 1
    assert set(found) == {*SAMPLE_KEYS, None}
    # the implementation narrows with an STRtree and tests prepared geometries
    assert isinstance(sample._tree, shapely.STRtree)
    assert shapely.is_prepared(sample._geometries).all()


# --- malformed files -------------------------------------------------------------------------------------


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "areas.geojson"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def load_error(tmp_path: Path, data: Any) -> str:
    path = write(tmp_path, data)
    with pytest.raises(AreaFileError) as caught:
        AreaMap.from_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message


def test_area_file_error_is_a_value_error() -> None:
    assert issubclass(AreaFileError, ValueError)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.geojson"
    with pytest.raises(AreaFileError, match=r"nowhere\.geojson: cannot be read"):
        AreaMap.from_file(path)


def test_invalid_json(tmp_path: Path) -> None:
    message = load_error(tmp_path, '{"type": "FeatureCollection",\n "features": [}')
    assert "is not valid JSON (line 2, column" in message


@pytest.mark.parametrize(
    ("data", "found"),
    [
        ({"type": "Feature", "properties": {}, "geometry": None}, "'Feature'"),
        ([], "'list'"),
        ({"features": []}, "None"),
    ],
)
def test_not_a_feature_collection(tmp_path: Path, data: Any, found: str) -> None:
    message = load_error(tmp_path, data)
    assert message.endswith(f"must be a GeoJSON FeatureCollection, found {found}")


def test_a_feature_collection_without_a_feature_list(tmp_path: Path) -> None:
    message = load_error(tmp_path, {"type": "FeatureCollection", "features": {}})
    assert "needs a list of 'features'" in message


def test_a_feature_that_is_not_a_feature(tmp_path: Path) -> None:
    message = load_error(tmp_path, collection(polygon("ok", 0, 0, 1, 1), {"type": "Polygon"}))
    assert message.endswith("features[1]: must be a GeoJSON Feature")


@pytest.mark.parametrize(
    "properties", [{"name": "Kelurahan Sukamaju"}, None, {"area": None}], ids=["no-area", "null", "area-null"]
)
def test_a_feature_without_the_area_property(tmp_path: Path, properties: Any) -> None:
    bad = {"type": "Feature", "properties": properties, "geometry": polygon("x", 0, 0, 1, 1)["geometry"]}
    message = load_error(tmp_path, collection(polygon("ok", 0, 0, 1, 1), polygon("ok2", 2, 2, 3, 3), bad))
    assert "features[2]: has no 'area' property; set it to the area's key from the city config" in message


@pytest.mark.parametrize("key", ["Kota_Barat", "kota barat", "", 7])
def test_an_area_key_unlike_the_config_keys(tmp_path: Path, key: Any) -> None:
    message = load_error(tmp_path, collection(polygon("ok", 0, 0, 1, 1), feature(key, None)))
    assert f"features[1]: area {key!r} must be a key as in the city config" in message


@pytest.mark.parametrize(
    ("geometry", "found"),
    [
        ({"type": "Point", "coordinates": [106.8, -6.2]}, "a Point geometry"),
        ({"type": "LineString", "coordinates": [[106.8, -6.2], [106.9, -6.2]]}, "a LineString geometry"),
        ({"type": "GeometryCollection", "geometries": []}, "a GeometryCollection geometry"),
        (None, "no geometry"),
        ({"coordinates": []}, "a malformed geometry"),
    ],
)
def test_a_geometry_that_is_not_a_polygon(tmp_path: Path, geometry: Any, found: str) -> None:
    message = load_error(tmp_path, collection(feature("sukamaju", geometry)))
    assert message.endswith(
        f"features[0] (area 'sukamaju'): has {found}; an area must be a Polygon or MultiPolygon"
    )


@pytest.mark.parametrize(
    "coordinates",
    [[[[0, 0], [1, 0]]], [[[0, "x"], [1, 0], [1, 1], [0, 0]]], 5],
    ids=["short-ring", "not-a-number", "not-a-list"],
)
def test_malformed_coordinates(tmp_path: Path, coordinates: Any) -> None:
    message = load_error(
        tmp_path, collection(feature("pesisir", {"type": "Polygon", "coordinates": coordinates}))
    )
    assert "features[0] (area 'pesisir'): has malformed Polygon coordinates (" in message


def test_an_empty_polygon(tmp_path: Path) -> None:
    message = load_error(
        tmp_path, collection(feature("pesisir", {"type": "MultiPolygon", "coordinates": []}))
    )
    assert message.endswith("features[0] (area 'pesisir'): the MultiPolygon has no coordinates")


def test_a_self_intersecting_polygon(tmp_path: Path) -> None:
    bowtie = [[[106.70, -6.30], [106.81, -6.15], [106.81, -6.30], [106.70, -6.15], [106.70, -6.30]]]
    data = collection(
        polygon("kota_timur", 106.81, -6.30, 106.95, -6.15),
        feature("kota_barat", {"type": "Polygon", "coordinates": bowtie}),
    )
    message = load_error(tmp_path, data)
    assert "features[1] (area 'kota_barat'): the Polygon is not valid (Self-intersection[" in message
    assert message.endswith("); fix the outline in a GIS tool")


def test_overlapping_parts_of_a_multipolygon_are_invalid(tmp_path: Path) -> None:
    parts = {"type": "MultiPolygon", "coordinates": [rectangle(0, 0, 2, 2), rectangle(1, 1, 3, 3)]}
    message = load_error(tmp_path, collection(feature("pulau", parts)))
    assert "features[0] (area 'pulau'): the MultiPolygon is not valid (" in message


def test_latitude_and_longitude_swapped(tmp_path: Path) -> None:
    swapped = [[[-6.30, 106.70], [-6.30, 106.81], [-6.15, 106.81], [-6.15, 106.70], [-6.30, 106.70]]]
    message = load_error(
        tmp_path, collection(feature("kota_barat", {"type": "Polygon", "coordinates": swapped}))
    )
    assert "features[0] (area 'kota_barat'): coordinates are outside longitude -180..180" in message
    assert "GeoJSON order is [longitude, latitude]" in message


def test_from_geojson_names_its_source() -> None:
    with pytest.raises(AreaFileError, match=r"^<geojson>: features\[0\]: has no 'area' property"):
        AreaMap.from_geojson(collection({"type": "Feature", "properties": {}, "geometry": None}))
    with pytest.raises(AreaFileError, match=r"^upload\.geojson: must be a GeoJSON FeatureCollection"):
        AreaMap.from_geojson({"type": "Topology"}, source="upload.geojson")
