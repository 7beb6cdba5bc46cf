"""A photo crosses platforms: a WhatsApp citizen's reaches the unit's Telegram group, an officer's
Telegram photo reaches the WhatsApp citizen.

A handle means nothing to the other platform, so the file itself is uploaded: the one the WhatsApp
adapter stored when it arrived (bot/media_store.py), or the one the Telegram adapter downloads.
Checked on the adapters against both fake servers, then through the real `civicbot run` serving
Telegram and WhatsApp at once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Update

from bot.channels.base import DeliveryError
from bot.channels.telegram import TelegramAdapter, make_bot, message_to_inbound
from bot.channels.whatsapp import WhatsAppAdapter
from bot.channels.whatsapp_client import GraphClient
from bot.channels.whatsapp_format import render
from bot.media_store import MediaStore
from handlers.messages import Channel, Inbound, MediaRef, OutMedia
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
    text_message,
)
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_updates import Call, Upload
from tests.test_telegram_e2e import REFERENCE, STEP, BotProcess, bot_environment
from tests.test_whatsapp_e2e import VERIFY, WhatsAppCitizen, free_port, subscribed
from tests.test_workflow_e2e import CODE

GROUP = -1009876543210
OFFICER = 7001
ADMIN = 9001
WA_ID = "6281234567890"
JPEG = b"\xff\xd8\xff\xe0 a citizen's photo of the rubbish heap"
PROOF = b"\xff\xd8\xff\xe0 the officer's photo of the cleared street"


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        fake.add_group(GROUP, "DLH Kota Contoh")
        yield fake


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    async with FakeGraphAPI() as fake:
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


@pytest.fixture
async def bot(api: FakeTelegramAPI) -> AsyncIterator[Bot]:
    bot = make_bot(api.token, api.base_url)
    yield bot
    await bot.session.close()


@pytest.fixture
def telegram(bot: Bot, store: MediaStore) -> TelegramAdapter:
    return TelegramAdapter(bot, media=store)


@pytest.fixture
async def client(graph: FakeGraphAPI) -> AsyncIterator[GraphClient]:
    async with GraphClient(
        access_token=graph.access_token, phone_number_id=graph.phone_number_id, base_url=graph.base_url
    ) as graph_client:
        yield graph_client


Received = list[Inbound]


@pytest.fixture
def received() -> Received:
    return []


@pytest.fixture
def make_whatsapp(
    client: GraphClient, db: Database, store: MediaStore, received: Received
) -> Callable[..., WhatsAppAdapter]:
    async def handle(inbound: Inbound) -> bool:
        received.append(inbound)
        return True

    def make(**options: Any) -> WhatsAppAdapter:
        return WhatsAppAdapter(
            client,
            db=db,
            handle=handle,
            media_dir=store.root,
            list_button_labels={"id": "Pilih"},
            location_hints={"id": "Bagikan lokasi"},
            **options,
        )

    return make


@pytest.fixture
def whatsapp(make_whatsapp: Callable[..., WhatsAppAdapter], telegram: TelegramAdapter) -> WhatsAppAdapter:
    """As App wires it: another platform's file comes through the Telegram adapter."""
    return make_whatsapp(fetch_foreign=telegram.fetch_media)


async def whatsapp_photo(graph: FakeGraphAPI, whatsapp: WhatsAppAdapter, received: Received) -> MediaRef:
    """A citizen's photo arrives by webhook (downloaded and stored); the reference handlers get."""
    media_id = graph.add_media(JPEG, mime_type="image/jpeg")
    await whatsapp.on_webhook(image_message(WA_ID, media_id, "sampah", wamid="wamid.photo"))
    (ref,) = received[-1].media
    return ref


def officer_photo(api: FakeTelegramAPI, bot: Bot, content: bytes, file_id: str = "AgACproofFILE") -> MediaRef:
    """An officer's photo arrives from Telegram; the reference handlers get."""
    update = api.push_group_photo(GROUP, OFFICER, file_id=file_id, caption="sudah bersih")
    api.set_file_content(file_id, content)
    parsed = Update.model_validate(update, context={"bot": bot})
    assert parsed.message is not None
    inbound = message_to_inbound(parsed.message, bot_id=bot.id)
    assert inbound is not None
    (ref,) = inbound.media
    return ref


