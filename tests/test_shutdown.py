"""A SIGTERM while a reply is on its way to Telegram: the reply arrives once, the process exits 0."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from models import OutboxMessage
from models.db import Database
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.test_telegram_e2e import STEP, BotProcess, bot_environment

SLOW = 2.0  # seconds the fake takes over the reply


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as server:
        yield server


async def outbox(env: dict[str, str]) -> list[OutboxMessage]:
    db = Database(env["CIVICBOT_DATABASE_URL"])
    async with db.sessions() as session:
        rows = list(await session.exec(select(OutboxMessage)))
    await db.dispose()
    return rows


async def test_sigterm_lets_the_send_in_flight_finish(api: FakeTelegramAPI, tmp_path: Path) -> None:
    env = bot_environment(api, tmp_path, CIVICBOT_WEBHOOK_PORT="0")
    process = BotProcess(env, tmp_path / "bot.log")
    await process.start()
    try:
        api.delay_next("sendMessage", SLOW)
        api.push_command(5201, "/start", first_name="Siti")
        in_flight = await api.wait_for_call(
            lambda call: call.method == "sendMessage" and call.chat_id == 5201, timeout=STEP
        )
        assert in_flight.result is None  # the fake is still "sending" it
        assert await process.stop(signal.SIGTERM) == 0
        assert in_flight.result is not None and not in_flight.failed  # it arrived
        welcome = [c for c in api.sent(5201, include_failed=True) if "Selamat datang" in (c.text or "")]
        assert welcome == [in_flight]
        first = min((r for r in await outbox(env) if r.chat_id == "5201"), key=lambda r: r.id or 0)
        assert (first.status, first.attempts) == ("sent", 1)  # recorded: nothing to send again

        api.consume_all()
        restarted = BotProcess(env, tmp_path / "bot.log")
        await restarted.start()
        try:
            await api.wait_for_call(lambda call: call.method == "deleteWebhook", timeout=STEP)
            await api.wait_idle(quiet=1.0, timeout=STEP)
        finally:
            assert await restarted.stop() == 0
        assert [c for c in api.sent(5201) if "Selamat datang" in (c.text or "")] == [in_flight]
    finally:
        await process.stop(signal.SIGKILL)
        print(process.log.read_text(errors="replace")[-4000:])
