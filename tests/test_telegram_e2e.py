"""The real bot process (`civicbot run`, aiogram long polling) against a local fake Bot API server."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from models import Attachment, Ticket
from models.db import Database
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_updates import Call

TOKEN = "123456789:AAFakeTokenForCivicbotTests"
ROOT = Path(__file__).resolve().parent.parent
REFERENCE = re.compile(r"ADU-\d{4}-[0-9A-HJKMNP-TV-Z]{4}")
STEP = 20.0  # seconds a reply may take, generous for a loaded CI machine


class BotProcess:
    """`civicbot run` in a subprocess, logging to a file the test prints when it fails."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        handle = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            env=self.env,
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=handle,
            stderr=handle,
        )
        handle.close()

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), timeout=STEP)


class TelegramCitizen:
    """A Telegram user typing, tapping and sharing, as the fake server delivers it."""

    def __init__(self, api: FakeTelegramAPI, user_id: int) -> None:
        self.api = api
        self.user_id = user_id

    async def expect(self, contains: str) -> Call:
        return await self.api.wait_for_text(self.user_id, contains, timeout=STEP)

    async def say(self, text: str, expect: str) -> Call:
        if text.startswith("/"):
            self.api.push_command(self.user_id, text, first_name="Siti")
        else:
            self.api.push_text(self.user_id, text, first_name="Siti")
        return await self.expect(expect)

    async def press(self, label: str, expect: str) -> Call:
        message_id, data = await self.button(label)
        self.api.push_callback(self.user_id, data, message_id=message_id)
        return await self.expect(expect)

    async def button(self, label: str) -> tuple[int, str]:
        """The newest inline button labelled so, waiting for it if not sent yet: (message id, data)."""
        for call in reversed(self.api.sent(self.user_id)):
            if _find(call, label) is not None:
                break
        else:

            def with_button(call: Call) -> bool:
                return call.chat_id == self.user_id and _find(call, label) is not None

            call = await self.api.wait_for_call(with_button, timeout=STEP)
        data = _find(call, label)
        assert data is not None
        return int(call.result["message_id"]), data


def _find(call: Call, label: str) -> str | None:
    markup = call.params.get("reply_markup")
    if call.failed or not isinstance(markup, dict):
        return None
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if label.lower() in button["text"].lower():
                return str(button["callback_data"])
    return None


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as server:
        yield server


