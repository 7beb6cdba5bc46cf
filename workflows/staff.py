"""Staff and units at run time: who is an officer where, invite codes, group bindings, pauses."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import InviteCode, LinkRequest, OutboxMessage, OutboxStatus, Role, Staff, Ticket, UnitState
from models.tickets import OPEN_STATUSES
from workflows import web_login
from workflows.city_config import CityConfig

UNITLESS = frozenset({Role.ADMIN, Role.QUALITY})  # roles that belong to no unit
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L: read aloud or typed on a phone
CODE_LENGTH = 8


# asked for every inbound event: built once (as models/queries.py's per-event queries)
_STAFF_BY_USER = select(Staff).where(
    col(Staff.channel) == bindparam("channel"), col(Staff.user_id) == bindparam("user_id"), col(Staff.active)
)


async def staff_by_user(*, session: AsyncSession, channel: str, user_id: str) -> Staff | None:
    return (await session.exec(_STAFF_BY_USER, params={"channel": channel, "user_id": user_id})).first()


async def add_staff(
    *,
    session: AsyncSession,
    channel: str,
    user_id: str,
    role: Role,
    unit: str | None,
    now: datetime,
    added_by: str | None = None,
    display_name: str | None = None,
) -> Staff:
    """Make someone staff of a unit (or admin), or change their role/unit if they already are."""
    query = select(Staff).where(Staff.channel == channel, Staff.user_id == user_id)
    staff = (await session.exec(query)).first()
    if staff is None:
        staff = Staff(channel=channel, user_id=user_id, created_at=now)
        session.add(staff)
    new_unit = None if role in UNITLESS else unit
    # made staff again, or another role or unit: their dashboard sessions end (web_login.py)
    before = (staff.active, staff.role, staff.unit)
    changed = staff.id is not None and before != (True, role.value, new_unit)
    staff.role = role.value
    staff.unit = new_unit
    staff.active = True
    staff.added_by = added_by or staff.added_by
    staff.display_name = display_name or staff.display_name
    await session.flush()
    if changed:
        assert staff.id is not None
        await web_login.end_sessions_of(session=session, staff_id=staff.id)
    return staff


FROM_SETTINGS = "settings"  # Staff.added_by of the admins CIVICBOT_ADMIN_IDS names
DROPPED_FROM_SETTINGS = "settings:dropped"  # named there once, no longer: removable like any admin


async def ensure_admins(
    *, session: AsyncSession, channel: str, user_ids: Iterable[str], now: datetime
) -> None:
    """The admins named in the settings (CIVICBOT_ADMIN_IDS) exist as admins, marked as such.

    The mark is what keeps them from being removed in chat: whoever holds the server's settings
    decides about them. Admins the settings no longer name lose the mark and stay admins.
    """
    listed = set(user_ids)
    for user_id in listed:
        made = await add_admin(
            session=session, channel=channel, user_id=user_id, now=now, added_by=FROM_SETTINGS
        )
        if not made:  # an admin already: now one the settings name
            existing = await staff_by_user(session=session, channel=channel, user_id=user_id)
            assert existing is not None
            existing.added_by = FROM_SETTINGS
    for admin in await admins(session=session):
        if admin.channel == channel and admin.added_by == FROM_SETTINGS and admin.user_id not in listed:
            admin.added_by = DROPPED_FROM_SETTINGS
    await session.flush()


class AdminRemoval(StrEnum):
    """What came of a request to remove an admin."""

    REMOVED = "removed"
    NOT_ADMIN = "not_admin"
    FROM_SETTINGS = "from_settings"  # named in CIVICBOT_ADMIN_IDS: change the settings instead
    LAST_ADMIN = "last_admin"  # nobody would be left to bind groups and invite officers


async def add_admin(
    *, session: AsyncSession, channel: str, user_id: str, now: datetime, added_by: str
) -> bool:
    """Make someone an admin (an officer keeps their history, but no longer a unit); False if
    they already were one."""
    existing = await staff_by_user(session=session, channel=channel, user_id=user_id)
    if existing is not None and existing.role == Role.ADMIN:
        return False
    await add_staff(
        session=session,
        channel=channel,
        user_id=user_id,
        role=Role.ADMIN,
        unit=None,
        now=now,
        added_by=added_by,
    )
    return True


async def remove_admin(
    *, session: AsyncSession, channel: str, user_id: str, settings_ids: Collection[str] | None = None
) -> AdminRemoval:
    """Take an admin's rights away; their recorded actions stay.

    `settings_ids`: CIVICBOT_ADMIN_IDS when the caller reads the settings (the CLI); without it
    (in chat) the mark `ensure_admins` left at start tells which admins the settings name.
    """
    staff = await staff_by_user(session=session, channel=channel, user_id=user_id)
    if staff is None or staff.role != Role.ADMIN:
        return AdminRemoval.NOT_ADMIN
    named = user_id in settings_ids if settings_ids is not None else staff.added_by == FROM_SETTINGS
    if named:
        return AdminRemoval.FROM_SETTINGS
    # the admins' rows locked: two admins removing each other at once cannot leave none
    others = select(Staff.id).where(Staff.role == Role.ADMIN, col(Staff.active)).with_for_update()
    if len((await session.exec(others)).all()) <= 1:
        return AdminRemoval.LAST_ADMIN
    staff.active = False
    await session.flush()
    return AdminRemoval.REMOVED


class QualityChange(StrEnum):
    """What came of a request to make someone a quality manager, or to stop them being one."""

    ADDED = "added"
    ALREADY = "already"
    IS_ADMIN = "is_admin"  # an admin sees everything already; removing their rights is /hapus_admin's
    REMOVED = "removed"
    NOT_QUALITY = "not_quality"


async def add_quality(
    *, session: AsyncSession, channel: str, user_id: str, now: datetime, added_by: str
) -> QualityChange:
    """Make someone a quality manager (every unit on the dashboard, read-only); an officer leaves
    their unit, an admin is left as they are."""
    existing = await staff_by_user(session=session, channel=channel, user_id=user_id)
    if existing is not None and existing.role in (Role.QUALITY, Role.ADMIN):
        return QualityChange.ALREADY if existing.role == Role.QUALITY else QualityChange.IS_ADMIN
    await add_staff(
        session=session,
        channel=channel,
        user_id=user_id,
        role=Role.QUALITY,
        unit=None,
        now=now,
        added_by=added_by,
    )
    return QualityChange.ADDED


async def remove_quality(*, session: AsyncSession, channel: str, user_id: str) -> QualityChange:
    """A quality manager is staff no more (their dashboard sessions stop at the next request)."""
    staff = await staff_by_user(session=session, channel=channel, user_id=user_id)
    if staff is None or staff.role != Role.QUALITY:
        return QualityChange.NOT_QUALITY
    staff.active = False
    await session.flush()
    return QualityChange.REMOVED


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


async def create_invite(
    *, session: AsyncSession, unit: str, role: Role, created_by: str, now: datetime, valid: timedelta
) -> str:
    """A one-time code for joining the unit; only its hash is stored."""
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(
        InviteCode(
            code_hash=_hash(code),
            unit=unit,
            role=role.value,
            created_by=created_by,
            created_at=now,
            expires_at=now + valid,
        )
    )
    await session.flush()
    return f"{code[:4]}-{code[4:]}"


async def redeem_invite(
    *, session: AsyncSession, code: str, channel: str, user_id: str, display_name: str | None, now: datetime
) -> Staff | None:
    """Join with a code: None if it is unknown, used or expired (the caller cannot tell which)."""
    invite = await session.get(InviteCode, _hash(code), with_for_update=True)
    if invite is None or invite.used_at is not None or _aware(invite.expires_at) <= now:
        return None
    invite.used_by = user_id
    invite.used_at = now
    existing = await staff_by_user(session=session, channel=channel, user_id=user_id)
    if existing is not None and existing.role == Role.ADMIN:
        return existing  # an admin stays an admin (and may act for every unit anyway)
    return await add_staff(
        session=session,
        channel=channel,
        user_id=user_id,
        role=Role(invite.role),
        unit=invite.unit,
        now=now,
        added_by=f"invite:{invite.created_by}",
        display_name=display_name,
    )


def _aware(moment: datetime) -> datetime:
    from workflows.clock import as_utc

    return as_utc(moment)


async def unit_state(*, session: AsyncSession, unit: str) -> UnitState:
    state = await session.get(UnitState, unit)
    if state is None:
        state = UnitState(unit=unit)
        session.add(state)
    return state


async def link_group(
    *, session: AsyncSession, unit: str, channel: str, chat_id: str, title: str | None, by: str, now: datetime
) -> str | None:
    """Bind a group chat to a unit (one group per unit, one unit per group).

    Returns the unit the group served before, if it was bound to another one.
    """
    previous = (await session.exec(select(UnitState).where(UnitState.chat_id == chat_id))).all()
    before = None
    for other in previous:
        if other.unit != unit:
            before = other.unit
            other.chat_id = None
    state = await unit_state(session=session, unit=unit)
    state.channel = channel
    state.chat_id = chat_id
    state.chat_title = (title or "")[:128] or None
    state.linked_by = by
    state.linked_at = now
    await session.flush()
    return before


async def refresh_group_title(*, session: AsyncSession, chat_id: str, title: str | None) -> None:
    """Keep a linked group's title current (a link approved from a private chat has none yet)."""
    if not title:
        return
    await session.exec(
        update(UnitState)
        .where(col(UnitState.chat_id) == chat_id, col(UnitState.chat_title).is_distinct_from(title[:128]))
        .values(chat_title=title[:128])
        .execution_options(synchronize_session=False)
    )