# --- WhatsApp → Telegram ----------------------------------------------------------------------


async def test_a_whatsapp_photo_reaches_a_telegram_group_as_an_upload_of_its_bytes(
    api: FakeTelegramAPI,
    graph: FakeGraphAPI,
    telegram: TelegramAdapter,
    whatsapp: WhatsAppAdapter,
    received: Received,
) -> None:
    ref = await whatsapp_photo(graph, whatsapp, received)
    assert ref.channel == Channel.WHATSAPP  # the parser says whose handle it is

    message_id = await telegram.deliver(str(GROUP), OutMedia(media=ref, caption="<b>ADU-2026-AB12</b>"))

    [(call, upload)] = api.uploads(GROUP)
    assert call.method == "sendPhoto" and upload.data == JPEG
    assert upload.filename.endswith(".jpg")
    assert call.text == "ADU-2026-AB12"
    shown = api.get_message(GROUP, int(message_id or 0))
    assert shown is not None and "photo" in shown  # the group sees a photo, not a document

    # the same file again (an announcement's photo to the next citizen): by the id Telegram gave it
    await telegram.deliver("4242", OutMedia(media=ref))
    assert len(api.uploads()) == 1
    [again] = [c for c in api.sent(4242) if c.method == "sendPhoto"]
    assert again.params["photo"] == shown["photo"][-1]["file_id"]


@pytest.mark.parametrize(
    ("kind", "mime", "method"),
    [
        ("voice", "audio/ogg", "sendVoice"),
        ("document", "application/pdf", "sendDocument"),
        ("video", "video/mp4", "sendVideo"),
        ("voice", "audio/amr", "sendDocument"),  # not a format sendVoice takes: a file to open
    ],
)
async def test_other_whatsapp_media_go_by_the_matching_method(
    api: FakeTelegramAPI,
    telegram: TelegramAdapter,
    store: MediaStore,
    kind: Any,
    mime: str,
    method: str,
) -> None:
    suffix = {"audio/ogg": ".oga", "application/pdf": ".pdf", "video/mp4": ".mp4", "audio/amr": ".amr"}[mime]
    await store.save(Channel.WHATSAPP, "2051", b"file of kind " + kind.encode(), suffix)
    ref = MediaRef(kind=kind, file_id="2051", channel=Channel.WHATSAPP)

    await telegram.deliver(str(GROUP), OutMedia(media=ref, caption="ADU-2026-AB12"))

    [(call, upload)] = api.uploads(GROUP)
    assert (call.method, upload.data) == (method, b"file of kind " + kind.encode())


@pytest.mark.parametrize(("kind", "method"), [("voice", "sendVoice"), ("video", "sendVideo")])
async def test_telegram_media_are_sent_by_file_id_with_the_matching_method(
    api: FakeTelegramAPI, telegram: TelegramAdapter, kind: Any, method: str
) -> None:
    ref = MediaRef(kind=kind, file_id="AwACvoiceFILE", channel=Channel.TELEGRAM)
    await telegram.deliver(str(GROUP), OutMedia(media=ref))
    [call] = api.sent(GROUP)
    assert call.method == method and call.params[kind] == "AwACvoiceFILE"
    assert api.uploads() == []


async def test_a_whatsapp_photo_that_was_never_stored_fails_for_good(
    api: FakeTelegramAPI, telegram: TelegramAdapter, store: MediaStore
) -> None:
    await store.save(Channel.WHATSAPP, "10203", b"another photo", ".jpg")  # a different one is stored
    ref = MediaRef(kind="photo", file_id="1020", channel=Channel.WHATSAPP)

    with pytest.raises(DeliveryError) as failure:
        await telegram.deliver(str(GROUP), OutMedia(media=ref))

    assert failure.value.permanent
    assert "not in the media store" in failure.value.reason and "1020" in failure.value.reason
    assert api.sent(GROUP, include_failed=True) == []  # never sent with a handle Telegram cannot read


