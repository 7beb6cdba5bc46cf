"""Intake benchmark: N Telegram citizens filing a complaint at once through the real `civicbot run`.

Each simulated citizen (default 1,000, all starting together) walks the whole dialog against the
fake Bot API (tests/fakes/telegram_api.py): /start, "Buat pengaduan", a category, the
description, a shared location (far enough from the others' not to be offered "me too"), no
photo, public, "Kirim pengaduan": 8 updates each. Every update is pushed for getUpdates; its
latency is the time from then until the bot's answer (the next question, or the reference)
arrives at the fake; the first thing the bot shows (an edit of the pressed message, say) is
counted too. Throughput: updates answered per second between the first push and the last answer.

The floor: a bare aiogram echo bot (benchmarks/echo_bot.py) on the same harness, the same number
of citizens sending the same kinds of updates, each answered with one message.

Telegram's flood limits are set out of the way (the fake does not enforce them here): this is
about what the process can do. Targets: >= 0.5 of the echo bot's throughput; p99 under 250 ms.

    .venv/bin/python -m benchmarks.intake
    .venv/bin/python -m benchmarks.intake --citizens 200 --postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.broadcast import ROOT
from benchmarks.sla_sweep import add_staff, postgres_answers, postgres_database
from models.db import Database
from tests.fakes.telegram_api import FakeTelegramAPI
from workflows.city_config import load_city_config, sample_config_path

FIRST_USER = 610_000_000
STEP_TIMEOUT = 300.0  # seconds a citizen waits for an answer before giving up

# (kind, what, the text of the answer that lets the citizen go on)
DIALOG: tuple[tuple[str, str, str], ...] = (
    ("command", "/start", "Selamat datang"),
    ("button", "Buat pengaduan", "Pengaduan Anda tentang apa"),
    ("button", "Sampah", "Ceritakan masalahnya"),
    ("text", "Sampah di TPS Jl. Melati nomor {n} sudah tiga hari tidak diangkut", "Di mana lokasinya"),
    ("location", "", "Kirim foto"),
    ("button", "Lewati", "identitas"),
    ("button", "Publik", "Periksa pengaduan"),
    ("button", "Kirim pengaduan", "Pengaduan terkirim"),
)


@dataclass
class Shown:
    """A message the bot sent or edited in a citizen's chat, as the fake took it."""

    at: float
    text: str
    message_id: int | None
    buttons: dict[str, str]  # inline button label → callback data


class HarnessAPI(FakeTelegramAPI):
    """The fake Bot API, handing each private chat's messages to the citizen waiting on them.

    (FakeTelegramAPI.wait_for_call scans every call on each wake, too slow for 1,000 waiters.)
    """

    def __init__(self) -> None:
        super().__init__()
        self.inboxes: dict[int, asyncio.Queue[Shown]] = {}

    def _deliver(self, p: dict[str, Any], result: Any) -> None:
        chat_id = p.get("chat_id")
        inbox = self.inboxes.get(chat_id) if isinstance(chat_id, int) else None
        if inbox is None:
            return
        message = result if isinstance(result, dict) else {}
        markup = p.get("reply_markup")
        buttons: dict[str, str] = {}
        if isinstance(markup, dict):
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if "callback_data" in button:
                        buttons[str(button["text"])] = str(button["callback_data"])
        message_id = message.get("message_id", p.get("message_id"))
        text = str(message.get("text") or p.get("text") or "")
        inbox.put_nowait(Shown(time.monotonic(), text, message_id, buttons))

    def _m_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        result = super()._m_sendMessage(p)
        self._deliver(p, result)
        return result

    def _m_editMessageText(self, p: dict[str, Any]) -> dict[str, Any] | bool:
        result = super()._m_editMessageText(p)
        self._deliver(p, result)
        return result


