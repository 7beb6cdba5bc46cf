"""The Open311 GeoReport v2 API: services, submitting (the same workflow as a chat complaint, the
card in the unit's group), reading without personal data, filters, keys and errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.open311 import MAX_BODY_BYTES, Open311Api
from handlers import survey_sweep
from handlers.context import Deps
from handlers.i18n import Translator
from models import Citizen, OutboxMessage, OutboxStatus, Survey, Ticket, TicketEvent
from models.db import Database
from tests.desk import ADMIN, GROUP, OFFICER, Desk, texts
from tests.dialog import Dialog
from tests.test_survey_loop import wib
from workflows.city_config import CityConfig, sample_config_path
from workflows.classify import Classifier
from workflows.clock import FrozenClock
from workflows.references import find_reference
from workflows.routing import load_area_map

KEY = "s3cret-key-of-the-city-app"
OTHER_KEY = "another-key-for-kelurahan-app"
KEYS = {"kota-app": KEY, "kelurahan": OTHER_KEY}
IN_KOTA_TIMUR: dict[str, Any] = {"lat": "-6.2001", "long": "106.8167"}  # the DLH's (sampah) area
# sampah goes to the Pesisir district office here
IN_PESISIR: dict[str, Any] = {"lat": "-6.1", "long": "106.8"}
PERSONAL: dict[str, Any] = {
    "email": "siti.warga@example.id",
    "phone": "+62 812 3456 7890",
    "first_name": "Siti",
    "last_name": "Rahayu",
    "account_id": "acct-778899",
    "device_id": "device-4455",
}


@pytest.fixture
def deps(city: CityConfig, clock: FrozenClock, catalogues: dict[str, dict[str, str]]) -> Deps:
    """The sample city with its area map: routing by location as in production."""
    return Deps(
        city=city,
        texts=Translator(catalogues, overrides=city.texts),
        clock=clock,
        classifier=Classifier(city),
        areas=load_area_map(city, sample_config_path()),
    )


@pytest.fixture
async def api(db: Database, deps: Deps) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application()
    Open311Api(db, deps, KEYS).add_routes(app)
    async with TestClient(TestServer(app)) as client:
        yield client


Client = TestClient[Any, Any]


async def post(api: Client, key: str | None = KEY, *, as_json: bool = False, **fields: Any) -> Any:
    body = {"service_code": "sampah", "description": "Sampah menumpuk di depan pasar sejak Senin", **fields}
    if key is not None:
        body["api_key"] = key
    if as_json:
        return await api.post("/open311/v2/requests.json", json=body)
    return await api.post("/open311/v2/requests.json", data=body)


async def filed(api: Client, **fields: Any) -> str:
    response = await post(api, **{**IN_KOTA_TIMUR, **fields})
    assert response.status == 201, await response.text()
    [answer] = await response.json()
    return str(answer["service_request_id"])


async def read(api: Client, reference: str, **params: str) -> dict[str, Any]:
    response = await api.get(f"/open311/v2/requests/{reference}.json", params=params)
    assert response.status == 200, await response.text()
    [one] = await response.json()
    return dict(one)


async def search(api: Client, **params: str) -> list[dict[str, Any]]:
    response = await api.get("/open311/v2/requests.json", params=params)
    assert response.status == 200, await response.text()
    return list(await response.json())


async def ticket_of(db: Database, reference: str) -> Ticket:
    async with db.sessions() as session:
        return (await session.exec(select(Ticket).where(Ticket.reference == reference))).one()


async def count_tickets(db: Database) -> int:
    async with db.sessions() as session:
        return len((await session.exec(select(Ticket))).all())


async def press_on_card(desk: Desk, reference: str, label: str) -> None:
    """An officer presses a button of this ticket's card in the DLH group."""
    await desk.flush()
    card = desk.card(GROUP, await desk.card_id(GROUP, reference))
    [button] = [b for row in card.buttons for b in row if label in b.label]
    await desk.press(GROUP, OFFICER, button.payload)


# --- services ----------------------------------------------------------------------------------