async def test_the_fake_refuses_a_whatsapp_media_id_as_a_file_id(api: FakeTelegramAPI, bot: Bot) -> None:
    """What happened before: sendPhoto with a WhatsApp id fails (so the uploads above matter)."""
    adapter = TelegramAdapter(bot)
    with pytest.raises(DeliveryError, match="wrong file identifier") as failure:
        await adapter.deliver(str(GROUP), OutMedia(media=MediaRef(kind="photo", file_id="1479537139650973")))
    assert failure.value.permanent


# --- Telegram → WhatsApp ----------------------------------------------------------------------


async def test_an_officers_telegram_photo_reaches_a_whatsapp_citizen_as_an_uploaded_image(
    api: FakeTelegramAPI, graph: FakeGraphAPI, bot: Bot, whatsapp: WhatsAppAdapter, store: MediaStore
) -> None:
    ref = officer_photo(api, bot, PROOF)
    assert ref.channel == Channel.TELEGRAM

    wamid = await whatsapp.deliver(WA_ID, OutMedia(media=ref, caption="Bukti <b>ADU-2026-AB12</b>"))

    [upload] = graph.uploads()
    assert (upload.data, upload.mime_type) == (PROOF, "image/jpeg")
    [sent] = graph.sent_to(WA_ID)
    assert sent.wamid == wamid and sent.type == "image"
    assert sent.body["image"] == {"id": upload.media_id, "caption": "Bukti *ADU-2026-AB12*"}
    assert graph.media[str(upload.media_id)].content == PROOF  # what the citizen's phone downloads
    assert store.find(Channel.TELEGRAM, ref.file_id) is not None  # kept for the next time

    # to a second citizen (a follower): neither downloaded nor uploaded again, sent by the same id
    await whatsapp.deliver("6289876543210", OutMedia(media=ref))
    assert len([c for c in api.calls if c.method == "getFile"]) == 1
    assert [u.data for u in graph.uploads()] == [PROOF]
    assert graph.sent_to("6289876543210")[0].body["image"] == {"id": upload.media_id}

    # a week and a day later the id is not trusted any more (Meta keeps uploads 30 days): uploaded again
    whatsapp.uploaded.clock = lambda: 8 * 24 * 3600.0 + time.monotonic()
    await whatsapp.deliver("6281111111111", OutMedia(media=ref))
    assert [u.data for u in graph.uploads()] == [PROOF, PROOF]

    # a send with a reused id that fails (the upload may be gone) makes the next one upload afresh
    graph.fail_next(131053, to="6282222222222")
    with pytest.raises(DeliveryError):
        await whatsapp.deliver("6282222222222", OutMedia(media=ref))
    await whatsapp.deliver("6282222222222", OutMedia(media=ref))
    assert [u.data for u in graph.uploads()] == [PROOF, PROOF, PROOF]


async def test_an_officers_telegram_voice_note_and_document_reach_a_whatsapp_citizen(
    api: FakeTelegramAPI, graph: FakeGraphAPI, bot: Bot, whatsapp: WhatsAppAdapter
) -> None:
    """Relayed replies (handlers/group.py) may carry a voice note or a document: each is uploaded
    and sent by its own WhatsApp type, the voice note as audio WhatsApp plays in the chat."""
    sent_kinds = []
    for update, content in (
        (api.push_voice(OFFICER, chat_id=GROUP), b"OggS voice"),
        (api.push_document(OFFICER, chat_id=GROUP, caption="surat"), b"%PDF-1.4 surat"),
    ):
        parsed = Update.model_validate(update, context={"bot": bot})
        assert parsed.message is not None
        inbound = message_to_inbound(parsed.message, bot_id=bot.id)
        assert inbound is not None
        (ref,) = inbound.media
        api.set_file_content(ref.file_id, content)
        await whatsapp.deliver(WA_ID, OutMedia(media=ref))
        sent_kinds.append((graph.uploads()[-1].data, graph.sent_to(WA_ID)[-1].type))
    assert sent_kinds == [(b"OggS voice", "audio"), (b"%PDF-1.4 surat", "document")]
    assert graph.uploads()[0].mime_type == "audio/ogg"


