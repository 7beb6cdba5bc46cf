"""Dashboard pages benchmark: the overview, the report and the exports over HTTP on 50,000 tickets.

Seeds the tickets of benchmarks/quality.py (a year of 2026 in the sample city), logs a quality
manager in, and times whole requests through the real application (aiohttp test server, log-in
middleware, figures, templates): the median of 5 for the overview of a month, a quarter and a year,
the monthly report, and the CSV exports of the month.

    .venv/bin/python -m benchmarks.dashboard_pages                 # 50,000 tickets
    .venv/bin/python -m benchmarks.dashboard_pages --tickets 200000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from benchmarks.quality import NOW, seed
from bot.dashboard import dashboard_app
from bot.dashboard.pages import register
from bot.health import Health
from bot.metrics import Metrics
from bot.settings import Settings
from bot.web import WebServer
from handlers.context import Deps
from handlers.i18n import Translator
from locales import load_catalogues
from models import Role
from models.db import Database
from workflows.city_config import load_city_config, sample_config_path
from workflows.classify import Classifier
from workflows.clock import FrozenClock
from workflows.staff import add_staff
from workflows.web_login import issue_login

PATHS = (
    "/dashboard/?period=2026-11",
    "/dashboard/?period=2026-11&unit=dlh",
    "/dashboard/?period=2026-Q4",
    "/dashboard/?period=2026",
    "/dashboard/report?period=2026-11&unit=all",
    "/dashboard/export/figures.csv?period=2026-11",
    "/dashboard/export/tickets.csv?period=2026-11",
)


async def main(count: int, runs: int = 5) -> None:
    city = load_city_config(sample_config_path())
    clock = FrozenClock(NOW)
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'pages.db'}")
        await db.migrate()
        started = time.perf_counter()
        await seed(db, city, count, random.Random(7))
        print(f"seeded {count} tickets in {time.perf_counter() - started:.1f} s")
        deps = Deps(
            city=city,
            texts=Translator(load_catalogues(), overrides=city.texts),
            clock=clock,
            classifier=Classifier(city),
        )
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        server = WebServer("127.0.0.1", 0, Health(db), Metrics(db, {}))
        app = dashboard_app(
            db=db, deps=deps, settings=settings, registrars=[partial(register, settings=settings)]
        )
        server.add_dashboard(app)
        async with db.transaction() as session:
            staff = await add_staff(
                session=session, channel="telegram", user_id="1", role=Role.QUALITY, unit=None, now=NOW
            )
            token = await issue_login(session=session, staff=staff, now=NOW)
        async with TestClient(TestServer(server.app), cookie_jar=DummyCookieJar()) as client:
            async with client.post(f"/dashboard/login/{token}", allow_redirects=False) as response:
                cookie = response.cookies["civicbot_session"].value
            headers = {"Cookie": f"civicbot_session={cookie}"}
            for path in PATHS:
                times, size = [], 0
                for _ in range(runs):
                    started = time.perf_counter()
                    async with client.get(path, headers=headers) as response:
                        body = await response.read()
                        assert response.status == 200, (path, response.status)
                    times.append(time.perf_counter() - started)
                    size = len(body)
                print(
                    f"{path:<48} median {statistics.median(times) * 1000:6.0f} ms "
                    f"(min {min(times) * 1000:.0f}), {size / 1024:.0f} KiB"
                )
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().tickets))
