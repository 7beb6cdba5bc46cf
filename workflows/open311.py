"""Open311 GeoReport v2: the rules behind the API that bot/open311.py serves.

Services are the city's categories. A request submitted through the API is filed exactly like a
chat complaint (the same draft, routing and `tickets.submit`), by a citizen of the channel
"open311": one per API key and account (account_id, else email, else device_id; without any, one
shared by the key). The account is stored only as an HMAC keyed with the API key, never as given,
and that citizen has no chat: nothing is ever queued for it (handlers/ticket_actions.has_chat) and
it is opted out of surveys, so a resolved ticket closes quietly when its survey would go.

What anyone may read of a ticket (`public_request`) carries nothing about its reporter:

| field            | what                                                                      |
|------------------|---------------------------------------------------------------------------|
| status           | open (submitted, in_progress, waiting_citizen, reopened) or closed        |
|                  | (resolved, closed, rejected)                                              |
| status_notes     | the catalogue's words for the internal status, never an officer's note    |
| description      | only of a ticket filed through the API, and not a confidential one: chat  |
|                  | complaints were not written for publication                               |
| address          | the address given through the API; for a chat ticket its area's name      |
| lat, long        | rounded to 3 decimals (about 100 m)                                       |
| media_url        | the link given through the API                                            |
| expected_datetime| the deadline of the clock running now (none while paused or closed)       |

A confidential ticket (a complaint about officials) shows its service, status and agency only:
no words, no place, no link.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.format import duration_words
from handlers.i18n import Translator
from models import Citizen, Identity, Ticket, TicketEvent, TicketStatus
from workflows.city_config import CityConfig
from workflows.clock import as_utc
from workflows.drafts import Draft
from workflows.references import normalise_reference

CHANNEL = "open311"
WINDOW = timedelta(days=90)  # the spec's default and widest range of a search
MAX_RESULTS = 1000  # the spec's usual cap of one answer
MAX_IDS = 100  # service_request_id values in one search
REPEAT_WITHIN = timedelta(minutes=1)  # the same request sent again by the same key: one ticket
FIELD_MAX = 200  # account_id, email, device_id, names, phone
MEDIA_URL_MAX = 500
DECIMALS = 3  # published coordinates: about 100 m

OPEN, CLOSED = "open", "closed"
PUBLIC_STATUS: dict[str, str] = {
    TicketStatus.SUBMITTED: OPEN,
    TicketStatus.IN_PROGRESS: OPEN,
    TicketStatus.WAITING_CITIZEN: OPEN,
    TicketStatus.REOPENED: OPEN,
    TicketStatus.RESOLVED: CLOSED,
    TicketStatus.CLOSED: CLOSED,
    TicketStatus.REJECTED: CLOSED,
}
ACCOUNT_FIELDS = ("account_id", "email", "device_id")  # which one names the submitter, in order
_URL = re.compile(r"^https?://[^\s\"'<>\\]+$", re.IGNORECASE)


# --- errors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: a catalogue key (open311.error.*) and its parameters."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


class Invalid(ValueError):
    """The request cannot be taken; `problems` say why (GeoReport: one error object each)."""

    def __init__(self, problems: Sequence[Problem], status: int = 400) -> None:
        super().__init__(", ".join(p.key for p in problems))
        self.problems = list(problems)
        self.status = status


def error_body(
    texts: Translator, lang: str, status: int, problems: Iterable[Problem]
) -> list[dict[str, Any]]:
    """GeoReport's error format: [{"code": 400, "description": "..."}]."""
    return [{"code": status, "description": texts.plain(p.key, lang, **p.params)} for p in problems]


# --- language ----------------------------------------------------------------------------------


def pick_language(texts: Translator, asked: str | None, accept_language: str | None) -> str:
    """`?lang=`, else the first served language of Accept-Language, else the city's default."""
    if asked and asked.strip().lower() in texts.languages:
        return asked.strip().lower()
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower().split("-", 1)[0]
        if tag in texts.languages:
            return tag
    return texts.default_language