async def test_a_telegram_file_telegram_no_longer_has_fails_for_good(
    graph: FakeGraphAPI, whatsapp: WhatsAppAdapter
) -> None:
    ref = MediaRef(kind="photo", file_id="AgACgoneFILE", channel=Channel.TELEGRAM)
    with pytest.raises(DeliveryError) as failure:
        await whatsapp.deliver(WA_ID, OutMedia(media=ref))
    assert failure.value.permanent and "invalid file_id" in failure.value.reason
    assert graph.uploads(include_failed=True) == [] and graph.sends(include_failed=True) == []


async def test_a_refused_upload_is_a_delivery_error_like_a_refused_send(
    api: FakeTelegramAPI, graph: FakeGraphAPI, bot: Bot, whatsapp: WhatsAppAdapter
) -> None:
    ref = officer_photo(api, bot, PROOF)
    graph.fail_next_upload(130429, retry_after=7)
    with pytest.raises(DeliveryError) as throttled:
        await whatsapp.deliver(WA_ID, OutMedia(media=ref))
    assert throttled.value.retry_after == 7 and not throttled.value.permanent

    graph.fail_next_upload(131053)
    with pytest.raises(DeliveryError) as refused:
        await whatsapp.deliver(WA_ID, OutMedia(media=ref))
    assert refused.value.permanent and "131053" in refused.value.reason
    assert graph.sends(include_failed=True) == []  # no image message without an uploaded file

    await whatsapp.deliver(WA_ID, OutMedia(media=ref))  # the retry goes through
    assert [c.type for c in graph.sent_to(WA_ID)] == ["image"]


async def test_without_telegram_a_stored_file_is_still_uploaded(
    graph: FakeGraphAPI, store: MediaStore, make_whatsapp: Callable[..., WhatsAppAdapter]
) -> None:
    whatsapp = make_whatsapp()  # WhatsApp alone: the media store is all there is
    await store.save(Channel.TELEGRAM, "AwACvoiceFILE", b"OggS voice", ".oga")
    await whatsapp.deliver(
        WA_ID, OutMedia(media=MediaRef(kind="voice", file_id="AwACvoiceFILE", channel=Channel.TELEGRAM))
    )
    [upload] = graph.uploads()
    assert (upload.data, upload.mime_type) == (b"OggS voice", "audio/ogg")
    assert graph.sent_to(WA_ID)[0].body["audio"] == {"id": upload.media_id}

    with pytest.raises(DeliveryError) as failure:
        await whatsapp.deliver(
            WA_ID, OutMedia(media=MediaRef(kind="photo", file_id="AgACnot", channel=Channel.TELEGRAM))
        )
    assert failure.value.permanent and "not in the media store" in failure.value.reason


def test_render_refuses_another_platforms_handle_even_if_it_looks_like_one_of_ours() -> None:
    ref = MediaRef(kind="photo", file_id="12345", channel=Channel.TELEGRAM)
    with pytest.raises(ValueError, match="uploaded to WhatsApp first"):
        render(OutMedia(media=ref), list_button_label="Pilih", location_hint="")
    ours = MediaRef(kind="photo", file_id="12345", channel=Channel.WHATSAPP)
    assert render(OutMedia(media=ours), list_button_label="Pilih", location_hint="") == [
        {"type": "image", "image": {"id": "12345"}}
    ]


# --- the media store --------------------------------------------------------------------------


