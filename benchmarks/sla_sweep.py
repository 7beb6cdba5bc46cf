"""SLA sweep benchmark: reminders and escalations on a big database (handlers/alerts.py `sweep`).

A migrated database gets N tickets (default 1,000,000), a fifth of them open with a running SLA
clock whose deadline is still ahead, as the scheduler would have left them: the stages already
past are done (`alert_stage`), `next_alert_at` is the next one. Around them: one citizen per ten
tickets, each ticket's card in its unit's group (`message_links`), a supervisor per unit and an
admin. Rows go in with Core executemany in big batches (SQLite) or COPY (PostgreSQL).

Then the sweep runs as the scheduler runs it, with the injected clock (FrozenClock) moved:

- nothing due: the clock at the load's "now"; the median of many sweeps (target < 20 ms);
- about 1,000 due: the clock moved to when the next 1,000 stages fall due; one sweep sends
  their reminders and escalations and refreshes their cards (target < 1 s), three times;

on each size asked (default 100,000 and 1,000,000 tickets), so that what the cost grows with,
stored or due, shows. SQLite always; PostgreSQL too when 127.0.0.1:5432 answers (a fresh
database `civicbot_bench_*`, dropped afterwards).

    .venv/bin/python -m benchmarks.sla_sweep
    .venv/bin/python -m benchmarks.sla_sweep --sizes 1000000 --backends postgresql --due 5000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import DateTime, Table, bindparam, func, text
from sqlmodel import col, select

from handlers import alerts
from handlers.context import Deps
from handlers.i18n import Translator
from locales import load_catalogues
from models import Citizen, MessageLink, Role, Ticket
from models.db import Database
from workflows import sla
from workflows import staff as staff_rules
from workflows.city_config import CityConfig, load_city_config, sample_config_path
from workflows.classify import Classifier
from workflows.clock import FrozenClock
from workflows.references import ALPHABET

# Monday 30 November 2026, 09:00 in Jakarta: a working morning, the moment the load describes
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
BATCH = 20_000
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for DateTime on SQLite
TICKETS_PER_CITIZEN = 10
FIRST_CHAT = 700_000_000
GROUP_BASE = -1_001_000_000_000
ADMIN = "90001"


@dataclass
class Loaded:
    """What the load put in, as the sweep will find it."""

    stored: int
    open: int
    seconds: float
    alert_times: list[datetime] = field(default_factory=list)  # next_alert_at of the open tickets, sorted


@dataclass
class Figures:
    backend: str
    stored: int
    open: int
    load_seconds: float
    idle_ms: list[float] = field(default_factory=list)  # sweeps with nothing due
    due: list[int] = field(default_factory=list)  # tickets due at each due sweep
    alerts: list[int] = field(default_factory=list)  # alerts those sweeps sent
    due_ms: list[float] = field(default_factory=list)
    plan: str = ""

    @property
    def idle_median(self) -> float:
        return statistics.median(self.idle_ms)

    @property
    def idle_max(self) -> float:
        return max(self.idle_ms)

    @property
    def due_median(self) -> float:
        return statistics.median(self.due_ms) if self.due_ms else 0.0


def code(n: int) -> str:
    """n (< 32**4) as four characters of the references' alphabet."""
    return "".join(ALPHABET[(n >> shift) & 31] for shift in (15, 10, 5, 0))


def make_deps(city: CityConfig, clock: FrozenClock) -> Deps:
    """The dependencies `civicbot run` builds (bot/app.py), on a clock the benchmark moves."""
    texts = Translator(load_catalogues(), overrides=city.texts)
    return Deps(city=city, texts=texts, clock=clock, classifier=Classifier(city))


