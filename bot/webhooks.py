"""The platforms' webhook endpoints, served by the one web server (bot/web.py).

WhatsApp Cloud API, at WHATSAPP_PATH: verification and signatures.

| request                                   | answer                                               |
|-------------------------------------------|------------------------------------------------------|
| GET  with hub.mode=subscribe, right token | 200 and hub.challenge (Meta's subscription check)    |
| GET  otherwise                            | 403                                                  |
| POST without a valid X-Hub-Signature-256  | 403, nothing read further, nothing changes           |
| POST signed but not JSON                  | 400 (also: not an object, nested too deep to read)   |
| POST signed                               | handled, then 200; 500 if handling failed            |

On a 500 Meta delivers the body again later; repeated deliveries are processed once (the
pipeline's dedupe by message id). The signature is HMAC-SHA256 of the raw body with the app
secret, compared in constant time.

Telegram, at the path of TELEGRAM_WEBHOOK_URL (webhook mode):

| request                                                 | answer                                    |
|---------------------------------------------------------|-------------------------------------------|
| POST without the right X-Telegram-Bot-Api-Secret-Token  | 403, body not read, nothing changes       |
| POST with a body over 1 MiB                             | 413                                       |
| POST whose body is not an Update                        | 400                                       |
| POST with an Update                                     | handled, then 200; 500 if handling raised |

The secret is compared in constant time. An update goes through the same aiogram dispatcher as
with polling, and is handled before the answer: Telegram sees a failure and delivers it again, a
repeated delivery is processed once (the pipeline's dedupe), and a shutdown lets the requests in
hand finish (bot/web.py). aiogram's SimpleRequestHandler is not used: it answers 401 and 500 where
these answer 403 and 400, and closes the bot's session when the web server stops, while the
outbox sender may still be finishing its sends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

log = logging.getLogger(__name__)

WHATSAPP_PATH = "/webhooks/whatsapp"
MAX_BODY_BYTES = 1024 * 1024  # webhooks carry media ids, never media

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

Handler = Callable[[dict[str, Any]], Awaitable[None]]
Refused = Callable[[str], None]  # a refused request's reason, for the metrics


def _not_counted(reason: str) -> None:
    pass


def signature(body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 value Meta sends for this body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed(body: bytes, header: str | None, app_secret: str) -> bool:
    if not header or not app_secret:
        return False
    given = header.strip()  # bytes beyond ASCII (kept by aiohttp as surrogates) are no signature
    return given.isascii() and hmac.compare_digest(signature(body, app_secret), given)


def whatsapp_app(*, verify_token: str, app_secret: str, handle: Handler) -> web.Application:
    """A web application with only the WhatsApp endpoint (see add_whatsapp_routes)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    add_whatsapp_routes(app, verify_token=verify_token, app_secret=app_secret, handle=handle)
    return app


def add_whatsapp_routes(
    app: web.Application,
    *,
    verify_token: str,
    app_secret: str,
    handle: Handler,
    refused: Refused = _not_counted,
) -> None:
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
            refused("signature")
            return web.Response(status=403, text="forbidden")
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to read
            refused("malformed")
            return web.Response(status=400, text="not JSON")
        if not isinstance(parsed, dict):
            refused("malformed")
            return web.Response(status=400, text="not a JSON object")
        try:
            await handle(parsed)
        except RecursionError:  # nested too deep to read (or log): no delivery again would help
            refused("malformed")
            return web.Response(status=400, text="nested too deep")
        except Exception:
            log.exception("webhook handling failed; Meta will deliver it again")
            return web.Response(status=500, text="try again")
        return web.Response(text="ok")

    app.router.add_get(WHATSAPP_PATH, verify)
    app.router.add_post(WHATSAPP_PATH, receive)


def add_telegram_route(
    app: web.Application,
    *,
    path: str,
    secret_token: str,
    dispatcher: Dispatcher,
    bot: Bot,
    refused: Refused = _not_counted,
) -> None:
    """Telegram's webhook at `path`: each update with the right secret goes to `dispatcher`."""
    if not secret_token:
        raise ValueError("the Telegram webhook needs a secret token")
    expected = secret_token.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(TELEGRAM_SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            log.warning("Telegram webhook request without the right secret token refused")
            refused("secret")
            return web.Response(status=403, text="forbidden")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            refused("too_large")
            raise
        try:
            update = Update.model_validate_json(body, context={"bot": bot})
        except ValidationError as error:
            log.warning("Telegram webhook body is not an update (%d errors)", error.error_count())
            refused("malformed")
            return web.Response(status=400, text="not an update")
        try:
            await dispatcher.feed_update(bot, update)
        except Exception:
            log.exception("Telegram update %s failed; Telegram delivers it again", update.update_id)
            return web.Response(status=500, text="try again")
        return web.Response(text="ok")

    app.router.add_post(path, receive)
