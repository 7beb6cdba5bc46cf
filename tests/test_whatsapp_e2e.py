"""A whole complaint on WhatsApp through the real `civicbot run`, a fake Graph API and signed webhooks.

text → buttons → list → location → image (downloaded through the media endpoint) → confirm →
reference; a forged webhook changes nothing, a replayed delivery is answered once, a receipt
updates the outbox, and a photo whose download fails is asked for again.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlmodel import select

from models import Attachment, OutboxMessage, Ticket
from models.db import Database
from tests.fakes.graph_api import (
    DEFAULT_APP_SECRET,
    DEFAULT_PHONE_NUMBER_ID,
    DEFAULT_TOKEN,
    FakeGraphAPI,
    GraphCall,
    button_reply,
    image_message,
    list_reply,
    location_message,
    signed,
    status_update,
    text_message,
)
from tests.test_telegram_e2e import REFERENCE, STEP, BotProcess

WA_ID = "6281234567890"
VERIFY = "civicbot-verify"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    async with FakeGraphAPI() as server:
        yield server


class WhatsAppCitizen:
    """A WhatsApp user whose messages reach the bot as Meta would send them: signed webhooks."""

    def __init__(self, graph: FakeGraphAPI, url: str) -> None:
        self.graph, self.url = graph, url

    async def post(self, payload: dict[str, Any], *, secret: str = DEFAULT_APP_SECRET) -> int:
        body, headers = signed(payload, secret)
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url, data=body, headers=headers) as r,
        ):
            return r.status

    async def send(self, payload: dict[str, Any], expect: str) -> GraphCall:
        assert await self.post(payload) == 200
        return await self.graph.wait_for_text(WA_ID, expect, timeout=STEP)

    @staticmethod
    def choice(call: GraphCall, title: str) -> str:
        for choice_id, shown in call.buttons:
            if title.lower() in shown.lower():
                return choice_id
        raise AssertionError(f"no choice {title!r} in {call.buttons}")


@pytest.fixture
async def bot(graph: FakeGraphAPI, tmp_path: Path) -> AsyncIterator[tuple[WhatsAppCitizen, Database]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "CIVICBOT_", "WHATSAPP_"))}
    env.update(
        WHATSAPP_ACCESS_TOKEN=DEFAULT_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=DEFAULT_PHONE_NUMBER_ID,
        WHATSAPP_APP_SECRET=DEFAULT_APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=VERIFY,
        WHATSAPP_API_BASE=graph.base_url,
        CIVICBOT_WEBHOOK_HOST="127.0.0.1",
        CIVICBOT_WEBHOOK_PORT=str(port),
        CIVICBOT_MEDIA_DIR=str(tmp_path / "media"),
        CIVICBOT_DATABASE_URL=f"sqlite:///{tmp_path}/bot.db",
        CIVICBOT_OUTBOX_POLL_SECONDS="0.2",
        PYTHONUNBUFFERED="1",
    )
    process = BotProcess(env, tmp_path / "bot.log")
    await process.start()
    url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
    db = Database(f"sqlite:///{tmp_path}/bot.db")
    try:
        await subscribed(url)
        yield WhatsAppCitizen(graph, url), db
    except BaseException:
        print((tmp_path / "bot.log").read_text(errors="replace")[-4000:])
        raise
    finally:
        await process.stop()
        await db.dispose()


async def subscribed(url: str) -> None:
    """Meta's subscription check, retried until the server is up (it is the first thing to answer)."""
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "4242"}
    for _ in range(int(STEP * 3 / 0.2)):
        try:
            async with aiohttp.ClientSession() as session, session.get(url, params=params) as response:
                assert (response.status, await response.text()) == (200, "4242")
                return
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.2)
    raise AssertionError("the webhook server never answered")