async def test_services_list_the_categories_in_both_languages(api: Client, city: CityConfig) -> None:
    english = await (await api.get("/open311/v2/services.json", params={"lang": "en"})).json()
    indonesian = await (await api.get("/open311/v2/services", headers={"Accept-Language": "id-ID"})).json()
    assert [s["service_code"] for s in english] == list(city.categories)
    waste_en = next(s for s in english if s["service_code"] == "sampah")
    waste_id = next(s for s in indonesian if s["service_code"] == "sampah")
    assert waste_en["service_name"] == "Waste & Cleanliness" and waste_en["group"] == "Environment Agency"
    assert waste_id["service_name"] == "Sampah & Kebersihan" and waste_id["group"] == "Dinas Lingkungan Hidup"
    assert "1 working day" in waste_en["description"] and "1 hari kerja" in waste_id["description"]
    assert waste_en["metadata"] is False and waste_en["type"] == "realtime"
    assert "garbage" in waste_en["keywords"] and "sampah" in waste_id["keywords"]


# --- submitting --------------------------------------------------------------------------------


async def test_a_submitted_request_is_routed_and_carded_like_a_chat_complaint(
    api: Client, desk: Desk, db: Database
) -> None:
    reference = await filed(api, **PERSONAL)
    ticket = await ticket_of(db, reference)
    assert (ticket.unit, ticket.area, ticket.channel) == ("dlh", "kota_timur", "open311")
    await desk.flush()
    card = texts(desk.new(GROUP))
    assert reference in card and "Sampah menumpuk di depan pasar" in card
    assert "Siti Rahayu" in card and "API Open311 (kota-app)" in card  # marked as coming from the API
    assert "siti.warga@example.id" not in card and "7890" not in card

    # the key's name is on the record as who submitted
    async with db.sessions() as session:
        event = (await session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))).one()
    assert event.action == "submitted" and event.details["api_key"] == "kota-app"

    # another area, another unit (no group of its own: the admins get the card privately)
    other = await filed(api, description="Tumpukan sampah di dekat dermaga nelayan", **IN_PESISIR)
    assert (await ticket_of(db, other)).unit == "kec_pesisir"
    await desk.flush()
    assert other in texts(desk.new(ADMIN))


async def test_a_json_body_works_as_well_as_a_form(api: Client, db: Database) -> None:
    response = await post(api, as_json=True, lat=-6.2001, long=106.8167, address_string="Jl. Melati 5")
    assert response.status == 201, await response.text()
    [answer] = await response.json()
    assert answer["account_id"] is None and "1 hari kerja" in answer["service_notice"]
    ticket = await ticket_of(db, answer["service_request_id"])
    assert ticket.address == "Jl. Melati 5" and ticket.latitude == pytest.approx(-6.2001)


async def test_the_account_is_kept_only_as_a_keyed_hash(api: Client, db: Database) -> None:
    await filed(api, **PERSONAL)
    await filed(api, description="Sampah berserakan lagi di depan pasar pagi ini", **PERSONAL)
    async with db.sessions() as session:
        people = (await session.exec(select(Citizen).where(Citizen.channel == "open311"))).all()
    assert len(people) == 1  # one citizen per key and account
    stored = json.dumps([p.model_dump(mode="json") for p in people])
    for secret in ("siti.warga@example.id", "acct-778899", "device-4455", "7890", KEY):
        assert secret not in stored


async def test_writes_need_a_valid_key(api: Client, db: Database) -> None:
    for key in (None, "", "wrong-key-wrong-key-wrong", KEY + "x"):
        response = await post(api, key, **IN_KOTA_TIMUR)
        assert response.status == 403
        [error] = await response.json()
        assert error["code"] == 403 and "api_key" in error["description"]
    assert await count_tickets(db) == 0
    # a key given as a query parameter counts too
    response = await api.post(
        "/open311/v2/requests",
        params={"api_key": OTHER_KEY},
        data={"service_code": "jalan", "description": "Jalan berlubang besar di depan SD", **IN_KOTA_TIMUR},
    )
    assert response.status == 201


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"service_code": "kembang_api", **IN_KOTA_TIMUR}, "Layanan kembang_api tidak tersedia"),
        ({"description": "", **IN_KOTA_TIMUR}, "description wajib diisi"),
        ({"description": "x" * 2001, **IN_KOTA_TIMUR}, "paling banyak 2000 karakter (saat ini 2001)"),
        ({"lat": "91", "long": "106.8"}, "lat harus berupa angka antara -90 dan 90"),
        ({"lat": "-6.2", "long": "-181"}, "long harus berupa angka antara -180 dan 180"),
        ({"lat": "-6.2", "long": "nan"}, "long harus berupa angka"),
        ({"lat": "-6.2"}, "lat dan long harus diisi bersamaan"),
        ({}, "Lokasi wajib diisi"),
        ({"media_url": "javascript:alert(1)", **IN_KOTA_TIMUR}, "media_url harus berupa alamat http"),
    ],
)
async def test_invalid_requests_get_georeport_errors(
    api: Client, db: Database, fields: dict[str, Any], words: str
) -> None:
    response = await post(api, **fields)
    assert response.status == 400
    errors = await response.json()
    assert all(e["code"] == 400 for e in errors)
    assert any(words in e["description"] for e in errors), errors
    assert await count_tickets(db) == 0


