"""A local fake of the Meta WhatsApp Cloud API (Graph API) for tests, plus webhook builders.

Point the client (or the bot) at it::

    async with FakeGraphAPI() as api:
        client = GraphClient(
            base_url=api.base_url, access_token=api.access_token, phone_number_id=api.phone_number_id
        )
        wamid = await client.send("6281234567890", {"type": "text", "text": {"body": "Halo"}})
        await api.wait_for(lambda c: c.to == "6281234567890")

Served: ``POST /{version}/{phone-number-id}/messages`` (answers ``wamid.fake.N``),
``POST /{version}/{phone-number-id}/media`` (a multipart upload; answers the new media id, which
can then be sent or looked up: :meth:`~FakeGraphAPI.uploads`), ``GET /{version}/{media-id}`` (media
metadata) and the short-lived media URL it hands out.
Every request is recorded in :attr:`FakeGraphAPI.calls`. A wrong bearer token gets 401 with
Graph code 190. Failures are injected with :meth:`~FakeGraphAPI.fail_next`,
:meth:`~FakeGraphAPI.close_window` (131047 for anything but a template),
:meth:`~FakeGraphAPI.fail_media_metadata`, :meth:`~FakeGraphAPI.fail_media_download` and
``add_media(..., file_size=...)`` (a size that differs from the bytes served).

The module-level builders (:func:`text_message`, :func:`button_reply`, :func:`list_reply`,
:func:`location_message`, :func:`image_message`, :func:`status_update`) return webhook bodies
shaped like Meta's ``messages`` webhook; :func:`sign` / :func:`signed` give the
``X-Hub-Signature-256`` header Meta computes with the app secret over the raw body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

__all__ = [
    "DEFAULT_APP_SECRET",
    "DEFAULT_DISPLAY_PHONE_NUMBER",
    "DEFAULT_PHONE_NUMBER_ID",
    "DEFAULT_TOKEN",
    "DEFAULT_WABA_ID",
    "FakeGraphAPI",
    "GraphCall",
    "button_reply",
    "encode",
    "graph_error",
    "image_message",
    "list_reply",
    "location_message",
    "sign",
    "signed",
    "status_update",
    "text_message",
    "webhook",
]

JSON = dict[str, Any]
DEFAULT_TOKEN = "EAAFakeCivicbotTestToken"
DEFAULT_PHONE_NUMBER_ID = "106540352242922"
DEFAULT_DISPLAY_PHONE_NUMBER = "6281100001111"
DEFAULT_WABA_ID = "102290129340398"
DEFAULT_APP_SECRET = "civicbot-test-app-secret"
ERROR_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# code -> (HTTP status, title, details) as the Cloud API answers them.
GRAPH_ERRORS: dict[int, tuple[int, str, str]] = {
    0: (401, "AuthException", "We were unable to authenticate the app user."),
    4: (400, "Application request limit reached", "Too many API calls from this app."),
    10: (403, "Application does not have permission for this action", "Permission denied."),
    100: (400, "Invalid parameter", "Invalid parameter."),
    190: (401, "Invalid OAuth access token - Cannot parse access token", ""),
    80007: (400, "Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130429: (400, "Rate limit hit", "Cloud API message throughput has been reached."),
    131000: (500, "Something went wrong", "Message failed to send due to an unknown error."),
    131005: (403, "Access denied", "Permission is either not granted or has been removed."),
    131016: (503, "Service unavailable", "A service is temporarily unavailable."),
    131026: (
        400,
        "Message Undeliverable",
        "Message failed to send because the recipient cannot receive it (not on WhatsApp, "
        "an old WhatsApp version, or the business is blocked).",
    ),
    131047: (
        400,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    132000: (
        400,
        "Number of parameters does not match the expected number of params",
        "The number of parameters provided does not match the template.",
    ),
    132018: (
        400,
        "There was an issue with the parameters in your template.",
        "Param text cannot have new-line/tab characters or more than 4 consecutive spaces.",
    ),
    131048: (400, "Spam rate limit hit", "Message failed to send because of restrictions on this number."),
    131051: (400, "Unsupported message type", "Message type is not currently supported."),
    131052: (400, "Media download error", "Unable to download the media sent by the user."),
    131053: (400, "Media upload error", "Unable to upload the media used in the message."),
    131056: (
        400,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time.",
    ),
    132001: (404, "Template name does not exist in the translation", "Template not found."),
}
TEXT_LIMIT = 4096
BODY_LIMIT = 1024
CAPTION_LIMIT = 1024
BUTTON_TITLE_LIMIT = 20
ROW_TITLE_LIMIT = 24
# what the media endpoint takes, and up to how many bytes (Cloud API "supported media types")
UPLOAD_LIMITS: dict[str, int] = {
    "image/jpeg": 5 * 1024 * 1024,
    "image/png": 5 * 1024 * 1024,
    "image/webp": 500 * 1024,
    "audio/aac": 16 * 1024 * 1024,
    "audio/amr": 16 * 1024 * 1024,
    "audio/mpeg": 16 * 1024 * 1024,
    "audio/mp4": 16 * 1024 * 1024,
    "audio/ogg": 16 * 1024 * 1024,
    "video/mp4": 16 * 1024 * 1024,
    "video/3gpp": 16 * 1024 * 1024,
    "text/plain": 100 * 1024 * 1024,
    "application/pdf": 100 * 1024 * 1024,
    "application/msword": 100 * 1024 * 1024,
    "application/vnd.ms-excel": 100 * 1024 * 1024,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 * 1024 * 1024,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 * 1024 * 1024,
}
MESSAGE_TYPES = frozenset(
    "text image audio video document sticker location contacts interactive template reaction".split()
)
_VERSION = r"v\d+\.\d+"


def graph_error(
    code: int,
    message: str | None = None,
    *,
    details: str | None = None,
    subcode: int | None = None,
    error_type: str = "OAuthException",
) -> JSON:
    """A Graph API error body: ``{"error": {message, type, code, error_data, fbtrace_id}}``."""
    _, title, default_details = GRAPH_ERRORS.get(code, (400, "Unknown error", ""))
    if message is None:
        message = title if code in (0, 190) else f"(#{code}) {title}"
    error: JSON = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    details = default_details if details is None else details
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return {"error": error}


class GraphFault(Exception):
    """Raised inside the handlers to answer with a Graph error."""

    def __init__(
        self,
        code: int | None,
        *,
        status: int | None = None,
        message: str | None = None,
        details: str | None = None,
        subcode: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        """``code=None`` answers a plain-text body (a proxy or load balancer error page)."""
        super().__init__(message or str(code))
        if code is None:
            default_status = 500
        else:
            default_status = GRAPH_ERRORS.get(code, (400, "", ""))[0]
        self.code = code
        self.status = status or default_status
        self.message, self.details, self.subcode = message, details, subcode
        self.retry_after = retry_after

    def response(self) -> web.Response:
        """The HTTP answer Meta (or whatever stands in front of it) would give."""
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        if self.code is None:
            text = self.message or f"{self.status} Service Unavailable"
            return web.Response(status=self.status, text=text, headers=headers)
        if self.status == 401:
            headers["WWW-Authenticate"] = (
                'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"'
            )
        body = graph_error(self.code, self.message, details=self.details, subcode=self.subcode)
        return web.json_response(body, status=self.status, headers=headers)


@dataclass
class GraphCall:
    """One request the fake received, and how it was answered."""

    kind: str  # "send", "upload", "media" (metadata) or "download"
    method: str
    path: str
    at: float
    authorization: str | None
    phone_number_id: str | None = None
    media_id: str | None = None
    body: JSON = field(default_factory=dict)
    status: int = 200
    error_code: int | None = None
    wamid: str | None = None
    # an upload: the file as received (its declared type, name and bytes); media_id is the new id
    mime_type: str | None = None
    filename: str | None = None
    data: bytes = field(default=b"", repr=False)

    @property
    def failed(self) -> bool:
        """Whether the fake answered with an error."""
        return self.status >= 400

    @property
    def to(self) -> str | None:
        """The recipient of a send, digits only (as Meta normalises it into ``wa_id``)."""
        to = self.body.get("to")
        return _digits(to) if isinstance(to, str) else None

    @property
    def type(self) -> str | None:
        """The message type of a send (``text``, ``interactive``, ``template``...)."""
        kind = self.body.get("type", "text" if self.kind == "send" else None)
        return kind if isinstance(kind, str) else None

    @property
    def text(self) -> str | None:
        """What the person reads first: text body, interactive body, media caption or template name."""
        body, kind = self.body, self.type
        content = body.get(kind) if kind else None
        if not isinstance(content, dict):
            return None
        if kind == "text":
            return _str(content.get("body"))
        if kind == "interactive":
            inner = content.get("body")
            return _str(inner.get("text")) if isinstance(inner, dict) else None
        if kind == "template":
            return _str(content.get("name"))
        if kind in ("image", "video", "document"):
            return _str(content.get("caption"))
        return None

    @property
    def template(self) -> tuple[str, str, list[str], list[str]] | None:
        """(name, language code, body parameters, quick-reply payloads) of a template send."""
        template = self.body.get("template") if self.type == "template" else None
        if not isinstance(template, dict):
            return None
        parameters: list[str] = []
        payloads: list[str] = []
        for component in template.get("components") or []:
            for parameter in component.get("parameters") or []:
                if component.get("type") == "body":
                    parameters.append(str(parameter.get("text")))
                else:
                    payloads.append(str(parameter.get("payload")))
        language = template.get("language")
        code = str(language.get("code")) if isinstance(language, dict) else ""
        return str(template.get("name")), code, parameters, payloads

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(id, title) of the reply buttons or list rows of an interactive send."""
        interactive = self.body.get("interactive")
        if not isinstance(interactive, dict) or not isinstance(interactive.get("action"), dict):
            return []
        action = interactive["action"]
        found: list[tuple[str, str]] = []
        for button in action.get("buttons") or []:
            reply = button.get("reply") if isinstance(button, dict) else None
            if isinstance(reply, dict):
                found.append((str(reply.get("id")), str(reply.get("title"))))
        for section in action.get("sections") or []:
            rows = section.get("rows") if isinstance(section, dict) else None
            for row in rows or []:
                if isinstance(row, dict):
                    found.append((str(row.get("id")), str(row.get("title"))))
        return found


