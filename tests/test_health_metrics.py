"""Health, readiness and metrics of the running bot, and its JSON logs."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.health import Health
from bot.metrics import Metrics
from bot.web import WebServer
from models.db import Database
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.test_telegram_e2e import STEP, BotProcess, TelegramCitizen, bot_environment
from tests.test_whatsapp_e2e import free_port


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as server:
        yield server


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def answered(url: str) -> tuple[int, str]:
    """GET, retried while the server is not listening yet."""
    deadline = time.monotonic() + STEP
    while True:
        try:
            return await get(url)
        except aiohttp.ClientConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def until_ready(base: str) -> None:
    deadline = time.monotonic() + STEP
    while (await answered(base + "/readyz"))[0] != 200:
        assert time.monotonic() < deadline, "never ready"
        await asyncio.sleep(0.1)


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition: (name, labels) → value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


async def test_a_polling_bot_serves_health_readiness_and_metrics_that_move(
    api: FakeTelegramAPI, tmp_path: Path
) -> None:
    port = free_port()
    env = bot_environment(
        api,
        tmp_path,
        CIVICBOT_WEBHOOK_HOST="127.0.0.1",
        CIVICBOT_WEBHOOK_PORT=str(port),
        CIVICBOT_LOG_FORMAT="json",
    )
    process = BotProcess(env, tmp_path / "bot.log")
    base = f"http://127.0.0.1:{port}"
    await process.start()
    try:
        assert await answered(base + "/healthz") == (200, "ok")
        await until_ready(base)
        status, body = await get(base + "/readyz")
        assert (status, json.loads(body)) == (200, {"status": "ready"})

        before = samples((await get(base + "/metrics"))[1])
        assert before[("civicbot_outbox_pending", ())] == 0
        assert before[("civicbot_messages_total", (("outcome", "sent"),))] == 0

        siti = TelegramCitizen(api, 5101)
        await siti.say("/start", "Selamat datang")
        api.push_raw(api.push_command(5101, "/help"))  # /help, and Telegram delivering it twice
        await siti.expect("Cara menggunakan")
        await api.wait_idle(quiet=0.5, timeout=STEP)

        status, exposition = await get(base + "/metrics")
        assert status == 200
        after = samples(exposition)
        command = ("channel", "telegram"), ("kind", "command")
        assert after[("civicbot_updates_total", (*command, ("outcome", "handled")))] == 2
        assert after[("civicbot_updates_total", (*command, ("outcome", "ignored")))] == 1
        assert after[("civicbot_update_seconds_count", (("channel", "telegram"),))] == 3
        assert after[("civicbot_messages_total", (("outcome", "sent"),))] >= 2
        assert after[("civicbot_outbox_pending", ())] == 0
        assert after[("civicbot_broadcasts_running", ())] == 0
        assert after[("civicbot_database_up", ())] == 1
        assert after[("civicbot_sla_alerts_total", (("kind", "reminder"),))] == 0
        assert after[("civicbot_sla_alerts_total", (("kind", "escalation"),))] == 0
        assert after[("civicbot_sla_breaches_total", ())] == 0
    finally:
        assert await process.stop() == 0
    lines = [line for line in process.log.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert any("SIGTERM" in entry["message"] for entry in entries)
    assert entries[-1]["message"] == "stopped"


async def readiness_of(db: Database) -> tuple[int, dict[str, str]]:
    health = Health(db)
    server = WebServer("127.0.0.1", 0, health, Metrics(db, {}))
    served = TestServer(server.app)
    await served.start_server()
    try:
        health.ready = True
        async with (
            aiohttp.ClientSession() as session,
            session.get(served.make_url("/readyz")) as response,
        ):
            return response.status, await response.json()
    finally:
        await served.close()
        await db.dispose()


async def test_readiness_is_503_when_the_database_refuses(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, body = await readiness_of(Database(f"postgresql://civicbot:x@127.0.0.1:{port}/civicbot"))
    assert status == 503
    assert body["status"] == "unavailable" and body["reason"].startswith("database unavailable")


async def test_readiness_is_503_when_the_database_does_not_answer_within_a_second() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the connection, never speaks, until the client gives up

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        status, body = await readiness_of(Database(f"postgresql://civicbot:x@127.0.0.1:{port}/civicbot"))
        assert status == 503 and body["reason"] == "database did not answer within 1 s"
        assert time.monotonic() - started < 5
    finally:
        listener.close()


async def test_readiness_while_starting_and_stopping(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/ready.db")
    health = Health(db)
    assert await health.check() == "starting"
    health.ready = True
    assert await health.check() is None
    health.stopping = True
    assert await health.check() == "shutting down"
    await db.dispose()


async def test_the_polling_bot_runs_on_when_the_port_is_taken(api: FakeTelegramAPI, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = bot_environment(
            api,
            tmp_path,
            CIVICBOT_WEBHOOK_HOST="127.0.0.1",
            CIVICBOT_WEBHOOK_PORT=str(taken.getsockname()[1]),
        )
        process = BotProcess(env, tmp_path / "bot.log")
        await process.start()
        try:
            await TelegramCitizen(api, 5102).say("/start", "Selamat datang")
        finally:
            assert await process.stop(signal.SIGTERM) == 0
    assert "health and metrics not served" in process.log.read_text()
