"""Quality figures benchmark: a year of tickets in SQLite, then `quality_figures` for a month.

Seeds N tickets (50,000 by default) filed evenly over 2026 in the sample city, each with the
events of a plausible life (accepted after a few hours, sometimes a question and an answer,
resolved after a few days, some reopened, some rejected, closed after the survey) and a survey
for a third of the resolved ones; then times `quality_figures` (median of 5 runs) for a month, a
quarter and the year as of 31 December 2026, and the export rows of the month.

    .venv/bin/python -m benchmarks.quality                      # 50,000 tickets
    .venv/bin/python -m benchmarks.quality --tickets 200000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from models import Citizen, Survey, Ticket, TicketEvent
from models.db import Database
from workflows.city_config import CityConfig, load_city_config, sample_config_path
from workflows.quality import Filter, quality_figures, ticket_rows
from workflows.satisfaction import Period
from workflows.sla import Calendars

YEAR_START = datetime(2025, 12, 31, 17, 0, tzinfo=UTC)  # 1 January 2026 00:00 WIB
NOW = datetime(2026, 12, 31, 5, 0, tzinfo=UTC)  # 31 December 2026 12:00 WIB
BATCH = 5000


def _life(
    rng: random.Random, filed: datetime
) -> tuple[str, dict[str, Any], list[tuple[datetime, str, str, str]]]:
    """A ticket's status, columns and events (at, action, from, to), none later than NOW."""
    events: list[tuple[datetime, str, str, str]] = []
    columns: dict[str, Any] = {"accepted_at": None, "resolved_at": None, "closed_at": None, "reopen_count": 0}
    status, at = "submitted", filed

    def step(delay_hours: float, action: str, to: str) -> bool:
        nonlocal status, at
        moment = at + timedelta(hours=delay_hours)
        if moment > NOW:
            return False
        events.append((moment, action, status, to))
        status, at = to, moment
        return True

    if rng.random() < 0.03:
        if step(rng.uniform(1, 40), "rejected", "rejected"):
            columns["closed_at"] = at
        return status, columns, events
    if not step(rng.lognormvariate(2.0, 1.0), "accepted", "in_progress"):
        return status, columns, events
    columns["accepted_at"] = at
    if rng.random() < 0.1:
        if not step(rng.uniform(1, 30), "question", "waiting_citizen"):
            return status, columns, events
        if not step(rng.uniform(1, 72), "answered", "in_progress"):
            return status, columns, events
    if not step(rng.lognormvariate(3.5, 1.0), "resolved", "resolved"):
        return status, columns, events
    columns["resolved_at"] = at
    if rng.random() < 0.08 and step(rng.uniform(24, 72), "reopened", "reopened"):
        columns["reopen_count"], columns["resolved_at"] = 1, None
        if not step(rng.uniform(1, 20), "accepted", "in_progress"):
            return status, columns, events
        if not step(rng.lognormvariate(3.0, 0.8), "resolved", "resolved"):
            return status, columns, events
        columns["resolved_at"] = at
    if step(72, "closed", "closed"):
        columns["closed_at"] = at
    return status, columns, events