@dataclass
class Run:
    label: str
    citizens: int
    updates: int = 0
    first_push: float = float("inf")
    last_answer: float = 0.0
    answer_ms: list[float] = field(default_factory=list)  # until the answer the citizen waits for
    first_ms: list[float] = field(default_factory=list)  # until the first thing shown
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        seconds = self.last_answer - self.first_push
        return self.updates / seconds if seconds > 0 else 0.0

    def percentile(self, values: list[float], share: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def pick(buttons: dict[str, str], label: str) -> str | None:
    for text, data in buttons.items():
        if label.lower() in text.lower():
            return data
    return None


async def with_button(inbox: asyncio.Queue[Shown], last: Shown | None, label: str, echo: bool) -> Shown:
    """The newest message with the button labelled so (the echo bot's last message: it has none),
    waiting for it if the bot has not sent it yet; its labels keyed by `label`."""
    while True:
        while not inbox.empty():  # sent after the answer the citizen waited for
            shown = inbox.get_nowait()
            if shown.buttons or echo:
                last = shown
        if last is not None and (echo or pick(last.buttons, label) is not None):
            if not echo:
                last.buttons[label] = pick(last.buttons, label) or ""
            return last
        shown = await asyncio.wait_for(inbox.get(), timeout=STEP_TIMEOUT)
        if shown.buttons or echo:
            last = shown


async def citizen(api: HarnessAPI, run: Run, n: int, echo: bool) -> None:
    user = FIRST_USER + n
    inbox: asyncio.Queue[Shown] = asyncio.Queue()
    api.inboxes[user] = inbox
    last: Shown | None = None  # the newest message with buttons
    for kind, what, expect in DIALOG:
        pushed = time.monotonic()
        run.first_push = min(run.first_push, pushed)
        if kind == "command":
            api.push_command(user, what, first_name="Warga")
        elif kind == "text":
            api.push_text(user, what.format(n=n), first_name="Warga")
        elif kind == "location":
            api.push_location(user, -6.30 + (n // 40) * 0.005, 106.70 + (n % 40) * 0.005)
        else:
            try:
                last = await with_button(inbox, last, what, echo)
            except TimeoutError:
                run.failures.append(f"citizen {n}: no button {what!r}")
                return
            assert last.message_id is not None
            api.push_callback(user, what if echo else last.buttons[what], message_id=last.message_id)
        run.updates += 1
        first: float | None = None
        try:
            while True:
                shown = await asyncio.wait_for(inbox.get(), timeout=STEP_TIMEOUT)
                first = shown.at if first is None else first
                if shown.buttons or echo:
                    last = shown
                if echo or expect.lower() in shown.text.lower():
                    break
        except TimeoutError:
            run.failures.append(f"citizen {n}: no {expect!r} after {what!r}")
            return
        run.first_ms.append((first - pushed) * 1000)
        run.answer_ms.append((shown.at - pushed) * 1000)
        run.last_answer = max(run.last_answer, shown.at)


async def spawn(module: str, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as handle:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", *module.split(), env=env, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
            stdout=handle, stderr=handle,
        )  # fmt: skip


def bot_env(api: FakeTelegramAPI, url: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "CIVICBOT_", "WHATSAPP_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE=api.base_url,
        TELEGRAM_POLLING_TIMEOUT="1",
        CIVICBOT_DATABASE_URL=url,
        CIVICBOT_LOG_LEVEL="WARNING",
        # the fake does not enforce Telegram's limits here: keep the bot's pacing out of the way
        TELEGRAM_MESSAGES_PER_SECOND="100000",
        TELEGRAM_PER_CHAT_PER_SECOND="50",
        TELEGRAM_GROUP_PER_MINUTE="100000",
        PYTHONUNBUFFERED="1",
    )
    return env


async def run_once(label: str, citizens: int, url: str | None, workdir: Path) -> Run:
    """The citizens against civicbot (url: its database) or, with no url, the echo bot."""
    echo = url is None
    run = Run(label=label, citizens=citizens)
    async with HarnessAPI() as api:
        env = bot_env(api, url or "sqlite://")
        log = workdir / (re.sub(r"\W+", "-", label).strip("-") + ".log")
        process = await spawn("benchmarks.echo_bot" if echo else "bot.cli run", env, log)
        try:
            await api.wait_for_call(lambda call: call.method == "getUpdates", timeout=120)
            await asyncio.sleep(2)  # start-up done: the command menus set, the first sweeps run
            await asyncio.gather(*(citizen(api, run, n, echo) for n in range(citizens)))
        finally:
            if process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.wait(), timeout=30)
    if run.failures:
        print(
            f"  {len(run.failures)} citizens did not finish, e.g. {run.failures[0]}; log {log}",
            file=sys.stderr,
        )
    return run


@asynccontextmanager
async def civicbot_database(kind: str, workdir: Path) -> AsyncIterator[str]:
    """A migrated database with an admin, a supervisor and a linked group per unit (cards go there)."""
    city = load_city_config(sample_config_path())
    if kind == "sqlite":
        url = f"sqlite:///{workdir}/bot.db"
        db = Database(url)
        await db.migrate()
        await add_staff(db, city)
        await db.dispose()
        yield url
        return
    async with postgres_database() as db:
        await db.migrate()
        await add_staff(db, city)
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        await db.dispose()
        yield url


def describe(run: Run) -> str:
    return (
        f"{run.label}: {run.updates:,} updates, {run.rate:.0f}/s; answer p50 "
        f"{statistics.median(run.answer_ms):.0f} ms, p99 {run.percentile(run.answer_ms, 0.99):.0f} ms; "
        f"first shown p50 {statistics.median(run.first_ms):.0f} ms, "
        f"p99 {run.percentile(run.first_ms, 0.99):.0f} ms"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--citizens", type=int, default=1000)
    parser.add_argument(
        "--postgresql", action="store_true", help="civicbot on PostgreSQL too, when it answers"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="civicbot-bench-"))
    runs = [await run_once("echo bot (aiogram)", args.citizens, None, workdir)]
    print(describe(runs[0]), flush=True)
    kinds = ["sqlite"]
    if args.postgresql:
        if await postgres_answers():
            kinds.append("postgresql")
        else:
            print("PostgreSQL does not answer on 127.0.0.1:5432: SQLite only")
    for kind in kinds:
        async with civicbot_database(kind, workdir) as url:
            label = f"civicbot ({'SQLite' if kind == 'sqlite' else 'PostgreSQL'})"
            run = await run_once(label, args.citizens, url, workdir)
        print(describe(run), flush=True)
        runs.append(run)
    floor = runs[0].rate
    print()
    print(
        "| bot | citizens | updates | updates/s | of the echo bot | answer p50 | answer p99 "
        "| first shown p99 | unfinished |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        print(
            f"| {run.label} | {run.citizens:,} | {run.updates:,} | {run.rate:.0f} | {run.rate / floor:.2f} "
            f"| {statistics.median(run.answer_ms):.0f} ms | {run.percentile(run.answer_ms, 0.99):.0f} ms "
            f"| {run.percentile(run.first_ms, 0.99):.0f} ms | {len(run.failures)} |"
        )
    good = all(
        r.rate >= 0.5 * floor and r.percentile(r.answer_ms, 0.99) < 250 and not r.failures for r in runs[1:]
    )
    print(
        "\ntargets (>= 0.5 of the echo bot's updates/s, p99 < 250 ms, everyone finished):",
        "met" if good else "NOT met",
    )
    return 0 if good else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
