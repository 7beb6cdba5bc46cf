"""`civicbot run` in Telegram webhook mode against the fake Bot API: the fake posts updates to the
bot's web server the way Telegram does, with the secret token in a header."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.settings import Settings
from models import Citizen
from models.db import Database
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.test_telegram_e2e import STEP, BotProcess, bot_environment
from tests.test_whatsapp_e2e import free_port

SECRET = "rahasia_Kota-123"
PATH = "/tg/hook-8f2c"


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
async def hooked(api: FakeTelegramAPI, tmp_path: Path) -> AsyncIterator[BotProcess]:
    """The bot in webhook mode, once it has registered its webhook with the fake."""
    port = free_port()
    env = bot_environment(
        api,
        tmp_path,
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}{PATH}",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        CIVICBOT_WEBHOOK_HOST="127.0.0.1",
        CIVICBOT_WEBHOOK_PORT=str(port),
    )
    process = BotProcess(env, tmp_path / "bot.log")
    await process.start()
    try:
        await api.wait_for_call(lambda call: call.method == "setWebhook", timeout=STEP)
        yield process
    finally:
        await process.stop(signal.SIGKILL)
        print(process.log.read_text(errors="replace")[-4000:])


def welcome(api: FakeTelegramAPI, user_id: int) -> list[str]:
    return [text for text in api.texts(user_id) if "Selamat datang" in text]


async def citizens(tmp_path: Path) -> list[Citizen]:
    db = Database(f"sqlite:///{tmp_path}/bot.db")
    async with db.sessions() as session:
        rows = list(await session.exec(select(Citizen)))
    await db.dispose()
    return rows


async def test_an_update_posted_to_the_webhook_is_answered_once(
    api: FakeTelegramAPI, hooked: BotProcess
) -> None:
    [registered] = [c for c in api.calls if c.method == "setWebhook"]
    assert registered.params["url"].endswith(PATH)
    assert registered.params["secret_token"] == SECRET
    assert set(registered.params["allowed_updates"]) == {"message", "edited_message", "callback_query"}

    update = api.push_command(7001, "/start", first_name="Siti")
    assert await api.post_webhook(update) == (200, "ok")
    await api.wait_for_text(7001, "Selamat datang", timeout=STEP)

    assert (await api.post_webhook(update))[0] == 200  # Telegram delivers it again
    later = api.push_command(7001, "/help")  # a later update is answered: the repeat was not just slow
    assert (await api.post_webhook(later))[0] == 200
    await api.wait_for_text(7001, "Cara menggunakan", timeout=STEP)
    await api.wait_idle(quiet=0.5, timeout=STEP)
    assert len(welcome(api, 7001)) == 1
    assert not [c for c in api.calls if c.method == "getUpdates"]  # no polling beside the webhook


async def test_a_forged_or_broken_request_changes_nothing(
    api: FakeTelegramAPI, hooked: BotProcess, tmp_path: Path
) -> None:
    update = api.push_command(7002, "/start", first_name="Mallory")
    assert (await api.post_webhook(update, secret="tebakan"))[0] == 403
    assert (await api.post_webhook(update, secret=None))[0] == 403
    assert (await api.post_webhook(update, secret=SECRET + "x"))[0] == 403
    assert (await api.post_webhook(b"{not json"))[0] == 400
    assert (await api.post_webhook({"update_id": "satu", "message": 5}))[0] == 400
    assert (await api.post_webhook(b"[" + b'"x",' * 400_000 + b'"x"]'))[0] == 413  # about 1.6 MB
    await api.wait_idle(quiet=0.5, timeout=STEP)
    assert api.sent(7002) == []  # nobody was answered
    assert await citizens(tmp_path) == []  # nobody was recorded

    # the bot is still there, and the same update with the right secret is taken
    assert (await api.post_webhook(update))[0] == 200
    await api.wait_for_text(7002, "Selamat datang", timeout=STEP)
    assert [c.external_id for c in await citizens(tmp_path)] == ["7002"]


async def test_a_stop_leaves_the_webhook_registered(api: FakeTelegramAPI, hooked: BotProcess) -> None:
    update = api.push_command(7003, "/start")
    assert (await api.post_webhook(update))[0] == 200
    await api.wait_for_text(7003, "Selamat datang", timeout=STEP)
    assert await hooked.stop() == 0  # SIGTERM: a clean exit
    assert not [c for c in api.calls if c.method == "deleteWebhook"]
    assert api.webhook_url.endswith(PATH)  # another instance may be serving it


def test_the_secret_is_derived_from_the_token_when_not_set() -> None:
    one = Settings(TELEGRAM_BOT_TOKEN="1:abc", TELEGRAM_WEBHOOK_URL="https://bot.example.go.id/tg")
    again = Settings(TELEGRAM_BOT_TOKEN="1:abc", TELEGRAM_WEBHOOK_URL="https://bot.example.go.id/tg")
    other = Settings(TELEGRAM_BOT_TOKEN="1:xyz", TELEGRAM_WEBHOOK_URL="https://bot.example.go.id/tg")
    secret = one.telegram_webhook_secret_token
    assert secret == again.telegram_webhook_secret_token  # every instance registers the same one
    assert secret != other.telegram_webhook_secret_token
    assert 1 <= len(secret) <= 256 and secret.replace("_", "").replace("-", "").isalnum()
    assert "abc" not in secret
    assert one.telegram_webhook_path == "/tg"
    with pytest.raises(ValueError):
        Settings(TELEGRAM_WEBHOOK_SECRET="bad secret!")
    with pytest.raises(ValueError):
        Settings(TELEGRAM_WEBHOOK_URL="ftp://bot.example.go.id/tg")