# --- services ----------------------------------------------------------------------------------


def promise(city: CityConfig, texts: Translator, lang: str, category: str) -> str:
    """The SLA promise of a category, as service_notice: "Response within 1 working day; ..."."""
    policy = city.sla_for(category)
    return texts.plain(
        "open311.service_notice",
        lang,
        response=duration_words(texts, lang, policy.response_delta.total_seconds(), policy.calendar),
        resolution=duration_words(texts, lang, policy.resolution_delta.total_seconds(), policy.calendar),
    )


def services(city: CityConfig, texts: Translator, lang: str) -> list[dict[str, Any]]:
    """GET services: one per category, in the city configuration's order."""
    listed = []
    for key, category in city.categories.items():
        unit = city.units[category.unit].name.get(lang)
        location = texts.plain(f"open311.service.location_{category.location}", lang)
        listed.append(
            {
                "service_code": key,
                "service_name": category.name.get(lang),
                "description": texts.plain(
                    "open311.service.description",
                    lang,
                    unit=unit,
                    location=location,
                    promise=promise(city, texts, lang, key),
                ),
                "metadata": False,
                "type": "realtime",
                "keywords": ", ".join(category.keywords.en if lang == "en" else category.keywords.id),
                "group": unit,
            }
        )
    return listed


# --- submissions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """A validated POST requests."""

    service_code: str
    description: str
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    media_url: str | None = None
    account: tuple[str, str] | None = None  # ("email", "a@b.id"): who submits, as given
    name: str | None = None  # first_name and last_name

    def draft(self) -> Draft:
        """The draft a chat complaint would have become: a place, no attachments, a public report
        (a sensitive category makes it confidential in tickets.submit)."""
        return Draft(
            category=self.service_code,
            description=self.description,
            latitude=self.latitude,
            longitude=self.longitude,
            address=self.address,
            attachments_done=True,
            identity=Identity.PUBLIC,
        )


def _text(fields: Mapping[str, Any], name: str, problems: list[Problem], maximum: int) -> str | None:
    """A text field, stripped (None when absent or blank); a problem when it is not usable text."""
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.append(Problem("open311.error.not_text", {"field": name}))
        return None
    text = str(value).replace("\x00", "").strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        problems.append(Problem("open311.error.not_text", {"field": name}))
        return None
    if len(text) > maximum:
        problems.append(Problem("open311.error.too_long", {"field": name, "maximum": maximum}))
        return None
    return text or None


def _coordinate(fields: Mapping[str, Any], name: str, limit: float, problems: list[Problem]) -> float | None:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # a JSON integer of hundreds of digits
            number = None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not -limit <= number <= limit:
        problems.append(Problem(f"open311.error.{name}", {"limit": int(limit)}))
        return None
    return number


