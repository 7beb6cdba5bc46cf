"""Memory benchmark: the resident size of an idle `civicbot run` on a well-filled database.

The database (SQLite) gets 100,000 tickets (a fifth open, as benchmarks/sla_sweep.py loads them)
and 10,000 citizens in the middle of filing a complaint: rows in `conversations` with an intake
state and the draft the dialog stores (workflows/drafts.py). The real process then runs against
the fake Bot API (tests/fakes/telegram_api.py), long polling with nothing to do; its clock is
held at the load's "now" (CIVICBOT_CLOCK_FILE) so no alert falls due while it idles.

It reports the process's resident size (VmRSS from /proc) once start-up has settled (10 s), after
the first SLA, survey and unit sweeps (the scheduler runs them every 30 s), and the peak (VmHWM);
beside it, what the same Python takes just to import the bot (`import bot.app`), so what is
code and what is data shows. Target: under 150 MB.

    .venv/bin/python -m benchmarks.memory
    .venv/bin/python -m benchmarks.memory --tickets 1000000 --conversations 100000 --idle 330
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.broadcast import ROOT, environment, start
from benchmarks.sla_sweep import FIRST_CHAT, NOW, TICKETS_PER_CITIZEN, load
from handlers.states import State
from models import Conversation, Identity
from models.db import Database
from tests.fakes.telegram_api import FakeTelegramAPI
from workflows.city_config import load_city_config, sample_config_path
from workflows.drafts import Draft, DraftAttachment

TARGET_MB = 150.0
# the intake steps a citizen can be in, and what their draft holds by then
STEPS = (
    State.CATEGORY,
    State.DESCRIPTION,
    State.LOCATION,
    State.PHOTOS,
    State.IDENTITY,
    State.SUMMARY,
)


@dataclass
class Sample:
    at: float  # seconds since the process started
    rss_mb: float
    peak_mb: float


def status_mb(pid: int | str) -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon, RssFile… of a process, in MB."""
    figures: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            figures[name] = int(parts[0]) / 1024
    return figures


def draft_for(step: State, n: int, rng: random.Random, categories: list[str]) -> dict[str, Any]:
    """The draft of a citizen who reached `step`: every earlier answer given."""
    draft = Draft()
    order = STEPS.index(step)
    if order >= 1:
        draft.category = categories[n % len(categories)]
    if order >= 2:
        draft.description = (
            f"Sampah di depan rumah nomor {n} sudah tiga hari tidak diangkut, baunya sampai ke jalan "
            "dan banyak lalat. Mohon segera ditindaklanjuti."
        )
    if order >= 3:
        if n % 2:
            draft.latitude, draft.longitude = -6.2 + rng.random() / 10, 106.8 + rng.random() / 10
        else:
            draft.address = f"Jl. Melati No. {n % 200 + 1}, RT 03/RW 05"
    if order >= 4:
        draft.attachments = [
            DraftAttachment(kind="photo", file_id=f"AgACAgUAAxkBAAI{n:012d}{k}", unique_id=f"AQAD{n:08d}{k}")
            for k in range(n % 3)
        ]
        draft.attachments_done = True
    if order >= 5:
        draft.identity = Identity.PUBLIC
    return {"draft": draft.dump()}


