"""`civicbot admin …`: what an admin does in private chat, from a terminal, plus a ticket export.

Lists are tables (rich), long work shows a progress bar. The work itself is workflows/staff.py's, as
in chat and in the older `civicbot staff` / `civicbot units` commands, which stay as they are.
Output is for the city's IT team, in English like the rest of the CLI; unit and category names
come from the city configuration.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy import Table as SqlTable
    from sqlmodel.ext.asyncio.session import AsyncSession

    from models import Ticket, TicketEvent
    from models.db import Database
    from workflows.city_config import CityConfig

T = TypeVar("T")

admin_cli = typer.Typer(
    no_args_is_help=True,
    help="Admin work: units, officers and invites, pauses, admins, a ticket's history, the ticket export.",
)

EXPORT_BATCH = 1000  # tickets read per query: a million of them never sit in memory at once
EXPORT_COLUMNS = (
    "reference",
    "category",
    "unit",
    "area",
    "status",
    "created",
    "first_response",
    "resolved",
    "sla_met",
)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _with_db(work: Callable[[AsyncSession, CityConfig, datetime], Awaitable[T]]) -> T:
    from bot.cli import _with_db as with_db

    return with_db(work)


def _unit(city: CityConfig, unit: str) -> str:
    from bot.cli import _unit as known_unit

    return known_unit(city, unit.lower())


def _local(city: CityConfig, moment: datetime | None) -> str:
    """A stored moment in the city's time: 2026-11-23 09:00 WIB."""
    if moment is None:
        return "—"
    from workflows.clock import as_utc

    local = as_utc(moment).astimezone(ZoneInfo(city.city.timezone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


# --- units and officers --------------------------------------------------------------------------


@admin_cli.command("units")
def units() -> None:
    """Every unit: its group, whether it is paused, its officers and its open tickets."""
    from models import UnitState
    from workflows import staff as staff_rules

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> Table:
        paused = await staff_rules.paused_units(session=session, now=now)
        open_counts = await staff_rules.open_ticket_counts(session=session)
        officers: dict[str | None, int] = {}
        for person in await staff_rules.active_staff(session=session):
            officers[person.unit] = officers.get(person.unit, 0) + 1
        table = Table("unit", "name", "group", "paused", "officers", "open tickets", title="Units")
        for key, unit in city.units.items():
            group = await staff_rules.group_of(session=session, unit=key)
            state = await session.get(UnitState, key) if key in paused else None
            table.add_row(
                key,
                unit.short,
                (group.chat_title or group.chat_id or "") if group else "(no group)",
                _paused_text(city, state),
                str(officers.get(key, 0)),
                str(open_counts.get(key, 0)),
            )
        return table

    _console().print(_with_db(work))


def _paused_text(city: CityConfig, state: Any) -> str:
    if state is None:
        return "no"
    reason = f": {state.paused_reason}" if state.paused_reason else ""
    until = f" until {_local(city, state.paused_until)}" if state.paused_until is not None else ""
    return f"since {_local(city, state.paused_at)}{until}{reason}"


@admin_cli.command("officers")
def officers(unit: Annotated[str | None, typer.Option(help="only this unit")] = None) -> None:
    """Staff by unit (admins last), and each unit's invite codes still valid (how many, until when)."""
    from workflows import staff as staff_rules

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> list[Table]:
        key = _unit(city, unit) if unit else None
        people = await staff_rules.active_staff(session=session, unit=key)
        staff = Table("unit", "role", "user id", "name", "added by", title="Staff")
        for person in sorted(people, key=lambda p: (p.unit is None, p.unit or "", p.role)):
            staff.add_row(
                person.unit or f"(all: {person.role})",  # admins, quality managers
                person.role,
                person.user_id,
                person.display_name or "",
                person.added_by or "",
            )
        invites = Table("unit", "open invite codes", "first expires", "last expires", title="Invite codes")
        valid = await staff_rules.open_invites(session=session, now=now, unit=key)
        for unit_key in [k for k in city.units if key is None or k == key]:
            codes = [i for i in valid if i.unit == unit_key]
            invites.add_row(
                unit_key,
                str(len(codes)),
                _local(city, codes[0].expires_at) if codes else "—",
                _local(city, codes[-1].expires_at) if codes else "—",
            )
        return [staff, invites]

    console = _console()
    for table in _with_db(work):
        console.print(table)


@admin_cli.command("invite")
def invite(
    unit: Annotated[str, typer.Argument(help="the unit key")],
    supervisor: Annotated[bool, typer.Option(help="the code makes a unit head")] = False,
) -> None:
    """Print a one-time invite code (shown this once: only its hash is stored)."""
    from models import Role
    from workflows.city_config import parse_duration
    from workflows.staff import create_invite

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> str:
        code = await create_invite(
            session=session,
            unit=_unit(city, unit),
            role=Role.SUPERVISOR if supervisor else Role.OFFICER,
            created_by="cli",
            now=now,
            valid=parse_duration(city.officers.invite_valid),
        )
        valid = city.officers.invite_valid
        return f"{code}  (one use, valid {valid}; the officer sends /join {code} to the bot)"

    typer.echo(_with_db(work))


# --- pausing -------------------------------------------------------------------------------------


@admin_cli.command("pause")
def pause(
    unit: Annotated[str, typer.Argument(help="the unit key")],
    reason: Annotated[str, typer.Option(help="why (holiday, outage)")] = "",
    until: Annotated[
        str | None,
        typer.Option(help="the pause's last day (YYYY-MM-DD): it ends by itself at 00:00 the next day"),
    ] = None,
) -> None:
    """New tickets of the unit go to its fallback until it is resumed, or until the --until day is over."""
    from workflows.staff import pause_end, set_paused

    end = _day(until) if until else None

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> str:
        key = _unit(city, unit)
        zone = city.city.timezone
        if end is not None and end < now.astimezone(ZoneInfo(zone)).date():
            typer.echo(f"--until {end} has passed", err=True)
            raise typer.Exit(2)
        ends = pause_end(end, zone) if end is not None else None
        await set_paused(session=session, unit=key, paused=True, by="cli", now=now, reason=reason, until=ends)
        fallback = city.units[key].fallback or city.triage_unit
        told = f"{key} paused; new tickets go to {fallback}"
        if end is not None:
            told += f"\nuntil the end of {end}: it resumes by itself at {_local(city, ends)}"
        return told

    typer.echo(_with_db(work))


@admin_cli.command("resume")
def resume(unit: Annotated[str, typer.Argument(help="the unit key")]) -> None:
    """The unit receives its new tickets again."""
    from workflows.staff import set_paused

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> str:
        key = _unit(city, unit)
        await set_paused(session=session, unit=key, paused=False, by="cli", now=now)
        return f"{key} active again"

    typer.echo(_with_db(work))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        typer.echo(f"{text!r} is not a day; write it as YYYY-MM-DD", err=True)
        raise typer.Exit(2) from error


# --- admins --------------------------------------------------------------------------------------


@admin_cli.command("add-admin")
def add_admin(
    user_id: Annotated[str, typer.Argument(help="the person's Telegram user id (numeric)")],
    name: Annotated[str | None, typer.Option(help="a name shown to colleagues")] = None,
) -> None:
    """Make someone an admin; /admin in their private chat with the bot lists what they can do."""
    from workflows.staff import add_admin as make_admin
    from workflows.staff import staff_by_user

    if not user_id.isdigit():
        typer.echo("the user id is a number (Telegram's id of the person, not their @username)", err=True)
        raise typer.Exit(2)

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> str:
        made = await make_admin(session=session, channel="telegram", user_id=user_id, now=now, added_by="cli")
        staff = await staff_by_user(session=session, channel="telegram", user_id=user_id)
        if staff is not None and name:
            staff.display_name = name
        return f"{user_id} is now an admin" if made else f"{user_id} is already an admin"

    typer.echo(_with_db(work))


@admin_cli.command("remove-admin")
def remove_admin(user_id: Annotated[str, typer.Argument(help="the admin's Telegram user id")]) -> None:
    """Take an admin's rights away; never one CIVICBOT_ADMIN_IDS names, never the last one."""
    from bot.settings import Settings
    from workflows.staff import AdminRemoval
    from workflows.staff import remove_admin as unmake_admin

    named = Settings().admins
    messages = {
        AdminRemoval.REMOVED: (0, f"{user_id} is no longer an admin"),
        AdminRemoval.NOT_ADMIN: (1, f"{user_id} is not an admin"),
        AdminRemoval.FROM_SETTINGS: (
            1,
            f"{user_id} is named in CIVICBOT_ADMIN_IDS; take them out of that setting first "
            "(they would be an admin again at the next start)",
        ),
        AdminRemoval.LAST_ADMIN: (1, f"{user_id} is the last admin; add another one first"),
    }

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> AdminRemoval:
        return await unmake_admin(session=session, channel="telegram", user_id=user_id, settings_ids=named)

    code, message = messages[_with_db(work)]
    typer.echo(message, err=code != 0)
    if code:
        raise typer.Exit(code)


@admin_cli.command("login-link")
def login_link(user_id: Annotated[str, typer.Argument(help="the staff member's Telegram user id")]) -> None:
    """Print a one-time login link to the dashboard for a staff member (what /dasbor gives in chat):
    valid 10 minutes, used once; the URL starts with CIVICBOT_PUBLIC_URL."""
    from bot.settings import Settings
    from workflows import web_login
    from workflows.staff import staff_by_user

    base = Settings().dashboard_url

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> str:
        staff = await staff_by_user(session=session, channel="telegram", user_id=user_id)
        if staff is None:
            typer.echo(f"{user_id} is not staff", err=True)
            raise typer.Exit(1)
        token = await web_login.issue_login(session=session, staff=staff, now=now)
        return f"{base}/login/{token}\n(one use, valid until {_local(city, now + web_login.LOGIN_VALID)})"

    typer.echo(_with_db(work))


# --- one ticket ----------------------------------------------------------------------------------


@admin_cli.command("ticket")
def ticket(
    reference: Annotated[str, typer.Argument(help="the ticket's reference, e.g. ADU-2611-7KQ4")],
) -> None:
    """A ticket's summary as on its card (no reporter identity or location) and its whole timeline."""
    from sqlmodel import col, select

    from models import Staff, Ticket, TicketEvent
    from workflows.references import find_reference

    wanted = find_reference(reference)
    if wanted is None:
        typer.echo(f"{reference!r} is not a ticket reference", err=True)
        raise typer.Exit(2)

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> tuple[Table, Table] | None:
        found = (await session.exec(select(Ticket).where(Ticket.reference == wanted))).first()
        if found is None:
            return None
        query = select(TicketEvent).where(TicketEvent.ticket_id == found.id).order_by(col(TicketEvent.id))
        events = list(await session.exec(query))
        ids = {int(a) for e in events if (a := e.actor_id) and a.isdigit() and e.actor_kind not in _NOT_STAFF}
        if found.holder_staff_id:
            ids.add(found.holder_staff_id)
        people = {s.id: s for s in await session.exec(select(Staff).where(col(Staff.id).in_(ids)))}
        return _summary(city, found, people, now), _timeline(city, events, people)

    tables = _with_db(work)
    if tables is None:
        typer.echo(f"no ticket {wanted}", err=True)
        raise typer.Exit(1)
    console = _console()
    for table in tables:
        console.print(table)


_NOT_STAFF = ("citizen", "system")


def _staff_name(people: dict[int | None, Any], staff_id: int | str | None) -> str:
    person = people.get(int(staff_id)) if staff_id is not None and str(staff_id).isdigit() else None
    if person is None:
        return ""
    return f"{person.display_name or 'ID ' + person.user_id} ({person.role})"


def _summary(city: CityConfig, found: Ticket, people: dict[int | None, Any], now: datetime) -> Table:
    category = city.category(found.category)
    unit = city.units.get(found.unit)
    deadline = "—"
    if found.clock and found.due_at is not None:
        deadline = f"{found.clock}: {_local(city, found.due_at)}"
        if found.paused_at is not None:
            deadline += " (paused: waiting for the reporter)"
        elif _as_utc(found.due_at) <= now:
            deadline += " (OVERDUE)"
    description = (
        "(confidential: in chat with /detail)" if found.identity == "confidential" else found.description
    )
    table = Table(show_header=False, title=f"Ticket {found.reference}")
    for label, value in (
        ("category", f"{category.emoji} {found.category} ({category.name.get('en')})"),
        ("unit", f"{found.unit} ({unit.short})" if unit else found.unit),
        ("area", city.areas[found.area].name if found.area in city.areas else "—"),
        ("status", found.status),
        ("holder", _staff_name(people, found.holder_staff_id) or "—"),
        ("deadline", deadline),
        ("reporter", found.identity + (f", {found.reporters} reporters" if found.reporters > 1 else "")),
        ("filed", _local(city, found.created_at)),
        ("accepted", _local(city, found.accepted_at)),
        ("resolved", _local(city, found.resolved_at)),
        ("closed", _local(city, found.closed_at)),
        ("reopened", str(found.reopen_count)),
        ("description", description[:500]),
    ):
        table.add_row(label, value)
    return table


def _timeline(city: CityConfig, events: Sequence[TicketEvent], people: dict[int | None, Any]) -> Table:
    """Every event; the notes of staff only (a citizen's words may hold personal data)."""
    table = Table("when", "who", "action", "status", "note", title="Timeline")
    for event in events:
        who = event.actor_kind
        if event.actor_kind not in _NOT_STAFF:
            who = _staff_name(people, event.actor_id) or event.actor_kind
        change = f"{event.from_status} → {event.to_status}" if event.from_status and event.to_status else ""
        change = change or (event.to_status or "")
        moved = event.details.get("to_unit") if event.details else None
        note = "" if event.actor_kind == "citizen" else (event.note or "")
        table.add_row(
            _local(city, event.at),
            who,
            event.action + (f" → {moved}" if moved else ""),
            change,
            note[:200],
        )
    return table


def _as_utc(moment: datetime) -> datetime:
    from workflows.clock import as_utc

    return as_utc(moment)


# --- the ticket export ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportScope:
    since: datetime | None  # tickets filed from then on; all of them without it
    now: datetime  # what "overdue" is measured against for tickets still open
    zone: ZoneInfo


@admin_cli.command("export-tickets")
def export_tickets(
    path: Annotated[Path, typer.Argument(help="the CSV file to write", dir_okay=False)],
    since: Annotated[
        str | None, typer.Option(help="only tickets filed on or after this day (YYYY-MM-DD)")
    ] = None,
    batch: Annotated[int, typer.Option(help="tickets read per query", min=1, hidden=True)] = EXPORT_BATCH,
) -> None:
    """Every ticket as a CSV row without personal data: reference, category, unit, area, status,
    created, first response, resolved, SLA met (yes, no, or empty while open and in time)."""
    day = _day(since) if since else None

    async def work(db: Database, city: CityConfig, now: datetime) -> int:
        zone = ZoneInfo(city.city.timezone)
        start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC) if day else None
        scope = ExportScope(since=start, now=now, zone=zone)
        async with db.sessions() as session:
            total = await _count_tickets(session, scope)
        partial = path.with_name(path.name + ".partial")
        written = 0
        with (
            partial.open("w", newline="", encoding="utf-8") as out,
            Progress(
                TextColumn("exporting tickets"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            ) as progress,
        ):
            task = progress.add_task("export", total=total)
            writer = csv.writer(out)
            writer.writerow(EXPORT_COLUMNS)
            async for rows in export_rows(db, scope, batch=batch):
                writer.writerows(rows)
                written += len(rows)
                progress.advance(task, len(rows))
        partial.replace(path)  # a file at PATH is always a whole export
        return written

    written = _with_database(work)
    typer.echo(f"{written} tickets written to {path}")


def _with_database(work: Callable[[Database, CityConfig, datetime], Awaitable[T]]) -> T:
    """Run work with the database itself (its own short sessions), the city and the time."""
    from bot.cli import _with_database as run

    return run(work)


def _tickets_table() -> SqlTable:
    from models import Ticket

    table: SqlTable = Ticket.__table__  # type: ignore[attr-defined]
    return table


def _export_filter(query: Any, scope: ExportScope) -> Any:
    created = _tickets_table().c.created_at
    return query.where(created >= scope.since) if scope.since is not None else query


async def _count_tickets(session: AsyncSession, scope: ExportScope) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    query = _export_filter(select(func.count()).select_from(_tickets_table()), scope)
    return int((await session.exec(query)).one())


_EXPORT_READS = (
    *("id", "reference", "category", "unit", "area", "status", "created_at", "resolved_at"),
    *("clock", "due_at", "paused_at"),  # whether a ticket still open is overdue now
)


async def export_rows(db: Database, scope: ExportScope, *, batch: int) -> AsyncIterator[list[list[str]]]:
    """The export's rows, a batch at a time, in filing order (by id: a new ticket during the export
    lands after the last batch instead of shifting the pages). Only the columns the export needs
    are read, as plain rows: the description, the address and the reporter never leave the
    database, and no ORM object is built per ticket."""
    from sqlalchemy import select

    table = _tickets_table()
    columns = [table.c[name] for name in _EXPORT_READS]
    after = 0
    while True:
        async with db.sessions() as session:
            connection = await session.connection()
            query = _export_filter(select(*columns).where(table.c.id > after), scope)
            tickets = (await connection.execute(query.order_by(table.c.id).limit(batch))).all()
            if not tickets:
                return
            ids = [t.id for t in tickets]
            responses = await _first_responses(session, ids)
            missed = await _deadlines_missed(session, ids)
        yield [_export_row(t, scope, responses.get(t.id), t.id in missed) for t in tickets]
        after = ids[-1]


async def _first_responses(session: AsyncSession, ids: list[int]) -> dict[int, datetime]:
    """When staff first acted on each ticket (accepted, asked, transferred, rejected, resolved)."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from models import Role, TicketEvent

    query = (
        select(TicketEvent.ticket_id, func.min(TicketEvent.at))
        .where(col(TicketEvent.ticket_id).in_(ids), col(TicketEvent.actor_kind).in_([r.value for r in Role]))
        .group_by(col(TicketEvent.ticket_id))
    )
    return {ticket_id: at for ticket_id, at in (await session.exec(query)).all()}


async def _deadlines_missed(session: AsyncSession, ids: list[int]) -> set[int]:
    """Tickets a deadline passed on: the SLA sweep records the escalation due at 100% of a clock's
    target (or later) as an `escalated` event with that fraction."""
    from sqlmodel import col, select

    from models import TicketEvent

    query = select(TicketEvent.ticket_id, TicketEvent.details).where(
        col(TicketEvent.ticket_id).in_(ids), TicketEvent.action == "escalated"
    )
    return {
        ticket_id
        for ticket_id, details in (await session.exec(query)).all()
        if float((details or {}).get("fraction") or 0) >= 1
    }


def _export_row(ticket: Any, scope: ExportScope, responded: datetime | None, missed: bool) -> list[str]:
    from models import OPEN_STATUSES

    overdue_now = (
        ticket.clock is not None
        and ticket.due_at is not None
        and ticket.paused_at is None
        and _as_utc(ticket.due_at) <= scope.now
    )
    if missed or overdue_now:
        met = "no"
    else:
        met = "" if ticket.status in {s.value for s in OPEN_STATUSES} else "yes"
    return [
        ticket.reference,
        ticket.category,
        ticket.unit,
        ticket.area or "",
        ticket.status,
        _iso(ticket.created_at, scope.zone),
        _iso(responded, scope.zone),
        _iso(ticket.resolved_at, scope.zone),
        met,
    ]


def _iso(moment: datetime | None, zone: ZoneInfo) -> str:
    return _as_utc(moment).astimezone(zone).isoformat(timespec="seconds") if moment is not None else ""
