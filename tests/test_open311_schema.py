"""The OpenAPI document (bot/open311_openapi.yaml) against the real server: schemathesis generates
requests for every operation (valid and invalid ones) and checks that no answer is a server error,
that every status code is documented, and that every answer matches the documented schema and
content type. The server runs in a thread on a free port, on a SQLite database seeded with chat and
API tickets; about half of the generated submissions carry a valid key, so filing is exercised too."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.open311 import OPENAPI_FILE, PREFIX, Open311Api
from handlers.context import Deps
from handlers.i18n import Translator
from locales import load_catalogues
from models import Citizen, Identity
from models.db import Database
from tests.conftest import MONDAY_MORNING
from workflows import tickets
from workflows.city_config import load_city_config, sample_config_path
from workflows.classify import Classifier
from workflows.clock import FrozenClock
from workflows.drafts import Draft
from workflows.routing import load_area_map

KEY = "schema-test-key-0123456789"
SERVICES = ("sampah", "jalan", "pungli", "adminduk")
SEEDED: list[str] = []  # the references of the seeded tickets
schema = schemathesis.openapi.from_path(OPENAPI_FILE)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


async def _seed(db: Database, deps: Deps) -> None:
    """A chat complaint of each identity, so reads have something to show (and to hide)."""
    now = deps.clock.now()
    async with db.transaction() as session:
        for n, identity in enumerate(Identity):
            citizen = Citizen(
                channel="telegram",
                external_id=str(1000 + n),
                chat_id=str(1000 + n),
                display_name="Siti Warga",
                created_at=now,
                last_seen_at=now,
            )
            session.add(citizen)
            await session.flush()
            draft = Draft(
                category="sampah" if identity != Identity.CONFIDENTIAL else "pungli",
                description="Sampah di depan rumah Bu Siti sudah tiga hari tidak diangkut",
                latitude=-6.2001,
                longitude=106.8167,
                identity=identity,
            )
            ticket = await tickets.submit(
                session=session, citizen=citizen, draft=draft, city=deps.city, now=now
            )
            SEEDED.append(ticket.reference)


class _Server:
    """The API on 127.0.0.1 (a free port) in a thread with its own event loop."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as error:  # reported by start()
            self.failure = error
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._stop())
        self.loop.close()

    async def _start(self) -> None:
        city = load_city_config(sample_config_path())
        deps = Deps(
            city=city,
            texts=Translator(load_catalogues(), overrides=city.texts),
            clock=FrozenClock(MONDAY_MORNING),
            classifier=Classifier(city),
            areas=load_area_map(city, sample_config_path()),
        )
        self.db = Database(self.database_url)
        await self.db.migrate()
        await _seed(self.db, deps)
        app = web.Application()
        Open311Api(self.db, deps, {"schema-test": KEY}).add_routes(app)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def _stop(self) -> None:
        await self.runner.cleanup()
        await self.db.dispose()

    def start(self) -> str:
        self.thread.start()
        self.ready.wait(30)
        if self.failure is not None:
            raise self.failure
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("open311") / "schema.db"
    server = _Server(f"sqlite:///{path}")
    yield server.start()
    server.stop()


def _aim(case: schemathesis.Case, references: list[str]) -> None:
    """Point about half of the cases at what exists: submissions get the valid key and a real
    service (the rest test the refusals), reads of one request a seeded id (the rest get 404)."""
    hit = len(repr(case.body)) + len(repr(case.path_parameters)) + len(repr(case.query))
    if hit % 2:
        return
    body: Any = case.body
    if case.method == "POST" and isinstance(body, dict):
        body["api_key"] = KEY
        body["service_code"] = SERVICES[hit // 2 % len(SERVICES)]
        if isinstance(body.get("description"), str) and len(body["description"].strip()) < 10:
            body["description"] = f"Keluhan warga nomor {hit}: {body['description']}"
        if not {"lat", "long", "address_string"} & set(body):
            body.update(lat=-6.2001, long=106.8167)
    if case.path_parameters and "service_request_id" in case.path_parameters:
        case.path_parameters["service_request_id"] = references[hit // 2 % len(references)]


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_the_api_keeps_to_its_openapi_document(case: schemathesis.Case, base_url: str) -> None:
    _aim(case, SEEDED)
    case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=10)
