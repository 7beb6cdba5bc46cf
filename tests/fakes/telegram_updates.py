"""World model and update builders of the fake Telegram Bot API server.

:class:`FakeTelegramState` keeps what a Telegram server knows (users, chats, messages, files,
pending updates), validates outgoing content like Telegram (text/caption length, HTML markup,
inline keyboards, editable messages) and offers ``push_*`` builders that inject Telegram-shaped
updates for the bot to receive through ``getUpdates``.  The HTTP side lives in
:mod:`tests.fakes.telegram_api`, whose ``FakeTelegramAPI`` subclasses this class.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

JSON = dict[str, Any]
# (width, height) of the PhotoSize variants generated for every photo, smallest first.
PHOTO_SIZES: tuple[tuple[int, int], ...] = ((90, 68), (320, 240), (800, 600), (1280, 960))
CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note".split()
)
HTML_TAGS = frozenset(
    "b strong i em u ins s strike del span tg-spoiler a code pre blockquote tg-emoji".split()
)
UPGRADED = "group chat was upgraded to a supergroup chat"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
# Values of these params are kept as strings even if they look like numbers or JSON.
STRING_KEYS = frozenset(
    "text caption data callback_query_id inline_message_id parse_mode action file_id photo "
    "document voice sticker video audio animation url title description query emoji "
    "phone_number first_name last_name address secret_token ip_address".split()
)
DEFAULT_ERRORS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    429: "Too Many Requests",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
}


@dataclass(frozen=True)
class Upload:
    """A file uploaded by the bot in a multipart request."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