async def test_errors_come_in_the_language_asked_for(api: Client) -> None:
    response = await api.post(
        "/open311/v2/requests.json?lang=en", data={"api_key": KEY, "service_code": "sampah", **IN_KOTA_TIMUR}
    )
    assert [e["description"] for e in await response.json()] == ["description is required."]


async def test_malformed_bodies_are_refused_not_server_errors(api: Client, db: Database) -> None:
    as_json = {"Content-Type": "application/json"}
    nested = await api.post("/open311/v2/requests.json", data=b"[" * 20_000, headers=as_json)
    assert nested.status == 400 and (await nested.json())[0]["code"] == 400
    lone_surrogate = b'{"api_key": "\\ud800"}'  # JSON allows it; UTF-8 does not
    not_utf8_key = await api.post("/open311/v2/requests.json", data=lone_surrogate, headers=as_json)
    assert not_utf8_key.status == 403
    huge = '{"api_key": "%s", "service_code": "sampah", "description": "Sampah menumpuk di depan pasar",'
    huge += ' "lat": 1%s, "long": 106.8}'
    response = await api.post("/open311/v2/requests.json", data=huge % (KEY, "0" * 400), headers=as_json)
    assert response.status == 400
    assert any("lat" in e["description"] for e in await response.json())
    assert await count_tickets(db) == 0


async def test_a_body_too_large_is_refused(api: Client, db: Database) -> None:
    response = await post(api, description="x" * (MAX_BODY_BYTES + 10), **IN_KOTA_TIMUR)
    assert response.status == 413
    [error] = await response.json()
    assert error["code"] == 413
    assert await count_tickets(db) == 0


async def test_the_same_request_sent_again_within_a_minute_is_one_ticket(
    api: Client, db: Database, clock: FrozenClock
) -> None:
    first = await post(api, **IN_KOTA_TIMUR)
    clock.advance(timedelta(seconds=30))
    again = await post(api, **IN_KOTA_TIMUR)
    assert (first.status, again.status) == (201, 200)
    assert (await first.json())[0]["service_request_id"] == (await again.json())[0]["service_request_id"]
    assert await count_tickets(db) == 1
    # another key, or another place, or later: a ticket of its own
    assert (await post(api, OTHER_KEY, **IN_KOTA_TIMUR)).status == 201
    assert (await post(api, **IN_PESISIR)).status == 201
    clock.advance(timedelta(minutes=2))
    assert (await post(api, **IN_KOTA_TIMUR)).status == 201
    assert await count_tickets(db) == 4


async def test_an_account_is_held_to_the_daily_limit(api: Client, city: CityConfig) -> None:
    for n in range(city.limits.tickets_per_day):
        await filed(api, account_id="acct-1", description=f"Sampah menumpuk di gang nomor {n}")
    response = await post(
        api, account_id="acct-1", description="Sampah lagi di gang nomor 99", **IN_KOTA_TIMUR
    )
    assert response.status == 429
    assert str(city.limits.tickets_per_day) in (await response.json())[0]["description"]
    # the key's submissions without an account are not limited per person
    await filed(api, description="Sampah lagi di gang nomor 100")


# --- reading -----------------------------------------------------------------------------------