def parse_submission(fields: Mapping[str, Any], city: CityConfig) -> Submission:
    """Check a POST's fields (form or JSON, already decoded); raise Invalid listing every problem."""
    problems: list[Problem] = []
    limits = city.limits
    code = _text(fields, "service_code", problems, 64)
    if code is None:
        problems.append(Problem("open311.error.service_code_missing"))
    elif code not in city.categories:
        problems.append(Problem("open311.error.service_code", {"code": code}))
    description = _text(fields, "description", problems, 100_000)
    if description is None:
        problems.append(Problem("open311.error.description_missing"))
    elif len(description) < limits.description_min_chars:
        problems.append(Problem("open311.error.description_short", {"minimum": limits.description_min_chars}))
    elif len(description) > limits.description_max_chars:
        problems.append(
            Problem(
                "open311.error.description_long",
                {"maximum": limits.description_max_chars, "length": len(description)},
            )
        )
    before = len(problems)
    latitude = _coordinate(fields, "lat", 90, problems)
    longitude = _coordinate(fields, "long", 180, problems)
    if len(problems) == before and (latitude is None) != (longitude is None):
        problems.append(Problem("open311.error.lat_long_pair"))
    address = _text(fields, "address_string", problems, limits.address_max_chars)
    if len(problems) == before and latitude is None and address is None:
        problems.append(Problem("open311.error.location_missing"))
    media_url = _text(fields, "media_url", problems, MEDIA_URL_MAX)
    if media_url is not None and not _URL.match(media_url):
        problems.append(Problem("open311.error.media_url", {"maximum": MEDIA_URL_MAX}))
    account = None
    for name in ACCOUNT_FIELDS:
        value = _text(fields, name, problems, FIELD_MAX)
        if value is not None and account is None:
            account = (name, value.casefold() if name == "email" else value)
    for name in ("phone", "jurisdiction_id"):  # read (and bounded), never kept
        _text(fields, name, problems, FIELD_MAX)
    names = [_text(fields, name, problems, FIELD_MAX) for name in ("first_name", "last_name")]
    if problems:
        raise Invalid(problems)
    assert code is not None and description is not None
    full_name = " ".join(n for n in names if n)[:128] or None
    return Submission(
        service_code=code,
        description=description,
        latitude=latitude,
        longitude=longitude,
        address=address,
        media_url=media_url,
        account=account,
        name=full_name,
    )


def external_id(key_name: str, key: str, account: tuple[str, str] | None) -> str:
    """The citizen's id on channel open311: the key's name and an HMAC of the account (keyed with
    the API key, so a copy of the database does not give the e-mail addresses back); "*" for the
    key's submissions without an account."""
    if account is None:
        return f"{key_name}:*"
    kind, value = account
    digest = hmac.new(key.encode(), f"{kind}\n{value}".encode(), hashlib.sha256).hexdigest()
    return f"{key_name}:{digest[:32]}"


def key_name_of(citizen: Citizen | None) -> str | None:
    """The name of the API key a citizen submitted with; None for a chat citizen."""
    if citizen is None or citizen.channel != CHANNEL:
        return None
    return citizen.external_id.partition(":")[0]


async def api_citizen(
    *,
    session: AsyncSession,
    key_name: str,
    key: str,
    submission: Submission,
    language: str,
    now: datetime,
) -> Citizen:
    """The citizen of this key and account, created on its first request. It has no chat (chat_id
    empty) and takes no surveys."""
    identity = external_id(key_name, key, submission.account)
    query = select(Citizen).where(Citizen.channel == CHANNEL, Citizen.external_id == identity)
    citizen = (await session.exec(query)).first()
    if citizen is None:
        citizen = Citizen(
            channel=CHANNEL,
            external_id=identity,
            chat_id="",
            language=language,
            language_source="chosen",
            created_at=now,
            last_seen_at=now,
            surveys_off_at=now,  # nobody could answer: the ticket closes when the survey would go
            announcements_off_at=now,
        )
        session.add(citizen)
    if submission.account is not None:  # a shared citizen of the key keeps no one's name
        citizen.display_name = submission.name or citizen.display_name
        citizen.language = language
    citizen.last_seen_at = now
    await session.flush()
    return citizen


KEY_LOCKS = 7311  # PostgreSQL advisory locks of this namespace: one per API key (take_turn)


async def take_turn(*, session: AsyncSession, key_name: str) -> None:
    """Until this transaction ends, this key's other requests wait, on every instance (PostgreSQL):
    a repeat sent to another instance at the same moment then finds the first one's ticket
    (`repeated`) instead of filing a second. SQLite serves one process, which queues them itself."""
    if session.get_bind().dialect.name == "postgresql":
        await session.exec(select(func.pg_advisory_xact_lock(KEY_LOCKS, func.hashtext(key_name))))


