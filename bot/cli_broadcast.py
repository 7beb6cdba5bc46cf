"""`civicbot broadcast …`: announcements from a terminal: send (with the recipient count and a
confirmation), list, status (live with --follow) and cancel.

The CLI only writes the broadcast to the database; the running bot's broadcast runner picks it up
(bot/broadcast_runner.py) and sends it. A photo given as a file is kept in the media store, from where
each channel uploads it. Output is in English, like the rest of the CLI.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from handlers.messages import MediaRef
    from models import Broadcast
    from workflows.broadcasts import Progress as Numbers
    from workflows.city_config import CityConfig

T = TypeVar("T")

broadcast_cli = typer.Typer(
    no_args_is_help=True,
    help="Announcements to citizens (everyone, by channel, language, area or category) or a unit's officers.",
)

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
TIME_FORMAT = "%Y-%m-%d %H:%M"
SEGMENT_HELP = (
    "everyone | channel:telegram | channel:whatsapp | language:en | area:KEY | category:KEY | unit:KEY"
)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _with_db(work: Callable[[AsyncSession, CityConfig, datetime], Awaitable[T]]) -> T:
    from bot.cli import _with_db as with_db

    return with_db(work)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _local(city: CityConfig, moment: datetime | None) -> str:
    if moment is None:
        return "—"
    from workflows.clock import as_utc

    local = as_utc(moment).astimezone(ZoneInfo(city.city.timezone))
    return f"{local:{TIME_FORMAT}} {local.tzname()}"


async def _numbers(session: AsyncSession, broadcast: Broadcast, city: CityConfig, now: datetime) -> Numbers:
    from bot.broadcast_runner import bulk_rates
    from bot.settings import Settings
    from workflows.broadcasts import WhatsAppLimits, broadcast_progress, segment_of

    settings = Settings()
    rates = bulk_rates(settings)
    return await broadcast_progress(
        session=session,
        broadcast=broadcast,
        now=now,
        rate=sum(rates.get(channel, 1.0) for channel in segment_of(broadcast).channels),
        city=city,
        whatsapp=WhatsAppLimits.of(city.whatsapp, settings.whatsapp_tier),
    )


def _describe(broadcast: Broadcast, city: CityConfig) -> str:
    from handlers.i18n import Translator
    from locales import load_catalogues
    from workflows.broadcasts import segment_of
    from workflows.reply_window import plain

    texts = Translator(load_catalogues(), overrides=city.texts)
    return plain(segment_of(broadcast).describe(texts, "en", city))


def _send_at(at: str | None, city: CityConfig, now: datetime) -> datetime | None:
    if at is None:
        return None
    try:
        local = datetime.strptime(at.strip(), TIME_FORMAT)  # noqa: DTZ007 - the city's time, set below
    except ValueError as error:
        raise _fail(f"--at {at!r} is not a time like 2026-12-05 09:00 ({city.city.timezone})") from error
    moment = local.replace(tzinfo=ZoneInfo(city.city.timezone))
    if moment <= now:
        raise _fail(f"--at {at!r} has passed already ({city.city.timezone}); leave it out to send now")
    return moment


def _store_photo(path: Path) -> MediaRef:
    """Keep the file in the media store (as the console's): each channel uploads it from there."""
    from bot.media_store import MediaStore
    from bot.settings import Settings
    from handlers.messages import Channel, MediaRef

    if not path.is_file():
        raise _fail(f"{path} is not a file")
    if path.suffix.lower() not in PHOTO_SUFFIXES:
        raise _fail(f"{path.name}: a photo must be one of {', '.join(PHOTO_SUFFIXES)}")
    data = path.read_bytes()
    file_id = f"broadcast-{hashlib.sha256(data).hexdigest()[:24]}"
    store = MediaStore(Path(Settings().media_dir))
    asyncio.run(store.save(Channel.CONSOLE, file_id, data, path.suffix.lower()))
    return MediaRef(kind="photo", file_id=file_id, channel=Channel.CONSOLE)


@broadcast_cli.command("send")
def send(
    text_id: Annotated[str, typer.Option("--text-id", help="the announcement in Indonesian (plain text)")],
    segment: Annotated[str, typer.Option(help=SEGMENT_HELP)],
    text_en: Annotated[
        str | None, typer.Option("--text-en", help="in English, for citizens who use English")
    ] = None,
    photo: Annotated[
        Path | None, typer.Option(help="a photo (jpg, png, webp); the text is its caption")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help='when, in the city\'s time: "2026-12-05 09:00" (default: now)')
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Show how many people an announcement reaches, ask, and queue it; the running bot sends it."""
    from handlers.i18n import escape
    from workflows.broadcasts import (
        BroadcastError,
        Segment,
        confirm_broadcast,
        count_recipients,
        create_broadcast,
    )

    try:
        chosen = Segment.parse(segment)
    except ValueError as error:
        raise _fail(str(error)) from error
    texts = {"id": escape(text_id.strip())}
    if text_en and text_en.strip():
        texts["en"] = escape(text_en.strip())

    async def preview(
        session: AsyncSession, city: CityConfig, now: datetime
    ) -> tuple[str, dict[str, int], str]:
        try:
            chosen.check(city)
        except BroadcastError as error:
            raise _fail(str(error).split(": ", 1)[-1]) from error
        counts = await count_recipients(session=session, segment=chosen, city=city)
        when = _send_at(at, city, now)
        from handlers.i18n import Translator
        from locales import load_catalogues
        from workflows.reply_window import plain

        described = plain(chosen.describe(Translator(load_catalogues(), overrides=city.texts), "en", city))
        return described, counts, _local(city, when) if when else "now"

    described, counts, when = _with_db(preview)
    by_channel = ", ".join(f"{channel} {n}" for channel, n in counts.items())
    typer.echo(f"Segment:    {described}")
    typer.echo(f"Recipients: {sum(counts.values())} ({by_channel})")
    typer.echo(f"Languages:  {', '.join(texts)}" + (f"; photo {photo.name}" if photo else ""))
    typer.echo(f"Send:       {when}")
    if not yes and not typer.confirm("Send this announcement?", default=False):
        raise _fail("Nothing was sent.", 1)
    media = _store_photo(photo) if photo is not None else None

    async def queue(session: AsyncSession, city: CityConfig, now: datetime) -> str:
        try:
            draft = await create_broadcast(
                session=session,
                created_by="cli",
                texts=texts,
                photo=media,
                segment=chosen,
                send_at=_send_at(at, city, now),
                now=now,
                report_to=None,
            )
            assert draft.id is not None
            broadcast = await confirm_broadcast(session=session, broadcast_id=draft.id, city=city, now=now)
        except BroadcastError as error:
            raise _fail(str(error)) from error
        if broadcast.send_at is not None and broadcast.status == "scheduled":
            start = _local(city, broadcast.send_at)
            return f"broadcast {broadcast.id} scheduled for {start} ({_recipients(broadcast.total)} now)"
        return f"broadcast {broadcast.id} queued for {_recipients(broadcast.total)}; the running bot sends it"

    typer.echo(_with_db(queue))


@broadcast_cli.command("list")
def list_broadcasts(
    limit: Annotated[int, typer.Option(help="how many, newest first")] = 20,
) -> None:
    """Recent broadcasts with their progress."""
    from models.broadcast_queries import recent_broadcasts

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        for broadcast in await recent_broadcasts(session=session, limit=limit):
            numbers = await _numbers(session, broadcast, city, now)
            rows.append(
                (
                    str(broadcast.id),
                    broadcast.status,
                    _describe(broadcast, city),
                    _local(city, broadcast.send_at or broadcast.started_at or broadcast.created_at),
                    str(numbers.total),
                    str(numbers.sent),
                    str(numbers.failed),
                    str(numbers.remaining),
                )
            )
        return rows

    rows = _with_db(work)
    if not rows:
        typer.echo("No broadcasts yet.")
        return
    table = Table("id", "status", "segment", "when", "total", "sent", "failed", "remaining")
    for row in rows:
        table.add_row(*row)
    _console().print(table)


def _status_lines(broadcast: Broadcast, numbers: Numbers, city: CityConfig) -> list[str]:
    lines = [
        f"broadcast {broadcast.id}: {broadcast.status} — {_describe(broadcast, city)}",
        f"total {numbers.total}, sent {numbers.sent}, failed {numbers.failed}, remaining {numbers.remaining}",
    ]
    if broadcast.send_at is not None and broadcast.status == "scheduled":
        lines.append(f"starts {_local(city, broadcast.send_at)}")
    if numbers.expected_end is not None:
        lines.append(f"expected to finish {_local(city, numbers.expected_end)}")
    if numbers.carried_over:
        start = _local(city, numbers.carried_until)
        lines.append(f"WhatsApp tier: {numbers.carried_over} carried over, sent from {start}")
    if numbers.waiting:
        lines.append(f"{numbers.waiting} WhatsApp copies wait until the person writes (no template)")
    if numbers.withdrawn:
        lines.append(f"{numbers.withdrawn} not sent (cancelled by {broadcast.cancelled_by})")
    if numbers.skipped and broadcast.status != "sending":
        lines.append(f"{numbers.skipped} skipped (opted out or unreachable since the confirmation)")
    return lines


def _read(
    broadcast_id: int,
) -> Callable[[AsyncSession, CityConfig, datetime], Awaitable[tuple[Broadcast, Numbers, CityConfig]]]:
    from models import Broadcast

    async def work(
        session: AsyncSession, city: CityConfig, now: datetime
    ) -> tuple[Broadcast, Numbers, CityConfig]:
        broadcast = await session.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise _fail(f"there is no broadcast {broadcast_id}", 1)
        return broadcast, await _numbers(session, broadcast, city, now), city

    return work


@broadcast_cli.command("status")
def status(
    broadcast_id: Annotated[int, typer.Argument(help="the broadcast's id (civicbot broadcast list)")],
    follow: Annotated[bool, typer.Option("--follow", help="a live progress bar until it ends")] = False,
    every: Annotated[float, typer.Option(help="with --follow: seconds between looks")] = 2.0,
) -> None:
    """Where a broadcast stands (read from the database)."""
    broadcast, numbers, city = _with_db(_read(broadcast_id))
    if follow:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[extra]}"),
        )
        with Progress(*columns, console=_console(), transient=False) as bar:
            task = bar.add_task(f"broadcast {broadcast_id}", total=numbers.total, extra="")
            while True:
                done = numbers.sent + numbers.failed
                extra = f"failed {numbers.failed}" + (
                    f", carried over {numbers.carried_over}" if numbers.carried_over else ""
                )
                bar.update(task, total=numbers.total, completed=done, extra=extra)
                if broadcast.status in ("done", "cancelled"):
                    break
                time.sleep(every)
                broadcast, numbers, city = _with_db(_read(broadcast_id))
    for line in _status_lines(broadcast, numbers, city):
        typer.echo(line)


@broadcast_cli.command("cancel")
def cancel(broadcast_id: Annotated[int, typer.Argument(help="the broadcast's id")]) -> None:
    """Stop a broadcast: copies not sent yet are withdrawn; what was sent stays sent."""
    from workflows.broadcasts import BroadcastError, cancel_broadcast

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> str:
        try:
            broadcast = await cancel_broadcast(session=session, broadcast_id=broadcast_id, by="cli", now=now)
        except BroadcastError as error:
            raise _fail(str(error).split(": ", 1)[-1], 1) from error
        numbers = await _numbers(session, broadcast, city, now)
        return f"broadcast {broadcast_id} cancelled: {numbers.sent} sent, {numbers.withdrawn} not sent"

    typer.echo(_with_db(work))


def _recipients(count: int) -> str:
    return f"{count} recipient" if count == 1 else f"{count} recipients"