def bot_environment(api: FakeTelegramAPI, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `civicbot run` against the fake: this machine's, minus any real settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "CIVICBOT_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE=api.base_url,
        TELEGRAM_POLLING_TIMEOUT="1",
        CIVICBOT_DATABASE_URL=f"sqlite:///{tmp_path}/bot.db",
        CIVICBOT_OUTBOX_POLL_SECONDS="0.2",
        CIVICBOT_OUTBOX_LEASE_SECONDS="2",  # a message in flight at the kill is retried after 2 s
        # no waiting for Telegram's per-chat limits (20 a minute in a group): these runs are about the
        # conversations; the limits are kept in tests/test_broadcast_e2e.py, where the fake enforces them
        TELEGRAM_PER_CHAT_PER_SECOND="50",
        TELEGRAM_GROUP_PER_MINUTE="3000",
        CIVICBOT_WEBHOOK_PORT="0",  # the health server on any free port: runs side by side never clash
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture
def bot_env(api: FakeTelegramAPI, tmp_path: Path) -> dict[str, str]:
    return bot_environment(api, tmp_path)


@pytest.fixture
async def bot(bot_env: dict[str, str], tmp_path: Path) -> AsyncIterator[BotProcess]:
    process = BotProcess(bot_env, tmp_path / "bot.log")
    await process.start()
    try:
        yield process
    finally:
        await process.stop(signal.SIGKILL)
        print(process.log.read_text(errors="replace")[-4000:])


async def stored(env: dict[str, str]) -> tuple[list[Ticket], list[Attachment]]:
    db = Database(env["CIVICBOT_DATABASE_URL"])
    async with db.sessions() as session:
        tickets = list(await session.exec(select(Ticket)))
        photos = list(await session.exec(select(Attachment)))
    await db.dispose()
    return tickets, photos


async def test_a_citizen_files_a_complaint_with_a_photo_and_a_location(
    api: FakeTelegramAPI, bot: BotProcess, bot_env: dict[str, str]
) -> None:
    siti = TelegramCitizen(api, 5001)
    await siti.say("/start", "Selamat datang")
    await siti.press("Buat pengaduan", "Pengaduan Anda tentang apa")
    await siti.press("Sampah", "Ceritakan masalahnya")
    ask_location = await siti.say("Sampah di TPS Jl. Melati <3 hari> tidak diangkut", "Di mana lokasinya")
    keyboard = ask_location.params["reply_markup"]
    assert keyboard["keyboard"][0][0]["request_location"] is True  # Telegram's share-location button
    api.push_location(5001, -6.2001, 106.8167)
    await siti.expect("Lokasi diterima")
    await siti.expect("Kirim foto")
    photo = api.push_photo(5001, caption="ini fotonya")
    await siti.expect("Foto 1 dari 3")
    await siti.press("Selesai", "identitas")
    summary = await siti.press("Publik", "Periksa pengaduan")
    # the HTML the bot sent escaped the citizen's text, and Telegram accepted it
    assert "&lt;3 hari&gt;" in summary.params["text"] and "<3 hari>" in (summary.text or "")
    done = await siti.press("Kirim pengaduan", "Pengaduan terkirim")
    reference = REFERENCE.search(done.text or "")
    assert reference, done.text
    assert "1 hari kerja" in (done.text or "")

    [ticket], [attachment] = await stored(bot_env)
    assert ticket.reference == reference.group(0)
    assert (ticket.category, ticket.latitude, ticket.longitude) == ("sampah", -6.2001, 106.8167)
    largest = photo["message"]["photo"][-1]
    assert attachment.file_id == largest["file_id"]  # the largest size Telegram offered

    await siti.say(f"/status {reference.group(0)}", "Riwayat")
    answered = [c for c in api.calls if c.method == "answerCallbackQuery"]
    assert len(answered) == 5  # every button press was answered


async def test_restart_in_the_middle_and_a_repeated_update(
    api: FakeTelegramAPI, bot: BotProcess, bot_env: dict[str, str], tmp_path: Path
) -> None:
    budi = TelegramCitizen(api, 5002)
    await budi.say("/start", "Selamat datang")
    await budi.press("Buat pengaduan", "Pengaduan Anda tentang apa")
    await budi.press("Jalan", "Ceritakan masalahnya")
    await budi.say("Jalan berlubang dalam di depan SD Negeri 4", "Di mana lokasinya")

    await bot.stop(signal.SIGKILL)  # killed without warning
    update = api.push_text(5002, "Jl. Anggrek No. 12, depan masjid", first_name="Budi")
    restarted = BotProcess(bot_env, tmp_path / "bot.log")
    await restarted.start()
    try:
        await budi.expect("Alamat dicatat")
        await budi.expect("Kirim foto")  # the conversation went on where it was
        api.push_raw(update)  # Telegram delivers the same update again
        await budi.press("Lewati", "identitas")
        await api.wait_idle(quiet=1.0, timeout=STEP)
        assert sum("Alamat dicatat" in text for text in api.texts(5002)) == 1
        await budi.press("Anonim", "Periksa pengaduan")
        await budi.press("Kirim", "Pengaduan terkirim")
    finally:
        assert await restarted.stop() == 0  # SIGTERM: a clean shutdown
    [ticket], _ = await stored(bot_env)
    assert ticket.address == "Jl. Anggrek No. 12, depan masjid"
    assert ticket.identity == "anonymous"


async def test_a_429_from_telegram_delays_but_loses_nothing(api: FakeTelegramAPI, bot: BotProcess) -> None:
    ani = TelegramCitizen(api, 5003)
    await ani.say("/start", "Selamat datang")
    api.fail_next("sendMessage", status=429, retry_after=1)
    await ani.say("/help", "Cara menggunakan")
    refused = [c for c in api.calls if c.method == "sendMessage" and c.failed]
    assert len(refused) == 1 and refused[0].status == 429
