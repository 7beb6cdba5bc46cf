"""The staff dashboard's log-in rules: one-time login links, browser sessions, who sees which units.

| step                  | rule                                                                          |
|-----------------------|-------------------------------------------------------------------------------|
| /dasbor in chat       | staff only; a random token, valid LOGIN_VALID (10 minutes), stored as sha256  |
| GET of the link       | `peek_login`: tells whether it is still valid, changes nothing (link previews) |
| POST of the link      | `redeem_login`: used once (a conditional UPDATE: two posts cannot both win),  |
|                       | starts a session: a new random cookie token and CSRF token, sha256 of the     |
|                       | cookie token stored with the staff member's role and unit of that moment      |
| every request         | `check_session`: expired, staff no more, or role or unit changed → ended      |
| POST /logout          | `end_session`                                                                 |

Tokens are never stored here: a copy of these tables logs nobody in (the chat message carrying a
link sits in the outbox, so a copy of the whole database taken within a link's 10 minutes, before
its use, could). Expired links and sessions are deleted as new ones are made; add_staff
(workflows/staff.py) ends a staff member's sessions when it makes them staff again or changes their
role or unit. Every moment comes from the caller (the injected clock).

`Viewer` is the person looking at the dashboard: officers and unit heads see their own unit, quality
managers and admins every unit (quality managers read-only).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Role, Staff, WebLoginToken, WebSession
from models.queries import citizen_by_identity
from workflows.city_config import CityConfig
from workflows.clock import as_utc

LOGIN_VALID = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=12)  # the default of CIVICBOT_DASHBOARD_SESSION_HOURS
SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often (not on every page)
TOKEN_BYTES = 32  # 256 random bits, URL-safe base64: 43 characters

ALL_UNITS_ROLES = frozenset({Role.ADMIN, Role.QUALITY})  # see every unit
UNIT_ROLES = frozenset({Role.OFFICER, Role.SUPERVISOR})  # see their own unit only
READ_ONLY_ROLES = frozenset({Role.QUALITY})


def token_hash(token: str) -> str:
    """What is stored of a token: its sha256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def same_token(given: str | None, expected: str) -> bool:
    """Compare tokens in constant time (a CSRF token sent back with a form)."""
    # surrogatepass: a header of bytes that are not UTF-8 arrives with lone surrogates; a mismatch,
    # not an error
    return bool(given) and hmac.compare_digest(
        (given or "").encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


@dataclass(frozen=True)
class Viewer:
    """Who is logged in to the dashboard, as of this request."""

    staff_id: int
    name: str
    role: str
    unit: str | None
    language: str | None  # their chat's language at log-in (None: unknown)

    @property
    def read_only(self) -> bool:
        """Quality managers look; they do not act on tickets."""
        return self.role in READ_ONLY_ROLES

    def visible_units(self, city: CityConfig) -> frozenset[str] | None:
        """The unit keys this person may see; None: every unit (also ones added to the city later)."""
        if self.role in ALL_UNITS_ROLES:
            return None
        if self.role in UNIT_ROLES and self.unit and self.unit in city.units:
            return frozenset({self.unit})
        return frozenset()

    def may_see(self, unit: str) -> bool:
        """Whether a ticket or figure of this unit may be shown to this person."""
        if self.role in ALL_UNITS_ROLES:
            return True
        return self.role in UNIT_ROLES and self.unit is not None and unit == self.unit


def viewer_of(staff: Staff, language: str | None) -> Viewer:
    assert staff.id is not None
    return Viewer(
        staff_id=staff.id,
        name=staff.display_name or f"ID {staff.user_id}",
        role=staff.role,
        unit=staff.unit,
        language=language,
    )


# --- login links -----------------------------------------------------------------------------------


async def issue_login(*, session: AsyncSession, staff: Staff, now: datetime) -> str:
    """A one-time login token for an active staff member (only its hash is stored)."""
    assert staff.id is not None and staff.active
    await session.exec(
        delete(WebLoginToken)
        .where(col(WebLoginToken.expires_at) <= now)
        .execution_options(synchronize_session=False)
    )
    token = new_token()
    session.add(
        WebLoginToken(
            token_hash=token_hash(token), staff_id=staff.id, created_at=now, expires_at=now + LOGIN_VALID
        )
    )
    await session.flush()
    return token


async def _active_staff(session: AsyncSession, staff_id: int) -> Staff | None:
    staff = await session.get(Staff, staff_id)
    return staff if staff is not None and staff.active else None


async def peek_login(*, session: AsyncSession, token: str, now: datetime) -> Staff | None:
    """Whose login link this is, if it can still be used; nothing changes (a GET, a link preview)."""
    row = await session.get(WebLoginToken, token_hash(token))
    if row is None or row.used_at is not None or as_utc(row.expires_at) <= now:
        return None
    return await _active_staff(session, row.staff_id)


@dataclass(frozen=True)
class NewSession:
    """A session just started: the cookie's token and the CSRF token (shown this once), and who."""

    token: str
    csrf: str
    viewer: Viewer
    expires_at: datetime


async def redeem_login(
    *, session: AsyncSession, token: str, now: datetime, lifetime: timedelta = SESSION_LIFETIME
) -> NewSession | None:
    """Use a login link once and start a session; None if it is unknown, used, expired or its
    staff member is staff no more (the caller cannot tell which, nor can anyone guessing)."""
    hashed = token_hash(token)
    used = await session.exec(
        update(WebLoginToken)
        .where(
            col(WebLoginToken.token_hash) == hashed,
            col(WebLoginToken.used_at).is_(None),
            col(WebLoginToken.expires_at) > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        return None
    row = await session.get(WebLoginToken, hashed)
    staff = await _active_staff(session, row.staff_id) if row is not None else None
    if staff is None:
        return None
    person = await citizen_by_identity(session=session, channel=staff.channel, external_id=staff.user_id)
    language = person.language if person is not None else None
    await session.exec(
        delete(WebSession)
        .where(col(WebSession.expires_at) <= now)
        .execution_options(synchronize_session=False)
    )
    cookie, csrf = new_token(), new_token()
    assert staff.id is not None
    session.add(
        WebSession(
            token_hash=token_hash(cookie),
            staff_id=staff.id,
            role=staff.role,
            unit=staff.unit,
            language=language,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + lifetime,
            last_seen_at=now,
        )
    )
    await session.flush()
    return NewSession(token=cookie, csrf=csrf, viewer=viewer_of(staff, language), expires_at=now + lifetime)


# --- sessions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionCheck:
    """A session cookie looked at (read only): who it is, and what should be written."""

    viewer: Viewer | None = None
    csrf: str | None = None
    ended: bool = False  # the row is there but no longer counts: delete it
    touch: bool = False  # last_seen_at is old enough to be written again


async def check_session(*, session: AsyncSession, token: str, now: datetime) -> SessionCheck:
    """Who the session cookie belongs to, if the session still counts.

    It ends with its lifetime, and as soon as its staff member is deactivated or their role or
    unit is not the one they logged in with."""
    row = await session.get(WebSession, token_hash(token))
    if row is None:
        return SessionCheck()
    staff = await _active_staff(session, row.staff_id)
    if (
        as_utc(row.expires_at) <= now
        or staff is None
        or staff.role != row.role
        or (staff.unit or None) != (row.unit or None)
    ):
        return SessionCheck(ended=True)
    return SessionCheck(
        viewer=viewer_of(staff, row.language),
        csrf=row.csrf_token,
        touch=now - as_utc(row.last_seen_at) >= SEEN_EVERY,
    )


async def record_seen(*, session: AsyncSession, token: str, now: datetime) -> None:
    await session.exec(
        update(WebSession)
        .where(col(WebSession.token_hash) == token_hash(token))
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


async def end_sessions_of(*, session: AsyncSession, staff_id: int) -> None:
    """End every session of a staff member (made staff again, or given another role or unit: a
    session refused meanwhile must not come back to life)."""
    await session.exec(
        delete(WebSession)
        .where(col(WebSession.staff_id) == staff_id)
        .execution_options(synchronize_session=False)
    )


async def end_session(*, session: AsyncSession, token: str) -> None:
    """Log out (or forget a session that no longer counts)."""
    await session.exec(
        delete(WebSession)
        .where(col(WebSession.token_hash) == token_hash(token))
        .execution_options(synchronize_session=False)
    )