async def test_reading_shows_the_request_without_personal_data(api: Client) -> None:
    reference = await filed(api, media_url="https://foto.example.id/sampah.jpg", **PERSONAL)
    for path in (f"/open311/v2/requests/{reference}.json", f"/open311/v2/requests/{reference}"):
        body = await (await api.get(path, params={"lang": "en"})).text()
        for secret in PERSONAL.values():
            assert secret not in body
    one = await read(api, reference, lang="en")
    assert one["status"] == "open" and one["service_code"] == "sampah"
    assert one["status_notes"] == "Received; waiting for the agency to take it up."
    assert one["description"] == "Sampah menumpuk di depan pasar sejak Senin"
    assert one["agency_responsible"] == "Environment Agency"
    assert (one["lat"], one["long"]) == (-6.2, 106.817)  # rounded to about 100 m
    assert one["media_url"] == "https://foto.example.id/sampah.jpg"
    assert one["requested_datetime"] == "2026-11-23T09:00:00+07:00"
    assert one["expected_datetime"] == "2026-11-24T08:30:00+07:00"  # 8 working hours to respond
    assert one["service_notice"] == "Response within 1 working day; resolution within 5 working days."
    missing = await api.get("/open311/v2/requests/ADU-2611-ZZZZ.json")
    assert missing.status == 404 and (await missing.json())[0]["code"] == 404


async def test_a_chat_complaint_is_listed_without_its_words_or_its_reporter(
    api: Client, citizen: Callable[..., Dialog]
) -> None:
    warga = citizen(user_id="1001")
    await warga.file_complaint("Sampah di TPS Jl. Melati 12 rumah Bu Siti sudah 3 hari tidak diangkut")
    reference = find_reference(warga.text)
    assert reference
    listed = await (await api.get("/open311/v2/requests.json")).text()
    assert reference in listed
    for private in ("Melati", "Siti", "1001", "tidak diangkut"):
        assert private not in listed
    one = await read(api, reference)
    assert one["description"] is None and one["address"] == "Kecamatan Kota Timur"
    assert (one["lat"], one["long"]) == (-6.2, 106.817)


async def test_a_confidential_request_shows_no_words_and_no_place(api: Client, desk: Desk) -> None:
    reference = await filed(
        api,
        service_code="pungli",
        description="Oknum petugas meminta uang tambahan untuk mempercepat KTP",
        address_string="Kantor Kecamatan Kota Barat",
        media_url="https://foto.example.id/kuitansi.jpg",
    )
    one = await read(api, reference)
    assert one["status"] == "open" and one["service_code"] == "pungli"
    assert one["description"] is None and one["address"] is None
    assert one["lat"] is None and one["long"] is None and one["media_url"] is None
    listed = await (await api.get("/open311/v2/requests.json")).text()
    assert "Oknum" not in listed and "kuitansi" not in listed
    await desk.flush()
    card = texts(desk.new(ADMIN))  # the inspectorate has no group: the admins get its card
    assert reference in card and "Oknum" not in card


