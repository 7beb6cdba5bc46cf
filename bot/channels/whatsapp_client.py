"""A thin async client for the Meta WhatsApp Cloud API (Graph API), on aiohttp.

Four calls, no more:

* ``send(to, message)`` — ``POST /{version}/{phone-number-id}/messages`` with the bearer token;
  returns the ``wamid`` of the accepted message. Failures become :class:`DeliveryError`
  (see :func:`classify` for the code table): rate limits carry ``retry_after``, server and
  network trouble is retryable, everything the same request cannot fix is ``permanent``, and
  ``131047`` (more than 24 h since the person last wrote) is :class:`OutsideWindow`, so the
  caller can send an approved template instead.
* ``media_url(media_id)`` — ``GET /{version}/{media-id}`` → :class:`MediaInfo`.
* ``download(media_id)`` — both steps: the metadata, then ``GET <url>`` with the bearer token
  (the URL expires after a few minutes, so it is fetched right away). The size limit is
  enforced from ``file_size`` and again while reading. Failures become :class:`MediaError`.
* ``upload(data, mime_type, filename)`` — ``POST /{version}/{phone-number-id}/media`` (multipart:
  ``messaging_product``, ``type``, ``file``) → the media id to send the file by (another platform's
  file, an officer's Telegram photo say). Failures become :class:`DeliveryError` like ``send``'s.

Accepted by Meta is not delivered: delivery failures (131026 and, often, 131047 too) may also
arrive later through the ``statuses`` of the messages webhook.

No global state: the base URL, version and credentials are per instance (tests point it at
``tests.fakes.graph_api.FakeGraphAPI``). The access token is never put in an error or a log.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import aiohttp

from bot.channels.base import DeliveryError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
DEFAULT_MAX_MEDIA_BYTES = 16 * 1024 * 1024
DEFAULT_RETRY_AFTER = 5.0  # seconds, when a rate limit comes without a Retry-After header
MAX_RETRY_AFTER = 3600.0
MAX_JSON_BYTES = 1024 * 1024  # a Graph JSON answer is small; anything bigger is not one

# Graph error codes, grouped by what the caller should do. Unknown codes fall back to the HTTP
# status (5xx and 429 retry, other 4xx are permanent).
OUTSIDE_WINDOW = 131047  # re-engagement message: free-form text outside the 24-hour window
RATE_LIMITS: dict[int, float] = {  # code -> default wait in seconds
    4: 60.0,  # application request limit reached
    613: 60.0,  # calls to this API exceeded the rate limit
    80007: 60.0,  # WhatsApp Business Account rate limit
    130429: DEFAULT_RETRY_AFTER,  # Cloud API throughput (messages per second) reached
    131048: 60.0,  # spam rate limit: too many messages rejected by users
    131056: 6.0,  # pair rate limit: about one message every 6 s to the same person
}
AUTH_CODES = frozenset({0, 3, 10, 190, 131005, *range(200, 300)})  # token / permission: fix the config
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016, 131057, 133004})  # try again later
PERMANENT_CODES = frozenset(
    {
        33,  # parameter value is not valid
        100,  # invalid parameter
        368,  # temporarily blocked for policy violations
        130472,  # the user's number is part of an experiment
        131008,  # required parameter missing
        131009,  # parameter value not valid
        131021,  # recipient cannot be the sender
        131026,  # message undeliverable (not on WhatsApp, old app, blocked...)
        131030,  # recipient not in the allowed list (test numbers)
        131031,  # account locked
        131042,  # business payment issue
        131045,  # incorrect certificate (number not registered properly)
        131049,  # marketing message held back for ecosystem health
        131050,  # the user stopped marketing messages
        131051,  # unsupported message type
        131052,  # media download error (Meta could not fetch our link)
        131053,  # media upload error
        132000,  # template parameter count mismatch
        132001,  # template does not exist
        132005,  # template hydrated text too long
        132007,  # template format character policy violated
        132012,  # template parameter format mismatch
        132015,  # template paused
        132016,  # template disabled
        133010,  # phone number not registered
    }
)
# the person cannot receive messages at all (not on WhatsApp, terms not accepted, app too old): the
# sender marks the citizen unreachable until they write again
UNREACHABLE_CODES = frozenset({131026})
_VERSION = re.compile(r"v?\d+\.\d+")


class GraphDeliveryError(DeliveryError):
    """A send the Graph API refused (or that never got an answer): the platform's details kept."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        code: int | None = None,
        subcode: int | None = None,
        http_status: int | None = None,
        details: str | None = None,
        fbtrace_id: str | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason, permanent=permanent, retry_after=retry_after, unreachable=unreachable)
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.details = details
        self.fbtrace_id = fbtrace_id


