"""Broadcast benchmark: one announcement to N Telegram citizens through the real `civicbot run`.

The fake Bot API (tests/fakes/telegram_api.py) enforces Telegram's flood limits at the rate the bot is
configured for (FloodLimits: overall per second, one per second per chat) and answers a share of the
sends with injected 429/500/502. The benchmark counts, from what the fake accepted:

- achieved rate: accepted sends per second between the first and the last, as a fraction of the
  configured limit (target >= 0.95);
- duplicates: citizens who received the announcement more than once (target 0), and of them those
  whose copy was in flight at the kill: sent before it, its outcome not recorded yet, so sent again
  after the lease, with the second attempt in its record. Telegram has no way to ask whether a send
  arrived, so such a copy may come twice (the issue allows it, if the record says so); any other
  duplicate is a fault;
- missing: citizens who never received it (target 0);

once straight through and once with the process killed (SIGKILL) halfway and started again.

    .venv/bin/python -m benchmarks.broadcast                       # 2,000 recipients at 30/s
    .venv/bin/python -m benchmarks.broadcast --recipients 100000 --rate 1000 --paid
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import col, select

from models import Citizen, OutboxMessage
from models.db import Database
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_limits import FloodLimits
from workflows.broadcasts import Segment, confirm_broadcast, create_broadcast
from workflows.city_config import load_city_config, sample_config_path

ROOT = Path(__file__).resolve().parent.parent
FIRST_CHAT = 500_000_000
TEXT = "📢 Pengumuman: layanan pengaduan tutup pada hari libur nasional 25 Desember."


@dataclass
class Outcome:
    label: str
    recipients: int
    rate: float
    seconds: float
    achieved: float
    duplicates: int
    in_flight_at_kill: int  # of the duplicates: sent before the kill and again after it, recorded as a retry
    missing: int
    refused: int
    injected: int
    kills: int
    down: float  # seconds without a send around the kill: from the last one before to the first after

    @property
    def running_fraction(self) -> float:
        """The achieved rate while a process was up, as a fraction of the limit."""
        if self.seconds <= self.down:
            return 0.0
        return (self.achieved * self.seconds / (self.seconds - self.down)) / self.rate

    @property
    def fraction(self) -> float:
        return self.achieved / self.rate


async def populate(url: str, recipients: int) -> None:
    """A migrated database with `recipients` Telegram citizens and one confirmed broadcast to everyone."""
    db = Database(url)
    await db.migrate()
    now = datetime.now(UTC)
    rows = [
        {
            "channel": "telegram",
            "external_id": str(FIRST_CHAT + n),
            "chat_id": str(FIRST_CHAT + n),
            "language": "id" if n % 4 else "en",
            "language_source": "chosen",
            "created_at": now,
            "last_seen_at": now,
        }
        for n in range(recipients)
    ]
    async with db.transaction() as session:
        for start in range(0, len(rows), 5000):
            await session.exec(insert(Citizen).values(rows[start : start + 5000]))  # type: ignore[call-overload]
    city = load_city_config(sample_config_path())
    async with db.transaction() as session:
        broadcast = await create_broadcast(
            session=session,
            created_by="benchmark",
            texts={"id": TEXT, "en": "📢 Announcement: the complaint desk is closed on 25 December."},
            photo=None,
            segment=Segment(kind="everyone"),
            send_at=None,
            now=now,
            report_to=None,
        )
        assert broadcast.id is not None
        await confirm_broadcast(session=session, broadcast_id=broadcast.id, city=city, now=now)
    await db.dispose()


def environment(api: FakeTelegramAPI, url: str, rate: float, paid: bool, concurrency: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "CIVICBOT_", "WHATSAPP_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE=api.base_url,
        TELEGRAM_POLLING_TIMEOUT="1",
        CIVICBOT_DATABASE_URL=url,
        CIVICBOT_OUTBOX_POLL_SECONDS="0.2",
        CIVICBOT_OUTBOX_LEASE_SECONDS="5",
        CIVICBOT_LOG_LEVEL="WARNING",
        CIVICBOT_OUTBOX_CONCURRENCY=str(concurrency),
        PYTHONUNBUFFERED="1",
    )
    if paid:
        env["TELEGRAM_PAID_BROADCAST_PER_SECOND"] = str(rate)
    else:
        env["TELEGRAM_MESSAGES_PER_SECOND"] = str(rate)
    return env


async def start(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as handle:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=env, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
            stdout=handle, stderr=handle,
        )  # fmt: skip


class Received:
    """Accepted announcement sends, per chat and their times, tallied as the fake records them.

    Each look reads only the calls since the last one: the fake runs in this process, and rereading
    100,000 calls twice a second would slow its answers, and so the bot, more than anything measured.
    """

    def __init__(self, api: FakeTelegramAPI) -> None:
        self.api = api
        self.per_chat: Counter[int] = Counter()
        self.times: list[float] = []
        self.first: dict[int, float] = {}  # chat → when its first copy arrived
        self.again: dict[int, float] = {}  # chat → when a second copy arrived
        self._seen = 0

    def update(self) -> Received:
        calls = self.api.calls
        for call in calls[self._seen :]:
            if call.method == "sendMessage" and not call.failed and isinstance(call.chat_id, int):
                if call.chat_id >= FIRST_CHAT:
                    self.per_chat[call.chat_id] += 1
                    self.times.append(call.at)
                    if call.chat_id in self.first:
                        self.again.setdefault(call.chat_id, call.at)
                    else:
                        self.first[call.chat_id] = call.at
        self._seen = len(calls)
        return self


async def run_once(
    recipients: int, rate: float, fault_rate: float, kill: bool, paid: bool, concurrency: int
) -> Outcome:
    workdir = Path(tempfile.mkdtemp(prefix="civicbot-bench-"))
    url = f"sqlite:///{workdir}/bot.db"
    await populate(url, recipients)
    limits = FloodLimits(per_second=int(rate), per_chat_per_second=1, fault_rate=fault_rate, seed=42)
    async with FakeTelegramAPI() as api:
        api.limit_rate(limits)
        env = environment(api, url, rate, paid, concurrency)
        log = workdir / "bot.log"
        process = await start(env, log)
        tally = Received(api)
        kills = 0
        killed_at: float | None = None
        deadline = time.monotonic() + recipients / rate * 3 + 60
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                per_chat = tally.update().per_chat
                if kill and not kills and len(per_chat) >= recipients // 2:
                    process.send_signal(signal.SIGKILL)
                    await process.wait()
                    killed_at = time.monotonic()
                    kills += 1
                    process = await start(env, log)
                if len(per_chat) >= recipients:
                    await asyncio.sleep(2)  # anything sent twice would show now
                    break
            else:
                print(f"  timed out; the bot's log is {log}", file=sys.stderr)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), timeout=30)
        tally.update()
        per_chat, times = tally.per_chat, tally.times
    in_flight = await at_the_kill(url, tally, killed_at)
    seconds = (max(times) - min(times)) if len(times) > 1 else 0.0
    down = 0.0
    if killed_at is not None:
        before = [t for t in times if t <= killed_at]
        after = [t for t in times if t > killed_at]
        if before and after:
            down = min(after) - max(before)
    return Outcome(
        label=("with a kill and restart" if kill else "straight through") + (" (paid)" if paid else ""),
        recipients=recipients,
        rate=rate,
        seconds=seconds,
        achieved=(len(times) - 1) / seconds if seconds else 0.0,
        duplicates=sum(count - 1 for count in per_chat.values() if count > 1),
        in_flight_at_kill=in_flight,
        missing=recipients - len(per_chat),
        refused=limits.refused,
        injected=limits.faults,
        kills=kills,
        down=down,
    )


async def at_the_kill(url: str, tally: Received, killed_at: float | None) -> int:
    """Duplicates in flight at the kill: first copy before it, second after, and the row's record
    shows the second attempt (its lease ran out, the new process claimed it again)."""
    if killed_at is None or not tally.again:
        return 0
    across = [chat for chat, at in tally.again.items() if tally.first[chat] <= killed_at < at]
    if not across:
        return 0
    db = Database(url)
    try:
        async with db.sessions() as session:
            rows = await session.exec(
                select(OutboxMessage.chat_id, OutboxMessage.attempts).where(
                    col(OutboxMessage.broadcast_id).is_not(None),
                    col(OutboxMessage.chat_id).in_([str(chat) for chat in across]),
                )
            )
            recorded = {int(chat) for chat, attempts in rows if attempts >= 2}
    finally:
        await db.dispose()
    return sum(tally.per_chat[chat] - 1 for chat in across if chat in recorded)


def report(outcomes: list[Outcome]) -> str:
    lines = [
        "| run | recipients | limit/s | achieved/s | fraction | fraction while up | seconds down "
        "| duplicates (in flight at the kill) | missing | 429 over limit | injected faults |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.label} | {o.recipients:,} | {o.rate:g} | {o.achieved:.1f} | {o.fraction:.3f} | "
            f"{o.running_fraction:.3f} | {o.down:.1f} | {o.duplicates} ({o.in_flight_at_kill}) | "
            f"{o.missing} | {o.refused} | {o.injected} |"
        )
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=30.0, help="the configured limit, messages/second")
    parser.add_argument("--fault-rate", type=float, default=0.02, help="share of sends answered 429/5xx")
    parser.add_argument("--paid", action="store_true", help="Telegram's paid broadcast setting")
    parser.add_argument("--only", choices=["straight", "kill"], help="run one case")
    parser.add_argument("--concurrency", type=int, default=8, help="CIVICBOT_OUTBOX_CONCURRENCY")
    args = parser.parse_args()
    outcomes = []
    for kill in (False, True):
        if args.only and args.only != ("kill" if kill else "straight"):
            continue
        outcome = await run_once(
            args.recipients, args.rate, args.fault_rate, kill, args.paid, args.concurrency
        )
        print(f"{outcome.label}: {outcome.achieved:.1f}/s of {outcome.rate:g}/s in {outcome.seconds:.1f} s")
        outcomes.append(outcome)
    print()
    print(report(outcomes))
    good = all(
        o.running_fraction >= 0.95 and o.duplicates == o.in_flight_at_kill and o.missing == 0
        for o in outcomes
    )
    print(
        "\ntargets (fraction while up >= 0.95, no duplicates but those in flight at the kill and "
        "recorded so, 0 missing):",
        "met" if good else "NOT met",
    )
    return 0 if good else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
