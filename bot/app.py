"""Wiring: settings → configuration, database, translator, classifier → pipeline, sender, channels."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.broadcast_runner import BroadcastRunner
from bot.channels.base import ChannelAdapter
from bot.channels.console import ConsoleAdapter, read_lines
from bot.channels.telegram import TelegramAdapter, make_bot
from bot.channels.whatsapp import WhatsAppAdapter
from bot.channels.whatsapp_client import GraphClient
from bot.command_menus import StaffMenus
from bot.media_store import MediaStore
from bot.rate_limits import RateLimits, SteadyClock
from bot.sender import OutboxSender
from bot.settings import Settings
from bot.webhooks import WHATSAPP_PATH, whatsapp_app
from handlers import alerts, survey_sweep, unit_resume
from handlers.context import Deps
from handlers.i18n import Translator
from handlers.messages import Channel, MediaRef
from handlers.pipeline import Pipeline
from locales import load_catalogues
from models.db import Database
from models.queries import dedupe_horizon, forget_processed_before
from workflows.city_config import CityConfig, load_city_config, sample_config_path
from workflows.classify import Classifier
from workflows.clock import Clock, FileClock, SystemClock
from workflows.reply_window import ReplyWindow
from workflows.routing import load_area_map
from workflows.staff import ensure_admins

log = logging.getLogger(__name__)


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

    def add_channel(self, adapter: ChannelAdapter) -> None:
        self.sender.adapters[adapter.channel.value] = adapter

    def start_background(self) -> None:
        """The outbox sender and the periodic housekeeping."""
        self.tasks.append(asyncio.create_task(self.sender.run(), name="outbox-sender"))
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.scheduler.add_job(
            self.housekeeping, "interval", hours=6, id="housekeeping", max_instances=1, coalesce=True
        )
        periodic = (
            (self.sla_sweep, self.settings.sla_sweep_seconds, "sla-sweep"),
            (self.survey_sweep, self.settings.sla_sweep_seconds, "survey-sweep"),
            (self.unit_resume_sweep, self.settings.sla_sweep_seconds, "unit-resume"),
            (self.broadcast_round, self.settings.broadcast_seconds, "broadcasts"),
        )
        for job, seconds, name in periodic:
            self.scheduler.add_job(job, "interval", seconds=seconds, id=name, max_instances=1, coalesce=True)
        if self.city.digest.enabled:
            # checked every few minutes: the digest goes once its time has come on a working day,
            # by whichever instance gets there first (job_runs), also after a restart
            self.scheduler.add_job(
                self.daily_digest, "interval", minutes=5, id="digest", max_instances=1, coalesce=True
            )
        self.scheduler.start()

    async def sla_sweep(self) -> int:
        """Reminders and escalations that are due (handlers/alerts.py)."""
        try:
            sent = await alerts.sweep(self.db, self.deps)
        except Exception:
            log.exception("SLA sweep failed; the next one retries")
            return 0
        if sent:
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

    async def serve_whatsapp(
        self, fetch_foreign: Callable[[MediaRef], Awaitable[Path]] | None = None
    ) -> Callable[[], Awaitable[None]]:
        """The WhatsApp channel: its adapter, and the webhook server (until the returned stop).

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
            handle=self.pipeline.handle,
            media_dir=Path(settings.media_dir),
            fetch_foreign=fetch_foreign,
            list_button_labels={lang: texts.plain("whatsapp.list_button", lang) for lang in texts.languages},
            location_hints={lang: texts("whatsapp.location_hint", lang) for lang in texts.languages},
            default_language=texts.default_language,
        )
        self.add_channel(adapter)
        web_app = whatsapp_app(
            verify_token=settings.whatsapp_verify_token or "",
            app_secret=settings.whatsapp_app_secret or "",
            handle=adapter.on_webhook,
        )
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        await site.start()
        log.info(
            "WhatsApp webhooks on http://%s:%s%s", settings.webhook_host, settings.webhook_port, WHATSAPP_PATH
        )

        async def stop() -> None:
            await runner.cleanup()
            await client.close()

        return stop

    async def drain(self, passes: int = 100) -> None:
        """Send what is due until nothing is left (used before a console session ends)."""
        for _ in range(passes):
            if not await self.sender.send_due():
                return

    async def close(self) -> None:
        self.sender.stop()
        if self.scheduler is not None and self.scheduler.running:
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
    deps = Deps(city=city, texts=texts, clock=clock, classifier=Classifier(city), areas=areas)
    if settings.admins:
        async with db.transaction() as session:
            await ensure_admins(
                session=session, channel="telegram", user_ids=settings.admins, now=clock.now()
            )
    sender = OutboxSender(
        db,
        {},
        deps.clock,
        windows={Channel.WHATSAPP.value: ReplyWindow.from_config(city.whatsapp)},
        poll_seconds=settings.outbox_poll_seconds,
        limits=RateLimits.from_settings(settings),
        rate_clock=SteadyClock(),  # the platforms count real seconds, whatever a demo's clock says
        lease_seconds=settings.outbox_lease_seconds,
        concurrency=settings.outbox_concurrency,
    )
    pipeline = Pipeline(db, deps, on_queued=sender.wake)
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


async def run_telegram(settings: Settings, clock: Clock | None = None) -> None:
    """Long-poll Telegram until stopped (SIGINT/SIGTERM)."""
    assert settings.telegram_bot_token
    app = await build_app(settings, clock)
    bot = make_bot(settings.telegram_bot_token, settings.telegram_api_base)
    adapter = TelegramAdapter(bot, media=MediaStore(Path(settings.media_dir)))
    app.add_channel(adapter)
    stop_whatsapp = await app.serve_whatsapp(adapter.fetch_media) if settings.whatsapp else None
    app.start_background()
    try:
        me = await bot.get_me()
        log.info("polling as @%s via %s", me.username, settings.telegram_api_base)
        await bot.delete_webhook(drop_pending_updates=False)
        describe = lambda command, lang: app.deps.texts.plain(f"commands.{command}", lang)  # noqa: E731
        await adapter.set_commands(describe)
        menus = StaffMenus(app.db, adapter, describe)  # staff's and groups' own menus (bot/command_menus.py)
        await menus.start()
        assert app.scheduler is not None
        app.scheduler.add_job(
            menus.refresh, "interval", seconds=60, id="menus", max_instances=1, coalesce=True
        )
        dispatcher = adapter.dispatcher(app.pipeline.handle)
        await dispatcher.start_polling(
            bot,
            polling_timeout=settings.telegram_polling_timeout,
            allowed_updates=["message", "edited_message", "callback_query"],  # group service messages too
            close_bot_session=True,
        )
    finally:
        if stop_whatsapp is not None:
            await stop_whatsapp()
        await app.close()
        await bot.session.close()


async def run_whatsapp(settings: Settings, clock: Clock | None = None) -> None:
    """WhatsApp alone (no Telegram token): serve webhooks until SIGINT/SIGTERM."""
    app = await build_app(settings, clock)
    stop_whatsapp = await app.serve_whatsapp()
    app.start_background()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        await stop_whatsapp()
        await app.close()


async def run_console(settings: Settings, clock: Clock | None = None) -> None:
    """A conversation in this terminal, stored like any other."""
    app = await build_app(settings, clock)
    adapter = ConsoleAdapter()
    app.add_channel(adapter)
    app.start_background()
    try:
        texts = app.deps.texts
        for language in sorted(texts.languages, key=lambda lang: lang != texts.default_language):
            print(texts("console.banner", language), flush=True)  # the default language first
        await read_lines(adapter, app.pipeline.handle, app.drain)
        await app.drain()
    finally:
        await app.close()