async def request_link(
    *, session: AsyncSession, channel: str, chat_id: str, unit: str, title: str | None, by: str, now: datetime
) -> None:
    """Remember a group's request to be linked to a unit (the newest request per group counts)."""
    request = await session.get(LinkRequest, chat_id)
    if request is None:
        request = LinkRequest(chat_id=chat_id, unit=unit, requested_by=by, requested_at=now)
        session.add(request)
    request.channel, request.unit, request.requested_by, request.requested_at = channel, unit, by, now
    request.chat_title = (title or "")[:128] or None
    await session.flush()


async def approve_link(
    *, session: AsyncSession, chat_id: str, unit: str, by: str, now: datetime
) -> LinkRequest | None:
    """Link the group as it asked; None if there is no such request for that unit (already approved,
    or replaced by a request for another unit, which has its own button)."""
    request = await session.get(LinkRequest, chat_id, with_for_update=True)
    if request is None or request.unit != unit:
        return None
    await link_group(
        session=session,
        unit=request.unit,
        channel=request.channel,
        chat_id=chat_id,
        title=request.chat_title,
        by=by,
        now=now,
    )
    await session.delete(request)
    return request


async def unit_of_group(*, session: AsyncSession, chat_id: str) -> str | None:
    query = select(UnitState.unit).where(UnitState.chat_id == chat_id)
    return (await session.exec(query)).first()