async def test_resolving_closes_it_and_nothing_is_ever_queued_for_the_api_citizen(
    api: Client, desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    reference = await filed(api, **PERSONAL)
    await press_on_card(desk, reference, "Terima")
    assert (await read(api, reference))["status"] == "open"

    # a reply to the card reaches nobody, and the officer is told so
    card_id = await desk.card_id(GROUP, reference)
    told = texts(await desk.say(GROUP, OFFICER, "Terima kasih, segera kami angkut", reply_to=card_id))
    assert "Tidak terkirim" in told and "API Open311" in told

    # asking the reporter is refused: no chat would carry the question
    await press_on_card(desk, reference, "Tanya")
    refused = texts(await desk.say(OFFICER, OFFICER, "Di sebelah mana tepatnya tumpukan sampahnya?"))
    assert "API Open311" in refused and "tidak dapat menerima pesan" in refused

    await press_on_card(desk, reference, "Selesai")
    await desk.say(OFFICER, OFFICER, "Sampah sudah diangkut truk pagi ini")
    assert "ditandai selesai" in texts(await desk.photo(OFFICER, OFFICER, "proof-1"))
    one = await read(api, reference, lang="en")
    assert one["status"] == "closed" and one["status_notes"] == "The agency reports it resolved."
    assert one["expected_datetime"] is None
    assert "diangkut truk" not in json.dumps(one)  # the officer's note is not published

    # when its survey would go, the ticket just closes: nobody could answer
    clock.set(wib(24, 9, 5))
    assert await survey_sweep.sweep(db, deps) == 1
    await desk.flush()
    assert (await read(api, reference))["status"] == "closed"
    assert (await ticket_of(db, reference)).status == "closed"
    async with db.sessions() as session:
        assert [s.status for s in (await session.exec(select(Survey))).all()] == ["skipped"]
        rows = (await session.exec(select(OutboxMessage))).all()
    assert rows and not [r for r in rows if r.channel == "open311" or r.chat_id == ""]
    assert [r.id for r in rows if r.status == OutboxStatus.PENDING] == []  # every row was delivered


async def test_filters_by_status_service_and_dates(
    api: Client, desk: Desk, clock: FrozenClock, db: Database
) -> None:
    clock.set(wib(2, 9))
    early = await filed(api, description="Sampah menumpuk awal bulan di pasar lama")
    clock.set(wib(23, 9))
    road = await filed(api, service_code="jalan", description="Jalan berlubang besar di depan SD")
    done = await filed(api, description="Sampah menumpuk di depan pasar baru")
    await press_on_card(desk, done, "Terima")
    await press_on_card(desk, done, "Selesai")
    await desk.say(OFFICER, OFFICER, "Sudah diangkut")
    await desk.photo(OFFICER, OFFICER, "proof-2")

    def ids(found: list[dict[str, Any]]) -> list[str]:
        return [r["service_request_id"] for r in found]

    assert ids(await search(api)) == [done, road, early]  # newest first
    assert ids(await search(api, status="closed")) == [done]
    assert ids(await search(api, status="open")) == [road, early]
    assert ids(await search(api, status="open,closed", service_code="jalan")) == [road]
    assert ids(await search(api, service_code="sampah,jalan", start_date="2026-11-20")) == [done, road]
    assert ids(await search(api, end_date="2026-11-22T23:59:59+07:00")) == [early]
    assert ids(await search(api, start_date="2026-11-02T00:00:00Z", end_date="2026-11-02T02:00:00Z")) == [
        early
    ]
    assert ids(await search(api, service_request_id=f"{early}, {road.lower()}")) == [road, early]
    assert len(await search(api, service_request_id=early, status="closed")) == 1  # ids override filters

    for params, words in (
        ({"start_date": "2026-01-01", "end_date": "2026-11-30"}, "90"),
        ({"start_date": "kemarin"}, "start_date"),
        ({"start_date": "2026-11-23", "end_date": "2026-11-01"}, "start_date"),
        ({"status": "pending"}, "status"),
    ):
        response = await api.get("/open311/v2/requests.json", params=params)
        assert response.status == 400, params
        assert words in (await response.json())[0]["description"]

    # without dates, the last 90 days
    clock.set(wib(23, 9) + timedelta(days=91))
    assert ids(await search(api)) == []


async def test_only_json_is_served_and_the_openapi_document_is_there(api: Client) -> None:
    refused = await api.get("/open311/v2/services.json", headers={"Accept": "text/xml"})
    assert refused.status == 406 and (await refused.json())[0]["code"] == 406
    accepted = await api.get("/open311/v2/services.json", headers={"Accept": "text/html, */*;q=0.1"})
    assert accepted.status == 200
    document = await (await api.get("/open311/v2/openapi.json")).json()
    assert document["openapi"].startswith("3.") and "/requests.json" in document["paths"]
    yaml_text = await (await api.get("/open311/v2/openapi.yaml")).text()
    assert "GeoReport" in yaml_text


def test_the_keys_setting_is_checked_at_start() -> None:
    from pydantic import ValidationError

    from bot.settings import Settings

    assert Settings(OPEN311_API_KEYS=f"kota-app:{KEY}, kelurahan:{OTHER_KEY}").open311_keys == KEYS
    assert Settings(OPEN311_API_KEYS="").open311_keys == {}
    for wrong in ("no-colon-here-0123456789", "kota-app:short", f"a:{KEY},a:{OTHER_KEY}", f"bad name:{KEY}"):
        with pytest.raises(ValidationError):
            Settings(OPEN311_API_KEYS=wrong)
