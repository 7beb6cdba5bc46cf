"""Which unit gets a complaint: by category, by the area it is in, around paused units.

The sample city: sampah goes to DLH, except in Kecamatan Pesisir (kec_pesisir, whose fallback is
DLH); a location outside every mapped area goes to the triage desk (triase).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from handlers.context import Deps
from handlers.i18n import Translator
from models import Ticket, TicketEvent
from models.db import Database
from tests.desk import ADMIN, Desk, texts
from tests.dialog import Dialog
from workflows.areas import AreaMap, sample_areas_path
from workflows.city_config import CityConfig, ConfigError, load_city_config, sample_config_path
from workflows.classify import Classifier
from workflows.clock import FrozenClock
from workflows.routing import Route, area_named_in, load_area_map, place, route

PESISIR = (-6.12, 106.85)  # Kecamatan Pesisir, on the coast
SUKAMAJU = (-6.20, 106.78)  # Kelurahan Sukamaju, in Kecamatan Kota Barat
KOTA_BARAT = (-6.27, 106.72)  # Kota Barat, outside Sukamaju
KOTA_TIMUR = (-6.2001, 106.8167)  # Kota Timur, outside Mekarsari
MEKARSARI = (-6.22, 106.85)  # Kelurahan Mekarsari, in Kecamatan Kota Timur
BANDUNG = (-6.9, 107.6)  # far outside the city


@pytest.fixture(scope="module")
def areas() -> AreaMap:
    return AreaMap.from_file(sample_areas_path())


def routed(
    city: CityConfig, areas: AreaMap, point: tuple[float, float], category: str, **kwargs: Any
) -> Route:
    area, outside = place(city, areas, latitude=point[0], longitude=point[1], address=None)
    return route(city, category=category, area=area, outside=outside, **kwargs)


# --- a shared location ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "category", "area", "unit", "reason"),
    [
        (PESISIR, "sampah", "pesisir", "kec_pesisir", "area"),  # the area's own unit
        (SUKAMAJU, "sampah", "sukamaju", "dlh", "category"),
        (KOTA_BARAT, "sampah", "kota_barat", "dlh", "category"),
        (KOTA_TIMUR, "sampah", "kota_timur", "dlh", "category"),
        (MEKARSARI, "sampah", "mekarsari", "dlh", "category"),
        (PESISIR, "jalan", "pesisir", "dpupr", "category"),  # no area_units: always its unit
        (SUKAMAJU, "jalan", "sukamaju", "dpupr", "category"),
        (PESISIR, "ketertiban", "pesisir", "kec_pesisir", "area"),
        (MEKARSARI, "ketertiban", "mekarsari", "satpolpp", "category"),
        (PESISIR, "pungli", "pesisir", "inspektorat", "category"),
    ],
)
def test_a_shared_location_routes_by_its_area(
    city: CityConfig,
    areas: AreaMap,
    point: tuple[float, float],
    category: str,
    area: str,
    unit: str,
    reason: str,
) -> None:
    assert routed(city, areas, point, category) == Route(unit=unit, area=area, reason=reason)


@pytest.mark.parametrize("category", ["sampah", "jalan", "pungli", "lainnya"])
def test_a_location_outside_every_area_goes_to_triage(
    city: CityConfig, areas: AreaMap, category: str
) -> None:
    assert place(city, areas, latitude=BANDUNG[0], longitude=BANDUNG[1], address=None) == (None, True)
    assert routed(city, areas, BANDUNG, category) == Route(unit="triase", area=None, reason="outside_area")


def test_a_shared_location_wins_over_a_typed_address(city: CityConfig, areas: AreaMap) -> None:
    found = place(city, areas, latitude=BANDUNG[0], longitude=BANDUNG[1], address="Jl. Pantai, Pesisir")
    assert found == (None, True)
    found = place(city, areas, latitude=SUKAMAJU[0], longitude=SUKAMAJU[1], address="Kecamatan Pesisir")
    assert found == ("sukamaju", False)


def test_without_area_polygons_a_location_places_nothing(city: CityConfig) -> None:
    empty = AreaMap.empty()
    assert place(city, empty, latitude=BANDUNG[0], longitude=BANDUNG[1], address=None) == (None, False)
    assert route(city, category="sampah", area=None).unit == "dlh"  # not triage: nothing is mapped


# --- a typed address -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "area"),
    [
        ("Jl. Melati 5, Sukamaju", "sukamaju"),
        ("jl melati 5 sukamaju", "sukamaju"),
        ("Jl. Pantai 3, Kecamatan Pesisir", "pesisir"),
        ("Gg. Nelayan, Kec. Pesisir", "pesisir"),
        ("PESISIR!", "pesisir"),
        ("Sukamaju, Kota Barat", "sukamaju"),  # the most specific area named
        ("Kota Barat, Sukamaju", "sukamaju"),
        ("Pasar Mekarsari, Kecamatan Kota Timur", "mekarsari"),
        ("Jl. Raya Kota Barat 10", "kota_barat"),
        ("Jl. Sukamajuan 2", None),  # a word that merely starts like an area's name
        ("Jl. Kenanga No. 5", None),
    ],
)
def test_a_typed_address_naming_an_area_finds_it(city: CityConfig, address: str, area: str | None) -> None:
    assert area_named_in(city, address) == area


def test_a_typed_address_routes_like_a_location(city: CityConfig, areas: AreaMap) -> None:
    area, outside = place(
        city, areas, latitude=None, longitude=None, address="Jl. Pantai 3, Kecamatan Pesisir"
    )
    assert (area, outside) == ("pesisir", False)
    assert route(city, category="sampah", area=area).unit == "kec_pesisir"
    # an address naming no area is never "outside": the category's unit takes it
    assert place(city, areas, latitude=None, longitude=None, address="Jl. Kenanga No. 5") == (None, False)
    assert route(city, category="sampah", area=None) == Route(unit="dlh", area=None, reason="category")
    assert place(city, areas, latitude=None, longitude=None, address=None) == (None, False)


# --- a kelurahan inherits its kecamatan's unit ----------------------------------------------------


def district_city(city: CityConfig) -> CityConfig:
    """The sample city where Kota Barat's sampah goes to its kecamatan office, and Sukamaju's own
    kelurahan office handles its street lights."""
    data = city.model_dump()
    data["units"]["kec_kota_barat"] = {
        "name": {"id": "Kecamatan Kota Barat", "en": "Kota Barat"},
        "short": "KB",
    }
    data["units"]["kel_sukamaju"] = {
        "name": {"id": "Kelurahan Sukamaju", "en": "Sukamaju"},
        "short": "Sukamaju",
        "fallback": "kec_kota_barat",
    }
    data["categories"]["sampah"]["area_units"] = {"pesisir": "kec_pesisir", "kota_barat": "kec_kota_barat"}
    data["categories"]["penerangan"]["area_units"] = {
        "kota_barat": "kec_kota_barat",
        "sukamaju": "kel_sukamaju",
    }
    return CityConfig.model_validate(data)


def test_a_kelurahan_inherits_its_kecamatans_unit(city: CityConfig, areas: AreaMap) -> None:
    districts = district_city(city)
    assert routed(districts, areas, SUKAMAJU, "sampah") == Route("kec_kota_barat", "sukamaju", "area")
    assert routed(districts, areas, KOTA_BARAT, "sampah") == Route("kec_kota_barat", "kota_barat", "area")
    assert routed(districts, areas, MEKARSARI, "sampah") == Route("dlh", "mekarsari", "category")
    assert routed(districts, areas, PESISIR, "sampah") == Route("kec_pesisir", "pesisir", "area")
    # the kelurahan's own override comes before its kecamatan's
    assert routed(districts, areas, SUKAMAJU, "penerangan") == Route("kel_sukamaju", "sukamaju", "area")
    assert routed(districts, areas, KOTA_BARAT, "penerangan") == Route("kec_kota_barat", "kota_barat", "area")
    assert routed(districts, areas, KOTA_TIMUR, "penerangan") == Route("dishub", "kota_timur", "category")
    # a typed address naming the kelurahan too
    typed = area_named_in(districts, "Jl. Melati, Sukamaju")
    assert route(districts, category="sampah", area=typed) == Route("kec_kota_barat", "sukamaju", "area")
    # paused, the kelurahan office hands over to its kecamatan office
    paused = route(districts, category="penerangan", area="sukamaju", paused={"kel_sukamaju"})
    assert (paused.unit, paused.reason, paused.skipped) == ("kec_kota_barat", "paused", ("kel_sukamaju",))


def test_area_parents_that_loop_do_not_hang_routing(city: CityConfig) -> None:
    data = city.model_dump()
    data["areas"]["kota_barat"]["parent"] = "sukamaju"  # a mistake: each the other's parent
    looped = CityConfig.model_validate(data)
    assert route(looped, category="sampah", area="sukamaju") == Route("dlh", "sukamaju", "category")


# --- paused units ---------------------------------------------------------------------------------


def test_a_paused_unit_hands_new_tickets_to_its_fallback(city: CityConfig, areas: AreaMap) -> None:
    assert routed(city, areas, PESISIR, "sampah", paused={"kec_pesisir"}) == Route(
        unit="dlh", area="pesisir", reason="paused", skipped=("kec_pesisir",)
    )
    # a unit without a fallback hands over to the triage unit
    assert routed(city, areas, SUKAMAJU, "sampah", paused={"dlh"}) == Route(
        unit="triase", area="sukamaju", reason="paused", skipped=("dlh",)
    )
    # pausing another unit changes nothing
    assert routed(city, areas, PESISIR, "sampah", paused={"dpupr"}) == Route("kec_pesisir", "pesisir", "area")


def test_a_chain_of_paused_fallbacks_ends_at_triage(city: CityConfig, areas: AreaMap) -> None:
    both = routed(city, areas, PESISIR, "sampah", paused={"kec_pesisir", "dlh"})
    assert (both.unit, both.reason, both.skipped) == ("triase", "paused", ("kec_pesisir", "dlh"))
    every = routed(city, areas, PESISIR, "sampah", paused={"kec_pesisir", "dlh", "triase"})
    assert every.unit == "triase"  # nobody else is left: the triage desk still gets it


def test_fallbacks_that_loop_end_at_triage(city: CityConfig) -> None:
    data = city.model_dump()
    data["units"]["dlh"]["fallback"] = "kec_pesisir"  # kec_pesisir falls back to dlh already
    looped = CityConfig.model_validate(data)
    loop = route(looped, category="sampah", area="pesisir", paused={"kec_pesisir", "dlh"})
    assert (loop.unit, loop.reason) == ("triase", "paused")
    assert route(looped, category="sampah", area="pesisir", paused={"kec_pesisir"}).unit == "dlh"


# --- the area polygons file -----------------------------------------------------------------------


def city_files(tmp_path: Path, features: list[dict[str, Any]] | None = None) -> Path:
    """A copy of the sample city and its polygons in tmp_path (features replace the polygons')."""
    config = tmp_path / "city.yaml"
    shutil.copy(sample_config_path(), config)
    shutil.copy(sample_areas_path(), tmp_path / "sample_areas.geojson")
    if features is not None:
        data = json.loads(sample_areas_path().read_text(encoding="utf-8"))
        data["features"] = features
        (tmp_path / "sample_areas.geojson").write_text(json.dumps(data), encoding="utf-8")
    return config


def square(area: str, west: float, south: float, size: float = 0.05) -> dict[str, Any]:
    ring = [
        [west, south],
        [west + size, south],
        [west + size, south + size],
        [west, south + size],
        [west, south],
    ]
    return {
        "type": "Feature",
        "properties": {"area": area},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def test_the_sample_polygons_load_for_the_sample_city(city: CityConfig) -> None:
    assert load_area_map(city, sample_config_path()).keys() == set(city.areas)


def test_a_polygon_for_an_area_the_config_does_not_define(tmp_path: Path) -> None:
    config = city_files(tmp_path, [square("pesisir", 106.7, -6.15), square("kota_selatan", 106.7, -6.4)])
    city = load_city_config(config)
    with pytest.raises(ConfigError) as error:
        load_area_map(city, config)
    message = str(error.value)
    assert str(config) in message and "areas_geojson" in message
    assert "sample_areas.geojson has areas not defined under `areas`: kota_selatan" in message
    assert "pesisir" not in message.split("areas`:")[1]


def test_a_missing_or_broken_polygons_file_is_named(tmp_path: Path) -> None:
    config = city_files(tmp_path)
    city = load_city_config(config)
    (tmp_path / "sample_areas.geojson").unlink()
    with pytest.raises(ConfigError) as error:
        load_area_map(city, config)
    assert "sample_areas.geojson" in str(error.value) and "cannot be read" in str(error.value)
    (tmp_path / "sample_areas.geojson").write_text(
        '{"type": "FeatureCollection", "features": [', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as error:
        load_area_map(city, config)
    assert "is not valid JSON" in str(error.value)
    no_key = square("pesisir", 106.7, -6.15)
    no_key["properties"] = {"name": "Kecamatan Pesisir"}
    config = city_files(tmp_path, [no_key])
    with pytest.raises(ConfigError) as error:
        load_area_map(city, config)
    assert "features[0]" in str(error.value) and "no 'area' property" in str(error.value)


def test_a_city_without_polygons_has_an_empty_map(city: CityConfig, tmp_path: Path) -> None:
    config = tmp_path / "city.yaml"
    text = sample_config_path().read_text(encoding="utf-8")
    config.write_text(text.replace("areas_geojson: sample_areas.geojson\n", ""), encoding="utf-8")
    without = load_city_config(config)
    assert without.areas_geojson is None
    assert len(load_area_map(without, config)) == 0


def test_polygons_for_only_some_areas_are_fine(tmp_path: Path) -> None:
    config = city_files(tmp_path, [square("pesisir", 106.7, -6.15)])
    mapped = load_area_map(load_city_config(config), config)
    assert mapped.keys() == {"pesisir"}
    assert mapped.locate(-6.12, 106.72) == "pesisir"


# --- through the real pipeline --------------------------------------------------------------------


@pytest.fixture
def deps(city: CityConfig, clock: FrozenClock, catalogues: dict[str, dict[str, str]]) -> Deps:
    """The sample city with its area polygons loaded, as the app builds it."""
    return Deps(
        city=city,
        texts=Translator(catalogues, overrides=city.texts),
        clock=clock,
        classifier=Classifier(city),
        areas=load_area_map(city, sample_config_path()),
    )


async def file_rubbish(warga: Dialog, *, point: tuple[float, float] | None = None, address: str = "") -> None:
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    await warga.say("Sampah menumpuk di pinggir pantai, sudah seminggu tidak diangkut")
    if point is not None:
        await warga.share_location(*point)
    else:
        await warga.say(address)
    await warga.press("Lewati")
    await warga.press("Publik")
    await warga.press("Kirim pengaduan")


async def only_ticket(db: Database) -> tuple[Ticket, TicketEvent]:
    async with db.sessions() as session:
        ticket = (await session.exec(select(Ticket))).one()
        event = (await session.exec(select(TicketEvent).where(TicketEvent.action == "submitted"))).one()
    return ticket, event


async def test_a_complaint_located_in_pesisir_goes_to_the_kecamatan(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    warga = citizen()
    await file_rubbish(warga, point=PESISIR)
    assert "Pengaduan terkirim" in warga.text
    assert "Diteruskan ke: Kecamatan Pesisir" in warga.text
    ticket, event = await only_ticket(db)
    assert (ticket.category, ticket.unit, ticket.area) == ("sampah", "kec_pesisir", "pesisir")
    assert (event.details["unit"], event.details["area"], event.details["routed_by"]) == (
        "kec_pesisir",
        "pesisir",
        "area",
    )
    # kec_pesisir has no group yet: its card reaches the admins, naming the area
    await desk.flush()
    card = texts(desk.new(ADMIN))
    assert ticket.reference in card and "Kec. Pesisir" in card and "Kecamatan Pesisir" in card


async def test_a_typed_address_naming_pesisir_goes_to_the_kecamatan(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    await file_rubbish(warga, address="Jl. Pantai Indah 3, Kecamatan Pesisir")
    assert "Diteruskan ke: Kecamatan Pesisir" in warga.text
    ticket, _ = await only_ticket(db)
    assert (ticket.unit, ticket.area, ticket.latitude) == ("kec_pesisir", "pesisir", None)


async def test_a_complaint_in_sukamaju_goes_to_dlh(citizen: Callable[..., Dialog], db: Database) -> None:
    warga = citizen()
    await file_rubbish(warga, point=SUKAMAJU)
    assert "Diteruskan ke: Dinas Lingkungan Hidup" in warga.text
    ticket, event = await only_ticket(db)
    assert (ticket.unit, ticket.area, event.details["routed_by"]) == ("dlh", "sukamaju", "category")


async def test_a_complaint_outside_the_city_goes_to_the_triage_desk(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    await file_rubbish(warga, point=BANDUNG)
    assert "Diteruskan ke: Pengelola Pengaduan (Triase)" in warga.text
    ticket, event = await only_ticket(db)
    assert (ticket.unit, ticket.area, event.details["routed_by"]) == ("triase", None, "outside_area")