async def seed(db: Database, city: CityConfig, count: int, rng: random.Random) -> None:
    categories = list(city.categories)
    areas = [*city.areas, None]
    span = (NOW - YEAR_START).total_seconds()
    async with db.transaction() as session:
        connection = await session.connection()
        await connection.execute(
            insert(Citizen.__table__),  # type: ignore[attr-defined]
            [
                {
                    "channel": "telegram",
                    "external_id": "1",
                    "chat_id": "1",
                    "created_at": NOW,
                    "last_seen_at": NOW,
                }
            ],
        )
    filed_at = sorted(YEAR_START + timedelta(seconds=rng.uniform(0, span)) for _ in range(count))
    for first in range(0, count, BATCH):
        tickets, events, surveys = [], [], []
        for number in range(first + 1, min(first + BATCH, count) + 1):
            filed = filed_at[number - 1]
            category = rng.choice(categories)
            policy = city.sla_for(category)
            status, columns, life = _life(rng, filed)
            tickets.append(
                {
                    "id": number,
                    "reference": f"ADU-{number:07d}",
                    "citizen_id": 1,
                    "channel": "telegram",
                    "category": category,
                    "unit": city.categories[category].unit,
                    "area": rng.choice(areas),
                    "description": "Keluhan warga " * 10,
                    "latitude": rng.uniform(-6.30, -6.10) if rng.random() < 0.7 else None,
                    "longitude": rng.uniform(106.70, 106.95),
                    "identity": "confidential" if city.categories[category].sensitive else "public",
                    "status": status,
                    "created_at": filed,
                    "updated_at": life[-1][0] if life else filed,
                    "response_target_seconds": int(policy.response_delta.total_seconds()),
                    "sla_calendar": policy.calendar,
                    **columns,
                }
            )
            events.append(
                {
                    "ticket_id": number,
                    "at": filed,
                    "actor_kind": "citizen",
                    "action": "submitted",
                    "details": {},
                }
            )
            events += [
                {
                    "ticket_id": number,
                    "at": at,
                    "actor_kind": "officer",
                    "action": action,
                    "from_status": source,
                    "to_status": target,
                    "details": {},
                }
                for at, action, source, target in life
            ]
            if columns["resolved_at"] and rng.random() < 0.33:
                rated = columns["resolved_at"] + timedelta(days=1)
                surveys.append(
                    {
                        "ticket_id": number,
                        "round": columns["reopen_count"],
                        "citizen_id": 1,
                        "unit": city.categories[category].unit,
                        "category": category,
                        "status": "done",
                        "resolved_at": columns["resolved_at"],
                        "send_at": rated,
                        "fixed": True,
                        "fixed_at": rated,
                        "ratings": {q: rng.randint(2, 4) for q in city.surveys.rated},
                        "rated_at": rated,
                        "finished_at": rated,
                    }
                )
        async with db.transaction() as session:
            connection = await session.connection()
            await connection.execute(insert(Ticket.__table__), tickets)  # type: ignore[attr-defined]
            await connection.execute(insert(TicketEvent.__table__), events)  # type: ignore[attr-defined]
            if surveys:
                await connection.execute(insert(Survey.__table__), surveys)  # type: ignore[attr-defined]


async def timed(db: Database, city: CityConfig, label: str, runs: int = 5) -> None:
    calendars = Calendars(city)
    times = []
    for _ in range(runs):
        calendars = Calendars(city)  # a fresh calendar cache each run: the cost of a page view
        started = time.perf_counter()
        async with db.sessions() as session:
            figures = await quality_figures(
                session=session,
                city=city,
                calendars=calendars,
                filter=Filter.of(Period.parse(label, city.city.timezone)),
                now=NOW,
            )
        times.append(time.perf_counter() - started)
    print(
        f"quality_figures {label:<8} median {statistics.median(times) * 1000:7.0f} ms "
        f"(min {min(times) * 1000:.0f}): received {figures.received}, resolved {figures.total.resolved}, "
        f"open {figures.backlog_by_age['total']}, response on time {figures.response_sla.count}/"
        f"{figures.response_sla.of}, SKM {figures.satisfaction.index}"
    )


async def main(count: int) -> None:
    city = load_city_config(sample_config_path())
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'quality.db'}")
        await db.migrate()
        started = time.perf_counter()
        await seed(db, city, count, random.Random(7))
        print(f"seeded {count} tickets in {time.perf_counter() - started:.1f} s")
        async with db.sessions() as session:
            connection = await session.connection()
            plan = await connection.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM tickets WHERE "
                    "status IN ('submitted','in_progress','waiting_citizen','reopened') "
                    "OR (resolved_at >= :start AND created_at < :end) "
                    "OR (closed_at >= :start AND created_at < :end)"
                ),
                {"start": "2026-10-31 17:00:00", "end": "2026-11-30 17:00:00"},
            )
            print("tickets query plan:", "; ".join(str(row[-1]) for row in plan))
        for label in ("2026-11", "2026-Q4", "2026"):
            await timed(db, city, label)
        started = time.perf_counter()
        async with db.sessions() as session:
            rows = [
                row
                async for row in ticket_rows(
                    session=session,
                    city=city,
                    calendars=Calendars(city),
                    filter=Filter.of(Period.parse("2026-11", city.city.timezone)),
                    now=NOW,
                )
            ]
        print(f"ticket_rows 2026-11: {len(rows)} rows in {(time.perf_counter() - started) * 1000:.0f} ms")
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().tickets))