async def group_of(*, session: AsyncSession, unit: str) -> UnitState | None:
    state = await session.get(UnitState, unit)
    return state if state is not None and state.chat_id else None


async def follow_chat_migration(
    *, session: AsyncSession, channel: str, old_chat_id: str, new_chat_id: str
) -> bool:
    """A group became a supergroup: its binding and its queued messages move to the new chat id.

    Idempotent (both the service message and a failed send report the move). True if a unit's
    binding moved.
    """
    states = (await session.exec(select(UnitState).where(UnitState.chat_id == old_chat_id))).all()
    for state in states:
        state.chat_id = new_chat_id
    await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.channel) == channel,
            col(OutboxMessage.chat_id) == old_chat_id,
            col(OutboxMessage.status) == OutboxStatus.PENDING,
        )
        .values(chat_id=new_chat_id)
        .execution_options(synchronize_session=False)
    )
    return bool(states)


async def paused_units(*, session: AsyncSession, now: datetime) -> set[str]:
    """The units paused at `now`: a pause whose end has passed no longer counts, even before the
    sweep (handlers/unit_resume.py) has resumed the unit."""
    query = select(UnitState.unit).where(
        col(UnitState.paused),
        or_(col(UnitState.paused_until).is_(None), col(UnitState.paused_until) > now),
    )
    return set((await session.exec(query)).all())


async def set_paused(
    *,
    session: AsyncSession,
    unit: str,
    paused: bool,
    by: str,
    now: datetime,
    reason: str | None = None,
    until: datetime | None = None,
) -> None:
    """Pause a unit (until a moment, or until resumed) or resume it; who did it is recorded."""
    state = await unit_state(session=session, unit=unit)
    state.paused = paused
    state.paused_by = by
    state.paused_at = now if paused else None
    state.paused_reason = (reason or "")[:200] or None if paused else None
    state.paused_until = _aware(until) if paused and until is not None else None
    await session.flush()