async def test_the_store_finds_a_file_by_handle_only_when_complete(store: MediaStore) -> None:
    path = await store.save(Channel.WHATSAPP, "../../etc/passwd", b"x", ".jpg")
    assert path.parent == store.root / "whatsapp" and path.read_bytes() == b"x"
    assert store.find("whatsapp", "../../etc/passwd") == path

    folder = store.root / "telegram"
    folder.mkdir()
    (folder / "AgAC1.jpg.0123456789ab.part").write_bytes(b"half")  # being written
    (folder / "AgAC12.jpg").write_bytes(b"another handle")
    assert store.find(Channel.TELEGRAM, "AgAC1") is None
    complete = await store.save(Channel.TELEGRAM, "AgAC1", b"whole", ".jpg")
    assert store.find(Channel.TELEGRAM, "AgAC1") == complete
    assert store.find(Channel.CONSOLE, "AgAC1") is None


# --- the whole way, through `civicbot run` ----------------------------------------------------


@asynccontextmanager
async def serving_both(
    api: FakeTelegramAPI, graph: FakeGraphAPI, tmp_path: Path, **extra: str
) -> AsyncIterator[tuple[BotProcess, WhatsAppCitizen]]:
    """`civicbot run` serving Telegram (polling the fake Bot API) and WhatsApp (webhooks, fake Graph API)."""
    port = free_port()
    telegram_env = bot_environment(
        api,
        tmp_path,
        CIVICBOT_ADMIN_IDS=str(ADMIN),
        CIVICBOT_MEDIA_DIR=str(tmp_path / "media"),
        CIVICBOT_WEBHOOK_HOST="127.0.0.1",
        CIVICBOT_WEBHOOK_PORT=str(port),
        **extra,
    )
    env = {k: v for k, v in telegram_env.items() if not k.startswith("WHATSAPP_")}  # none of this machine's
    env.update(
        WHATSAPP_ACCESS_TOKEN=DEFAULT_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=DEFAULT_PHONE_NUMBER_ID,
        WHATSAPP_APP_SECRET=DEFAULT_APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=VERIFY,
        WHATSAPP_API_BASE=graph.base_url,
    )
    process = BotProcess(env, tmp_path / "bot.log")
    await process.start()
    url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
    try:
        await subscribed(url)
        yield process, WhatsAppCitizen(graph, url)
    except BaseException:
        print((tmp_path / "bot.log").read_text(errors="replace")[-4000:])
        raise
    finally:
        await process.stop()


@pytest.fixture
async def both(
    api: FakeTelegramAPI, graph: FakeGraphAPI, tmp_path: Path
) -> AsyncIterator[tuple[BotProcess, WhatsAppCitizen]]:
    async with serving_both(api, graph, tmp_path) as running:
        yield running


async def link_unit(api: FakeTelegramAPI) -> None:
    """The bot is added to the DLH group, the admin links it, an officer joins by invite."""
    api.push_bot_added(GROUP, by_user_id=ADMIN)
    await api.wait_for_text(GROUP, "/link", timeout=3 * STEP)
    api.push_group_text(GROUP, ADMIN, "/link dlh", first_name="Admin")
    await api.wait_for_text(GROUP, "menerima tiket Dinas Lingkungan Hidup", timeout=STEP)
    api.push_command(ADMIN, "/undang dlh", first_name="Admin")
    invite = await api.wait_for_text(ADMIN, "Kode undangan", timeout=STEP)
    code = CODE.search(invite.text or "")
    assert code, invite.text
    api.push_command(OFFICER, f"/join {code.group(0)}", first_name="Budi")
    await api.wait_for_text(OFFICER, "Selamat bergabung", timeout=STEP)