async def populate(url: str, tickets: int, conversations: int) -> None:
    city = load_city_config(sample_config_path())
    db = Database(url)
    try:
        loaded = await load(db, city, tickets, 0.2, seed=11)
        print(f"  {tickets:,} tickets ({loaded.open:,} open) in {loaded.seconds:.0f} s", flush=True)
        citizens = max(1, tickets // TICKETS_PER_CITIZEN)
        rng = random.Random(5)
        categories = list(city.categories)
        rows = [
            {
                "channel": "telegram",
                "chat_id": str(FIRST_CHAT + n % citizens) if n < citizens else str(FIRST_CHAT + citizens + n),
                "state": STEPS[n % len(STEPS)].value,
                "step": 3 + n % len(STEPS),
                "data": draft_for(STEPS[n % len(STEPS)], n, rng, categories),
                "updated_at": NOW - timedelta(seconds=rng.random() * 3600),
            }
            for n in range(conversations)
        ]
        table = Conversation.__table__  # type: ignore[attr-defined]
        async with db.engine.begin() as connection:
            for first in range(0, len(rows), 5000):
                await connection.execute(table.insert(), rows[first : first + 5000])
        print(f"  {conversations:,} conversations in progress", flush=True)
    finally:
        await db.dispose()


# what the bot imports, biggest first, in the order a fresh Python loads them (each line: its growth)
IMPORTS = (
    ("Python itself", ""),
    ("SQLAlchemy", "sqlalchemy.ext.asyncio"),
    ("SQLModel", "sqlmodel"),
    ("aiohttp", "aiohttp"),
    ("aiogram", "aiogram"),
    ("shapely (area polygons)", "shapely"),
    ("alembic", "alembic"),
    ("the bot's own code and the rest", "bot.cli, bot.app"),
)


async def import_breakdown() -> list[tuple[str, float]]:
    """The RSS a fresh Python grows by importing each of IMPORTS in turn (MB)."""
    code = "\n".join(
        [
            "from pathlib import Path",
            "def rss():",
            "    for line in Path('/proc/self/status').read_text().splitlines():",
            "        if line.startswith('VmRSS'):",
            "            return int(line.split()[1]) / 1024",
            "print(rss())",
            *(f"import {modules}\nprint(rss())" for _, modules in IMPORTS if modules),
        ]
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    sizes = [float(line) for line in out.decode().split()]
    growth = [sizes[0]] + [after - before for before, after in itertools.pairwise(sizes)]
    return [(label, mb) for (label, _), mb in zip(IMPORTS, growth, strict=True)]


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after start-up to read the size")
    parser.add_argument(
        "--idle", type=float, default=45.0, help="seconds to keep it idle (the sweeps run every 30 s)"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="civicbot-bench-"))
    url = f"sqlite:///{workdir}/bot.db"
    print(f"populating {workdir}/bot.db…", flush=True)
    await populate(url, args.tickets, args.conversations)
    clock_file = workdir / "clock"
    clock_file.write_text(NOW.isoformat())
    imports = await import_breakdown()
    baseline = sum(mb for _, mb in imports)
    samples: list[Sample] = []
    async with FakeTelegramAPI() as api:
        env = environment(api, url, 30.0, False, 8)
        env["CIVICBOT_CLOCK_FILE"] = str(clock_file)
        log = workdir / "bot.log"
        started = time.monotonic()
        process = await start(env, log)
        try:
            # up once it polls Telegram; the settle time counts from then
            await api.wait_for_call(lambda call: call.method == "getUpdates", timeout=120)
            up = time.monotonic() - started
            polling = time.monotonic()
            while time.monotonic() - polling < max(args.settle, args.idle):
                await asyncio.sleep(1)
                if process.returncode is not None:
                    print(f"the bot stopped; its log is {log}", file=sys.stderr)
                    return 1
                figures = status_mb(process.pid)
                samples.append(Sample(time.monotonic() - polling, figures["VmRSS"], figures["VmHWM"]))
            final = status_mb(process.pid)
        finally:
            if process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.wait(), timeout=30)
        sent = [c for c in api.calls if c.method not in ("getUpdates", "getMe", "deleteWebhook")]
    settled = next(s for s in samples if s.at >= args.settle)
    print(f"\nstart-up (until polling): {up:.1f} s")
    print(f"RSS {args.settle:.0f} s after start-up: {settled.rss_mb:.1f} MB")
    print(
        f"RSS after {samples[-1].at:.0f} s idle: {final['VmRSS']:.1f} MB "
        f"(anonymous {final.get('RssAnon', 0):.1f} MB, files {final.get('RssFile', 0):.1f} MB)"
    )
    print(f"peak (VmHWM): {final['VmHWM']:.1f} MB")
    print(f"a Python that only imports the bot: {baseline:.1f} MB, of which")
    for label, mb in sorted(imports, key=lambda item: -item[1]):
        print(f"  {mb:6.1f} MB  {label}")
    print(f"calls to the Bot API while idle besides polling: {len(sent)}")
    print()
    print(
        "| tickets | conversations in progress | RSS at start-up + 10 s | RSS idle | peak | imports alone |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.tickets:,} | {args.conversations:,} | {settled.rss_mb:.0f} MB | {final['VmRSS']:.0f} MB "
        f"| {final['VmHWM']:.0f} MB | {baseline:.0f} MB |"
    )
    good = final["VmHWM"] < TARGET_MB
    print(f"\ntarget (peak under {TARGET_MB:.0f} MB):", "met" if good else "NOT met")
    return 0 if good else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