class OutsideWindow(GraphDeliveryError):
    """131047: the person last wrote more than 24 h ago; only a template message can reach them.

    Permanent for this message; send an approved template instead.
    """

    outside_window = True


class AuthFailed(GraphDeliveryError):
    """The token expired or lacks a permission: every send will fail until the config is fixed."""

    channel_down = True


@dataclass(frozen=True)
class MediaInfo:
    """Metadata of a media object: where to fetch it (for a few minutes) and what it is."""

    url: str
    mime_type: str
    sha256: str
    file_size: int | None
    media_id: str = ""


class MediaError(Exception):
    """A media lookup or download that failed; ``permanent`` when asking again will not help."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = True,
        code: int | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.code = code
        self.http_status = http_status


class GraphClient:
    """Async client for one WhatsApp business phone number on the Cloud API."""

    def __init__(
        self,
        *,
        access_token: str,
        phone_number_id: str,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        session: aiohttp.ClientSession | None = None,
        connect_timeout: float = 5.0,
        total_timeout: float = 30.0,
        media_timeout: float = 120.0,
        max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES,
    ) -> None:
        """Configure the client; with no ``session`` one is created on first use and closed by close()."""
        if not access_token:
            raise ValueError("access_token is required")
        if not phone_number_id:
            raise ValueError("phone_number_id is required")
        if not _VERSION.fullmatch(api_version):
            raise ValueError(f"api_version must look like 'v21.0', not {api_version!r}")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version if api_version.startswith("v") else f"v{api_version}"
        self.phone_number_id = phone_number_id
        self.max_media_bytes = max_media_bytes
        self._token = access_token
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=total_timeout, connect=connect_timeout)
        self._media_timeout = aiohttp.ClientTimeout(total=media_timeout, connect=connect_timeout)

    def __repr__(self) -> str:
        """No token in reprs."""
        return f"GraphClient({self.base_url}/{self.api_version}, phone_number_id={self.phone_number_id})"

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Self:
        """Use as ``async with GraphClient(...) as client``."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the owned session."""
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it (a session passed in stays open)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        """The session, created lazily (inside the running event loop)."""
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError("the aiohttp session given to GraphClient is closed")
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _url(self, *parts: str) -> str:
        return "/".join((self.base_url, self.api_version, *parts))

    # ------------------------------------------------------------------ messages
    async def send(self, to: str, message: dict[str, Any]) -> str:
        """Send one message object (``{"type": "text", "text": {...}}`` etc.) to ``to``; return its wamid.

        ``messaging_product``, ``recipient_type`` and ``to`` are set here. Raises DeliveryError
        (a :class:`GraphDeliveryError`, :class:`OutsideWindow` or :class:`AuthFailed`).
        """
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            **{k: v for k, v in message.items() if k not in ("messaging_product", "recipient_type", "to")},
        }
        url = self._url(self.phone_number_id, "messages")
        kind = body.get("type", "text")
        try:
            async with self._http().post(
                url, json=body, headers=self._auth, timeout=self._timeout
            ) as response:
                raw = await _read_capped(response)
                status, headers = response.status, response.headers
        except TimeoutError as error:
            # The message may or may not have gone out; retrying risks a duplicate, not a loss.
            raise GraphDeliveryError(f"timeout sending {kind} message to the Graph API") from error
        except aiohttp.ClientError as error:
            raise GraphDeliveryError(f"network error sending {kind} message: {error!r}") from error
        payload = _json(raw)
        if 200 <= status < 300:
            wamid = _wamid(payload)
            if wamid is None:
                raise GraphDeliveryError(
                    f"http {status} without a message id: {raw[:200]!r}", http_status=status
                )
            return wamid
        raise classify(status, payload, headers.get("Retry-After"), raw=raw)

    # ------------------------------------------------------------------ media
    async def upload(self, data: bytes, mime_type: str, filename: str) -> str:
        """Upload a file to send (``POST /{version}/{phone-number-id}/media``); return its media id.

        Raises DeliveryError as :meth:`send` does (a :class:`GraphDeliveryError` or :class:`AuthFailed`);
        a file over the size limit is refused here, permanently.
        """
        if len(data) > self.max_media_bytes:
            raise GraphDeliveryError(
                f"{filename} is {len(data)} bytes, over the {self.max_media_bytes}-byte limit", permanent=True
            )
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime_type)
        form.add_field("file", data, filename=filename, content_type=mime_type)
        url = self._url(self.phone_number_id, "media")
        try:
            async with self._http().post(
                url, data=form, headers=self._auth, timeout=self._media_timeout
            ) as response:
                raw = await _read_capped(response)
                status, headers = response.status, response.headers
        except TimeoutError as error:
            raise GraphDeliveryError(f"timeout uploading {filename} to the Graph API") from error
        except aiohttp.ClientError as error:
            raise GraphDeliveryError(f"network error uploading {filename}: {error!r}") from error
        payload = _json(raw)
        if 200 <= status < 300:
            media_id = payload.get("id") if isinstance(payload, dict) else None
            if isinstance(media_id, int) and not isinstance(media_id, bool):
                media_id = str(media_id)
            if not isinstance(media_id, str) or not media_id:
                raise GraphDeliveryError(
                    f"http {status} without a media id: {raw[:200]!r}", http_status=status
                )
            return media_id
        raise classify(status, payload, headers.get("Retry-After"), raw=raw)

    async def media_url(self, media_id: str) -> MediaInfo:
        """Look up a media id (from a webhook): its short-lived download URL, type, hash and size."""
        if not media_id or "/" in media_id:
            raise MediaError(f"invalid media id {media_id!r}")
        try:
            async with self._http().get(
                self._url(media_id), headers=self._auth, timeout=self._timeout
            ) as response:
                raw = await _read_capped(response)
                status = response.status
        except TimeoutError as error:
            raise MediaError(f"timeout looking up media {media_id}", permanent=False) from error
        except aiohttp.ClientError as error:
            raise MediaError(
                f"network error looking up media {media_id}: {error!r}", permanent=False
            ) from error
        payload = _json(raw)
        if not 200 <= status < 300:
            raise _media_error(f"media {media_id} lookup", status, payload, raw)
        if not isinstance(payload, dict) or not isinstance(payload.get("url"), str) or not payload["url"]:
            raise MediaError(f"media {media_id} lookup: no url in {raw[:200]!r}", http_status=status)
        return MediaInfo(
            url=payload["url"],
            mime_type=str(payload.get("mime_type") or "application/octet-stream"),
            sha256=str(payload.get("sha256") or ""),
            file_size=_int(payload.get("file_size")),
            media_id=str(payload.get("id") or media_id),
        )

    async def download(self, media_id: str) -> tuple[bytes, MediaInfo]:
        """Fetch a media object's bytes (metadata first, then the URL); refuse anything too big."""
        info = await self.media_url(media_id)
        limit = self.max_media_bytes
        if info.file_size is not None and info.file_size > limit:
            raise MediaError(f"media {media_id} is {info.file_size} bytes, over the {limit}-byte limit")
        if not info.url.startswith(("https://", "http://")):
            raise MediaError(f"media {media_id} has an unusable url")
        try:
            async with self._http().get(
                info.url, headers=self._auth, timeout=self._media_timeout
            ) as response:
                if response.status != 200:
                    raw = await _read_capped(response)
                    raise _media_error(f"media {media_id} download", response.status, _json(raw), raw)
                if (response.content_length or 0) > limit:
                    raise MediaError(
                        f"media {media_id} is {response.content_length} bytes, over the {limit}-byte limit"
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise MediaError(
                            f"media {media_id} exceeded the {limit}-byte limit while downloading"
                        )
                    chunks.append(chunk)
                content_type = response.headers.get("Content-Type", "")
        except TimeoutError as error:
            raise MediaError(f"timeout downloading media {media_id}", permanent=False) from error
        except aiohttp.ClientError as error:
            raise MediaError(
                f"network error downloading media {media_id}: {error!r}", permanent=False
            ) from error
        data = b"".join(chunks)
        if info.mime_type == "application/octet-stream" and content_type:
            info = MediaInfo(info.url, content_type.split(";")[0], info.sha256, info.file_size, info.media_id)
        if info.file_size is None:
            info = MediaInfo(info.url, info.mime_type, info.sha256, len(data), info.media_id)
        return data, info


# ---------------------------------------------------------------------- error mapping
def classify(
    status: int, payload: Any, retry_after_header: str | None = None, *, raw: bytes = b""
) -> GraphDeliveryError:
    """Turn a failed Graph answer into the DeliveryError the outbox sender acts on.

    =================================================  =========================================
    Graph code / HTTP status                           result
    =================================================  =========================================
    131047                                             OutsideWindow, permanent (send a template)
    4, 613, 80007, 130429, 131048, 131056; HTTP 429    retry_after: Retry-After, else per code
    0, 3, 10, 190, 200-299, 131005; no code + 401/403  AuthFailed, permanent
    1, 2, 131000, 131016, 131057, 133004, is_transient retryable
    131026 (the number cannot receive messages)        permanent, unreachable
    100, 131051, 131053, templates ...                 permanent
    unknown code: HTTP 5xx / other 4xx                 retryable / permanent
    =================================================  =========================================
    """
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    details = str(details) if details else None
    message = str(error.get("message") or "") or raw[:200].decode("utf-8", "replace").strip()
    label = f"graph {code}" if code is not None else "graph error"
    reason = f"{label} (http {status}): {message or 'no message'}"
    if details and details not in message:
        reason += f" — {details}"
    common: dict[str, Any] = {
        "code": code,
        "subcode": subcode,
        "http_status": status,
        "details": details,
        "fbtrace_id": str(error.get("fbtrace_id") or "") or None,
    }
    if code == OUTSIDE_WINDOW:
        return OutsideWindow(reason, permanent=True, **common)
    if code in RATE_LIMITS or (status == 429 and code not in AUTH_CODES and code not in PERMANENT_CODES):
        default = RATE_LIMITS.get(code, DEFAULT_RETRY_AFTER) if code is not None else DEFAULT_RETRY_AFTER
        wait = _retry_after(retry_after_header)
        return GraphDeliveryError(reason, retry_after=default if wait is None else wait, **common)
    if code in AUTH_CODES or (code is None and status in (401, 403)):
        return AuthFailed(reason, permanent=True, **common)
    if code in TRANSIENT_CODES or error.get("is_transient") is True:
        return GraphDeliveryError(reason, **common)
    if code in PERMANENT_CODES:
        return GraphDeliveryError(reason, permanent=True, unreachable=code in UNREACHABLE_CODES, **common)
    return GraphDeliveryError(reason, permanent=400 <= status < 500, **common)


def _media_error(what: str, status: int, payload: Any, raw: bytes) -> MediaError:
    """A failed media lookup/download: 5xx, 429 and rate-limit codes may pass; the rest will not."""
    error = classify(status, payload, raw=raw)
    permanent = error.permanent or status == 404
    if status >= 500 or status == 429 or error.retry_after is not None:
        permanent = False
    return MediaError(
        f"{what} failed: {error.reason}", permanent=permanent, code=error.code, http_status=status
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped at an hour."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


async def _read_capped(response: aiohttp.ClientResponse, limit: int = MAX_JSON_BYTES) -> bytes:
    """The body of a JSON answer, cut at ``limit`` bytes (an error page could be anything)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    """Graph sends numbers; some proxies send them as strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _wamid(payload: Any) -> str | None:
    """``messages[0].id`` of a send answer."""
    if not isinstance(payload, dict):
        return None
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        return None
    wamid = messages[0].get("id")
    return wamid if isinstance(wamid, str) and wamid else None
