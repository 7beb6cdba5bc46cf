"""The Cloud API client against the fake Graph API: sends, the error mapping, media downloads.

Also checks the fake's webhook helpers (signature and payload shape) that the WhatsApp adapter
tests build on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.channels.base import DeliveryError
from bot.channels.whatsapp_client import (
    AuthFailed,
    GraphClient,
    GraphDeliveryError,
    MediaError,
    OutsideWindow,
    classify,
)
from tests.fakes.graph_api import (
    DEFAULT_APP_SECRET,
    FakeGraphAPI,
    button_reply,
    encode,
    image_message,
    list_reply,
    location_message,
    sign,
    signed,
    status_update,
    text_message,
)

CITIZEN = "6281234567890"
TEXT = {"type": "text", "text": {"body": "Laporan Anda sudah kami terima."}}
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"


@pytest.fixture
async def api() -> AsyncIterator[FakeGraphAPI]:
    async with FakeGraphAPI() as fake:
        yield fake


def make_client(api: FakeGraphAPI, **kwargs: object) -> GraphClient:
    options: dict[str, object] = {
        "base_url": api.base_url,
        "access_token": api.access_token,
        "phone_number_id": api.phone_number_id,
    }
    options.update(kwargs)
    return GraphClient(**options)  # type: ignore[arg-type]


@pytest.fixture
async def client(api: FakeGraphAPI) -> AsyncIterator[GraphClient]:
    async with make_client(api) as graph:
        yield graph


# ---------------------------------------------------------------------- sending
async def test_send_returns_the_wamid_and_posts_a_complete_body(
    api: FakeGraphAPI, client: GraphClient
) -> None:
    wamid = await client.send(CITIZEN, TEXT)

    assert wamid == "wamid.fake.1"
    [call] = api.sent_to(CITIZEN)
    assert call.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CITIZEN,
        **TEXT,
    }
    assert call.phone_number_id == api.phone_number_id
    assert call.authorization == f"Bearer {api.access_token}"
    assert call.path == f"/v21.0/{api.phone_number_id}/messages"
    assert call.text == "Laporan Anda sudah kami terima."
    assert await client.send("+" + CITIZEN, TEXT) == "wamid.fake.2"
    assert [c.wamid for c in api.sent_to("+" + CITIZEN)] == ["wamid.fake.1", "wamid.fake.2"]
    assert (await api.wait_for(lambda c: c.wamid == "wamid.fake.2")).to == CITIZEN


async def test_outside_the_window_only_templates_go_through(api: FakeGraphAPI, client: GraphClient) -> None:
    api.close_window(CITIZEN)

    with pytest.raises(OutsideWindow) as caught:
        await client.send(CITIZEN, TEXT)

    error = caught.value
    assert isinstance(error, DeliveryError)
    assert error.permanent and error.retry_after is None
    assert error.code == 131047 and error.http_status == 400
    assert "131047" in error.reason and "24 hours" in error.reason
    template = {"type": "template", "template": {"name": "tindak_lanjut", "language": {"code": "id"}}}
    assert await client.send(CITIZEN, template) == "wamid.fake.1"
    api.open_window(CITIZEN)
    assert await client.send(CITIZEN, TEXT) == "wamid.fake.2"


@pytest.mark.parametrize("code", [130429, 131056, 80007])
async def test_rate_limits_ask_to_wait(api: FakeGraphAPI, client: GraphClient, code: int) -> None:
    api.fail_next(code)

    with pytest.raises(DeliveryError) as caught:
        await client.send(CITIZEN, TEXT)

    assert not caught.value.permanent
    assert caught.value.retry_after is not None and caught.value.retry_after >= 5
    assert str(code) in caught.value.reason
    assert await client.send(CITIZEN, TEXT) == "wamid.fake.1"  # only the next send failed


async def test_retry_after_header_wins(api: FakeGraphAPI, client: GraphClient) -> None:
    api.fail_next(130429, retry_after=17)
    api.fail_next(None, status=429, retry_after=3)  # a bare 429 from something in front of Graph

    for expected in (17.0, 3.0):
        with pytest.raises(DeliveryError) as caught:
            await client.send(CITIZEN, TEXT)
        assert caught.value.retry_after == expected and not caught.value.permanent


@pytest.mark.parametrize(("code", "status"), [(131000, None), (131016, None), (None, 502)])
async def test_server_errors_are_retryable(
    api: FakeGraphAPI, client: GraphClient, code: int | None, status: int | None
) -> None:
    api.fail_next(code, status=status)

    with pytest.raises(GraphDeliveryError) as caught:
        await client.send(CITIZEN, TEXT)

    assert not caught.value.permanent and caught.value.retry_after is None
    assert caught.value.http_status == (status or (503 if code == 131016 else 500))


async def test_network_errors_and_timeouts_are_retryable(api: FakeGraphAPI) -> None:
    api.delay_next(0.3)
    async with make_client(api, total_timeout=0.1) as slow:
        with pytest.raises(DeliveryError) as caught:
            await slow.send(CITIZEN, TEXT)
    assert not caught.value.permanent and "timeout" in caught.value.reason

    base_url = api.base_url
    await api.stop()
    async with GraphClient(base_url=base_url, access_token="x", phone_number_id="1") as gone:
        with pytest.raises(DeliveryError) as caught:
            await gone.send(CITIZEN, TEXT)
    assert not caught.value.permanent and "network error" in caught.value.reason


async def test_a_bad_token_is_permanent_and_never_echoed(api: FakeGraphAPI) -> None:
    async with make_client(api, access_token="EAA-expired-secret") as stale:
        with pytest.raises(AuthFailed) as caught:
            await stale.send(CITIZEN, TEXT)

    error = caught.value
    assert error.permanent and error.code == 190 and error.http_status == 401
    assert "190" in error.reason and "EAA-expired-secret" not in error.reason
    assert "EAA-expired-secret" not in repr(stale)
    assert api.sends(include_failed=True)[0].error_code == 190


@pytest.mark.parametrize("code", [100, 131026, 131051, 131053])
async def test_invalid_or_undeliverable_messages_are_permanent(
    api: FakeGraphAPI, client: GraphClient, code: int
) -> None:
    api.fail_next(code, to=CITIZEN)

    with pytest.raises(GraphDeliveryError) as caught:
        await client.send(CITIZEN, TEXT)

    assert caught.value.permanent and caught.value.code == code
    assert f"graph {code}" in caught.value.reason


async def test_the_fake_validates_like_meta(api: FakeGraphAPI, client: GraphClient) -> None:
    too_many = {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Pilih"},
            "action": {
                "buttons": [{"type": "reply", "reply": {"id": f"b{i}", "title": f"B{i}"}} for i in range(4)]
            },
        },
    }
    with pytest.raises(GraphDeliveryError) as caught:
        await client.send(CITIZEN, too_many)
    assert caught.value.permanent and caught.value.code == 131009

    with pytest.raises(GraphDeliveryError) as caught:
        await client.send(CITIZEN, {"type": "text", "text": {"body": "x" * 4097}})
    assert caught.value.permanent and caught.value.code == 131009

    # an image may head reply buttons, never a list; a media header needs its id or link
    image = {"type": "image", "image": {"id": "1013859600285441"}}
    bell = {"buttons": [{"type": "reply", "reply": {"id": "an|off", "title": "🔕 Stop pengumuman"}}]}
    headed = {"type": "button", "header": image, "body": {"text": "Kerja bakti"}, "action": bell}
    await client.send(CITIZEN, {"type": "interactive", "interactive": headed})
    assert api.sent_to(CITIZEN)[-1].body["interactive"]["header"] == image
    rows = {"button": "Pilih", "sections": [{"rows": [{"id": "a", "title": "A"}]}]}
    for refused in (
        {**headed, "type": "list", "action": rows},
        {**headed, "header": {"type": "image", "image": {}}},
    ):
        with pytest.raises(GraphDeliveryError) as caught:
            await client.send(CITIZEN, {"type": "interactive", "interactive": refused})
        assert caught.value.permanent and caught.value.code == 131009

    async with make_client(api, phone_number_id="999") as wrong:
        with pytest.raises(GraphDeliveryError) as caught:
            await wrong.send(CITIZEN, TEXT)
    assert caught.value.permanent and caught.value.code == 100 and caught.value.subcode == 33


async def test_interactive_sends_are_readable_in_the_fake(api: FakeGraphAPI, client: GraphClient) -> None:
    buttons = {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Apakah laporan ini benar?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Ya"}},
                    {"type": "reply", "reply": {"id": "no", "title": "Tidak"}},
                ]
            },
        },
    }
    rows = [{"id": "cat:jalan", "title": "Jalan rusak"}, {"id": "cat:sampah", "title": "Sampah"}]
    menu = {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Pilih kategori"},
            "action": {"button": "Kategori", "sections": [{"title": "Umum", "rows": rows}]},
        },
    }
    await client.send(CITIZEN, buttons)
    await client.send(CITIZEN, menu)

    asked = await api.wait_for_text(CITIZEN, "benar?")
    assert asked.buttons == [("yes", "Ya"), ("no", "Tidak")]
    listed = await api.wait_for_text(CITIZEN, "kategori")
    assert listed.buttons == [("cat:jalan", "Jalan rusak"), ("cat:sampah", "Sampah")]
    assert api.texts(CITIZEN) == ["Apakah laporan ini benar?", "Pilih kategori"]
    with pytest.raises(AssertionError, match="no matching call"):
        await api.wait_for(lambda c: c.to == CITIZEN, timeout=0.05)  # both already consumed


def test_classify_table() -> None:
    def check(status: int, payload: object, *, permanent: bool, retry_after: float | None = None) -> None:
        error = classify(status, payload)
        assert (error.permanent, error.retry_after) == (permanent, retry_after), (status, payload)

    check(400, {"error": {"code": 4}}, permanent=False, retry_after=60.0)
    check(400, {"error": {"code": "131056"}}, permanent=False, retry_after=6.0)  # code as a string
    check(403, {"error": {"code": 10}}, permanent=True)
    check(400, {"error": {"code": 132001}}, permanent=True)
    check(400, {"error": {"code": 1, "is_transient": True}}, permanent=False)
    check(400, {"error": {"code": 424242}}, permanent=True)
    check(503, {"error": {"code": 424242}}, permanent=False)
    check(401, None, permanent=True)
    check(504, None, permanent=False)
    assert isinstance(classify(401, None), AuthFailed)


# ---------------------------------------------------------------------- media
async def test_download_fetches_bytes_and_type(api: FakeGraphAPI, client: GraphClient) -> None:
    media_id = api.add_media(JPEG, "image/jpeg")

    data, info = await client.download(media_id)

    assert data == JPEG
    assert info.mime_type == "image/jpeg" and info.file_size == len(JPEG)
    assert info.sha256 == hashlib.sha256(JPEG).hexdigest() and info.media_id == media_id
    meta, download = api.calls
    assert meta.kind == "media" and meta.path == f"/v21.0/{media_id}"
    assert download.kind == "download" and download.authorization == f"Bearer {api.access_token}"


async def test_media_url_is_short_lived(api: FakeGraphAPI, client: GraphClient) -> None:
    media_id = api.add_media(b"OggS voice", "audio/ogg", omit_size=True)
    info = await client.media_url(media_id)
    assert info.file_size is None and info.url.startswith(api.base_url)
    api.expire_media_urls()

    data, fresh = await client.download(media_id)  # download() asks for a new URL

    assert data == b"OggS voice" and fresh.file_size == len(data) and fresh.url != info.url


async def test_missing_media_is_a_permanent_media_error(api: FakeGraphAPI, client: GraphClient) -> None:
    media_id = api.add_media(JPEG)
    api.fail_media_metadata(media_id, status=404)

    with pytest.raises(MediaError) as caught:
        await client.download(media_id)
    assert caught.value.permanent and caught.value.http_status == 404
    assert media_id in caught.value.reason

    with pytest.raises(MediaError) as caught:
        await client.media_url("4040404040")  # never registered: Graph answers 400 / code 100
    assert caught.value.permanent and caught.value.code == 100
    assert [c.kind for c in api.calls] == ["media", "media"]  # no download attempted


async def test_a_failing_download_is_a_transient_media_error(api: FakeGraphAPI, client: GraphClient) -> None:
    media_id = api.add_media(JPEG)
    api.fail_media_download(media_id, status=500, times=1)

    with pytest.raises(MediaError) as caught:
        await client.download(media_id)
    assert not caught.value.permanent and caught.value.http_status == 500

    data, _ = await client.download(media_id)
    assert data == JPEG


async def test_oversize_media_is_refused(api: FakeGraphAPI) -> None:
    honest = api.add_media(JPEG)
    liar = api.add_media(JPEG, file_size=100)  # metadata claims less than what is served
    streamed = api.add_media(JPEG, file_size=100, chunked=True)  # ... and no Content-Length either
    async with make_client(api, max_media_bytes=1024) as small:
        with pytest.raises(MediaError) as caught:
            await small.download(honest)
        assert (
            caught.value.permanent and f"{len(JPEG)} bytes, over the 1024-byte limit" in caught.value.reason
        )
        assert [c.kind for c in api.calls] == ["media"]  # refused before downloading

        with pytest.raises(MediaError) as caught:
            await small.download(liar)
        assert caught.value.permanent and f"{len(JPEG)} bytes, over" in caught.value.reason

        with pytest.raises(MediaError) as caught:
            await small.download(streamed)
        assert caught.value.permanent and "limit while downloading" in caught.value.reason
        assert (await small.download(api.add_media(b"small", chunked=True)))[0] == b"small"


async def test_a_shared_session_is_left_open(api: FakeGraphAPI) -> None:
    async with aiohttp.ClientSession() as session:
        async with make_client(api, session=session) as shared:
            assert await shared.send(CITIZEN, TEXT) == "wamid.fake.1"
        assert not session.closed


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="api_version"):
        GraphClient(access_token="t", phone_number_id="1", api_version="latest")
    with pytest.raises(ValueError, match="access_token"):
        GraphClient(access_token="", phone_number_id="1")
    assert GraphClient(access_token="t", phone_number_id="1", api_version="20.0").api_version == "v20.0"


# ---------------------------------------------------------------------- webhook helpers
def test_sign_matches_meta_hmac() -> None:
    body = encode(text_message(CITIZEN, "Jalan berlubang di depan pasar 🚧"))
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()

    assert sign(body, "s3cret") == f"sha256={expected}"
    assert b"\\ud83d\\udea7" in body  # non-ASCII escaped, as Meta sends it
    raw, headers = signed(json.loads(body))
    assert raw == body
    assert headers["X-Hub-Signature-256"] == sign(body, DEFAULT_APP_SECRET)


def test_webhook_builders_have_metas_shape() -> None:
    payload = text_message(CITIZEN, "halo", wamid="wamid.in.1", name="Siti")
    assert payload["object"] == "whatsapp_business_account"
    [entry] = payload["entry"]
    [change] = entry["changes"]
    assert change["field"] == "messages"
    value = change["value"]
    assert value["messaging_product"] == "whatsapp"
    assert set(value["metadata"]) == {"display_phone_number", "phone_number_id"}
    assert value["contacts"] == [{"profile": {"name": "Siti"}, "wa_id": CITIZEN}]
    [message] = value["messages"]
    assert message["from"] == CITIZEN and message["id"] == "wamid.in.1" and message["type"] == "text"
    assert message["text"] == {"body": "halo"} and message["timestamp"].isdigit()

    def first(payload: dict[str, object]) -> dict[str, object]:
        return payload["entry"][0]["changes"][0]["value"]["messages"][0]  # type: ignore[index,no-any-return]

    pressed = first(button_reply(CITIZEN, "confirm", "Ya", context="wamid.fake.3"))
    assert pressed["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "confirm", "title": "Ya"},
    }
    assert pressed["context"] == {"from": "6281100001111", "id": "wamid.fake.3"}
    picked = first(list_reply(CITIZEN, "cat:jalan", "Jalan rusak", description="Lubang, retak"))
    assert picked["interactive"]["list_reply"]["description"] == "Lubang, retak"  # type: ignore[index]
    place = first(location_message(CITIZEN, -6.2, 106.8166, name="Pasar Baru"))
    assert place["location"] == {"latitude": -6.2, "longitude": 106.8166, "name": "Pasar Baru"}
    photo = first(image_message(CITIZEN, "1234", caption="sampah"))
    assert photo["type"] == "image" and photo["image"]["id"] == "1234"  # type: ignore[index]
    assert photo["image"]["caption"] == "sampah"  # type: ignore[index]

    failed = status_update("wamid.fake.1", "failed", "+" + CITIZEN, error_code=131047)
    [status] = failed["entry"][0]["changes"][0]["value"]["statuses"]
    assert status["recipient_id"] == CITIZEN and status["status"] == "failed"
    assert status["errors"][0]["code"] == 131047 and status["errors"][0]["error_data"]["details"]
    delivered = status_update("wamid.fake.1", "delivered", CITIZEN)
    [status] = delivered["entry"][0]["changes"][0]["value"]["statuses"]
    assert "errors" not in status and status["pricing"]["category"] == "service"