async def repeated(
    *, session: AsyncSession, key_name: str, submission: Submission, now: datetime
) -> Ticket | None:
    """The ticket this key filed from the same request (service, words, place) within a minute."""
    query = (
        select(Ticket)
        .join(Citizen, col(Citizen.id) == col(Ticket.citizen_id))
        .where(
            Citizen.channel == CHANNEL,
            col(Citizen.external_id).startswith(f"{key_name}:", autoescape=True),
            Ticket.created_at >= now - REPEAT_WITHIN,
            Ticket.category == submission.service_code,
            Ticket.description == submission.description,
        )
        .order_by(col(Ticket.id).desc())
    )
    for ticket in await session.exec(query):
        if _same_place(ticket, submission):
            return ticket
    return None


def _same_place(ticket: Ticket, submission: Submission) -> bool:
    if (ticket.address or None) != submission.address:
        return False
    if ticket.latitude is None or submission.latitude is None:
        return ticket.latitude is None and submission.latitude is None
    assert ticket.longitude is not None and submission.longitude is not None
    return (
        abs(ticket.latitude - submission.latitude) < 1e-6
        and abs(ticket.longitude - submission.longitude) < 1e-6
    )


def origin(key_name: str, submission: Submission) -> dict[str, Any]:
    """What the 'submitted' event records besides the routing: the key (who submitted) and the link."""
    return {"via": CHANNEL, "api_key": key_name, "media_url": submission.media_url}


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """GET requests: by ids (the other filters then do not apply), or by service, status and time."""

    ids: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    statuses: frozenset[str] = frozenset()
    start: datetime | None = None
    end: datetime | None = None


def _listed(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def parse_moment(value: str, zone: ZoneInfo, *, end: bool = False) -> datetime:
    """A W3C date-time ("2026-11-23T09:00:00+07:00", "…Z"); a bare date is that day in the city
    (up to its end, for end_date); a time without offset is the city's. ValueError otherwise."""
    text = value.strip()
    if len(text) == 10:
        day = datetime.fromisoformat(text).date()
        moment = datetime.combine(day, time(0), tzinfo=zone)
        return as_utc(moment + timedelta(days=1, microseconds=-1) if end else moment)
    if "T" not in text.upper():
        raise ValueError("not a date-time")
    moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return as_utc(moment)


def parse_search(params: Mapping[str, str], *, city: CityConfig, now: datetime) -> Search:
    """Check GET requests' parameters; raise Invalid listing what is wrong."""
    problems: list[Problem] = []
    raw_ids = _listed(params.get("service_request_id"))
    if len(raw_ids) > MAX_IDS:
        problems.append(Problem("open311.error.too_many_ids", {"maximum": MAX_IDS}))
    ids = tuple(dict.fromkeys(ref for ref in (normalise_reference(i) for i in raw_ids) if ref))
    statuses = frozenset(s.lower() for s in _listed(params.get("status")))
    if not statuses <= {OPEN, CLOSED}:
        problems.append(Problem("open311.error.status"))
    zone = ZoneInfo(city.city.timezone)
    bounds: dict[str, datetime] = {}
    for name in ("start_date", "end_date"):
        value = params.get(name)
        if value is None or not value.strip():
            continue
        try:
            bounds[name] = parse_moment(value, zone, end=name == "end_date")
        except (ValueError, OverflowError):
            problems.append(Problem("open311.error.date", {"field": name}))
    start, end = bounds.get("start_date"), bounds.get("end_date")
    try:
        if start is None and end is None:
            end = now
        if start is None:
            assert end is not None
            start = end - WINDOW
        if end is None:
            end = start + WINDOW
    except OverflowError:
        problems.append(Problem("open311.error.window", {"days": WINDOW.days}))
    if start is not None and end is not None and not problems:
        if start > end:
            problems.append(Problem("open311.error.order"))
        elif end - start > WINDOW:
            problems.append(Problem("open311.error.window", {"days": WINDOW.days}))
    if problems:
        raise Invalid(problems)
    return Search(
        ids=ids,
        codes=tuple(_listed(params.get("service_code"))),
        statuses=statuses,
        start=start,
        end=end,
    )


async def find(*, session: AsyncSession, search: Search) -> list[Ticket]:
    """The tickets a search names, newest first, at most MAX_RESULTS."""
    query = select(Ticket)
    if search.ids:
        query = query.where(col(Ticket.reference).in_(search.ids))
    else:
        assert search.start is not None and search.end is not None
        query = query.where(Ticket.created_at >= search.start, Ticket.created_at <= search.end)
        if search.codes:
            query = query.where(col(Ticket.category).in_(search.codes))
        if search.statuses and len(search.statuses) == 1:
            wanted = [s for s, public in PUBLIC_STATUS.items() if public in search.statuses]
            query = query.where(col(Ticket.status).in_(wanted))
    query = query.order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc()).limit(MAX_RESULTS)
    return list(await session.exec(query))