def ticket_rows(
    stored: int,
    open_share: float,
    city: CityConfig,
    calendars: sla.Calendars,
    heads: dict[str, int],
    seed: int,
) -> Iterator[list[dict[str, Any]]]:
    """The tickets in batches; every `1/open_share`-th one open with a clock running at NOW."""
    rng = random.Random(seed)
    categories = list(city.categories.items())
    every = max(1, round(1 / open_share)) if open_share > 0 else stored + 1
    citizens = max(1, stored // TICKETS_PER_CITIZEN)
    batch: list[dict[str, Any]] = []
    response_targets: dict[str, int] = {}
    for n in range(stored):
        key, category = categories[n % len(categories)]
        policy = city.sla_for(key)
        if key not in response_targets:
            response_targets[key] = int(policy.target("response").total_seconds())
        row: dict[str, Any] = {
            "id": n + 1,
            "reference": f"ADU-{2501 + n // 32**4:04d}-{code(n % 32**4)}",
            "citizen_id": 1 + n % citizens,
            "channel": "telegram",
            "category": key,
            "unit": category.unit,
            "area": None,
            "description": f"Laporan warga nomor {n}: sampah menumpuk, jalan rusak, lampu mati di RT 03.",
            "address": f"Jl. Merdeka No. {n % 300 + 1}",
            "latitude": None,
            "longitude": None,
            "identity": "public",
            "language": "id",
            "response_target_seconds": response_targets[key],
            "sla_calendar": policy.calendar,
            "holder_staff_id": None,
            "reporters": 1,
            "priority": 0,
            "reopen_count": 0,
        }
        if n % every == 0:
            row.update(open_ticket(row, rng, city, calendars))
            if row["status"] != "submitted":
                row["holder_staff_id"] = heads[row["unit"]]  # accepted: someone holds it
        else:
            created = NOW - timedelta(days=30 + rng.random() * 700)
            row.update(
                status="closed",
                created_at=created,
                updated_at=created + timedelta(days=6),
                clock=None,
                clock_target_seconds=None,
                due_at=None,
                paused_at=None,
                alert_stage=4,
                next_alert_at=None,
                accepted_at=created + timedelta(hours=5),
                resolved_at=created + timedelta(days=3),
                closed_at=created + timedelta(days=6),
                holder_staff_id=heads[row["unit"]],
            )
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def open_ticket(
    row: dict[str, Any], rng: random.Random, city: CityConfig, calendars: sla.Calendars
) -> dict[str, Any]:
    """A clock started some time before NOW, its deadline ahead, the stages already past done.

    Computed with the real rules (workflows/sla.py) on a stand-in for the ticket: what filing or
    accepting and then every sweep until NOW would have stored.
    """
    draw = rng.random()
    clock = "response" if draw < 0.35 else "resolution"
    status = "submitted" if clock == "response" else ("in_progress" if draw < 0.9 else "waiting_citizen")
    policy = city.sla_for(row["category"])
    calendar = calendars(policy.calendar)
    target = policy.target(clock).total_seconds()
    started = calendar.add(NOW, -rng.random() * target)  # its deadline is still ahead of NOW
    ticket: Any = SimpleNamespace(**row, clock=None, alert_stage=0, paused_at=None, due_at=None)
    sla.start_clock(ticket, clock, city=city, calendars=calendars, now=started)
    sla.due_stages(ticket, city=city, calendars=calendars, now=NOW)
    if status == "waiting_citizen":
        sla.pause_clock(ticket, now=started + (NOW - started) / 2)
    created = started if clock == "response" else started - timedelta(hours=3)
    return {
        "status": status,
        "created_at": created,
        "updated_at": started,
        "clock": ticket.clock,
        "clock_target_seconds": ticket.clock_target_seconds,
        "due_at": ticket.due_at,
        "paused_at": ticket.paused_at,
        "alert_stage": ticket.alert_stage,
        "next_alert_at": ticket.next_alert_at,
        "accepted_at": started if clock == "resolution" else None,
        "resolved_at": None,
        "closed_at": None,
    }


def citizen_rows(count: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, count, BATCH):
        yield [
            {
                "id": n + 1,
                "channel": "telegram",
                "external_id": str(FIRST_CHAT + n),
                "chat_id": str(FIRST_CHAT + n),
                "language": "id" if n % 4 else "en",
                "language_source": "chosen",
                "display_name": f"Warga {n}",
                "username": None,
                "created_at": NOW - timedelta(days=400),
                "last_seen_at": NOW - timedelta(days=2),
                "surveys_off_at": None,
                "announcements_off_at": None,
                "unreachable_at": None,
                "unreachable_reason": None,
            }
            for n in range(start, min(count, start + BATCH))
        ]


def link_rows(tickets: list[dict[str, Any]], groups: dict[str, str]) -> list[dict[str, Any]]:
    """Each ticket's card in its unit's group."""
    return [
        {
            "id": t["id"],
            "channel": "telegram",
            "chat_id": groups[t["unit"]],
            "message_id": str(t["id"]),
            "ticket_id": t["id"],
            "role": "card",
            "sent_at": t["created_at"],
        }
        for t in tickets
    ]


async def add_staff(db: Database, city: CityConfig) -> tuple[dict[str, str], dict[str, int]]:
    """An admin; per unit a supervisor and a linked group. The groups' chat ids and the supervisors'
    staff ids, by unit."""
    groups = {unit: str(GROUP_BASE - n) for n, unit in enumerate(city.units)}
    heads: dict[str, int] = {}
    async with db.transaction() as session:
        await staff_rules.ensure_admins(session=session, channel="telegram", user_ids=[ADMIN], now=NOW)
        for n, unit in enumerate(city.units):
            head = await staff_rules.add_staff(
                session=session,
                channel="telegram",
                user_id=str(91000 + n),
                role=Role.SUPERVISOR,
                unit=unit,
                now=NOW,
            )
            assert head.id is not None
            heads[unit] = head.id
            await staff_rules.link_group(
                session=session,
                unit=unit,
                channel="telegram",
                chat_id=groups[unit],
                title=f"Grup {unit}",
                by=ADMIN,
                now=NOW,
            )
    return groups, heads


def sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy stores it on SQLite: datetimes as UTC text (models/db.py compares them so)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(SQLITE_DATETIME)
    return value


async def write(db: Database, table: Table, rows: list[dict[str, Any]]) -> None:
    """One batch: COPY on PostgreSQL, an executemany INSERT on SQLite (straight to the driver: the
    per-row work of SQLAlchemy's parameter processing would double the load time)."""
    columns = list(rows[0])
    if db.is_sqlite:
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        params = [tuple(sqlite_value(row[c]) for c in columns) for row in rows]
        async with db.engine.begin() as connection:
            await connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", params)
        return
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        copy = raw.driver_connection
        assert copy is not None
        records = [tuple(row[c] for c in columns) for row in rows]
        await copy.copy_records_to_table(table.name, records=records, columns=columns)


async def load(db: Database, city: CityConfig, stored: int, open_share: float, seed: int) -> Loaded:
    started = time.perf_counter()
    await db.migrate()
    groups, heads = await add_staff(db, city)
    calendars = sla.Calendars(city)
    citizens = max(1, stored // TICKETS_PER_CITIZEN)
    for rows in citizen_rows(citizens):
        await write(db, Citizen.__table__, rows)  # type: ignore[attr-defined]
    loaded = Loaded(stored=stored, open=0, seconds=0.0)

    async def store(rows: list[dict[str, Any]]) -> None:
        await write(db, Ticket.__table__, rows)  # type: ignore[attr-defined]
        await write(db, MessageLink.__table__, link_rows(rows, groups))  # type: ignore[attr-defined]
        done = rows[-1]["id"]
        if done % 200_000 < BATCH:
            print(f"    {done:,} tickets stored ({time.perf_counter() - started:.0f} s)", flush=True)

    # the next batch is made (in a thread) while the database stores the last one
    batches = ticket_rows(stored, open_share, city, calendars, heads, seed)

    def next_batch() -> list[dict[str, Any]] | None:
        return next(batches, None)

    storing: asyncio.Task[None] | None = None
    while True:
        made = await asyncio.to_thread(next_batch)
        if made is None:
            break
        opened = [r for r in made if r["clock"] is not None]
        loaded.open += len(opened)
        loaded.alert_times.extend(r["next_alert_at"] for r in opened if r["next_alert_at"] is not None)
        if storing is not None:
            await storing
        storing = asyncio.create_task(store(made))
    if storing is not None:
        await storing
    if not db.is_sqlite:
        async with db.engine.begin() as connection:
            for table in ("citizens", "tickets", "message_links"):
                await connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            await connection.execute(text("ANALYZE"))  # as autovacuum would soon after a bulk load
    loaded.alert_times.sort()
    loaded.seconds = time.perf_counter() - started
    return loaded


async def timed_sweep(db: Database, deps: Deps) -> tuple[float, int]:
    started = time.perf_counter()
    sent = await alerts.sweep(db, deps)
    return (time.perf_counter() - started) * 1000, sent


async def count_due(db: Database, now: datetime) -> int:
    async with db.sessions() as session:
        query = select(func.count()).select_from(Ticket).where(col(Ticket.next_alert_at) <= now)
        return int((await session.exec(query)).one())


async def query_plan(db: Database, now: datetime) -> str:
    """How the database reads the due tickets: EXPLAIN of the sweep's query (workflows/sla.py)."""
    query = (
        "SELECT * FROM tickets WHERE next_alert_at IS NOT NULL AND next_alert_at <= :now "
        f"ORDER BY next_alert_at LIMIT {alerts.SWEEP_BATCH}"
    )
    if db.is_sqlite:
        statement = text("EXPLAIN QUERY PLAN " + query)
    else:
        statement = text("EXPLAIN " + query + " FOR UPDATE SKIP LOCKED")
    statement = statement.bindparams(bindparam("now", type_=DateTime(timezone=True)))
    async with db.engine.connect() as connection:
        rows = (await connection.execute(statement, {"now": now})).all()
    return " / ".join(str(row[-1]).strip() for row in rows)


async def measure(
    db: Database, backend: str, city: CityConfig, stored: int, open_share: float, due: int, idle_runs: int,
    due_runs: int, seed: int,
) -> Figures:  # fmt: skip
    print(f"  {backend}, {stored:,} tickets: loading…", flush=True)
    loaded = await load(db, city, stored, open_share, seed)
    figures = Figures(backend=backend, stored=stored, open=loaded.open, load_seconds=loaded.seconds)
    print(f"    loaded in {loaded.seconds:.0f} s ({loaded.open:,} open)", flush=True)
    clock = FrozenClock(NOW)
    deps = make_deps(city, clock)
    figures.plan = await query_plan(db, NOW)
    await timed_sweep(db, deps)  # the first after the load warms the caches, as one after a start does
    for _ in range(idle_runs):
        ms, sent = await timed_sweep(db, deps)
        assert sent == 0, "nothing should be due at the load's now"
        figures.idle_ms.append(ms)
    times = loaded.alert_times
    for k in range(1, due_runs + 1):
        if k * due > len(times):
            break
        moment = times[k * due - 1]
        clock.set(moment)
        figures.due.append(await count_due(db, moment))
        ms, sent = await timed_sweep(db, deps)
        figures.due_ms.append(ms)
        figures.alerts.append(sent)
        # and nothing due again right after: what every other sweep of the day costs
        for _ in range(max(1, idle_runs // due_runs)):
            idle, sent = await timed_sweep(db, deps)
            assert sent == 0
            figures.idle_ms.append(idle)
    print(
        f"    nothing due: median {figures.idle_median:.1f} ms, max {figures.idle_max:.1f} ms "
        f"({len(figures.idle_ms)} sweeps); due {figures.due}: "
        f"{', '.join(f'{m:.0f}' for m in figures.due_ms)} ms, "
        f"{sum(figures.alerts):,} alerts sent",
        flush=True,
    )
    print(f"    plan: {figures.plan}", flush=True)
    return figures


@asynccontextmanager
async def sqlite_database() -> AsyncIterator[Database]:
    workdir = tempfile.mkdtemp(prefix="civicbot-bench-")
    db = Database(f"sqlite:///{workdir}/sla.db")
    try:
        yield db
    finally:
        await db.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


@asynccontextmanager
async def postgres_database() -> AsyncIterator[Database]:
    from tests.postgres import USERS, connect_admin, fresh_database

    admin, user = await connect_admin(USERS)
    await admin.close()
    async with fresh_database(user, prefix="civicbot_bench") as url:
        db = Database(url)
        try:
            yield db
        finally:
            await db.dispose()


async def postgres_answers() -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", 5432), timeout=2)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def report(all_figures: list[Figures]) -> str:
    lines = [
        "| database | tickets stored | open | nothing due: median (max) | due | alerts sent "
        "| due sweep (median) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in all_figures:
        due = f"{statistics.median(f.due):,.0f}" if f.due else "-"
        alerts_sent = f"{statistics.median(f.alerts):,.0f}" if f.alerts else "-"
        lines.append(
            f"| {f.backend} | {f.stored:,} | {f.open:,} | {f.idle_median:.1f} ms ({f.idle_max:.1f} ms) "
            f"| {due} | {alerts_sent} | {f.due_median:.0f} ms |"
        )
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000", help="tickets stored, comma-separated")
    parser.add_argument("--open-share", type=float, default=0.2, help="share of the tickets open")
    parser.add_argument("--due", type=int, default=1000, help="tickets due at each due sweep")
    parser.add_argument("--idle-runs", type=int, default=60, help="sweeps with nothing due to time")
    parser.add_argument("--due-runs", type=int, default=3, help="due sweeps to time")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    city = load_city_config(sample_config_path())
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "postgresql" in backends and not await postgres_answers():
        print("PostgreSQL does not answer on 127.0.0.1:5432: SQLite only")
        backends.remove("postgresql")
    all_figures: list[Figures] = []
    for backend in backends:
        for stored in (int(s) for s in args.sizes.split(",")):
            factory = sqlite_database if backend == "sqlite" else postgres_database
            async with factory() as db:
                all_figures.append(
                    await measure(
                        db,
                        backend,
                        city,
                        stored,
                        args.open_share,
                        args.due,
                        args.idle_runs,
                        args.due_runs,
                        args.seed,
                    )
                )
    print()
    print(report(all_figures))
    good = all(f.idle_median < 20 and f.due_median < 1000 for f in all_figures)
    print("\ntargets (nothing due < 20 ms, 1,000 due < 1 s):", "met" if good else "NOT met")
    return 0 if good else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