class ApiError(Exception):
    """Raised inside method implementations to answer with a Telegram error."""

    def __init__(
        self,
        status: int,
        description: str,
        retry_after: int | None = None,
        *,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """Store the HTTP status / ``error_code``, description and the optional ``parameters``."""
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def body(self) -> JSON:
        """The JSON body Telegram would send."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        parameters = _present(
            {"retry_after": self.retry_after, "migrate_to_chat_id": self.migrate_to_chat_id}
        )
        if parameters:
            body["parameters"] = parameters
        return body


def bad(description: str) -> ApiError:
    """Shortcut for a 400 ``Bad Request: ...`` error."""
    return ApiError(400, f"Bad Request: {description}")


class _HtmlRenderer(HTMLParser):
    """Validates Telegram HTML and collects the visible text."""

    def __init__(self, source: str) -> None:
        """Prepare to parse ``source``."""
        super().__init__(convert_charrefs=True)
        self.source = source
        self.stack: list[str] = []
        self.parts: list[str] = []

    def _offset(self) -> int:
        """Byte offset of the current parser position."""
        line, col = self.getpos()
        index = sum(len(x) + 1 for x in self.source.split("\n")[: line - 1]) + col
        return len(self.source[:index].encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Reject tags Telegram does not support."""
        if tag not in HTML_TAGS:
            raise bad(f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset {self._offset()}')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        """Reject end tags that do not close the innermost open tag."""
        if not self.stack or self.stack[-1] != tag:
            expected = f'"</{self.stack[-1]}>"' if self.stack else "no end tag"
            raise bad(
                f"can't parse entities: Unmatched end tag at byte offset {self._offset()}, "
                f'expected {expected}, found "</{tag}>"'
            )
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        """Collect visible text."""
        self.parts.append(data)


def render(text: str, parse_mode: Any) -> str:
    """Return the visible text; for HTML validate the markup like Telegram does."""
    if not isinstance(parse_mode, str) or parse_mode.lower() != "html":
        return text
    parser = _HtmlRenderer(text)
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise bad(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{parser.stack[-1]}\""
        )
    return "".join(parser.parts)


@dataclass
class Call:
    """One recorded API call. ``at`` is ``time.monotonic()`` when the request arrived."""

    method: str
    params: JSON
    at: float
    failed: bool = False
    status: int = 200
    description: str | None = None
    result: Any = None

    @property
    def chat_id(self) -> int | str | None:
        """The ``chat_id`` param as int when numeric, else as given (or None)."""
        value = self.params.get("chat_id")
        return int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else value

    @property
    def text(self) -> str | None:
        """Text or caption as the user sees it (HTML markup removed when the call succeeded).

        For ``sendMediaGroup`` the captions are joined with newlines.
        """
        media = self.params.get("media")
        if self.method.lower() == "sendmediagroup" and isinstance(media, list):
            items = [m for m in media if isinstance(m, dict)]
        elif "text" in self.params or "caption" in self.params:
            items = [self.params]
        else:
            return None
        results = self.result if isinstance(self.result, list) else [self.result]
        if not self.failed and all(isinstance(r, dict) for r in results):
            items = results  # what Telegram shows: HTML markup already removed
        shown = [item.get("text", item.get("caption")) for item in items]
        return "\n".join(t for t in shown if isinstance(t, str)) or None


def coerce(key: str, value: str) -> Any:
    """Turn a form/query string into the JSON value Telegram would read from it."""
    if key in STRING_KEYS:
        return value
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value in ("true", "false"):
        return value == "true"
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d*", value):
        return float(value)
    return value


def _present(fields: JSON) -> JSON:
    """``fields`` without the None values."""
    return {k: v for k, v in fields.items() if v is not None}


@dataclass
class QueuedUpdate:
    """An update waiting in the server queue.

    ``forced`` entries come from :meth:`FakeTelegramState.push_raw`: they are delivered even
    though their ``update_id`` may already be confirmed, and dropped on the next ``getUpdates``
    after they were delivered once.
    """

    update: JSON
    forced: bool = False
    delivered: bool = False

    @property
    def kind(self) -> str:
        """The update type, e.g. ``"message"`` or ``"callback_query"``."""
        return next((k for k in self.update if k != "update_id"), "")


@dataclass
class StoredFile:
    """A file the fake server knows about (served by ``getFile`` and the file endpoint)."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes = field(default=b"", repr=False)


class FakeTelegramState:
    """World state of the fake Telegram server plus update builders.

    Message ids increase per chat and are shared between user and bot messages, like in
    Telegram.  Private chats have ``chat_id == user_id``; pass a negative ``chat_id`` to the
    builders for group messages (a ``-100…`` id is a supergroup, other negative ids are basic
    groups; :meth:`add_group` sets a title or type).
    """

    def __init__(self, token: str, *, bot_username: str, bot_name: str) -> None:
        """Create an empty world for the bot identified by ``token``."""
        self.token = token
        head = token.partition(":")[0]
        self.bot_user: JSON = {
            "id": int(head) if head.isdigit() else 123456789,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self._queue: list[QueuedUpdate] = []
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)  # file ids, callback ids, ...
        self._message_ids: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._users: dict[int, JSON] = {}
        self._files: dict[str, StoredFile] = {}
        self._callbacks: dict[str, bool] = {}  # callback_query id -> answered
        self._new_update = asyncio.Event()
        self._last_push = 0.0
        self._allowed_updates: list[str] | None = None  # as last sent to getUpdates
        self.blocked: set[int] = set()  # chats answering 403 to sends/edits
        self.migrated: dict[int, int] = {}  # old group id -> its supergroup (sends answer 400)
        self._groups: dict[int, JSON] = {}  # Chat objects of groups with a set title/type
        self.dropped: list[JSON] = []  # confirmed without delivery (not in allowed_updates)

    # ------------------------------------------------------------------ world helpers
    def _next_message_id(self, chat_id: int) -> int:
        """Allocate the next message id in ``chat_id``."""
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _user(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> JSON:
        """Return (and remember) the User object for ``user_id``, updating given fields."""
        user = self._users.setdefault(user_id, {"id": user_id, "is_bot": False, "first_name": "Warga"})
        user.update(
            _present({"first_name": first_name, "username": username, "language_code": language_code})
        )
        return dict(user)

    def _chat(self, chat_id: int) -> JSON:
        """Build the Chat object: private for positive ids, supergroup for negative ones."""
        if chat_id > 0:
            chat: JSON = {"id": chat_id, "type": "private"}
            user = self._users.get(chat_id)
            if user is not None:
                chat.update({k: user[k] for k in ("first_name", "username") if k in user})
            return chat
        group = self._groups.get(chat_id)
        if group is not None:
            return dict(group)
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Grup {chat_id}"}

    def add_group(self, chat_id: int, title: str | None = None, *, kind: str | None = None) -> JSON:
        """Name a group chat (``kind``: "group" or "supergroup"; default from the id); return its Chat.

        Builders and bot messages in ``chat_id`` use this Chat object from now on.
        """
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        current = self._chat(chat_id)
        chat = {
            "id": chat_id,
            "type": kind or current["type"],
            "title": title or current["title"],
        }
        if chat["type"] not in ("group", "supergroup"):
            raise ValueError(f"not a group chat type: {chat['type']}")
        self._groups[chat_id] = chat
        return dict(chat)

    def _store(self, message: JSON) -> JSON:
        """Remember ``message`` (a deep copy) so it can be edited, deleted or referenced."""
        key = (message["chat"]["id"], message["message_id"])
        self._messages[key] = copy.deepcopy(message)
        return message

    def get_message(self, chat_id: int, message_id: int) -> JSON | None:
        """Return the current state of a stored message (after edits), or None."""
        message = self._messages.get((chat_id, message_id))
        return copy.deepcopy(message) if message is not None else None

    def current_text(self, chat_id: int, message_id: int) -> str | None:
        """The text (or caption) a stored message shows now, after edits; None if unknown."""
        message = self._messages.get((chat_id, message_id)) or {}
        return message.get("text", message.get("caption"))

    def buttons(self, chat_id: int, message_id: int) -> list[list[tuple[str, str | None]]]:
        """The inline keyboard a stored message shows now: rows of (label, callback_data)."""
        message = self._messages.get((chat_id, message_id)) or {}
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        return [[(b["text"], b.get("callback_data")) for b in row] for row in rows]

    def _new_file_id(self, prefix: str = "AgAC") -> str:
        """Generate a unique, Telegram-looking file id."""
        return f"{prefix}{next(self._ids):06d}FAKEFILE"

    def _register_file(
        self, file_id: str, unique_id: str | None, folder: str, file_name: str | None = None
    ) -> None:
        """Make ``file_id`` known to ``getFile`` (no-op if it already is); a document's path keeps
        the extension of its name, as Telegram's does."""
        if file_id in self._files:
            return
        ext = {"photos": ".jpg", "voice": ".oga", "videos": ".mp4", "stickers": ".webp"}.get(folder, "")
        if not ext and file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1]
        path = f"{folder}/file_{len(self._files)}{ext}"
        content = f"fake-telegram-file:{file_id}".encode()
        self._files[file_id] = StoredFile(file_id, unique_id or f"u-{file_id}", path, content)

    def set_file_content(self, file_id: str, content: bytes) -> None:
        """Set the bytes served for ``file_id`` by the file download endpoint."""
        self._register_file(file_id, None, "documents")
        self._files[file_id].content = content

    def _scan_files(self, obj: Any, folder: str = "documents") -> None:
        """Register every ``file_id`` found anywhere inside a pushed update."""
        if isinstance(obj, dict):
            if isinstance(obj.get("file_id"), str):
                self._register_file(obj["file_id"], obj.get("file_unique_id"), folder, obj.get("file_name"))
            for key, value in obj.items():
                sub = {"photo": "photos", "voice": "voice", "sticker": "stickers"}.get(key, folder)
                self._scan_files(value, sub)
        elif isinstance(obj, list):
            for item in obj:
                self._scan_files(item, folder)

    def _photo_sizes(self, file_id: str | None = None) -> list[JSON]:
        """PhotoSize list of several sizes; the largest carries ``file_id`` if given."""
        base = file_id or self._new_file_id()
        last = len(PHOTO_SIZES) - 1
        return [
            {
                "file_id": base if i == last else f"{base}-s{i}",
                "file_unique_id": f"AQAD{base[-12:]}{i}",
                "file_size": w * h // 10,
                "width": w,
                "height": h,
            }
            for i, (w, h) in enumerate(PHOTO_SIZES)
        ]

    # ------------------------------------------------------------------ update queue
    def push_update(self, update: JSON) -> JSON:
        """Queue ``update`` (assigning the next ``update_id``) and return it."""
        update = {"update_id": next(self._update_ids), **update}
        self._scan_files(update)
        self._enqueue(QueuedUpdate(update))
        return update

    def push_raw(self, update: JSON) -> JSON:
        """Re-deliver exactly ``update`` (same ``update_id``), as if Telegram sent it twice."""
        self._enqueue(QueuedUpdate(copy.deepcopy(update), forced=True))
        return update

    def _enqueue(self, item: QueuedUpdate) -> None:
        """Append to the queue and wake long-polling ``getUpdates`` calls."""
        self._queue.append(item)
        self._last_push = time.monotonic()
        self._wake()

    def _wake(self) -> None:
        """Wake everything waiting on ``_new_update`` (a fresh event is armed)."""
        event, self._new_update = self._new_update, asyncio.Event()
        event.set()

    # ------------------------------------------------------------------ builders
    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        content: JSON,
        *,
        reply_to: int | None = None,
        **user: Any,
    ) -> JSON:
        """Build, store and queue a ``message`` update sent by a user (``user``: User fields).

        ``reply_to``: the message id it answers; the stored message is attached as
        ``reply_to_message`` like Telegram does (a minimal one if the fake does not know it).
        """
        sender = self._user(user_id, **user)
        chat = user_id if chat_id is None else chat_id
        message = {
            "message_id": self._next_message_id(chat),
            "from": sender,
            "chat": self._chat(chat),
            "date": int(time.time()),
            **content,
        }
        if reply_to is not None:
            message["reply_to_message"] = self._replied(chat, reply_to)
        self._store(message)
        return self.push_update({"message": message})

    def _replied(self, chat_id: int, message_id: int) -> JSON:
        """The ``reply_to_message`` for an answer to ``message_id`` (one level deep, like Telegram)."""
        replied = self._messages.get((chat_id, message_id)) or {
            "message_id": message_id,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
        }
        return {k: copy.deepcopy(v) for k, v in replied.items() if k != "reply_to_message"}

    def push_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to: int | None = None,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> JSON:
        """Queue a plain text message (no entities), optionally answering message ``reply_to``.

        ``first_name`` defaults to the name remembered for this user, else ``"Warga"``.
        """
        return self._user_message(
            user_id,
            chat_id,
            {"text": text},
            reply_to=reply_to,
            first_name=first_name,
            username=username,
            language_code=language_code,
        )

    def push_command(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to: int | None = None,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> JSON:
        """Queue a command (``"/start"``, ``"/lapor jalan rusak"``) with its bot_command entity.

        A missing leading slash is added.
        """
        text = text if text.startswith("/") else f"/{text}"
        entity = {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
        return self._user_message(
            user_id,
            chat_id,
            {"text": text, "entities": [entity]},
            reply_to=reply_to,
            first_name=first_name,
            username=username,
            language_code=language_code,
        )

    def push_photo(
        self,
        user_id: int,
        *,
        file_id: str | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> JSON:
        """Queue a photo message; ``file_id`` goes to the largest PhotoSize."""
        content = {"photo": self._photo_sizes(file_id), "caption": caption, "media_group_id": media_group_id}
        return self._user_message(user_id, chat_id, _present(content), reply_to=reply_to)

    def push_location(
        self, user_id: int, latitude: float, longitude: float, *, chat_id: int | None = None
    ) -> JSON:
        """Queue a location message."""
        location = {"latitude": latitude, "longitude": longitude}
        return self._user_message(user_id, chat_id, {"location": location})

    def _file_fields(self, prefix: str) -> JSON:
        """``file_id`` / ``file_unique_id`` of a new file."""
        file_id = self._new_file_id(prefix)
        return {"file_id": file_id, "file_unique_id": f"AgAD{file_id[-12:]}"}

    def push_sticker(self, user_id: int, *, emoji: str = "👍", chat_id: int | None = None) -> JSON:
        """Queue a (static, regular) sticker message."""
        sticker = {
            **self._file_fields("CAAC"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._user_message(user_id, chat_id, {"sticker": sticker})

    def push_voice(
        self, user_id: int, *, duration: int = 3, caption: str | None = None, chat_id: int | None = None
    ) -> JSON:
        """Queue a voice note message."""
        voice = {
            **self._file_fields("AwAC"),
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 4000 * duration,
        }
        return self._user_message(user_id, chat_id, _present({"voice": voice, "caption": caption}))

    def push_document(
        self,
        user_id: int,
        *,
        file_name: str = "laporan.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSON:
        """Queue a document message."""
        document = {
            **self._file_fields("BQAC"),
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": 12345,
        }
        content = _present({"document": document, "caption": caption})
        return self._user_message(user_id, chat_id, content)

    def push_contact(
        self,
        user_id: int,
        phone_number: str = "+6281234567890",
        *,
        first_name: str | None = None,
        chat_id: int | None = None,
    ) -> JSON:
        """Queue a contact message; by default the user's own contact (with ``user_id``)."""
        name = first_name or self._user(user_id)["first_name"]
        contact = {"phone_number": phone_number, "first_name": name, "user_id": user_id}
        return self._user_message(user_id, chat_id, {"contact": contact})

    def push_edited_text(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> JSON:
        """Queue an ``edited_message`` update for a user's earlier text message."""
        chat = user_id if chat_id is None else chat_id
        now = int(time.time())
        message = self._messages.get((chat, message_id)) or {
            "message_id": message_id,
            "from": self._user(user_id),
            "chat": self._chat(chat),
            "date": now,
        }
        message = {**message, "text": text, "edit_date": now}
        self._store(message)
        return self.push_update({"edited_message": message})

    def push_callback(self, user_id: int, data: str, *, message_id: int, chat_id: int | None = None) -> JSON:
        """Queue a ``callback_query`` for an inline button on message ``message_id``.

        The attached message is the stored one (usually the bot's) if known, else a minimal
        message.  The query id must be answered once with ``answerCallbackQuery``.
        """
        chat = user_id if chat_id is None else chat_id
        message = self._messages.get((chat, message_id)) or {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat(chat),
        }
        query_id = str(4_000_000_000_000_000 + next(self._ids))
        self._callbacks[query_id] = False
        query = {
            "id": query_id,
            "from": self._user(user_id),
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(hash((self.token, chat))) % 10**18),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    # ------------------------------------------------------------------ group builders
    def push_group_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        reply_to: int | None = None,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> JSON:
        """Queue a text typed by ``user_id`` in group ``chat_id``, optionally answering ``reply_to``.

        A text starting with ``/name`` is a command (with its bot_command entity), as Telegram marks it.
        """
        self._group_chat(chat_id)
        push = self.push_command if re.match(r"/\w", text) else self.push_text
        return push(
            user_id,
            text,
            chat_id=chat_id,
            reply_to=reply_to,
            first_name=first_name,
            username=username,
            language_code=language_code,
        )

    def push_group_photo(
        self,
        chat_id: int,
        user_id: int,
        *,
        caption: str | None = None,
        file_id: str | None = None,
        media_group_id: str | None = None,
        reply_to: int | None = None,
    ) -> JSON:
        """Queue a photo (with an optional caption) sent by ``user_id`` in group ``chat_id``."""
        self._group_chat(chat_id)
        return self.push_photo(
            user_id,
            file_id=file_id,
            caption=caption,
            media_group_id=media_group_id,
            chat_id=chat_id,
            reply_to=reply_to,
        )

    def push_group_callback(self, chat_id: int, user_id: int, data: str, *, message_id: int) -> JSON:
        """Queue a press by ``user_id`` of an inline button on message ``message_id`` in a group."""
        self._group_chat(chat_id)
        return self.push_callback(user_id, data, message_id=message_id, chat_id=chat_id)

    def push_new_members(
        self,
        chat_id: int,
        member_ids: Sequence[int],
        *,
        by_user_id: int | None = None,
        member_update: bool = True,
    ) -> JSON:
        """Queue the service message "``by_user_id`` added ``member_ids``" (joined by themselves if None).

        The bot's own id in ``member_ids`` adds the bot: Telegram then also sends a ``my_chat_member``
        update first (``member_update``), which only reaches bots asking for it in allowed_updates.
        Returns the ``message`` update.
        """
        chat = self._group_chat(chat_id)
        members = [self._member(m) for m in member_ids]
        sender = by_user_id if by_user_id is not None else member_ids[0]
        if member_update and self.bot_user["id"] in member_ids:
            self.push_update(
                {
                    "my_chat_member": {
                        "chat": chat,
                        "from": self._member(sender),
                        "date": int(time.time()),
                        "old_chat_member": {"user": dict(self.bot_user), "status": "left"},
                        "new_chat_member": {"user": dict(self.bot_user), "status": "member"},
                    }
                }
            )
        content: JSON = {"new_chat_members": members}
        if len(members) == 1:
            content["new_chat_member"] = members[0]  # the deprecated field Telegram still sends
            content["new_chat_participant"] = members[0]
        return self._service_message(chat_id, sender, content)

    def push_bot_added(self, chat_id: int, by_user_id: int, *, member_update: bool = True) -> JSON:
        """Queue the service message "``by_user_id`` added the bot to group ``chat_id``"."""
        return self.push_new_members(
            chat_id, [self.bot_user["id"]], by_user_id=by_user_id, member_update=member_update
        )

    def push_member_left(self, chat_id: int, user_id: int, *, by_user_id: int | None = None) -> JSON:
        """Queue the service message "``user_id`` left" (or was removed by ``by_user_id``)."""
        self._group_chat(chat_id)
        member = self._member(user_id)
        sender = user_id if by_user_id is None else by_user_id
        content = {"left_chat_member": member, "left_chat_participant": member}
        return self._service_message(chat_id, sender, content)

    def push_migrated_to(self, old_chat_id: int, new_chat_id: int, *, by_user_id: int | None = None) -> JSON:
        """Queue the service message in basic group ``old_chat_id``: it became ``new_chat_id``."""
        self._group_chat(old_chat_id)
        return self._service_message(old_chat_id, by_user_id, {"migrate_to_chat_id": new_chat_id})

    def push_migrated_from(
        self, new_chat_id: int, old_chat_id: int, *, by_user_id: int | None = None
    ) -> JSON:
        """Queue the service message in supergroup ``new_chat_id``: it was basic group ``old_chat_id``."""
        self._group_chat(new_chat_id)
        return self._service_message(new_chat_id, by_user_id, {"migrate_from_chat_id": old_chat_id})

    def migrate_chat(
        self,
        old_chat_id: int,
        new_chat_id: int,
        *,
        by_user_id: int | None = None,
        push_updates: bool = True,
    ) -> tuple[JSON, JSON] | None:
        """Upgrade basic group ``old_chat_id`` to supergroup ``new_chat_id`` (keeping the title).

        From now on every send/edit to ``old_chat_id`` answers 400 with
        ``parameters.migrate_to_chat_id``, like Telegram.  With ``push_updates`` the two service
        messages (old group first, then the supergroup) are queued and returned.
        """
        old = self._group_chat(old_chat_id)
        self.add_group(new_chat_id, old["title"], kind="supergroup")
        self.migrated[old_chat_id] = new_chat_id
        if not push_updates:
            return None
        return (
            self.push_migrated_to(old_chat_id, new_chat_id, by_user_id=by_user_id),
            self.push_migrated_from(new_chat_id, old_chat_id, by_user_id=by_user_id),
        )

    def _group_chat(self, chat_id: int) -> JSON:
        """The Chat object of group ``chat_id``; raise for a private chat id."""
        if chat_id >= 0:
            raise ValueError(f"{chat_id} is not a group chat id (groups have negative ids)")
        return self._chat(chat_id)

    def _member(self, user_id: int) -> JSON:
        """The User object for ``user_id``: the bot's own, or a (remembered) person."""
        return dict(self.bot_user) if user_id == self.bot_user["id"] else self._user(user_id)

    def _service_message(self, chat_id: int, user_id: int | None, content: JSON) -> JSON:
        """Build, store and queue a service ``message`` in ``chat_id`` (``from`` omitted if None)."""
        message: JSON = {"message_id": self._next_message_id(chat_id)}
        if user_id is not None:
            message["from"] = self._member(user_id)
        message |= {"chat": self._chat(chat_id), "date": int(time.time()), **content}
        self._store(message)
        return self.push_update({"message": message})

    def _wanted(self, item: QueuedUpdate) -> bool:
        """Whether the bot's ``allowed_updates`` lets ``item`` through (Telegram drops others)."""
        return not self._allowed_updates or item.kind in self._allowed_updates

    def _deliverable(self, limit: int) -> list[QueuedUpdate]:
        """Updates a getUpdates call would return now (unconfirmed ones are re-sent)."""
        items = [q for q in self._queue if not (q.forced and q.delivered)]
        return [q for q in items if self._wanted(q)][:limit]

    def _confirm(self, offset: int) -> None:
        """Forget confirmed updates (``update_id < offset``; negative: keep the last -offset)."""
        queue = [q for q in self._queue if not (q.forced and q.delivered)]
        if offset > 0:
            queue = [q for q in queue if q.forced or q.update["update_id"] >= offset]
        elif offset < 0:
            queue = queue[offset:]
        kept = {id(q) for q in queue}
        self.dropped += [q.update for q in self._queue if id(q) not in kept and not q.delivered]
        self._queue = queue

    # ------------------------------------------------------------------ outgoing content
    def _target(self, p: JSON) -> int:
        """Validate ``chat_id`` for a send/edit and honour :meth:`block`."""
        chat_id = p.get("chat_id")
        if chat_id in (None, ""):
            raise bad("chat_id is empty")
        if not isinstance(chat_id, int):
            raise bad("chat not found")
        if chat_id in self.migrated:
            raise ApiError(400, f"Bad Request: {UPGRADED}", migrate_to_chat_id=self.migrated[chat_id])
        if chat_id in self.blocked:
            kind = "blocked by the user" if chat_id > 0 else "kicked from the supergroup chat"
            raise ApiError(403, f"Forbidden: bot was {kind}")
        return chat_id

    def _markup(self, p: JSON) -> JSON:
        """Validate ``reply_markup``; return what Telegram echoes (inline keyboards only)."""
        markup = p.get("reply_markup")
        if markup is None:
            return {}
        if not isinstance(markup, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return {}
        for row in markup["inline_keyboard"]:
            for button in row:
                if not button.get("text"):
                    raise bad("can't parse inline keyboard button: Text is empty")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise bad("BUTTON_DATA_INVALID")
                if set(button) <= {"text", "style", "icon_custom_emoji_id"}:
                    raise bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
        return {"reply_markup": markup}

    def _visible(self, p: JSON, key: str, limit: int, *, required: bool) -> JSON:
        """Render/validate ``text`` or ``caption``; return the Message fields for it."""
        raw = p.get(key)
        if raw is None and not required:
            return {}
        shown = render(str(raw or ""), p.get("parse_mode"))
        if required and not shown.strip():
            raise bad("message text is empty")
        if len(shown) > limit:
            raise bad("message is too long" if key == "text" else "message caption is too long")
        return {key: shown} if shown else {}

    def _bot_message(self, chat_id: int, p: JSON, content: JSON) -> JSON:
        """Build and store a message sent by the bot."""
        message = {
            "message_id": self._next_message_id(chat_id),
            "from": dict(self.bot_user),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **content,
        }
        reply = p.get("reply_parameters") or {"message_id": p.get("reply_to_message_id")}
        replied = self._messages.get((chat_id, reply.get("message_id") or 0))
        if replied is not None:
            message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
        return self._store(message)

    def _media(self, value: Any, kind: str) -> JSON:
        """Message fields for a sent photo/document/voice/video given as file_id, URL or upload."""
        if value in (None, ""):
            raise bad(f"there is no {kind} in the request")
        if isinstance(value, str) and value.isdigit():  # another platform's handle (a WhatsApp media id)
            raise bad("wrong file identifier/HTTP URL specified")
        file_id = value if isinstance(value, str) and not value.startswith("http") else None
        prefix = {"photo": "AgAC", "voice": "AwAC", "video": "BAAC"}.get(kind, "BQAC")
        file_id = file_id or self._new_file_id(prefix)
        if kind == "photo":
            sizes = self._photo_sizes(file_id)
            for size in sizes:
                self._register_file(size["file_id"], size["file_unique_id"], "photos")
            media: Any = sizes
        else:
            media = {"file_id": file_id, "file_unique_id": f"AgAD{file_id[-12:]}"}
            if kind == "document":
                media["file_name"] = value.filename if isinstance(value, Upload) else "document"
            elif kind == "voice":
                media |= {"duration": 1, "mime_type": "audio/ogg"}
            else:
                media |= {"duration": 1, "width": 640, "height": 360}
            folder = {"voice": "voice", "video": "videos"}.get(kind, "documents")
            self._register_file(file_id, media["file_unique_id"], folder)
        if isinstance(value, Upload):
            self.set_file_content(file_id, value.data)
        return {kind: media}

    def _edit_target(self, p: JSON) -> JSON | None:
        """Stored bot message addressed by an edit (None for inline messages)."""
        if p.get("inline_message_id"):
            return None
        chat_id = self._target(p)
        message = self._messages.get((chat_id, p.get("message_id") or 0))
        if message is None:
            raise bad("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise bad("message can't be edited")
        return message

    def _apply_edit(self, message: JSON | None, p: JSON, changes: JSON, drop: str = "") -> JSON | bool:
        """Apply an edit like Telegram (``drop``: field removed), refusing no-op edits."""
        markup = self._markup(p).get("reply_markup")
        if message is None:
            return True
        new = {k: v for k, v in message.items() if k not in (drop, "reply_markup", "edit_date")}
        new.update(changes)
        if markup is not None:
            new["reply_markup"] = markup
        message = {k: v for k, v in message.items() if k != "edit_date"}
        if new == message:
            raise bad(NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        return self._store(new)