async def file_on_whatsapp(siti: WhatsAppCitizen, graph: FakeGraphAPI, photo: bytes) -> str:
    """Siti files a rubbish complaint with a photo on WhatsApp; its reference."""
    await siti.send(text_message(WA_ID, "Halo", wamid="wamid.1", name="Siti"), "Selamat datang")
    menu = await graph.wait_for(lambda c: c.to == WA_ID and bool(c.buttons), timeout=STEP)
    categories = await siti.send(
        button_reply(WA_ID, siti.choice(menu, "Buat pengaduan"), "Buat pengaduan", wamid="wamid.2"),
        "tentang apa",
    )
    await siti.send(
        list_reply(WA_ID, siti.choice(categories, "Sampah"), "Sampah", wamid="wamid.3"), "Ceritakan"
    )
    await siti.send(
        text_message(WA_ID, "Sampah di TPS Jl. Melati sudah 3 hari tidak diangkut", wamid="wamid.4"), "lokasi"
    )
    await siti.send(location_message(WA_ID, -6.2001, 106.8167, wamid="wamid.5"), "foto")
    photo_id = graph.add_media(photo, mime_type="image/jpeg")
    saved = await siti.send(image_message(WA_ID, photo_id, wamid="wamid.6"), "Foto")
    identity = await siti.send(
        button_reply(WA_ID, siti.choice(saved, "Selesai"), "Selesai", wamid="wamid.7"), "identitas"
    )
    summary = await siti.send(
        button_reply(WA_ID, siti.choice(identity, "Publik"), "Publik", wamid="wamid.8"), "Periksa"
    )
    done = await siti.send(
        button_reply(WA_ID, siti.choice(summary, "Kirim"), "Kirim", wamid="wamid.9"), "Nomor tiket"
    )
    reference = REFERENCE.search(done.text or "")
    assert reference, done.text
    return reference.group(0)


def pressed(api: FakeTelegramAPI, card_id: int, label: str) -> None:
    for row in api.buttons(GROUP, card_id):
        for text, data in row:
            if label.lower() in text.lower() and data:
                api.push_group_callback(GROUP, OFFICER, data, message_id=card_id)
                return
    raise AssertionError(f"no {label!r} on the card: {api.buttons(GROUP, card_id)}")


async def test_photos_cross_platforms_through_the_running_bot(
    api: FakeTelegramAPI, graph: FakeGraphAPI, both: tuple[BotProcess, WhatsAppCitizen]
) -> None:
    _process, siti = both
    await link_unit(api)
    reference = await file_on_whatsapp(siti, graph, JPEG)

    # the unit's group: the card, then Siti's photo as an upload of the very bytes she sent
    card = await api.wait_for_text(GROUP, reference, timeout=STEP)
    card_id = int(card.result["message_id"])

    def photo_upload(call: Call) -> bool:
        return call.method == "sendPhoto" and call.chat_id == GROUP and not call.failed

    photo = await api.wait_for_call(photo_upload, timeout=STEP)
    upload = photo.params["photo"]
    assert isinstance(upload, Upload) and upload.data == JPEG
    assert reference in (photo.text or "")
    assert not [c for c in api.sent(GROUP, include_failed=True) if c.failed]

    # the officer resolves it with a proof photo taken in Telegram: Siti receives that image
    pressed(api, card_id, "Terima")
    await graph.wait_for_text(WA_ID, "diterima", timeout=STEP)
    await api.wait_for_call(
        lambda c: c.chat_id == GROUP and c.method.startswith("edit") and "Selesai" in str(c.params),
        timeout=STEP,
    )
    pressed(api, card_id, "Selesai")
    await api.wait_for_text(OFFICER, "catatan penyelesaian", timeout=STEP)
    api.push_text(OFFICER, "Sampah sudah diangkut, TPS dibersihkan", first_name="Budi")
    await api.wait_for_text(OFFICER, "foto hasil", timeout=STEP)
    api.push_photo(OFFICER, file_id="AgACproofE2E")
    api.set_file_content("AgACproofE2E", PROOF)
    await api.wait_for_text(OFFICER, "ditandai selesai", timeout=STEP)
    await graph.wait_for_text(WA_ID, "telah diselesaikan", timeout=STEP)

    def image(call: GraphCall) -> bool:
        return call.kind == "send" and call.to == WA_ID and call.type == "image" and not call.failed

    sent = await graph.wait_for(image, timeout=STEP)
    [uploaded] = [u for u in graph.uploads() if u.media_id == sent.body["image"]["id"]]
    assert (uploaded.data, uploaded.mime_type) == (PROOF, "image/jpeg")
