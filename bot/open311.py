"""The Open311 GeoReport v2 API over HTTP (JSON), mounted at /open311/v2/ (bot/web.py).

| path                                         | what                                               |
|----------------------------------------------|----------------------------------------------------|
| `GET services.json`                          | the city's categories as services                  |
| `GET requests.json`                          | tickets, newest first (filters: service_request_id,|
|                                              | service_code, status, start_date, end_date)        |
| `POST requests.json`                         | file a ticket (api_key required)                   |
| `GET requests/{service_request_id}.json`     | one ticket                                         |
| `GET openapi.json`, `GET openapi.yaml`       | the OpenAPI 3 document (bot/open311_openapi.yaml)  |

Each path works with and without ".json". Reads are public and show nothing about reporters
(workflows/open311.py says what is shown); writes need a key of OPEN311_API_KEYS, given as the
`api_key` field (or query parameter) and compared with every configured key in constant time.
Bodies are form-encoded, as GeoReport has it, or JSON; larger than MAX_BODY_BYTES is refused with
413. Errors are GeoReport's `[{"code": 400, "description": "..."}]`, in the language asked for
(`?lang=`, else Accept-Language, else the city's default); `jurisdiction_id` is accepted and ignored.

A POST is filed in one transaction with the card for the unit's group, as a chat complaint is
(handlers/ticket_actions.new_ticket). The same key sending the same request again within a minute
gets the first ticket back (200 instead of 201); concurrent repeats are serialised per key, in this
process by a lock and across instances on PostgreSQL by an advisory lock (workflows/open311.py
take_turn), so the later one finds the first one's ticket.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from aiohttp import web

from handlers import ticket_actions
from handlers.context import Deps, Desk, Mail
from handlers.pipeline import queue_mail
from models import Identity
from models.db import Database
from workflows import open311, tickets
from workflows.open311 import Invalid, Problem

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
MAX_BODY_BYTES = 64 * 1024  # a description of 3,500 characters in any script fits many times over
OPENAPI_FILE = Path(__file__).with_name("open311_openapi.yaml")
JSON_TYPES = ("application/json", "application/*", "*/*")

_dumps = partial(json.dumps, ensure_ascii=False)


def load_document() -> dict[str, Any]:
    """The OpenAPI document (bot/open311_openapi.yaml) as data."""
    document = yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


class Open311Api:
    """The routes' handlers: the database, the dependencies, the write keys ({name: key})."""

    def __init__(
        self,
        db: Database,
        deps: Deps,
        keys: Mapping[str, str],
        *,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.deps = deps
        self.keys = dict(keys)
        self.on_queued = on_queued
        self._locks: dict[str, asyncio.Lock] = {}
        self._document_text = OPENAPI_FILE.read_text(encoding="utf-8")
        self._document_json = _dumps(load_document())

    def add_routes(self, app: web.Application, prefix: str = PREFIX) -> None:
        for suffix in ("", ".json"):
            app.router.add_get(f"{prefix}/services{suffix}", self.services)
            app.router.add_get(f"{prefix}/requests{suffix}", self.requests)
            app.router.add_post(f"{prefix}/requests{suffix}", self.submit)
        app.router.add_get(f"{prefix}/requests/{{service_request_id}}", self.request)
        app.router.add_get(f"{prefix}/openapi.json", self.openapi_json)
        app.router.add_get(f"{prefix}/openapi.yaml", self.openapi_yaml)

    # --- helpers -------------------------------------------------------------------------------

    def _lang(self, request: web.Request) -> str:
        return open311.pick_language(
            self.deps.texts, request.query.get("lang"), request.headers.get("Accept-Language")
        )

    def _json(self, data: Any, status: int = 200) -> web.Response:
        response = web.json_response(data, status=status, dumps=_dumps)
        response.headers["Access-Control-Allow-Origin"] = "*"  # public data, for apps in browsers
        return response

    def _error(self, request: web.Request, status: int, *problems: Problem) -> web.Response:
        body = open311.error_body(self.deps.texts, self._lang(request), status, problems)
        return self._json(body, status=status)

    def _refuse_format(self, request: web.Request) -> web.Response | None:
        """406 unless the client accepts JSON (no Accept header accepts anything)."""
        accept = request.headers.get("Accept")
        if not accept:
            return None
        for part in accept.split(","):
            media, *params = (p.strip().lower() for p in part.split(";"))
            if "q=0" in params or "q=0.0" in params:
                continue
            if media in JSON_TYPES or media.endswith("+json"):
                return None
        return self._error(request, 406, Problem("open311.error.not_acceptable"))

    # --- reads ---------------------------------------------------------------------------------

    async def services(self, request: web.Request) -> web.Response:
        refused = self._refuse_format(request)
        if refused is not None:
            return refused
        return self._json(open311.services(self.deps.city, self.deps.texts, self._lang(request)))

    async def requests(self, request: web.Request) -> web.Response:
        refused = self._refuse_format(request)
        if refused is not None:
            return refused
        try:
            search = open311.parse_search(request.query, city=self.deps.city, now=self.deps.clock.now())
        except Invalid as invalid:
            return self._error(request, invalid.status, *invalid.problems)
        async with self.db.sessions() as session:
            found = await open311.find(session=session, search=search)
            links = await open311.media_links(session=session, tickets=found)
        return self._json(self._views(request, found, links))

    async def request(self, request: web.Request) -> web.Response:
        refused = self._refuse_format(request)
        if refused is not None:
            return refused
        wanted = request.match_info["service_request_id"].removesuffix(".json")
        async with self.db.sessions() as session:
            ticket = await open311.by_reference(session=session, reference=wanted)
            links = await open311.media_links(session=session, tickets=[ticket] if ticket else [])
        if ticket is None:
            return self._error(request, 404, Problem("open311.error.not_found", {"id": wanted[:40]}))
        return self._json(self._views(request, [ticket], links))

    def _views(
        self, request: web.Request, found: list[Any], links: Mapping[int, str]
    ) -> list[dict[str, Any]]:
        lang = self._lang(request)
        city, texts = self.deps.city, self.deps.texts
        return [
            open311.public_request(t, city=city, texts=texts, lang=lang, media_url=links.get(t.id or 0))
            for t in found
        ]

    async def openapi_json(self, request: web.Request) -> web.Response:
        return web.Response(text=self._document_json, content_type="application/json")

    async def openapi_yaml(self, request: web.Request) -> web.Response:
        return web.Response(text=self._document_text, content_type="application/yaml")

    # --- writes --------------------------------------------------------------------------------

    async def submit(self, request: web.Request) -> web.Response:
        refused = self._refuse_format(request)
        if refused is not None:
            return refused
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return self._too_large(request)
        body = bytearray()
        async for chunk in request.content.iter_chunked(16 * 1024):
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return self._too_large(request)
        fields = _fields(request, bytes(body))
        if fields is None:
            media = request.content_type
            status = 400 if media in ("application/json", "application/x-www-form-urlencoded") else 415
            return self._error(request, status, Problem("open311.error.body"))
        key_name = self._key_name(fields.get("api_key") or request.query.get("api_key"))
        if key_name is None:
            return self._error(request, 403, Problem("open311.error.api_key"))
        try:
            submission = open311.parse_submission(fields, self.deps.city)
            async with self._locks.setdefault(key_name, asyncio.Lock()):
                reference, created = await self._file(key_name, submission, self._lang(request))
        except Invalid as invalid:
            return self._error(request, invalid.status, *invalid.problems)
        if created:
            self.on_queued()
        notice = open311.promise(
            self.deps.city, self.deps.texts, self._lang(request), submission.service_code
        )
        answer = [{"service_request_id": reference, "service_notice": notice, "account_id": None}]
        return self._json(answer, status=201 if created else 200)

    def _too_large(self, request: web.Request) -> web.Response:
        return self._error(request, 413, Problem("open311.error.too_large", {"maximum": MAX_BODY_BYTES}))

    def _key_name(self, given: object) -> str | None:
        """The name of the key given, comparing with every key (constant time, no early exit)."""
        if not isinstance(given, str) or not given:
            return None
        found = None
        sent = given.encode("utf-8", "surrogatepass")  # JSON's "\ud800" is a str, but not UTF-8
        for name, key in self.keys.items():
            if hmac.compare_digest(sent, key.encode()):
                found = name
        return found

    async def _file(self, key_name: str, submission: open311.Submission, lang: str) -> tuple[str, bool]:
        """File the request as a ticket (or find the one it repeats): its reference, and whether new."""
        deps = self.deps
        city, now = deps.city, deps.clock.now()
        async with self.db.transaction() as session:
            await open311.take_turn(session=session, key_name=key_name)  # across instances
            earlier = await open311.repeated(
                session=session, key_name=key_name, submission=submission, now=now
            )
            if earlier is not None:
                return earlier.reference, False
            citizen = await open311.api_citizen(
                session=session,
                key_name=key_name,
                key=self.keys[key_name],
                submission=submission,
                language=lang,
                now=now,
            )
            limited = submission.account is not None  # a key's own submissions are not limited
            if limited and not await tickets.may_file(session=session, citizen=citizen, city=city, now=now):
                raise Invalid([Problem("open311.error.limit", {"limit": city.limits.tickets_per_day})], 429)
            draft = submission.draft()
            route = await tickets.route_draft(
                session=session, city=city, areas=deps.areas, draft=draft, now=now
            )
            ticket = await tickets.submit(
                session=session,
                citizen=citizen,
                draft=draft,
                city=city,
                now=now,
                route=route,
                calendars=deps.calendars,
                origin=open311.origin(key_name, submission),
            )
            desk = Desk(session=session, deps=deps, mail=Mail(), now=now)
            await ticket_actions.new_ticket(desk, ticket)  # the card, as for a chat complaint
            if submission.media_url and ticket.identity != Identity.CONFIDENTIAL:
                await ticket_actions.to_unit_thread(
                    desk, ticket, "open311.thread.media", url=submission.media_url
                )
            queue_mail(session, desk.mail, now)
            log.info("open311: %s filed %s for %s", key_name, ticket.reference, ticket.unit)
            return ticket.reference, True


def _fields(request: web.Request, body: bytes) -> dict[str, Any] | None:
    """The submitted fields of a form or JSON body (the first of repeated form fields); None when the
    body cannot be read."""
    media = request.content_type
    if media == "application/json":
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: [[[[… nested deep
            return None
        return data if isinstance(data, dict) else None
    if media in ("application/x-www-form-urlencoded", "application/octet-stream", ""):
        try:
            pairs = parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=200
            )
        except (UnicodeDecodeError, ValueError):
            return None
        fields: dict[str, Any] = {}
        for name, value in pairs:
            fields.setdefault(name, value)
        return fields
    return None