def pause_end(day: date, timezone: str) -> datetime:
    """A pause "until" a day covers that whole local day: it ends at 00:00 the next day (UTC)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def last_paused_day(until: datetime, timezone: str) -> date:
    """The local day a pause ending at `until` was set to last through (pause_end's inverse)."""
    return (_aware(until).astimezone(ZoneInfo(timezone)) - timedelta(microseconds=1)).date()


SCHEDULE = "schedule"  # UnitState.paused_by of a unit resumed because its pause ran out


@dataclass(frozen=True)
class Resumed:
    """A unit whose pause ran out, and when it did."""

    unit: str
    until: datetime


async def resume_expired_pauses(*, session: AsyncSession, now: datetime) -> list[Resumed]:
    """Resume the units whose pause has ended (recorded as resumed by "schedule"); the ones resumed.

    The rows are locked, skipping those another instance holds: each unit is resumed once.
    """
    query = (
        select(UnitState)
        .where(col(UnitState.paused), col(UnitState.paused_until) <= now)
        .order_by(col(UnitState.paused_until), col(UnitState.unit))
        .with_for_update(skip_locked=True)
    )
    resumed = []
    for state in (await session.exec(query)).all():
        assert state.paused_until is not None
        resumed.append(Resumed(unit=state.unit, until=_aware(state.paused_until)))
        await set_paused(session=session, unit=state.unit, paused=False, by=SCHEDULE, now=now)
    return resumed


async def staff_of_unit(*, session: AsyncSession, unit: str, roles: Iterable[Role]) -> list[Staff]:
    query = select(Staff).where(
        Staff.unit == unit, col(Staff.active), col(Staff.role).in_([r.value for r in roles])
    )
    return list(await session.exec(query))


async def admins(*, session: AsyncSession) -> list[Staff]:
    query = select(Staff).where(Staff.role == Role.ADMIN, col(Staff.active))
    return list(await session.exec(query))


async def active_staff(*, session: AsyncSession, unit: str | None = None) -> list[Staff]:
    """Everyone who is staff (of one unit, if given), by unit, then role, then name."""
    query = select(Staff).where(col(Staff.active))
    if unit is not None:
        query = query.where(Staff.unit == unit)
    query = query.order_by(col(Staff.unit), col(Staff.role), col(Staff.display_name), col(Staff.user_id))
    return list(await session.exec(query))


async def open_ticket_counts(*, session: AsyncSession) -> dict[str, int]:
    """How many open tickets each unit has (units without any are absent)."""
    query = (
        select(Ticket.unit, func.count())
        .where(col(Ticket.status).in_([s.value for s in OPEN_STATUSES]))
        .group_by(col(Ticket.unit))
    )
    return {unit: int(count) for unit, count in (await session.exec(query)).all()}


async def open_invites(*, session: AsyncSession, now: datetime, unit: str | None = None) -> list[InviteCode]:
    """Invite codes not used and not expired yet, the soonest to expire first (their hashes only:
    the codes themselves were shown once)."""
    query = select(InviteCode).where(col(InviteCode.used_at).is_(None), col(InviteCode.expires_at) > now)
    if unit is not None:
        query = query.where(InviteCode.unit == unit)
    return list(await session.exec(query.order_by(col(InviteCode.expires_at))))


async def unit_queue(
    *, session: AsyncSession, unit: str | None, holder: int | None = None, limit: int = 20
) -> list[Ticket]:
    """Open tickets of a unit (or held by one officer), the nearest deadline first; paused ones last."""
    query = select(Ticket).where(col(Ticket.status).in_([s.value for s in OPEN_STATUSES]))
    if unit is not None:
        query = query.where(Ticket.unit == unit)
    if holder is not None:
        query = query.where(Ticket.holder_staff_id == holder)
    query = query.order_by(col(Ticket.due_at).is_(None), col(Ticket.due_at), col(Ticket.id)).limit(limit)
    return list(await session.exec(query))


def unit_name(city: CityConfig, unit: str, language: str) -> str:
    known = city.units.get(unit)
    return known.name.get(language) if known else unit