async def by_reference(*, session: AsyncSession, reference: str) -> Ticket | None:
    normal = normalise_reference(reference)
    if normal is None:
        return None
    return (await session.exec(select(Ticket).where(Ticket.reference == normal))).first()


async def media_links(*, session: AsyncSession, tickets: Sequence[Ticket]) -> dict[int, str]:
    """The media_url each API ticket was filed with (its 'submitted' event), by ticket id."""
    ids = [t.id for t in tickets if t.channel == CHANNEL and t.id is not None]
    if not ids:
        return {}
    query = select(TicketEvent.ticket_id, TicketEvent.details).where(
        col(TicketEvent.ticket_id).in_(ids), TicketEvent.action == "submitted"
    )
    links: dict[int, str] = {}
    for ticket_id, details in await session.exec(query):
        url = (details or {}).get("media_url")
        if isinstance(url, str) and url:
            links[ticket_id] = url
    return links


def w3c(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """A stored moment in the city's time zone, W3C format: 2026-11-23T09:00:00+07:00."""
    if moment is None:
        return None
    return as_utc(moment).astimezone(zone).isoformat(timespec="seconds")


def public_request(
    ticket: Ticket, *, city: CityConfig, texts: Translator, lang: str, media_url: str | None = None
) -> dict[str, Any]:
    """A ticket as anyone may read it (see the module's doc for what is left out and why)."""
    zone = ZoneInfo(city.city.timezone)
    category = city.category(ticket.category)
    confidential = ticket.identity == Identity.CONFIDENTIAL
    from_api = ticket.channel == CHANNEL
    status = PUBLIC_STATUS.get(ticket.status, OPEN)
    running = status == OPEN and ticket.clock is not None and ticket.paused_at is None
    unit = city.units.get(ticket.unit)
    area = city.areas.get(ticket.area or "")
    if confidential:
        address = None
    elif from_api and ticket.address:
        address = ticket.address
    else:
        address = area.name if area else None
    place = not confidential and ticket.latitude is not None and ticket.longitude is not None
    return {
        "service_request_id": ticket.reference,
        "status": status,
        "status_notes": texts.plain(f"open311.status_notes.{ticket.status}", lang),
        "service_name": category.name.get(lang),
        "service_code": ticket.category,
        "description": ticket.description if from_api and ticket.identity == Identity.PUBLIC else None,
        "agency_responsible": unit.name.get(lang) if unit else ticket.unit,
        "service_notice": promise(city, texts, lang, ticket.category),
        "requested_datetime": w3c(ticket.created_at, zone),
        "updated_datetime": w3c(ticket.updated_at, zone),
        "expected_datetime": w3c(ticket.due_at, zone) if running else None,
        "address": address,
        "address_id": None,
        "zipcode": None,
        "lat": round(ticket.latitude, DECIMALS) if place and ticket.latitude is not None else None,
        "long": round(ticket.longitude, DECIMALS) if place and ticket.longitude is not None else None,
        "media_url": media_url if from_api and not confidential else None,
    }
