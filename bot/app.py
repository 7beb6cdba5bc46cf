"""Wiring: settings → configuration, database, translator, classifier → pipeline, sender, channels.

Every run mode stops the same way on SIGTERM or SIGINT (exit code 0): readiness turns 503, updates
stop coming in (polling stopped, the web server closes its socket and answers the requests in
hand), the updates being handled finish, no new scheduled job starts and the running ones finish,
the outbox sender finishes its sends in flight (recorded sent or for retry), then the sessions
close. Messages still queued stay in the outbox for the next start, or another instance. In
webhook mode the webhook is left registered: another instance may be serving it, and one that
starts again registers it anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
import sys
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast
from zoneinfo import ZoneInfo

from aiogram import Dispatcher
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.broadcast_runner import BroadcastRunner
from bot.channels.base import ChannelAdapter
from bot.channels.console import ConsoleAdapter, read_lines
from bot.channels.telegram import TelegramAdapter, make_bot
from bot.channels.whatsapp import WhatsAppAdapter
from bot.channels.whatsapp_client import GraphClient
from bot.command_menus import StaffMenus
from bot.dashboard import dashboard_app
from bot.health import Health
from bot.leases import Leases
from bot.media_store import MediaStore
from bot.metrics import Metrics
from bot.rate_limits import RateLimits, SteadyClock
from bot.sender import OutboxSender
from bot.settings import Settings
from bot.web import WebServer
from handlers import alerts, survey_sweep, unit_resume
from handlers.context import Deps
from handlers.i18n import Translator
from handlers.messages import Inbound, MediaRef
from handlers.pipeline import Pipeline
from locales import load_catalogues
from models.db import Database
from models.queries import dedupe_horizon, forget_processed_before
from workflows.city_config import CityConfig, load_city_config, sample_config_path
from workflows.classify import Classifier
from workflows.clock import Clock, FileClock, SystemClock
from workflows.reply_window import WINDOWED_CHANNELS, ReplyWindow
from workflows.routing import load_area_map
from workflows.staff import ensure_admins

log = logging.getLogger(__name__)

TELEGRAM_UPDATES = ["message", "edited_message", "callback_query"]  # group service messages too
SETTLE_SECONDS = 30.0  # how long a shutdown waits for the updates and jobs in hand


@dataclass
class App:
    settings: Settings
    city: CityConfig
    db: Database
    deps: Deps
    pipeline: Pipeline
    sender: OutboxSender
    broadcasts: BroadcastRunner | None = None  # announcements (bot/broadcast_runner.py)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    scheduler: AsyncIOScheduler | None = None
    metrics: Metrics = field(init=False)  # its own registry (bot/metrics.py)
    health: Health = field(init=False)  # readiness (bot/health.py)
    _jobs: set[asyncio.Task[Any]] = field(init=False, default_factory=set)  # scheduled jobs running
    _handling: int = field(init=False, default=0)  # inbound events in hand
    _idle: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.db, self.sender.counters)
        self.health = Health(self.db)
        self._measured = self.metrics.instrument(self.pipeline.handle)
        self._idle.set()

    def add_channel(self, adapter: ChannelAdapter) -> None:
        self.sender.adapters[adapter.channel.value] = adapter

    async def handle(self, inbound: Inbound) -> bool:
        """What the adapters hand their events to: the pipeline's handle, counted and timed, and
        waited for at shutdown."""
        self._handling += 1
        self._idle.clear()
        try:
            return await self._measured(inbound)
        finally:
            self._handling -= 1
            if not self._handling:
                self._idle.set()

    def web_server(self) -> WebServer:
        """The web server with health, readiness, metrics and the staff dashboard; the channels add
        their webhooks."""
        server = WebServer(self.settings.webhook_host, self.settings.webhook_port, self.health, self.metrics)
        server.add_dashboard(dashboard_app(db=self.db, deps=self.deps, settings=self.settings))
        server.add_transparency(db=self.db, deps=self.deps)  # public figures per unit, if the city wants
        server.add_open311(  # Open311 GeoReport v2 (bot/open311.py)
            db=self.db, deps=self.deps, keys=self.settings.open311_keys, on_queued=self.sender.wake
        )
        return server

    def start_background(self) -> None:
        """The outbox sender and the periodic housekeeping."""
        self.tasks.append(asyncio.create_task(self.sender.run(), name="outbox-sender"))
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.add_job(self.housekeeping, 6 * 3600, "housekeeping")
        periodic = (
            (self.sla_sweep, self.settings.sla_sweep_seconds, "sla-sweep"),
            (self.survey_sweep, self.settings.sla_sweep_seconds, "survey-sweep"),
            (self.unit_resume_sweep, self.settings.sla_sweep_seconds, "unit-resume"),
            (self.broadcast_round, self.settings.broadcast_seconds, "broadcasts"),
        )
        for job, seconds, name in periodic:
            self.add_job(job, seconds, name)
        if self.city.digest.enabled:
            # checked every few minutes: the digest goes once its time has come on a working day,
            # by whichever instance gets there first (job_runs), also after a restart
            self.add_job(self.daily_digest, 300, "digest")
        self.scheduler.start()

    def add_job(self, job: Callable[[], Coroutine[Any, Any, Any]], seconds: float, name: str) -> None:
        """A periodic job (one run at a time), which a shutdown lets finish."""

        async def tracked() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._jobs.add(task)
            try:
                await job()
            finally:
                self._jobs.discard(task)

        assert self.scheduler is not None
        self.scheduler.add_job(tracked, "interval", seconds=seconds, id=name, max_instances=1, coalesce=True)

    async def sla_sweep(self) -> int:
        """Reminders and escalations that are due (handlers/alerts.py)."""
        counts: Counter[str] = Counter()
        try:
            sent = await alerts.sweep(self.db, self.deps, counts)
        except Exception:
            log.exception("SLA sweep failed; the next one retries")
            sent = 0
        # what batches committed before a failure still counts, and its messages are sent now
        self.metrics.count_sla(counts)
        if sent or counts:
            self.sender.wake()
        return sent

    async def survey_sweep(self) -> int:
        """Surveys to send, remind or give up on (handlers/survey_sweep.py)."""
        try:
            done = await survey_sweep.sweep(self.db, self.deps)
        except Exception:
            log.exception("survey sweep failed; the next one retries")
            return 0
        if done:
            self.sender.wake()
        return done

    async def unit_resume_sweep(self) -> int:
        """Units whose pause "until" a day has ended: resumed, their groups told (handlers/unit_resume.py)."""
        try:
            resumed = await unit_resume.sweep(self.db, self.deps)
        except Exception:
            log.exception("unit resume sweep failed; the next one retries")
            return 0
        if resumed:
            self.sender.wake()
        return resumed

    async def broadcast_round(self) -> int:
        """Announcements: start the due ones, queue the next recipients, update the progress."""
        if self.broadcasts is None:
            return 0
        try:
            # one instance at a time expands announcements: WhatsApp's tier is counted once
            if not await self.sender.leases.hold("broadcasts"):
                return 0
            return await self.broadcasts.run_once()
        except Exception:
            log.exception("broadcast round failed; the next one retries")
            return 0

    async def daily_digest(self) -> int:
        now = self.deps.clock.now()
        local = now.astimezone(ZoneInfo(self.city.city.timezone))
        if local.strftime("%H:%M") < self.city.digest.time:
            return 0
        try:
            sent = await alerts.digest(self.db, self.deps)
        except Exception:
            log.exception("digest failed; retried at the next check")
            return 0
        if sent:
            self.sender.wake()
        return sent

    async def housekeeping(self) -> None:
        """Forget dedupe records older than any platform redelivers."""
        async with self.db.transaction() as session:
            await forget_processed_before(session=session, before=dedupe_horizon(self.deps.clock.now()))

    def serve_whatsapp(
        self, server: WebServer, fetch_foreign: Callable[[MediaRef], Awaitable[Path]] | None = None
    ) -> Callable[[], Awaitable[None]]:
        """The WhatsApp channel: its adapter, and its webhook on `server`; returns its closer.

        fetch_foreign: the local file of another platform's media (the Telegram adapter's
        fetch_media); without it, only files already in the media store can be sent."""
        settings = self.settings
        client = GraphClient(
            access_token=settings.whatsapp_access_token or "",
            phone_number_id=settings.whatsapp_phone_number_id or "",
            base_url=settings.whatsapp_api_base,
            api_version=settings.whatsapp_api_version,
        )
        texts = self.deps.texts
        adapter = WhatsAppAdapter(
            client,
            db=self.db,
            handle=self.handle,
            media_dir=Path(settings.media_dir),
            fetch_foreign=fetch_foreign,
            list_button_labels={lang: texts.plain("whatsapp.list_button", lang) for lang in texts.languages},
            location_hints={lang: texts("whatsapp.location_hint", lang) for lang in texts.languages},
            default_language=texts.default_language,
        )
        self.add_channel(adapter)
        server.add_whatsapp(
            verify_token=settings.whatsapp_verify_token or "",
            app_secret=settings.whatsapp_app_secret or "",
            handle=adapter.on_webhook,
        )
        return client.close

    async def drain(self, passes: int = 100) -> None:
        """Send what is due until nothing is left (used before a console session ends)."""
        for _ in range(passes):
            if not await self.sender.send_due():
                return

    async def settle(self) -> None:
        """Wait (up to SETTLE_SECONDS) for the inbound events in hand to be handled."""
        try:
            await asyncio.wait_for(self._idle.wait(), SETTLE_SECONDS)
        except TimeoutError:
            log.warning("shutdown: %d events still in hand after %g s", self._handling, SETTLE_SECONDS)

    async def close(self) -> None:
        """No new jobs, the running ones finish, the sender finishes its sends in flight, then the
        database closes."""
        self.health.stopping = True
        self.sender.stop()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()  # no job starts from now on
            if self._jobs:
                _, late = await asyncio.wait(set(self._jobs), timeout=SETTLE_SECONDS)
                if late:
                    log.warning("shutdown: %d scheduled jobs still running are cancelled", len(late))
            self.scheduler.shutdown(wait=False)
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.db.dispose()


def city_config_path(settings: Settings) -> Path:
    return Path(settings.config_path) if settings.config_path else sample_config_path()


async def build_app(settings: Settings, clock: Clock | None = None) -> App:
    """Everything but the channels; the database is migrated to the newest schema."""
    catalogues = load_catalogues()
    city = load_city_config(city_config_path(settings), catalogues)
    areas = load_area_map(city, city_config_path(settings))
    db = Database(settings.database_url)
    await db.migrate()
    texts = Translator(catalogues, overrides=city.texts)
    if clock is None:
        clock = FileClock(settings.clock_file) if settings.clock_file else SystemClock()
    deps = Deps(
        city=city,
        texts=texts,
        clock=clock,
        classifier=Classifier(city),
        areas=areas,
        dashboard_url=settings.dashboard_url,
    )
    if settings.admins:
        async with db.transaction() as session:
            await ensure_admins(
                session=session, channel="telegram", user_ids=settings.admins, now=clock.now()
            )
    leases = Leases(db, deps.clock, settings.instance or None)  # work one instance does at a time
    sender = OutboxSender(
        db,
        {},
        deps.clock,
        windows={channel: ReplyWindow.from_config(city.whatsapp) for channel in WINDOWED_CHANNELS},
        poll_seconds=settings.outbox_poll_seconds,
        limits=RateLimits.from_settings(settings),
        rate_clock=SteadyClock(),  # the platforms count real seconds, whatever a demo's clock says
        lease_seconds=settings.outbox_lease_seconds,
        concurrency=settings.outbox_concurrency,
        leases=leases,
    )
    pipeline = Pipeline(
        db,
        deps,
        on_queued=sender.wake,
        # an apology the database cannot even queue goes straight through the channel's adapter
        deliver_now=lambda envelope: sender.adapters[envelope.channel.value].deliver(
            envelope.chat_id, envelope.action
        ),
        held_channels=WINDOWED_CHANNELS,  # a message there releases what was held for its chat
    )
    broadcasts = BroadcastRunner.from_settings(db, deps, settings, on_queued=sender.wake)
    return App(
        settings=settings,
        city=city,
        db=db,
        deps=deps,
        pipeline=pipeline,
        sender=sender,
        broadcasts=broadcasts,
    )


def stop_signal() -> asyncio.Event:
    """Set by the first SIGTERM or SIGINT: the run then stops gracefully (see the module's doc)."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()

    def received(signum: signal.Signals) -> None:
        if stopped.is_set():
            log.warning(
                "%s: already stopping, finishing the work in hand (SIGKILL stops at once)", signum.name
            )
            return
        log.info("%s: stopping; finishing the work in hand", signum.name)
        stopped.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, received, signum)
    return stopped


