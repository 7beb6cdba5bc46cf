"""The one web server of a running bot, on CIVICBOT_WEBHOOK_HOST:CIVICBOT_WEBHOOK_PORT.

| path                             | when                     | what                                 |
|----------------------------------|--------------------------|--------------------------------------|
| `/healthz`, `/readyz`            | always                   | liveness, readiness (bot/health.py)  |
| `/metrics`                       | always                   | Prometheus metrics (bot/metrics.py)  |
| `/webhooks/whatsapp`             | WhatsApp configured      | Meta's webhooks (bot/webhooks.py)    |
| the path of TELEGRAM_WEBHOOK_URL | Telegram in webhook mode | Telegram's updates (bot/webhooks.py) |
| `/open311/v2/…`                  | always                   | Open311 API (bot/open311.py)         |
| `/dashboard/…`                   | always (bot/app.py)      | the staff dashboard (bot/dashboard)  |
| `/transparansi`, `/transparency` | the city enables it      | public figures (transparency.py)     |

Stopping closes the listening socket first (no new requests), then lets the requests in hand finish
(up to SHUTDOWN_SECONDS): a webhook being handled is answered before the process goes on to stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from aiogram import Bot, Dispatcher
from aiohttp import web

from bot.dashboard.keys import MOUNT
from bot.dashboard.transparency import PATHS as TRANSPARENCY_PATHS
from bot.dashboard.transparency import add_transparency_routes
from bot.health import HEALTH_PATH, READY_PATH, Health, add_health_routes
from bot.metrics import Metrics
from bot.open311 import PREFIX as OPEN311_PREFIX
from bot.open311 import Open311Api
from bot.webhooks import MAX_BODY_BYTES, WHATSAPP_PATH, Handler, add_telegram_route, add_whatsapp_routes
from handlers.context import Deps
from models.db import Database

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
DASHBOARD_PATH = MOUNT  # the staff dashboard's sub-application
SHUTDOWN_SECONDS = 30.0
RESERVED = frozenset({HEALTH_PATH, READY_PATH, METRICS_PATH, WHATSAPP_PATH})


class WebServer:
    """Routes are added before start; `start(required=False)` only logs when the port is taken."""

    def __init__(self, host: str, port: int, health: Health, metrics: Metrics) -> None:
        self.host = host
        self.port = port
        self.health = health
        self.metrics = metrics
        self.app = web.Application(client_max_size=MAX_BODY_BYTES)
        add_health_routes(self.app, health)
        self.app.router.add_get(METRICS_PATH, self._metrics)
        self.paths: list[str] = [HEALTH_PATH, READY_PATH, METRICS_PATH]
        self._runner: web.AppRunner | None = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = await self.metrics.render(request.headers.get("Accept"))
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    def add_whatsapp(self, *, verify_token: str, app_secret: str, handle: Handler) -> None:
        add_whatsapp_routes(
            self.app,
            verify_token=verify_token,
            app_secret=app_secret,
            handle=handle,
            refused=self.metrics.refusal("whatsapp"),
        )
        self.paths.append(WHATSAPP_PATH)

    def add_telegram(self, *, path: str, secret_token: str, dispatcher: Dispatcher, bot: Bot) -> None:
        if path in RESERVED:
            raise ValueError(f"TELEGRAM_WEBHOOK_URL's path {path} is taken by another endpoint")
        add_telegram_route(
            self.app,
            path=path,
            secret_token=secret_token,
            dispatcher=dispatcher,
            bot=bot,
            refused=self.metrics.refusal("telegram"),
        )
        self.paths.append(path)

    def add_dashboard(self, dashboard: web.Application) -> None:
        """The staff dashboard (bot/dashboard/app.py dashboard_app) at /dashboard/; /dashboard leads there."""
        self.app.router.add_get(DASHBOARD_PATH, self._to_dashboard)  # before the sub-application's prefix
        self.app.add_subapp(DASHBOARD_PATH, dashboard)
        self.paths.append(DASHBOARD_PATH + "/")

    async def _to_dashboard(self, request: web.Request) -> web.Response:
        return web.Response(status=301, headers={"Location": DASHBOARD_PATH + "/"})

    def add_transparency(self, *, db: Database, deps: Deps) -> None:
        """The public transparency page at /transparansi and /transparency (no log-in)."""
        add_transparency_routes(self.app, db=db, deps=deps)
        self.paths.extend(TRANSPARENCY_PATHS)

    def add_open311(
        self, *, db: Database, deps: Deps, keys: Mapping[str, str], on_queued: Callable[[], None]
    ) -> None:
        """The Open311 GeoReport v2 API at /open311/v2/ (bot/open311.py); `keys`: {name: api key}."""
        Open311Api(db, deps, keys, on_queued=on_queued).add_routes(self.app, OPEN311_PREFIX)
        self.paths.append(f"{OPEN311_PREFIX}/")

    async def start(self, *, required: bool = True) -> bool:
        """Listen; False (logged) when not required and the address cannot be bound."""
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as error:
            await runner.cleanup()
            if required:
                raise
            log.error(
                "health and metrics not served: cannot listen on %s:%s (%s); set CIVICBOT_WEBHOOK_PORT",
                self.host,
                self.port,
                error.strerror or error,
            )
            return False
        self._runner = runner
        log.info("serving %s on http://%s:%s", ", ".join(self.paths), self.host, self.bound_port)
        return True

    @property
    def bound_port(self) -> int:
        """The port listened on (the one the system chose when CIVICBOT_WEBHOOK_PORT is 0)."""
        if self._runner is not None:
            for address in self._runner.addresses:
                if isinstance(address, tuple) and len(address) >= 2:
                    return int(address[1])
        return self.port

    async def stop(self) -> None:
        """Stop taking requests and let those in hand finish."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
