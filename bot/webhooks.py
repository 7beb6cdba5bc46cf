"""The web server that receives platform webhooks (WhatsApp Cloud API): verification and signatures.

| request                                   | answer                                               |
|-------------------------------------------|------------------------------------------------------|
| GET  with hub.mode=subscribe, right token | 200 and hub.challenge (Meta's subscription check)    |
| GET  otherwise                            | 403                                                  |
| POST without a valid X-Hub-Signature-256  | 403, nothing read further, nothing changes           |
| POST signed but not JSON                  | 400                                                  |
| POST signed                               | handled, then 200; 500 if handling failed            |

On a 500 Meta delivers the body again later; repeated deliveries are processed once (the
pipeline's dedupe by message id). The signature is HMAC-SHA256 of the raw body with the app
secret, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

WHATSAPP_PATH = "/webhooks/whatsapp"
MAX_BODY_BYTES = 1024 * 1024  # webhooks carry media ids, never media

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def signature(body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 value Meta sends for this body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed(body: bytes, header: str | None, app_secret: str) -> bool:
    if not header or not app_secret:
        return False
    return hmac.compare_digest(signature(body, app_secret).encode(), header.strip().encode())


def whatsapp_app(*, verify_token: str, app_secret: str, handle: Handler) -> web.Application:
    """The webhook endpoint at WHATSAPP_PATH; `handle` gets each verified, parsed body."""

    async def verify(request: web.Request) -> web.Response:
        query = request.query
        token = query.get("hub.verify_token", "")
        if (
            query.get("hub.mode") == "subscribe"
            and verify_token
            and hmac.compare_digest(token.encode(), verify_token.encode())
        ):
            return web.Response(text=query.get("hub.challenge", ""))
        log.warning("webhook verification refused (mode %r)", query.get("hub.mode"))
        return web.Response(status=403, text="forbidden")

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        if not signed(body, request.headers.get("X-Hub-Signature-256"), app_secret):
            log.warning("webhook with a missing or wrong signature refused (%d bytes)", len(body))
            return web.Response(status=403, text="forbidden")
        try:
            parsed = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(parsed, dict):
            return web.Response(status=400, text="not a JSON object")
        try:
            await handle(parsed)
        except Exception:
            log.exception("webhook handling failed; Meta will deliver it again")
            return web.Response(status=500, text="try again")
        return web.Response(text="ok")

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_get(WHATSAPP_PATH, verify)
    app.router.add_post(WHATSAPP_PATH, receive)
    return app