async def test_a_whole_complaint_on_whatsapp(
    bot: tuple[WhatsAppCitizen, Database], graph: FakeGraphAPI, tmp_path: Path
) -> None:
    siti, db = bot
    # a forged delivery is refused and nobody is answered
    assert await siti.post(text_message(WA_ID, "Halo", wamid="wamid.forged"), secret="not-the-secret") == 403

    await siti.send(text_message(WA_ID, "Halo", wamid="wamid.1", name="Siti"), "Selamat datang")
    menu = await graph.wait_for(lambda c: c.to == WA_ID and bool(c.buttons), timeout=STEP)
    categories = await siti.send(
        button_reply(WA_ID, siti.choice(menu, "Buat pengaduan"), "Buat pengaduan", wamid="wamid.2"),
        "tentang apa",
    )
    assert categories.type == "interactive" and categories.body["interactive"]["type"] == "list"
    await siti.send(
        list_reply(WA_ID, siti.choice(categories, "Sampah"), "Sampah", wamid="wamid.3"), "Ceritakan"
    )
    asked_place = await siti.send(
        text_message(WA_ID, "Sampah di TPS Jl. Melati sudah 3 hari tidak diangkut, baunya", wamid="wamid.4"),
        "lokasi",
    )
    assert "Lokasi" in (asked_place.text or "")  # how to share a location in WhatsApp
    await siti.send(location_message(WA_ID, -6.2001, 106.8167, wamid="wamid.5"), "foto")
    photo_id = graph.add_media(b"\xff\xd8\xff fake jpeg", mime_type="image/jpeg")
    saved = await siti.send(image_message(WA_ID, photo_id, wamid="wamid.6"), "Foto")
    identity = await siti.send(
        button_reply(WA_ID, siti.choice(saved, "Selesai"), "Selesai", wamid="wamid.7"), "identitas"
    )
    summary = await siti.send(
        button_reply(WA_ID, siti.choice(identity, "Publik"), "Publik", wamid="wamid.8"), "Periksa"
    )
    confirm = button_reply(WA_ID, siti.choice(summary, "Kirim"), "Kirim", wamid="wamid.9")
    done = await siti.send(confirm, "Nomor tiket")
    reference = REFERENCE.search(done.text or "")
    assert reference

    # Meta delivers the same webhook again: it is answered once
    before = len(graph.sent_to(WA_ID))
    assert await siti.post(confirm) == 200
    assert await siti.post(text_message(WA_ID, "/status " + reference.group(0), wamid="wamid.10")) == 200
    await graph.wait_for_text(WA_ID, "Pengaduan dikirim", timeout=STEP)
    assert len(graph.sent_to(WA_ID)) - before <= 3  # the status answer only, never a second ticket

    async with db.sessions() as session:
        tickets = list(await session.exec(select(Ticket)))
        photos = list(await session.exec(select(Attachment)))
    assert [t.reference for t in tickets] == [reference.group(0)] and tickets[0].channel == "whatsapp"
    assert [p.file_id for p in photos] == [photo_id]
    stored = list((tmp_path / "media" / "whatsapp").iterdir())
    assert [p.read_bytes() for p in stored] == [b"\xff\xd8\xff fake jpeg"]

    # a receipt updates the outbox row of that message
    assert await siti.post(status_update(done.wamid or "", "read", WA_ID)) == 200
    for _ in range(50):
        async with db.sessions() as session:
            row = (
                await session.exec(
                    select(OutboxMessage).where(OutboxMessage.platform_message_id == done.wamid)
                )
            ).first()
        if row is not None and row.delivery_status == "read":
            break
        await asyncio.sleep(0.1)
    assert row is not None and row.delivery_status == "read"


async def test_a_photo_that_cannot_be_downloaded_is_asked_for_again(
    bot: tuple[WhatsAppCitizen, Database], graph: FakeGraphAPI
) -> None:
    siti, _ = bot
    photo_id = graph.add_media(b"jpeg", mime_type="image/jpeg")
    graph.fail_media_download(photo_id)
    await siti.send(image_message(WA_ID, photo_id, wamid="wamid.p1"), "tidak berhasil kami terima")


async def test_a_video_is_answered_without_being_downloaded(
    bot: tuple[WhatsAppCitizen, Database], graph: FakeGraphAPI
) -> None:
    siti, _ = bot
    video_id = graph.add_media(b"mp4", mime_type="video/mp4")
    payload = image_message(WA_ID, video_id, wamid="wamid.v1")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["type"], message["video"] = "video", message.pop("image")
    assert await siti.post(payload) == 200
    await graph.wait_for(lambda c: c.to == WA_ID and c.kind == "send", timeout=STEP)
    assert not [c for c in graph.calls if c.kind in ("media", "download")]
