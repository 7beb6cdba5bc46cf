"""A local fake of the Telegram Bot API HTTP server for end-to-end tests.

Run the real bot (aiogram, long polling) against it::

    async with FakeTelegramAPI() as api:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        bot = Bot(api.token, session=session)
        ...
        api.push_text(42, "halo")
        await api.wait_for_text(42, "Halo")

Every call is recorded in :attr:`FakeTelegramAPI.calls`; updates are injected with the
``push_*`` builders from :class:`tests.fakes.telegram_updates.FakeTelegramState`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from tests.fakes.telegram_limits import FloodLimits
from tests.fakes.telegram_updates import (
    CHAT_ACTIONS,
    DEFAULT_ERRORS,
    JSON,
    ApiError,
    Call,
    FakeTelegramState,
    QueuedUpdate,
    Upload,
    bad,
    coerce,
)

__all__ = ["ApiError", "Call", "FakeTelegramAPI", "Upload"]

DEFAULT_TOKEN = "123456789:AAFakeTokenForCivicbotTests"
MethodImpl = Callable[[JSON], Any]


class FakeTelegramAPI(FakeTelegramState):
    """The fake Bot API server: aiohttp app on 127.0.0.1 with an ephemeral port."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "civicbot_test_bot",
        bot_name: str = "CivicBot",
    ) -> None:
        """Create the server (not yet listening; see :meth:`start`)."""
        super().__init__(token, bot_username=bot_username, bot_name=bot_name)
        self.calls: list[Call] = []
        self.commands: dict[str, list[JSON]] = {}
        self.webhook_url = ""
        self.webhook_secret = ""  # the secret_token given with setWebhook
        self._delays: dict[str, list[float]] = {}  # method → seconds the next calls take
        self._faults: dict[str, list[ApiError | None]] = {}  # None: let one call through
        self.limits: FloodLimits | None = None  # Telegram's flood limits, when set (limit_rate)
        self._consumed: set[int] = set()
        self._cursor = 0
        self._new_call = asyncio.Event()
        self._last_activity = time.monotonic()
        self._poll_generation = 0
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self._methods: dict[str, MethodImpl] = {}
        for name in (
            "getMe deleteWebhook setWebhook getWebhookInfo close logOut getUpdates sendMessage "
            "sendPhoto sendDocument sendVoice sendVideo sendLocation sendMediaGroup sendChatAction "
            "editMessageText "
            "editMessageReplyMarkup editMessageCaption deleteMessage answerCallbackQuery "
            "setMyCommands getMyCommands deleteMyCommands getFile getChat"
        ).split():
            self._methods[name.lower()] = getattr(self, f"_m_{name}")

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` — pass to ``TelegramAPIServer.from_base``."""
        if self._sock is None:
            raise RuntimeError("FakeTelegramAPI is not started")
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    async def start(self) -> None:
        """Start listening on an ephemeral port of 127.0.0.1."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, self._sock).start()

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        self._closing = True
        self._wake()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._sock is not None:
            self._sock.close()

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    # ------------------------------------------------------------------ configuration
    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with a Telegram-shaped error.

        ``retry_after`` is only sent (as ``parameters.retry_after``) for status 429. ``after``
        lets that many calls succeed first (the second part of a long text, say).
        """
        if description is None and status == 429 and retry_after is not None:
            description = f"Too Many Requests: retry after {retry_after}"
        description = description or DEFAULT_ERRORS.get(status, "Internal Server Error")
        error = ApiError(status, description, retry_after if status == 429 else None)
        self._faults.setdefault(method.lower(), []).extend([None] * after + [error] * times)

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` take ``seconds`` before they are carried out
        (the call is recorded at once, its result when it is done)."""
        self._delays.setdefault(method.lower(), []).extend([seconds] * times)

    async def post_webhook(
        self,
        update: JSON | bytes,
        *,
        secret: str | None = "",
        content_type: str = "application/json",
    ) -> tuple[int, str]:
        """POST ``update`` (or raw bytes) to the registered webhook as Telegram does: with the
        registered secret in ``X-Telegram-Bot-Api-Secret-Token``, another ``secret``, or none
        (``secret=None``). A queued update posted this way counts as delivered. (status, body)."""
        if not self.webhook_url:
            raise AssertionError("no webhook registered (setWebhook)")
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        headers = {"Content-Type": content_type}
        token = self.webhook_secret if secret == "" else secret
        if token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        if isinstance(update, dict):
            for queued in self._queue:
                if queued.update.get("update_id") == update.get("update_id"):
                    queued.delivered = True
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.webhook_url, data=body, headers=headers) as response,
        ):
            return response.status, await response.text()

    def limit_rate(self, limits: FloodLimits | None) -> None:
        """Answer sends past Telegram's flood limits with 429 (and inject random trouble), or stop."""
        self.limits = limits

    def block(self, chat_id: int) -> None:
        """Answer 403 to every send/edit aimed at ``chat_id`` until :meth:`unblock`."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Undo :meth:`block`."""
        self.blocked.discard(chat_id)

    def add_method(self, name: str, impl: Callable[[JSON], Any]) -> None:
        """Serve an extra (or override a) method: ``impl(params)`` returns the result.

        ``impl`` may be async and may raise :class:`ApiError`.
        """
        self._methods[name.lower()] = impl

    # ------------------------------------------------------------------ inspection
    def sent(self, chat_id: int | None = None, *, include_failed: bool = False) -> list[Call]:
        """The send*/edit* calls (not sendChatAction), optionally for one chat."""
        return [c for c in self.calls if self._is_message_call(c, chat_id, include_failed)]

    @staticmethod
    def _is_message_call(call: Call, chat_id: int | None, include_failed: bool = False) -> bool:
        """Whether ``call`` is a send*/edit* call (to ``chat_id`` if given)."""
        method = call.method.lower()
        return (
            method.startswith(("send", "edit"))
            and method != "sendchataction"
            and (include_failed or not call.failed)
            and (chat_id is None or call.chat_id == chat_id)
        )

    def edits(self, chat_id: int, message_id: int) -> list[Call]:
        """The successful edit* calls that changed message ``message_id`` of ``chat_id``, in order.

        The message's state after them: :meth:`get_message`, :meth:`current_text`, :meth:`buttons`.
        """
        return [
            c
            for c in self.sent(chat_id)
            if c.method.lower().startswith("edit") and c.params.get("message_id") == message_id
        ]

    def uploads(self, chat_id: int | None = None) -> list[tuple[Call, Upload]]:
        """The files the bot uploaded (multipart) in successful sends, optionally to one chat.

        Each with its call (``call.method``: ``sendPhoto``, ``sendVoice``...); the upload has the
        ``filename``, ``content_type`` and the bytes (``data``)."""
        return [
            (call, value)
            for call in self.sent(chat_id)
            for value in call.params.values()
            if isinstance(value, Upload)
        ]

    def texts(self, chat_id: int) -> list[str]:
        """Texts/captions (including edits) successfully sent to ``chat_id``, in order."""
        return [c.text for c in self.sent(chat_id) if c.text is not None]

    def dump(self, last: int = 25) -> str:
        """Readable listing of the recent calls (getUpdates summarised) and pending updates."""
        lines, polls, start = [], 0, self.calls[0].at if self.calls else 0.0
        for index, call in enumerate(self.calls):
            if call.method.lower() == "getupdates" and not call.failed:
                polls += 1
                continue
            params = {k: v for k, v in call.params.items() if k != "chat_id"}
            status = f" FAILED {call.status} {call.description}" if call.failed else ""
            lines.append(
                f"  #{index} +{call.at - start:.3f}s {call.method} "
                f"chat={call.chat_id} {str(params)[:160]}{status}"
            )
        pending = [q.kind for q in self._queue if not q.delivered]
        dropped = [QueuedUpdate(u).kind for u in self.dropped]
        return "\n".join(
            [
                f"calls ({polls} getUpdates omitted):",
                *lines[-last:],
                f"undelivered updates: {pending}, dropped: {dropped} "
                f"(bot's allowed_updates={self._allowed_updates})",
            ]
        )

    # ------------------------------------------------------------------ waiting
    async def wait_for_call(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Call:
        """Return the earliest matching call not returned by an earlier wait.

        Predicates raising (e.g. ``KeyError`` on a missing param) count as no match.
        Raises AssertionError with :meth:`dump` on timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            event = self._new_call
            for index in range(self._cursor, len(self.calls)):
                if index in self._consumed:
                    continue
                try:
                    matched = predicate(self.calls[index])
                except Exception:
                    matched = False
                if matched:
                    self._consumed.add(index)
                    while self._cursor in self._consumed:
                        self._cursor += 1
                    return self.calls[index]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching call within {timeout}s\n{self.dump()}")
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    async def wait_for_text(
        self,
        chat_id: int,
        contains: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Call:
        """Wait for a successful send/edit to ``chat_id`` whose text contains ``contains``."""

        def predicate(call: Call) -> bool:
            raw = call.params.get("text", call.params.get("caption"))
            texts = (call.text or "", raw if isinstance(raw, str) else "")
            return self._is_message_call(call, chat_id) and any(contains in t for t in texts)

        return await self.wait_for_call(predicate, timeout)

    def consume_all(self) -> None:
        """Mark every call so far as consumed: later waits only see new calls."""
        self._consumed.update(range(len(self.calls)))
        self._cursor = len(self.calls)

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Return once no call but getUpdates arrived for ``quiet`` s and all updates went out."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            since = now - max(self._last_activity, self._last_push)
            if since >= quiet and all(q.delivered for q in self._queue if self._wanted(q)):
                return
            if now >= deadline:
                raise AssertionError(f"bot not idle after {timeout}s\n{self.dump()}")
            await asyncio.sleep(max(0.01, min(quiet - since, deadline - now)))

    # ------------------------------------------------------------------ HTTP plumbing
    async def _read_params(self, request: web.Request) -> JSON:
        """Merge query string and JSON/urlencoded/multipart body into typed params."""
        raw: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                body = await request.json()
                raw.update(body if isinstance(body, dict) else {})
            else:
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        raw[key] = Upload(value.filename, value.content_type, value.file.read())
                    else:
                        raw[key] = value
        params = {k: coerce(k, v) if isinstance(v, str) else v for k, v in raw.items()}
        uploads = {k: v for k, v in params.items() if isinstance(v, Upload)}
        attached: set[str] = set()

        def attach(value: Any) -> Any:
            """Replace ``attach://name`` by the uploaded file ``name``."""
            if isinstance(value, str) and value.removeprefix("attach://") in uploads:
                attached.add(value.removeprefix("attach://"))
                return uploads[value.removeprefix("attach://")]
            return value

        params = {k: attach(v) for k, v in params.items()}
        if isinstance(params.get("media"), list):
            params["media"] = [
                {**m, "media": attach(m.get("media"))} if isinstance(m, dict) else m for m in params["media"]
            ]
        return {k: v for k, v in params.items() if k not in attached}

    def _record(self, call: Call) -> None:
        """Append a call and wake waiters."""
        self.calls.append(call)
        if call.method.lower() != "getupdates":
            self._last_activity = time.monotonic()
        self._notify()

    def _notify(self) -> None:
        """Wake :meth:`wait_for_call` waiters."""
        event, self._new_call = self._new_call, asyncio.Event()
        event.set()

    async def _handle(self, request: web.Request) -> web.Response:
        """Serve ``/bot{token}/{method}``."""
        method = request.match_info["method"]
        try:
            params = await self._read_params(request)
        except (ValueError, UnicodeDecodeError):
            params = {}
        call = Call(method, params, time.monotonic())
        self._record(call)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            faults = self._faults.get(method.lower())
            fault = faults.pop(0) if faults else None
            if fault is not None:
                raise fault
            if self.limits is not None and self._is_message_call(call, None, include_failed=True):
                target = call.chat_id
                self.limits.admit(target if isinstance(target, int) else None)
            delays = self._delays.get(method.lower())
            if delays:
                await asyncio.sleep(delays.pop(0))
            impl = self._methods.get(method.lower())
            if impl is None:
                raise ApiError(404, "Not Found: method not found")
            result = impl(params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as error:
            call.failed, call.status, call.description = True, error.status, error.description
            self._notify()
            return web.json_response(error.body(), status=error.status)
        call.result = result
        self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        """Serve ``/file/bot{token}/{path}`` with the stored file content."""
        if request.match_info["token"] != self.token:
            raise web.HTTPUnauthorized()
        for stored in self._files.values():
            if stored.file_path == request.match_info["path"]:
                return web.Response(body=stored.content)
        raise web.HTTPNotFound()

    # ------------------------------------------------------------------ methods
    def _m_getMe(self, p: JSON) -> JSON:
        """The bot's User."""
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_setWebhook(self, p: JSON) -> bool:
        """Remember the webhook URL and secret token (getUpdates then answers 409)."""
        self.webhook_url = str(p.get("url") or "")
        self.webhook_secret = str(p.get("secret_token") or "") if self.webhook_url else ""
        if p.get("drop_pending_updates"):
            self._queue.clear()
        return True

    def _m_deleteWebhook(self, p: JSON) -> bool:
        """Remove the webhook, optionally dropping pending updates."""
        return self._m_setWebhook({"drop_pending_updates": p.get("drop_pending_updates")})

    def _m_getWebhookInfo(self, p: JSON) -> JSON:
        """WebhookInfo with the pending update count."""
        info = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": sum(not q.delivered for q in self._queue),
        }
        return info | ({"allowed_updates": self._allowed_updates} if self._allowed_updates else {})

    def _m_close(self, p: JSON) -> bool:
        """Accept close/logOut."""
        return True

    _m_logOut = _m_close

    async def _m_getUpdates(self, p: JSON) -> list[JSON]:
        """Long polling: confirm below ``offset``, wait up to ``timeout`` s for updates."""
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is "
                "active; use deleteWebhook to delete the webhook first",
            )
        offset, limit = int(p.get("offset") or 0), min(max(int(p.get("limit") or 100), 1), 100)
        if isinstance(p.get("allowed_updates"), list):
            self._allowed_updates = p["allowed_updates"] or None
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()  # terminates an older pending getUpdates with 409
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        while True:
            event = self._new_update
            if generation != self._poll_generation:
                raise ApiError(409, DEFAULT_ERRORS[409])
            self._confirm(offset)
            batch = self._deliverable(limit)
            remaining = deadline - time.monotonic()
            if batch or self._closing or remaining <= 0:
                break
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
        for item in batch:
            item.delivered = True
        return [item.update for item in batch]

    def _m_sendMessage(self, p: JSON) -> JSON:
        """Send a text message."""
        chat_id = self._target(p)
        content = self._visible(p, "text", 4096, required=True) | self._markup(p)
        return self._bot_message(chat_id, p, content)

    def _m_sendPhoto(self, p: JSON) -> JSON:
        """Send a photo (file_id, URL or upload)."""
        chat_id = self._target(p)
        content = self._visible(p, "caption", 1024, required=False) | self._markup(p)
        return self._bot_message(chat_id, p, self._media(p.get("photo"), "photo") | content)

    def _m_sendDocument(self, p: JSON) -> JSON:
        """Send a document (file_id, URL or upload)."""
        chat_id = self._target(p)
        content = self._visible(p, "caption", 1024, required=False) | self._markup(p)
        return self._bot_message(chat_id, p, self._media(p.get("document"), "document") | content)

    def _m_sendVoice(self, p: JSON) -> JSON:
        """Send a voice note (file_id, URL or upload)."""
        chat_id = self._target(p)
        content = self._visible(p, "caption", 1024, required=False) | self._markup(p)
        return self._bot_message(chat_id, p, self._media(p.get("voice"), "voice") | content)

    def _m_sendVideo(self, p: JSON) -> JSON:
        """Send a video (file_id, URL or upload)."""
        chat_id = self._target(p)
        content = self._visible(p, "caption", 1024, required=False) | self._markup(p)
        return self._bot_message(chat_id, p, self._media(p.get("video"), "video") | content)

    def _m_sendLocation(self, p: JSON) -> JSON:
        """Send a location."""
        chat_id = self._target(p)
        for key in ("latitude", "longitude"):
            if not isinstance(p.get(key), int | float):
                raise bad(f"{key} is empty")
        location = {"latitude": float(p["latitude"]), "longitude": float(p["longitude"])}
        return self._bot_message(chat_id, p, {"location": location} | self._markup(p))

    def _m_sendMediaGroup(self, p: JSON) -> list[JSON]:
        """Send an album of 2-10 photos/documents."""
        chat_id = self._target(p)
        media = p.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad("wrong number of media items: must be 2-10")
        group_id = str(10**16 + next(self._ids))
        contents = []
        for item in media:
            kind = "photo" if item.get("type") == "photo" else "document"
            caption = self._visible(item, "caption", 1024, required=False)
            contents.append(self._media(item.get("media"), kind) | caption)
        return [self._bot_message(chat_id, p, c | {"media_group_id": group_id}) for c in contents]

    def _m_sendChatAction(self, p: JSON) -> bool:
        """Accept a valid chat action."""
        self._target(p)
        if p.get("action") not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True

    def _m_editMessageText(self, p: JSON) -> JSON | bool:
        """Edit a bot text message."""
        message = self._edit_target(p)
        text = self._visible(p, "text", 4096, required=True)
        if message is not None and "text" not in message:
            raise bad("there is no text in the message to edit")
        return self._apply_edit(message, p, text)

    def _m_editMessageCaption(self, p: JSON) -> JSON | bool:
        """Edit the caption of a bot media message."""
        message = self._edit_target(p)
        if message is not None and "text" in message:
            raise bad("there is no caption in the message to edit")
        caption = self._visible(p, "caption", 1024, required=False)
        return self._apply_edit(message, p, caption, drop="caption")

    def _m_editMessageReplyMarkup(self, p: JSON) -> JSON | bool:
        """Replace/remove the inline keyboard of a bot message."""
        return self._apply_edit(self._edit_target(p), p, {})

    def _m_deleteMessage(self, p: JSON) -> bool:
        """Delete a known message."""
        chat_id = self._target(p)
        if self._messages.pop((chat_id, p.get("message_id") or 0), None) is None:
            raise bad("message to delete not found")
        return True

    def _m_answerCallbackQuery(self, p: JSON) -> bool:
        """Answer a pushed callback query exactly once."""
        query_id = str(p.get("callback_query_id"))
        if self._callbacks.get(query_id, True):
            raise bad("query is too old and response timeout expired or query ID is invalid")
        self._callbacks[query_id] = True
        return True

    def _commands_key(self, p: JSON) -> str:
        """Storage key of a command list: scope + language."""
        scope = p.get("scope") or {"type": "default"}
        return json.dumps([scope, p.get("language_code") or ""], sort_keys=True)

    def _m_setMyCommands(self, p: JSON) -> bool:
        """Validate and store the command list."""
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise bad('parameter "commands" is required')
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad("command description is empty")
        self.commands[self._commands_key(p)] = commands
        return True

    def _m_getMyCommands(self, p: JSON) -> list[JSON]:
        """Stored command list."""
        return self.commands.get(self._commands_key(p), [])

    def _m_deleteMyCommands(self, p: JSON) -> bool:
        """Forget the command list."""
        self.commands.pop(self._commands_key(p), None)
        return True

    def _m_getFile(self, p: JSON) -> JSON:
        """File object with a file_path for a known file_id."""
        stored = self._files.get(str(p.get("file_id") or ""))
        if stored is None:
            raise bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    def _m_getChat(self, p: JSON) -> JSON:
        """ChatFullInfo for a chat id."""
        chat_id = p.get("chat_id")
        if not isinstance(chat_id, int):
            raise bad("chat not found")
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return self._chat(chat_id) | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }
