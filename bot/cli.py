"""The `civicbot` command: run the bot, chat in the terminal, classify a text, migrate, check config."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from bot.cli_admin import admin_cli
from bot.cli_broadcast import broadcast_cli
from bot.cli_quality import report_quality
from bot.settings import Settings
from locales import load_catalogues

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from models.db import Database
    from workflows.city_config import CityConfig

T = TypeVar("T")

cli = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="civicbot: a complaint desk for local governments on Telegram and WhatsApp.",
)

NO_TOKEN = """\
TELEGRAM_BOT_TOKEN is not set, so civicbot runs on the local console channel.
To serve Telegram: talk to @BotFather in Telegram, send /newbot, and start again with
    TELEGRAM_BOT_TOKEN=123456:ABC... civicbot run
To try the conversation in this terminal at any time: civicbot chat
"""


def _logging(settings: Settings, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else getattr(logging, settings.log_level.upper(), logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":  # one JSON object a line (bot/log_format.py), warnings too
        from bot.log_format import JsonFormatter

        handler.setFormatter(JsonFormatter())
        logging.captureWarnings(True)
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    # APScheduler logs every run of every job at INFO: several a second with the sweeps
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))


def _settings() -> Settings:
    from workflows.city_config import ConfigError

    settings = Settings()
    try:
        from bot.app import city_config_path
        from workflows.city_config import load_city_config
        from workflows.routing import load_area_map

        path = city_config_path(settings)
        load_area_map(load_city_config(path, load_catalogues()), path)
    except ConfigError as error:
        typer.echo("The city configuration has problems:\n" + str(error), err=True)
        raise typer.Exit(2) from error
    return settings


@cli.command()
def run() -> None:
    """Run the bot: Telegram when TELEGRAM_BOT_TOKEN is set, WhatsApp (webhooks) when its four
    settings are, else the local console."""
    settings = _settings()
    from bot.app import run_console, run_telegram, run_whatsapp

    if not settings.telegram_bot_token and settings.whatsapp:
        _logging(settings)
        asyncio.run(run_whatsapp(settings))
        return
    if not settings.telegram_bot_token:
        typer.echo(NO_TOKEN, err=True)
        _logging(settings, quiet=True)
        asyncio.run(run_console(settings))
        return
    _logging(settings)
    asyncio.run(run_telegram(settings))


@cli.command()
def chat() -> None:
    """Talk to the bot in this terminal, as a citizen would."""
    settings = _settings()
    from bot.app import run_console

    _logging(settings, quiet=True)
    asyncio.run(run_console(settings))


@cli.command()
def classify(text: Annotated[str, typer.Argument(help="a complaint as a citizen would write it")]) -> None:
    """Print how the bot reads a text: language, category, unit, confidence (JSON)."""
    settings = _settings()
    from bot.app import city_config_path
    from workflows.city_config import load_city_config
    from workflows.classify import describe

    city = load_city_config(city_config_path(settings), load_catalogues())
    typer.echo(json.dumps(describe(text, city), ensure_ascii=False))


@cli.command("check-config")
def check_config() -> None:
    """Validate the city configuration and say what it holds."""
    settings = _settings()
    from bot.app import city_config_path
    from workflows.city_config import load_city_config

    path = city_config_path(settings)
    city = load_city_config(path, load_catalogues())
    from workflows.routing import load_area_map

    mapped = len(load_area_map(city, path).keys())
    typer.echo(
        f"{path}: OK — {len(city.units)} units, {len(city.categories)} categories, "
        f"{len(city.areas)} areas ({mapped} with polygons), {len(city.sla_policies)} SLA policies"
    )


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (the bot also does this at start)."""
    settings = Settings()
    from models.db import Database

    async def _run() -> None:
        db = Database(settings.database_url)
        await db.migrate()
        await db.dispose()

    asyncio.run(_run())
    typer.echo("database is up to date")


