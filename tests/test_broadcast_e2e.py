"""An announcement through the real processes: `civicbot broadcast send`, then `civicbot run` against
the fake Bot API enforcing Telegram's flood limits with some injected 429/5xx, killed (SIGKILL) halfway
and started again.

Every citizen who wants announcements gets exactly one, in their language; one who opted out gets
none; the broadcast ends done with every row sent. A copy in flight at the kill may go twice, and then
its outbox row says so (two attempts) — at-least-once, never silently lost.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlmodel import select

from models import Broadcast, BroadcastStatus, Citizen, OutboxMessage, OutboxStatus
from models.db import Database
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_limits import FloodLimits
from tests.test_telegram_e2e import ROOT, STEP, BotProcess, bot_environment

FIRST = 800_000_000
CITIZENS = 60
OPTED_OUT = FIRST + 7
ENGLISH = {FIRST + n for n in range(0, CITIZENS, 6)}
TEXT_ID = "Pengumuman: layanan pengaduan tutup pada 25 Desember."
TEXT_EN = "Announcement: the complaint desk is closed on 25 December."


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        fake.limit_rate(FloodLimits(per_second=30, per_chat_per_second=1, fault_rate=0.05, seed=3))
        yield fake


async def citizens_in(url: str) -> None:
    db = Database(url)
    await db.migrate()
    now = datetime.now(UTC)
    rows = [
        {
            "channel": "telegram",
            "external_id": str(chat),
            "chat_id": str(chat),
            "language": "en" if chat in ENGLISH else "id",
            "language_source": "chosen",
            "created_at": now,
            "last_seen_at": now,
            "announcements_off_at": now if chat == OPTED_OUT else None,
        }
        for chat in range(FIRST, FIRST + CITIZENS)
    ]
    async with db.transaction() as session:
        await session.exec(insert(Citizen).values(rows))  # type: ignore[call-overload]
    await db.dispose()


def announced(api: FakeTelegramAPI) -> Counter[int]:
    return Counter(
        call.chat_id
        for call in api.calls
        if call.method == "sendMessage" and not call.failed and isinstance(call.chat_id, int)
        if call.chat_id >= FIRST
    )


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(4 * STEP):
        while not condition():  # noqa: ASYNC110 (another process does the work: look again)
            await asyncio.sleep(0.1)


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return await process.wait(), output.decode()


async def test_an_announcement_reaches_everyone_once_across_a_kill_and_restart(
    api: FakeTelegramAPI, tmp_path: Path
) -> None:
    env = bot_environment(
        api,
        tmp_path,
        CIVICBOT_BROADCAST_SECONDS="0.3",
        CIVICBOT_BROADCAST_AHEAD_SECONDS="0.3",  # a few recipients queued at a time: the kill comes midway
        CIVICBOT_LOG_LEVEL="INFO",
        TELEGRAM_PER_CHAT_PER_SECOND="1",  # Telegram's limits, as the fake enforces them
        TELEGRAM_GROUP_PER_MINUTE="20",
    )
    url = env["CIVICBOT_DATABASE_URL"]
    await citizens_in(url)
    code, output = await run_cli(
        env, "broadcast", "send", "--text-id", TEXT_ID, "--text-en", TEXT_EN, "--segment", "everyone", "--yes"
    )
    assert code == 0, output
    assert str(CITIZENS - 1) in output  # the count shown: everyone but the one who opted out

    process = BotProcess(env, tmp_path / "bot.log")
    await process.start()
    try:
        await wait_until(lambda: len(announced(api)) >= CITIZENS // 3)
        await process.stop(signal.SIGKILL)
        halfway = len(announced(api))
        assert halfway < CITIZENS - 1  # killed with work left
        db = Database(url)
        async with db.sessions() as session:
            killed = (await session.exec(select(Broadcast))).one()
        await db.dispose()
        assert 0 < killed.queued < killed.total == CITIZENS - 1  # in the middle of queuing it, too
        process = BotProcess(env, tmp_path / "bot.log")
        await process.start()
        await wait_until(lambda: len(announced(api)) >= CITIZENS - 1)
        db = Database(url)
        try:

            async def finished() -> Broadcast:
                async with db.sessions() as session:
                    return (await session.exec(select(Broadcast))).one()

            for _ in range(100):
                if (await finished()).status == BroadcastStatus.DONE:
                    break
                await asyncio.sleep(0.1)
            assert (await finished()).status == BroadcastStatus.DONE
            async with db.sessions() as session:
                rows = list(await session.exec(select(OutboxMessage)))
        finally:
            await db.dispose()
    except BaseException:
        print((tmp_path / "bot.log").read_text(errors="replace")[-4000:])
        raise
    finally:
        await process.stop()

    received = announced(api)
    assert set(received) == set(range(FIRST, FIRST + CITIZENS)) - {OPTED_OUT}
    assert all(row.status == OutboxStatus.SENT for row in rows if row.broadcast_id)
    twice = {chat for chat, count in received.items() if count > 1}
    retried = {int(row.chat_id) for row in rows if row.broadcast_id and row.attempts > 1}
    assert twice <= retried  # a copy that went twice is one whose record shows the second attempt
    assert len(twice) <= 8  # at most what was in flight at the kill (the sender's concurrency)
    for call in api.calls:
        if call.method == "sendMessage" and not call.failed and call.chat_id in received:
            expected = TEXT_EN if call.chat_id in ENGLISH else TEXT_ID
            assert expected in (call.text or ""), call.text
    assert api.limits is not None and api.limits.faults > 0  # the injected trouble happened, and was overcome
