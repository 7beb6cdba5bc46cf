"""The WhatsApp webhook endpoint: Meta's subscription check, and only signed bodies get through."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.webhooks import WHATSAPP_PATH, whatsapp_app

SECRET, VERIFY = "app-secret-123", "verify-me"
BODY = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": []}]}


class Endpoint:
    def __init__(self) -> None:
        self.handled: list[dict[str, Any]] = []
        self.fail = False

    async def handle(self, body: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("database down")
        self.handled.append(body)


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Endpoint]]:
    endpoint = Endpoint()
    server = TestServer(whatsapp_app(verify_token=VERIFY, app_secret=SECRET, handle=endpoint.handle))
    await server.start_server()
    try:
        yield str(server.make_url(WHATSAPP_PATH)), endpoint
    finally:
        await server.close()


def meta_signature(raw: bytes, secret: str = SECRET) -> str:
    """Computed here independently of the code under test."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


async def post(url: str, raw: bytes, signature: str | None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    async with aiohttp.ClientSession() as session, session.post(url, data=raw, headers=headers) as response:
        return response.status, await response.text()


async def get(url: str, **params: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, params=params) as response:
        return response.status, await response.text()


async def test_the_subscription_check_answers_the_challenge_only_with_the_right_token(
    served: tuple[str, Endpoint],
) -> None:
    url, _ = served
    ok = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    assert await get(url, **ok, **{"hub.verify_token": VERIFY}) == (200, "1158201444")
    assert (await get(url, **ok, **{"hub.verify_token": "guess"}))[0] == 403
    assert (await get(url, **{"hub.mode": "unsubscribe", "hub.verify_token": VERIFY}))[0] == 403
    assert (await get(url))[0] == 403


async def test_only_bodies_signed_with_the_app_secret_are_handled(served: tuple[str, Endpoint]) -> None:
    url, endpoint = served
    raw = json.dumps(BODY).encode()
    assert (await post(url, raw, None))[0] == 403  # unsigned
    assert (await post(url, raw, meta_signature(raw, "another-secret")))[0] == 403  # forged
    assert (await post(url, raw, "sha1=" + hashlib.sha1(raw).hexdigest()))[0] == 403
    tampered = raw.replace(b"whatsapp", b"whatsapq")
    assert (await post(url, tampered, meta_signature(raw)))[0] == 403  # body changed after signing
    assert endpoint.handled == []  # nothing got through
    assert await post(url, raw, meta_signature(raw)) == (200, "ok")
    assert endpoint.handled == [BODY]


async def test_a_signed_body_that_is_not_json_is_refused_and_a_failure_asks_for_a_retry(
    served: tuple[str, Endpoint],
) -> None:
    url, endpoint = served
    assert (await post(url, b"{not json", meta_signature(b"{not json")))[0] == 400
    endpoint.fail = True
    raw = json.dumps(BODY).encode()
    assert (await post(url, raw, meta_signature(raw)))[0] == 500  # Meta delivers it again later