async def _until_stopped(stopped: asyncio.Event, polling: asyncio.Task[None] | None) -> None:
    """Wait for the stop signal, or for polling to end by itself (its error is raised)."""
    waiting = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({waiting} | ({polling} if polling else set()), return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    if polling is not None and polling.done():
        polling.result()


async def _stop_polling(dispatcher: Dispatcher, polling: asyncio.Task[None] | None) -> None:
    """Stop long polling (no update is fetched after it), then let the updates it fetched be handled."""
    if polling is None:
        return
    if not polling.done():
        try:
            await dispatcher.stop_polling()
        except RuntimeError:  # not started yet
            polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
    # aiogram handles each fetched update in a task of its own; they may not have reached us yet
    fetched = set(getattr(dispatcher, "_handle_update_tasks", ()))
    if fetched:
        await asyncio.wait(fetched, timeout=SETTLE_SECONDS)


async def run_telegram(settings: Settings, clock: Clock | None = None) -> None:
    """Telegram by long polling, or by webhook when TELEGRAM_WEBHOOK_URL is set, until SIGINT/SIGTERM.

    The web server runs in both modes: health, readiness and metrics, the Telegram webhook in webhook
    mode, WhatsApp's when configured. In polling mode alone it is optional: a port already taken is
    logged, and the bot runs on without it."""
    assert settings.telegram_bot_token
    stopped = stop_signal()
    app = await build_app(settings, clock)
    bot = make_bot(settings.telegram_bot_token, settings.telegram_api_base)
    adapter = TelegramAdapter(bot, media=MediaStore(Path(settings.media_dir)))
    app.add_channel(adapter)
    server = app.web_server()
    close_whatsapp = app.serve_whatsapp(server, adapter.fetch_media) if settings.whatsapp else None
    dispatcher = adapter.dispatcher(app.handle)
    webhook_url = settings.telegram_webhook_url
    if webhook_url:
        server.add_telegram(
            path=settings.telegram_webhook_path,
            secret_token=settings.telegram_webhook_secret_token,
            dispatcher=dispatcher,
            bot=bot,
        )
    polling: asyncio.Task[None] | None = None
    try:
        await server.start(required=bool(webhook_url or settings.whatsapp))
        app.start_background()
        me = await bot.get_me()
        describe = lambda command, lang: app.deps.texts.plain(f"commands.{command}", lang)  # noqa: E731
        await adapter.set_commands(describe)
        menus = StaffMenus(app.db, adapter, describe)  # staff's and groups' own menus (bot/command_menus.py)
        await menus.start()
        app.add_job(menus.refresh, 60, "menus")
        if webhook_url:
            await bot.set_webhook(
                webhook_url,
                secret_token=settings.telegram_webhook_secret_token,
                allowed_updates=TELEGRAM_UPDATES,
                drop_pending_updates=False,
            )
            log.info("Telegram webhook for @%s at %s", me.username, webhook_url)
        else:
            log.info("polling as @%s via %s", me.username, settings.telegram_api_base)
            await bot.delete_webhook(drop_pending_updates=False)
            polling = asyncio.create_task(
                dispatcher.start_polling(
                    bot,
                    polling_timeout=settings.telegram_polling_timeout,
                    allowed_updates=TELEGRAM_UPDATES,
                    handle_signals=False,  # ours: stop_signal
                    close_bot_session=False,  # the sender may still be finishing its sends
                ),
                name="telegram-polling",
            )
        app.health.ready = True
        await _until_stopped(stopped, polling)
    finally:
        app.health.stopping = True
        await _stop_polling(dispatcher, polling)
        await server.stop()
        await app.settle()
        await app.close()
        if close_whatsapp is not None:
            await close_whatsapp()
        await adapter.settle()
        await bot.session.close()
        log.info("stopped")


async def run_whatsapp(settings: Settings, clock: Clock | None = None) -> None:
    """WhatsApp alone (no Telegram token): serve webhooks until SIGINT/SIGTERM."""
    stopped = stop_signal()
    app = await build_app(settings, clock)
    server = app.web_server()
    close_whatsapp = app.serve_whatsapp(server)
    try:
        await server.start()
        app.start_background()
        app.health.ready = True
        await stopped.wait()
    finally:
        app.health.stopping = True
        await server.stop()
        await app.settle()
        await app.close()
        await close_whatsapp()
        log.info("stopped")


async def run_console(settings: Settings, clock: Clock | None = None) -> None:
    """A conversation in this terminal, stored like any other; ends at the end of input, or at
    SIGINT/SIGTERM once the line in hand is answered."""
    stopped = stop_signal()
    app = await build_app(settings, clock)
    adapter = ConsoleAdapter()
    app.add_channel(adapter)
    server = app.web_server()  # health and the dashboard on CIVICBOT_WEBHOOK_PORT, if it is free
    await server.start(required=False)
    app.start_background()
    stop_reading = threading.Event()
    watcher = asyncio.create_task(_set_when(stopped, stop_reading))
    try:
        texts = app.deps.texts
        for language in sorted(texts.languages, key=lambda lang: lang != texts.default_language):
            print(texts("console.banner", language), flush=True)  # the default language first
        await read_lines(adapter, app.handle, app.drain, stream=_stdin_lines(stop_reading))
        await app.drain()
    finally:
        watcher.cancel()
        await server.stop()
        await app.close()


async def _set_when(stopped: asyncio.Event, flag: threading.Event) -> None:
    await stopped.wait()
    flag.set()


class _StoppableLines:
    """Standard input line by line (read in a thread by read_lines), ending as at the end of input
    once `stop` is set, instead of blocking the shutdown until the next line."""

    def __init__(self, fd: int, stop: threading.Event) -> None:
        self.fd = fd
        self.stop = stop
        self.buffer = b""

    def readline(self) -> str:
        while b"\n" not in self.buffer:
            if self.stop.is_set():
                return ""
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if not ready:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                rest, self.buffer = self.buffer, b""
                return rest.decode("utf-8", "replace")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return (line + b"\n").decode("utf-8", "replace")


def _stdin_lines(stop: threading.Event) -> TextIO:
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.stdin  # not a real file (embedded use): read as it is
    if os.name != "posix":
        return sys.stdin
    return cast(TextIO, _StoppableLines(fd, stop))