@dataclass
class _Media:
    media_id: str
    content: bytes = field(repr=False)
    mime_type: str
    file_size: int | None  # what the metadata reports (None: omitted)
    sha256: str
    chunked: bool = False  # no Content-Length on the download
    metadata_fault: GraphFault | None = None
    metadata_times: int | None = None  # None: every time
    download_faults: list[int] = field(default_factory=list)
    download_always: int | None = None


@dataclass
class _Fault:
    error: GraphFault | None  # None: let one send through
    to: str | None


class FakeGraphAPI:
    """The fake Cloud API server: aiohttp app on 127.0.0.1 with an ephemeral port."""

    def __init__(
        self,
        *,
        access_token: str = DEFAULT_TOKEN,
        phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
        display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
        waba_id: str = DEFAULT_WABA_ID,
        media_url_ttl: float = 300.0,
    ) -> None:
        """Create the server (not yet listening; see :meth:`start`)."""
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.waba_id = waba_id
        self.media_url_ttl = media_url_ttl
        self.calls: list[GraphCall] = []
        self.window_closed: set[str] = set()
        # approved templates: (name, language code) → (body parameters, quick-reply buttons); while
        # none are approved any template is accepted as long as it is well formed
        self.templates: dict[tuple[str, str], tuple[int, int]] = {}
        self.media: dict[str, _Media] = {}
        self._faults: list[_Fault] = []
        self._upload_faults: list[GraphFault] = []
        self._delays: list[float] = []
        self._media_urls: dict[str, tuple[str, float]] = {}  # hash -> (media id, expiry)
        self._wamids = itertools.count(1)
        self._media_ids = itertools.count(1)
        self._consumed: set[int] = set()
        self._cursor = 0
        self._new_call = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` — the client's ``base_url``."""
        if self._sock is None:
            raise RuntimeError("FakeGraphAPI is not started")
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    async def start(self) -> None:
        """Start listening on an ephemeral port of 127.0.0.1."""
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_post(f"/{{version:{_VERSION}}}/{{phone_id}}/messages", self._messages)
        app.router.add_post(f"/{{version:{_VERSION}}}/{{phone_id}}/media", self._upload)
        app.router.add_get("/whatsapp_business/attachments/", self._download)
        app.router.add_get(f"/{{version:{_VERSION}}}/{{media_id}}", self._media_metadata)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, self._sock).start()

    async def stop(self) -> None:
        """Shut the server down."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

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
        code: int | None = 131000,
        *,
        status: int | None = None,
        times: int = 1,
        to: str | None = None,
        message: str | None = None,
        details: str | None = None,
        subcode: int | None = None,
        retry_after: float | None = None,
        after: int = 0,
    ) -> None:
        """Make the next ``times`` sends (to ``to`` only, if given) fail with Graph ``code``.

        ``after`` lets that many sends (to ``to``) succeed first (the second part of a long text).

        ``status`` defaults to the HTTP status Meta uses for the code (400 for most, 500/503
        for server errors, 401 for 190). ``code=None`` answers a plain-text error page with
        ``status`` (default 500). ``retry_after`` adds a ``Retry-After`` header.
        """
        error = GraphFault(
            code, status=status, message=message, details=details, subcode=subcode, retry_after=retry_after
        )
        target = _digits(to) if to else None
        self._faults.extend(_Fault(None, target) for _ in range(after))
        self._faults.extend(_Fault(error, target) for _ in range(times))

    def fail_next_upload(
        self,
        code: int | None = 131053,
        *,
        status: int | None = None,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Make the next ``times`` media uploads fail with Graph ``code`` (as :meth:`fail_next`)."""
        error = GraphFault(code, status=status, retry_after=retry_after)
        self._upload_faults.extend([error] * times)

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """Hold the next ``times`` sends for ``seconds`` before answering (for client timeouts)."""
        self._delays.extend([seconds] * times)

    def close_window(self, wa_id: str) -> None:
        """``wa_id`` last wrote more than 24 h ago: anything but a template gets 131047."""
        self.window_closed.add(_digits(wa_id))

    def approve_template(self, name: str, language: str, *, parameters: int, quick_replies: int = 0) -> None:
        """A template as approved in WhatsApp Manager; sends of others are refused (132001, 132000)."""
        self.templates[(name, language)] = (parameters, quick_replies)

    def open_window(self, wa_id: str) -> None:
        """Undo :meth:`close_window` (the person wrote again)."""
        self.window_closed.discard(_digits(wa_id))

    def add_media(
        self,
        content: bytes,
        mime_type: str = "image/jpeg",
        *,
        media_id: str | None = None,
        file_size: int | None = None,
        omit_size: bool = False,
        chunked: bool = False,
    ) -> str:
        """Register media a person "sent"; returns its id for :func:`image_message`.

        The metadata reports the real size, unless ``file_size`` says otherwise (a lie, to test
        the client's limit while reading) or ``omit_size`` leaves it out. ``chunked`` serves the
        bytes without a Content-Length.
        """
        media_id = media_id or str(1_000_000_000_000_000 + next(self._media_ids))
        reported = None if omit_size else (len(content) if file_size is None else file_size)
        self.media[media_id] = _Media(
            media_id, content, mime_type, reported, hashlib.sha256(content).hexdigest(), chunked=chunked
        )
        return media_id

    def fail_media_metadata(
        self, media_id: str, *, status: int = 404, code: int = 100, times: int | None = None
    ) -> None:
        """Answer the metadata lookup of ``media_id`` with a Graph error (every time, or ``times``)."""
        media = self._media(media_id)
        media.metadata_fault = GraphFault(
            code, status=status, message=f"(#{code}) Media {media_id} not found", details=""
        )
        media.metadata_times = times

    def fail_media_download(self, media_id: str, *, status: int = 500, times: int | None = None) -> None:
        """Answer the byte download of ``media_id`` with ``status`` (every time, or ``times``)."""
        media = self._media(media_id)
        if times is None:
            media.download_always = status
        else:
            media.download_faults.extend([status] * times)

    def expire_media_urls(self) -> None:
        """Every media URL handed out so far stops working (they live a few minutes at Meta)."""
        self._media_urls.clear()

    def _media(self, media_id: str) -> _Media:
        if media_id not in self.media:
            raise KeyError(f"unknown media {media_id}; add_media() it first")
        return self.media[media_id]

    # ------------------------------------------------------------------ inspection
    def sends(self, *, include_failed: bool = False) -> list[GraphCall]:
        """The message sends received, in order (successful ones unless ``include_failed``)."""
        return [c for c in self.calls if c.kind == "send" and (include_failed or not c.failed)]

    def uploads(self, *, include_failed: bool = False) -> list[GraphCall]:
        """The media uploads received, in order: ``media_id`` (the id answered), ``mime_type``,
        ``filename`` and ``data`` (the bytes)."""
        return [c for c in self.calls if c.kind == "upload" and (include_failed or not c.failed)]

    def sent_to(self, wa_id: str, *, include_failed: bool = False) -> list[GraphCall]:
        """The sends to ``wa_id`` (``+62...`` or ``62...``), in order."""
        target = _digits(wa_id)
        return [c for c in self.sends(include_failed=include_failed) if c.to == target]

    def texts(self, wa_id: str) -> list[str]:
        """The visible texts (bodies, captions, template names) successfully sent to ``wa_id``."""
        return [c.text for c in self.sent_to(wa_id) if c.text is not None]

    def dump(self, last: int = 25) -> str:
        """Readable listing of the recent calls."""
        start = self.calls[0].at if self.calls else 0.0
        lines = []
        for index, call in enumerate(self.calls[-last:], start=max(0, len(self.calls) - last)):
            what = (
                f"to={call.to} {call.type} {str(call.text)[:80]!r}" if call.kind == "send" else call.media_id
            )
            outcome = f"FAILED {call.status} code={call.error_code}" if call.failed else (call.wamid or "ok")
            lines.append(f"  #{index} +{call.at - start:.3f}s {call.kind} {what} -> {outcome}")
        return "\n".join(["calls:", *lines])

    # ------------------------------------------------------------------ waiting
    async def wait_for(
        self,
        predicate: Callable[[GraphCall], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> GraphCall:
        """Return the earliest matching call not returned by an earlier wait.

        Predicates raising count as no match. Raises AssertionError with :meth:`dump` on timeout.
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
        wa_id: str,
        contains: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> GraphCall:
        """Wait for a successful send to ``wa_id`` whose visible text contains ``contains``."""
        target = _digits(wa_id)

        def predicate(call: GraphCall) -> bool:
            return (
                call.kind == "send"
                and not call.failed
                and call.to == target
                and contains in (call.text or "")
            )

        return await self.wait_for(predicate, timeout)

    def consume_all(self) -> None:
        """Mark every call so far as consumed: later waits only see new calls."""
        self._consumed.update(range(len(self.calls)))
        self._cursor = len(self.calls)

    # ------------------------------------------------------------------ HTTP plumbing
    def _record(self, call: GraphCall) -> None:
        self.calls.append(call)
        self._notify()

    def _notify(self) -> None:
        event, self._new_call = self._new_call, asyncio.Event()
        event.set()

    def _check_token(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            raise GraphFault(190, status=401)

    def _answer(self, call: GraphCall, fault: GraphFault) -> web.Response:
        call.status, call.error_code = fault.status, fault.code
        self._notify()
        return fault.response()

    async def _messages(self, request: web.Request) -> web.Response:
        """``POST /{version}/{phone-number-id}/messages``."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        call = GraphCall(
            "send",
            request.method,
            request.path,
            time.monotonic(),
            request.headers.get("Authorization"),
            phone_number_id=request.match_info["phone_id"],
            body=body if isinstance(body, dict) else {},
        )
        self._record(call)
        if self._delays:
            await asyncio.sleep(self._delays.pop(0))
        try:
            self._check_token(request)
            if call.phone_number_id != self.phone_number_id:
                raise GraphFault(
                    100,
                    subcode=33,
                    message=(
                        f"Unsupported post request. Object with ID '{call.phone_number_id}' does not "
                        "exist, cannot be loaded due to missing permissions, or does not support this "
                        "operation."
                    ),
                    details="",
                )
            if not isinstance(body, dict):
                raise GraphFault(100, message="(#100) The request body is not valid JSON")
            to = call.to
            for index, fault in enumerate(self._faults):
                if fault.to is None or fault.to == to:
                    del self._faults[index]
                    if fault.error is None:
                        break
                    raise fault.error
            _validate(body)
            if call.type == "template" and self.templates:
                _check_approved(body["template"], self.templates)
            assert to is not None  # _validate checked it
            if to in self.window_closed and call.type != "template":
                raise GraphFault(131047)
        except GraphFault as fault:
            return self._answer(call, fault)
        call.wamid = f"wamid.fake.{next(self._wamids)}"
        message: JSON = {"id": call.wamid}
        if call.type == "template":
            message["message_status"] = "accepted"
        self._notify()
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": to}],
                "messages": [message],
            }
        )

    async def _upload(self, request: web.Request) -> web.Response:
        """``POST /{version}/{phone-number-id}/media``: a multipart ``file`` with its ``type``."""
        call = GraphCall(
            "upload",
            request.method,
            request.path,
            time.monotonic(),
            request.headers.get("Authorization"),
            phone_number_id=request.match_info["phone_id"],
        )
        self._record(call)
        try:
            self._check_token(request)
            if call.phone_number_id != self.phone_number_id:
                raise GraphFault(100, subcode=33, message="(#100) Unsupported post request.", details="")
            if not request.content_type.startswith("multipart/"):
                raise GraphFault(100, message="(#100) The parameter file is required.", details="")
            form = await request.post()
            upload = form.get("file")
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            call.body = fields
            if fields.get("messaging_product") != "whatsapp":
                raise GraphFault(100, message="(#100) The parameter messaging_product is required.")
            if not isinstance(upload, web.FileField):
                raise GraphFault(100, message="(#100) The parameter file is required.", details="")
            call.data, call.filename = upload.file.read(), upload.filename
            call.mime_type = fields.get("type") or upload.content_type
            limit = UPLOAD_LIMITS.get(call.mime_type)
            if limit is None:
                raise GraphFault(
                    100,
                    message="(#100) Param file must be a file with one of the following types: "
                    + ", ".join(UPLOAD_LIMITS),
                    details="",
                )
            if not call.data or len(call.data) > limit:
                raise GraphFault(
                    131053, details=f"{len(call.data)} bytes: empty or over {limit} for {call.mime_type}"
                )
            if self._upload_faults:
                raise self._upload_faults.pop(0)
        except GraphFault as fault:
            return self._answer(call, fault)
        call.media_id = self.add_media(call.data, call.mime_type)
        self._notify()
        return web.json_response({"id": call.media_id})

    async def _media_metadata(self, request: web.Request) -> web.Response:
        """``GET /{version}/{media-id}``: url (valid ``media_url_ttl`` s), mime type, sha256, size."""
        media_id = request.match_info["media_id"]
        call = GraphCall(
            "media",
            request.method,
            request.path,
            time.monotonic(),
            request.headers.get("Authorization"),
            media_id=media_id,
        )
        self._record(call)
        try:
            self._check_token(request)
            media = self.media.get(media_id)
            if media is None:
                raise GraphFault(
                    100,
                    subcode=33,
                    message=(
                        f"Unsupported get request. Object with ID '{media_id}' does not exist, cannot be "
                        "loaded due to missing permissions, or does not support this operation."
                    ),
                    details="",
                )
            if media.metadata_fault is not None:
                if media.metadata_times is not None:
                    media.metadata_times -= 1
                    if media.metadata_times <= 0:
                        fault, media.metadata_fault = media.metadata_fault, None
                        raise fault
                raise media.metadata_fault
        except GraphFault as fault:
            return self._answer(call, fault)
        token = secrets.token_urlsafe(12)
        self._media_urls[token] = (media_id, time.monotonic() + self.media_url_ttl)
        query = f"mid={media_id}&ext={int(time.time())}&hash={token}"
        url = f"{self.base_url}/whatsapp_business/attachments/?{query}"
        answer: JSON = {
            "messaging_product": "whatsapp",
            "url": url,
            "mime_type": media.mime_type,
            "sha256": media.sha256,
            "id": media_id,
        }
        if media.file_size is not None:
            answer["file_size"] = media.file_size
        self._notify()
        return web.json_response(answer)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """The media URL: the bytes, with the bearer token, while the URL is fresh."""
        media_id = request.query.get("mid", "")
        call = GraphCall(
            "download",
            request.method,
            request.path_qs,
            time.monotonic(),
            request.headers.get("Authorization"),
            media_id=media_id,
        )
        self._record(call)
        try:
            self._check_token(request)
        except GraphFault as fault:
            return self._answer(call, fault)
        issued = self._media_urls.get(request.query.get("hash", ""))
        media = self.media.get(media_id)
        status = 200
        if issued is None or issued[0] != media_id or issued[1] < time.monotonic() or media is None:
            status = 404
        elif media.download_faults:
            status = media.download_faults.pop(0)
        elif media.download_always is not None:
            status = media.download_always
        call.status = status
        self._notify()
        if status != 200:
            return web.Response(status=status, text="Error")
        assert media is not None
        if not media.chunked:
            return web.Response(body=media.content, content_type=media.mime_type)
        response = web.StreamResponse(headers={"Content-Type": media.mime_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(media.content), 1024):
            await response.write(media.content[start : start + 1024])
        await response.write_eof()
        return response


def _validate(body: JSON) -> None:
    """Reject what the Cloud API would reject (the part our adapter can get wrong)."""
    if body.get("messaging_product") != "whatsapp":
        raise GraphFault(100, message="(#100) The parameter messaging_product is required.")
    if body.get("recipient_type", "individual") != "individual":
        raise GraphFault(100, message="(#100) Invalid parameter", details="recipient_type must be individual")
    to = body.get("to")
    if not isinstance(to, str) or not re.fullmatch(r"\+?\d{6,15}", to.strip()):
        raise GraphFault(100, message="(#100) Invalid parameter", details=f"Invalid 'to' {to!r}")
    kind = body.get("type", "text")
    if kind not in MESSAGE_TYPES:
        raise GraphFault(100, message="(#100) Invalid parameter", details=f"Unknown message type {kind!r}")
    content = body.get(kind)
    if not isinstance(content, dict):
        raise GraphFault(100, message=f"(#100) The parameter {kind} is required.", details="")
    if kind == "text":
        _check_text(content.get("body"), TEXT_LIMIT, "text.body")
    elif kind in ("image", "video", "document", "audio", "sticker"):
        if not content.get("id") and not content.get("link"):
            raise GraphFault(
                131009, message="(#131009) Parameter value is not valid", details=f"{kind}: id or link"
            )
        if "caption" in content:
            _check_text(content["caption"], CAPTION_LIMIT, f"{kind}.caption")
    elif kind == "location":
        for key in ("latitude", "longitude"):
            try:
                float(content[key])
            except (KeyError, TypeError, ValueError):
                raise GraphFault(131009, details=f"location.{key} is required") from None
    elif kind == "template":
        language = content.get("language")
        if not content.get("name") or not isinstance(language, dict) or not language.get("code"):
            raise GraphFault(
                100, message="(#100) Invalid parameter", details="template name and language.code"
            )
    elif kind == "interactive":
        _validate_interactive(content)


def _check_approved(template: JSON, approved: dict[tuple[str, str], tuple[int, int]]) -> None:
    """A template send against the approved ones: name and language, counts, parameter text."""
    key = (template["name"], template["language"]["code"])
    if key not in approved:
        raise GraphFault(132001, details=f"template name ({key[0]}) does not exist in {key[1]}")
    parameters, quick_replies = approved[key]
    components = template.get("components") or []
    body = [c for c in components if c.get("type") == "body"]
    values = body[0].get("parameters", []) if body else []
    if len(values) != parameters:
        raise GraphFault(132000, details=f"body: expected {parameters}, got {len(values)}")
    for value in values:
        text = value.get("text")
        if not isinstance(text, str) or not text or any(c in text for c in "\n\t") or "     " in text:
            raise GraphFault(132018, details=f"body parameter {text!r}")
    buttons = [c for c in components if c.get("type") == "button"]
    if len(buttons) > quick_replies or any(b.get("sub_type") != "quick_reply" for b in buttons):
        raise GraphFault(131009, details=f"buttons: the template has {quick_replies} quick replies")


def _validate_interactive(content: JSON) -> None:
    body = content.get("body")
    _check_text(body.get("text") if isinstance(body, dict) else None, BODY_LIMIT, "interactive.body.text")
    action = content.get("action")
    if not isinstance(action, dict):
        raise GraphFault(100, message="(#100) The parameter interactive['action'] is required.", details="")
    if "header" in content:
        _validate_header(content["header"], content.get("type"))
    if content.get("type") == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise GraphFault(131009, details="interactive buttons: 1 to 3 reply buttons")
        titles = [b.get("reply", {}).get("title") for b in buttons if isinstance(b, dict)]
        ids = [b.get("reply", {}).get("id") for b in buttons if isinstance(b, dict)]
        for title in titles:
            _check_text(title, BUTTON_TITLE_LIMIT, "button title")
        if len(set(titles)) != len(titles) or len(set(ids)) != len(ids) or not all(ids):
            raise GraphFault(131009, details="button ids and titles must be present and unique")
    elif content.get("type") == "list":
        _check_text(action.get("button"), BUTTON_TITLE_LIMIT, "list button")
        sections = action.get("sections")
        rows = [r for s in sections or [] if isinstance(s, dict) for r in s.get("rows") or []]
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10 or not 1 <= len(rows) <= 10:
            raise GraphFault(131009, details="list: 1 to 10 sections, 1 to 10 rows in total")
        for row in rows:
            _check_text(row.get("title") if isinstance(row, dict) else None, ROW_TITLE_LIMIT, "row title")
    elif content.get("type") not in (
        "cta_url",
        "location_request_message",
        "flow",
        "product",
        "product_list",
    ):
        raise GraphFault(
            100, message="(#100) Invalid parameter", details=f"interactive type {content.get('type')!r}"
        )


def _validate_header(header: Any, interactive_type: Any) -> None:
    """Reply buttons take a text, image, video or document header; a list only a text one."""
    kind = header.get("type") if isinstance(header, dict) else None
    allowed = ("text",) if interactive_type == "list" else ("text", "image", "video", "document")
    if kind not in allowed:
        raise GraphFault(131009, details=f"interactive {interactive_type} header type {kind!r}")
    if kind == "text":
        _check_text(header.get("text"), 60, "interactive.header.text")
        return
    media = header.get(kind)
    if not isinstance(media, dict) or not (media.get("id") or media.get("link")):
        raise GraphFault(131009, details=f"interactive.header.{kind}: id or link")


def _check_text(value: Any, limit: int, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise GraphFault(100, message=f"(#100) The parameter {what} is required.", details="")
    if len(value) > limit:
        raise GraphFault(
            131009, message="(#131009) Parameter value is not valid", details=f"{what} is longer than {limit}"
        )


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------------- webhooks
def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends: ``sha256=<hex HMAC-SHA256 of the raw body>``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: JSON) -> bytes:
    """A webhook body as Meta serialises it (non-ASCII escaped as ``\\uXXXX``)."""
    return json.dumps(payload, ensure_ascii=True).encode()


def signed(payload: JSON, app_secret: str = DEFAULT_APP_SECRET) -> tuple[bytes, dict[str, str]]:
    """Raw body and headers of a webhook POST, ready for ``session.post(url, data=..., headers=...)``."""
    body = encode(payload)
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, app_secret)}


def webhook(
    value: JSON,
    *,
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
    waba_id: str = DEFAULT_WABA_ID,
) -> JSON:
    """Wrap a ``value`` (``contacts``+``messages`` or ``statuses``) in the ``messages`` webhook envelope."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": display_phone_number,
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def _incoming(
    wa_id: str,
    kind: str,
    content: JSON,
    *,
    wamid: str | None,
    name: str | None,
    timestamp: int | None,
    context: str | None,
    **envelope: str,
) -> JSON:
    """A ``messages`` webhook carrying one message of ``kind`` from ``wa_id``."""
    message: JSON = {}
    if context is not None:  # a reply to, or a button of, one of our messages
        message["context"] = {
            "from": envelope.get("display_phone_number", DEFAULT_DISPLAY_PHONE_NUMBER),
            "id": context,
        }
    message |= {
        "from": wa_id,
        "id": wamid or f"wamid.in.{uuid.uuid4().hex}",
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "type": kind,
        kind: content,
    }
    contact: JSON = {"profile": {"name": name}, "wa_id": wa_id} if name is not None else {"wa_id": wa_id}
    return webhook({"contacts": [contact], "messages": [message]}, **envelope)


def text_message(
    wa_id: str,
    text: str,
    *,
    wamid: str | None = None,
    name: str | None = "Warga",
    timestamp: int | None = None,
    context: str | None = None,
    **envelope: str,
) -> JSON:
    """A person typed ``text`` (``context``: the wamid of our message it replies to)."""
    return _incoming(
        wa_id,
        "text",
        {"body": text},
        wamid=wamid,
        name=name,
        timestamp=timestamp,
        context=context,
        **envelope,
    )


def button_reply(
    wa_id: str,
    button_id: str,
    title: str,
    *,
    context: str = "wamid.fake.1",
    wamid: str | None = None,
    name: str | None = "Warga",
    timestamp: int | None = None,
    **envelope: str,
) -> JSON:
    """A person tapped reply button ``button_id`` of our interactive message ``context``."""
    content = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
    return _incoming(
        wa_id,
        "interactive",
        content,
        wamid=wamid,
        name=name,
        timestamp=timestamp,
        context=context,
        **envelope,
    )


def template_button(
    wa_id: str,
    payload: str,
    text: str,
    *,
    context: str = "wamid.fake.1",
    wamid: str | None = None,
    name: str | None = "Warga",
    timestamp: int | None = None,
    **envelope: str,
) -> JSON:
    """A person tapped a quick-reply button of our template message ``context``."""
    return _incoming(
        wa_id,
        "button",
        {"payload": payload, "text": text},
        wamid=wamid,
        name=name,
        timestamp=timestamp,
        context=context,
        **envelope,
    )


def list_reply(
    wa_id: str,
    row_id: str,
    title: str,
    *,
    description: str | None = None,
    context: str = "wamid.fake.1",
    wamid: str | None = None,
    name: str | None = "Warga",
    timestamp: int | None = None,
    **envelope: str,
) -> JSON:
    """A person picked row ``row_id`` of our list message ``context``."""
    row: JSON = {"id": row_id, "title": title}
    if description is not None:
        row["description"] = description
    content = {"type": "list_reply", "list_reply": row}
    return _incoming(
        wa_id,
        "interactive",
        content,
        wamid=wamid,
        name=name,
        timestamp=timestamp,
        context=context,
        **envelope,
    )


def location_message(
    wa_id: str,
    latitude: float,
    longitude: float,
    *,
    name: str | None = None,
    address: str | None = None,
    url: str | None = None,
    wamid: str | None = None,
    sender_name: str | None = "Warga",
    timestamp: int | None = None,
    context: str | None = None,
    **envelope: str,
) -> JSON:
    """A person shared a location (``name``/``address``/``url`` when they picked a place)."""
    location: JSON = {"latitude": latitude, "longitude": longitude}
    for key, value in (("name", name), ("address", address), ("url", url)):
        if value is not None:
            location[key] = value
    return _incoming(
        wa_id,
        "location",
        location,
        wamid=wamid,
        name=sender_name,
        timestamp=timestamp,
        context=context,
        **envelope,
    )


def image_message(
    wa_id: str,
    media_id: str,
    caption: str | None = None,
    *,
    mime_type: str = "image/jpeg",
    sha256: str | None = None,
    wamid: str | None = None,
    name: str | None = "Warga",
    timestamp: int | None = None,
    context: str | None = None,
    **envelope: str,
) -> JSON:
    """A person sent a photo (fetch it with ``GraphClient.download(media_id)``)."""
    image: JSON = {}
    if caption is not None:
        image["caption"] = caption
    image |= {
        "mime_type": mime_type,
        "sha256": sha256 or "sha256-of-" + media_id,
        "id": media_id,
    }
    return _incoming(
        wa_id, "image", image, wamid=wamid, name=name, timestamp=timestamp, context=context, **envelope
    )


def status_update(
    wamid: str,
    status: str,
    recipient: str,
    error_code: int | None = None,
    *,
    error_title: str | None = None,
    error_details: str | None = None,
    timestamp: int | None = None,
    **envelope: str,
) -> JSON:
    """Meta's news about one of our messages: ``sent``, ``delivered``, ``read`` or ``failed``.

    With ``error_code`` (e.g. 131047, 131026) the status carries an ``errors`` entry, as Meta
    sends it with ``failed``.
    """
    entry: JSON = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "recipient_id": _digits(recipient),
    }
    if error_code is not None:
        _, title, details = GRAPH_ERRORS.get(error_code, (400, "Unknown error", ""))
        title = error_title or title
        entry["errors"] = [
            {
                "code": error_code,
                "title": title,
                "message": title,
                "error_data": {"details": error_details or details or title},
                "href": ERROR_HREF,
            }
        ]
    elif status in ("sent", "delivered", "read"):
        conversation: JSON = {"id": "conv-" + _digits(recipient), "origin": {"type": "service"}}
        if status == "sent":
            conversation["expiration_timestamp"] = str(int(time.time()) + 24 * 3600)
        entry["conversation"] = conversation
        entry["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    return webhook({"statuses": [entry]}, **envelope)