staff_cli = typer.Typer(no_args_is_help=True, help="Officers, unit heads and admins.")
units_cli = typer.Typer(no_args_is_help=True, help="Units: their groups, pausing and resuming.")
cli.add_typer(staff_cli, name="staff")
cli.add_typer(units_cli, name="units")
cli.add_typer(admin_cli, name="admin")  # bot/cli_admin.py: units, officers, admins, tickets, export
cli.add_typer(broadcast_cli, name="broadcast")  # bot/cli_broadcast.py: announcements


def _with_database(work: Callable[[Database, CityConfig, datetime], Awaitable[T]]) -> T:
    """Run work with the configured database itself (its own short sessions), the city and the time."""
    from bot.app import city_config_path
    from models.db import Database
    from workflows.city_config import load_city_config
    from workflows.clock import FileClock, SystemClock

    settings = _settings()
    city = load_city_config(city_config_path(settings), load_catalogues())
    clock = FileClock(settings.clock_file) if settings.clock_file else SystemClock()

    async def _run() -> T:
        db = Database(settings.database_url)
        await db.migrate()
        try:
            return await work(db, city, clock.now())
        finally:
            await db.dispose()

    return asyncio.run(_run())


def _with_db(work: Callable[[AsyncSession, CityConfig, datetime], Awaitable[T]]) -> T:
    """Run work in one transaction on the configured database and city."""

    async def in_one_transaction(db: Database, city: CityConfig, now: datetime) -> T:
        async with db.transaction() as session:
            return await work(session, city, now)

    return _with_database(in_one_transaction)


def _unit(city: CityConfig, unit: str) -> str:
    if unit not in city.units:
        typer.echo(f"{unit!r} is not a unit; use one of: {', '.join(city.units)}", err=True)
        raise typer.Exit(2)
    return unit


@staff_cli.command("add")
def staff_add(
    user_id: Annotated[str, typer.Argument(help="the person's Telegram user id (numeric)")],
    role: Annotated[str, typer.Option(help="officer, supervisor, admin or quality")] = "officer",
    unit: Annotated[str | None, typer.Option(help="the unit key (not for admins, quality managers)")] = None,
    name: Annotated[str | None, typer.Option(help="a name shown to colleagues")] = None,
) -> None:
    """Make someone staff (or change their role or unit)."""
    from models import Role
    from workflows.staff import add_staff

    if role not in {r.value for r in Role}:
        typer.echo("role must be officer, supervisor or admin, or quality (a quality manager)", err=True)
        raise typer.Exit(2)

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> str:
        if role not in ("admin", "quality") and unit is None:
            typer.echo("--unit is needed for officers and supervisors", err=True)
            raise typer.Exit(2)
        key = _unit(city, unit) if unit else None
        await add_staff(
            session=session,
            channel="telegram",
            user_id=user_id,
            role=Role(role),
            unit=key,
            now=now,
            added_by="cli",
            display_name=name,
        )
        return f"{user_id} is now {role}" + (f" of {key}" if key else "")

    typer.echo(_with_db(work))


@staff_cli.command("remove")
def staff_remove(user_id: Annotated[str, typer.Argument(help="the person's Telegram user id")]) -> None:
    """Take someone's staff rights away (they left the unit); their tickets' history stays."""
    from sqlmodel import select

    from models import Staff

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> str:
        staff = (await session.exec(select(Staff).where(Staff.user_id == user_id))).first()
        if staff is None or not staff.active:
            typer.echo(f"{user_id} is not staff", err=True)
            raise typer.Exit(1)
        staff.active = False
        return f"{user_id} is no longer staff"

    typer.echo(_with_db(work))


@staff_cli.command("list")
def staff_list() -> None:
    """Everyone who is staff, by unit."""
    from sqlmodel import col, select

    from models import Staff

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> list[str]:
        rows = await session.exec(
            select(Staff).where(col(Staff.active)).order_by(col(Staff.unit), col(Staff.role))
        )
        return [f"{s.unit or '-':<14} {s.role:<11} {s.user_id:<14} {s.display_name or ''}" for s in rows]

    lines = _with_db(work)
    typer.echo(f"{'unit':<14} {'role':<11} {'user id':<14} name")
    for line in lines:
        typer.echo(line)


@staff_cli.command("invite")
def staff_invite(
    unit: Annotated[str, typer.Argument(help="the unit key")],
    supervisor: Annotated[bool, typer.Option(help="the code makes a unit head")] = False,
) -> None:
    """Print a one-time invite code; the officer sends /join CODE to the bot (as `admin invite`)."""
    from bot.cli_admin import invite

    invite(unit, supervisor)


@units_cli.command("list")
def units_list() -> None:
    """Every unit with its group, whether it is paused, and its open tickets."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from models import OPEN_STATUSES, Ticket
    from workflows.staff import group_of, paused_units

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> list[str]:
        paused = await paused_units(session=session, now=now)
        counts = dict(
            (
                await session.exec(
                    select(Ticket.unit, func.count())
                    .where(col(Ticket.status).in_([s.value for s in OPEN_STATUSES]))
                    .group_by(col(Ticket.unit))
                )
            ).all()
        )
        lines = []
        for key, unit in city.units.items():
            group = await group_of(session=session, unit=key)
            where = (group.chat_title or group.chat_id or "") if group else "(no group)"
            state = "PAUSED" if key in paused else "active"
            lines.append(f"{key:<14} {state:<7} {counts.get(key, 0):>5}  {where:<28} {unit.short}")
        return lines

    lines = _with_db(work)
    typer.echo(f"{'unit':<14} {'state':<7} {'open':>5}  {'group':<28} name")
    for line in lines:
        typer.echo(line)


@units_cli.command("pause")
def units_pause(
    unit: Annotated[str, typer.Argument(help="the unit key")],
    reason: Annotated[str, typer.Option(help="why (holiday, outage)")] = "",
    until: Annotated[
        str | None,
        typer.Option(help="the pause's last day (YYYY-MM-DD): it ends by itself at 00:00 the next day"),
    ] = None,
) -> None:
    """New tickets of the unit go to its fallback until it is resumed or the --until day is over
    (as `admin pause`)."""
    from bot.cli_admin import pause

    pause(unit, reason, until)


@units_cli.command("resume")
def units_resume(unit: Annotated[str, typer.Argument(help="the unit key")]) -> None:
    """The unit receives its new tickets again (as `admin resume`)."""
    from bot.cli_admin import resume

    resume(unit)


report_cli = typer.Typer(no_args_is_help=True, help="Reports: the public satisfaction index (SKM).")
cli.add_typer(report_cli, name="report")
report_cli.command("quality")(report_quality)  # bot/cli_quality.py: the quality figures


def check_report_options(*, period: str, fmt: str, formats: tuple[str, ...], lang: str) -> None:
    """A report's --format, --lang and --period, or exit 2 saying what to write."""
    from workflows.city_config import LANGUAGES
    from workflows.satisfaction import Period

    if fmt not in formats:
        typer.echo(f"format {fmt!r} is not known; use one of: {', '.join(formats)}", err=True)
        raise typer.Exit(2)
    if lang not in LANGUAGES:
        typer.echo(f"language {lang!r} is not served; use one of: {', '.join(LANGUAGES)}", err=True)
        raise typer.Exit(2)
    try:
        Period.parse(period, "UTC")  # the form only; the city's time zone is applied by the report
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error


@report_cli.command("satisfaction")
def report_satisfaction(
    period: Annotated[str, typer.Option(help="a month 2026-11, a quarter 2026-Q4 or a year 2026")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    lang: Annotated[str, typer.Option(help="the language of names and headers: id or en")] = "id",
) -> None:
    """The satisfaction index (SKM) of a period per unit, per category and in total; no identities."""
    from bot.reports import FORMATS, render
    from handlers.i18n import Translator
    from workflows.satisfaction import Period, satisfaction_report

    check_report_options(period=period, fmt=fmt, formats=FORMATS, lang=lang)

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> str:
        report = await satisfaction_report(
            session=session, city=city, period=Period.parse(period, city.city.timezone), language=lang
        )
        texts = Translator(load_catalogues(), overrides=city.texts) if fmt == "table" else None
        return render(report, fmt, texts)  # CSV and JSON use machine keys: no catalogue needed

    typer.echo(_with_db(work))


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
