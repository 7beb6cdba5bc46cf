"""Liveness and readiness, for a load balancer, systemd or Kubernetes (served by bot/web.py).

- `GET /healthz`: 200 `ok` while the process runs (its event loop answers);
- `GET /readyz`: 200 `{"status": "ready"}` when the channels are set up and the database answers
  `SELECT 1` within a second; else 503 `{"status": "unavailable", "reason": ...}`, the reason one
  of `starting`, `shutting down`, `database did not answer within 1 s`,
  `database unavailable (<error type>)`.

A load balancer sends webhooks only to instances that are ready, and stops as soon as one begins
shutting down (it says so before it stops taking requests).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import text

from models.db import Database

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
DATABASE_TIMEOUT = 1.0  # seconds


class Health:
    """What readiness depends on: the run sets `ready` once its channels are set up, `stopping` at
    shutdown; the database is asked at every check."""

    def __init__(self, db: Database, *, timeout: float = DATABASE_TIMEOUT) -> None:
        self.db = db
        self.timeout = timeout
        self.ready = False
        self.stopping = False

    async def check(self) -> str | None:
        """None when ready, else why not (short, no secrets)."""
        if self.stopping:
            return "shutting down"
        if not self.ready:
            return "starting"
        try:
            async with asyncio.timeout(self.timeout), self.db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except TimeoutError:
            log.warning("readiness: the database did not answer within %g s", self.timeout)
            return f"database did not answer within {self.timeout:g} s"
        except Exception as error:
            log.warning("readiness: the database failed: %s", error)
            return f"database unavailable ({type(error).__name__})"
        return None


def add_health_routes(app: web.Application, health: Health) -> None:
    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(request: web.Request) -> web.Response:
        reason = await health.check()
        if reason is None:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "unavailable", "reason": reason}, status=503)

    app.router.add_get(HEALTH_PATH, healthz)
    app.router.add_get(READY_PATH, readyz)
