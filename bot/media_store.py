"""Media files kept on disk, so that one platform's file can be shown on another.

A media handle (Telegram file_id, WhatsApp media id) only means something to its own platform: a
WhatsApp citizen's photo reaches a Telegram unit group as an upload of the file the WhatsApp adapter
stored when it arrived, and an officer's Telegram photo reaches a WhatsApp citizen as an upload of the
file the Telegram adapter downloaded. Each file lives at ``<media dir>/<channel>/<safe handle><ext>``
(the extension from its MIME type or the platform's file path); it is written under a temporary name
and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import asyncio
import glob
import mimetypes
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from bot.channels.base import DeliveryError
from handlers.messages import Channel, MediaRef

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}")
PARTIAL = ".part"

# when the extension tells nothing: what a platform's file of that kind most likely is
DEFAULT_MIME_TYPES = {
    "photo": "image/jpeg",
    "voice": "audio/ogg",
    "video": "video/mp4",
    "document": "application/octet-stream",
}


def safe_name(file_id: str) -> str:
    """A handle as a file name: nothing but letters, digits, ``_.-``, and never a hidden or dot name."""
    name = _SAFE.sub("_", file_id)
    return f"_{name[1:]}" if name.startswith(".") else name or "_"


def mime_type(path: Path, kind: str) -> str:
    """The MIME type of a stored file, from its extension (else the usual one for its kind)."""
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or DEFAULT_MIME_TYPES.get(kind, "application/octet-stream")


def extension(mime: str) -> str:
    """The file extension for a MIME type (``audio/ogg; codecs=opus`` → ``.oga``), or ``""``."""
    return mimetypes.guess_extension(mime.split(";")[0].strip().lower()) or ""


class MediaStore:
    """The media directory: one folder per platform, one file per handle."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, channel: Channel | str, file_id: str, suffix: str = "") -> Path:
        """Where the file of ``file_id`` (with extension ``suffix``) is kept."""
        return self.root / str(Channel(channel)) / f"{safe_name(file_id)}{suffix}"

    def find(self, channel: Channel | str, file_id: str) -> Path | None:
        """The stored file of a handle, whatever its extension; None if it was never stored."""
        folder = self.root / str(Channel(channel))
        name = safe_name(file_id)
        for candidate in sorted(folder.glob(glob.escape(name) + "*")):
            rest = candidate.name[len(name) :]
            if (rest == "" or _EXTENSION.fullmatch(rest)) and candidate.is_file():
                return candidate  # not a ".part" being written, nor another handle with this prefix
        return None

    async def save(self, channel: Channel | str, file_id: str, data: bytes, suffix: str = "") -> Path:
        """Keep a platform's file (atomically: complete under its final name, or absent)."""
        path = self.path(channel, file_id, suffix)
        await asyncio.to_thread(store, path, data)
        return path

    async def lookup(self, ref: MediaRef) -> Path:
        """The stored file of a reference (of its origin channel); a permanent DeliveryError if absent.

        What a channel uses to send another platform's file when it cannot fetch it itself."""
        if ref.channel is None:
            raise DeliveryError(
                f"media {ref.file_id!r} has no origin channel to look it up by", permanent=True
            )
        found = await asyncio.to_thread(self.find, ref.channel, ref.file_id)
        if found is None:
            raise DeliveryError(
                f"the {ref.channel} {ref.kind} {ref.file_id!r} is not in the media store "
                f"({self.root / str(ref.channel)}): it cannot be sent on another platform",
                permanent=True,
            )
        return found


def store(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file: never a half-written file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}{PARTIAL}")  # one per writer
    partial.write_bytes(data)
    partial.replace(path)


class UploadCache:
    """Files of one platform uploaded to another: (their channel, their handle) → the handle the upload
    got, so the same file is uploaded once, not once per recipient. Bounded (least recently used goes);
    entries older than `max_age` seconds are forgotten (WhatsApp keeps an uploaded file 30 days)."""

    def __init__(
        self, *, size: int = 1024, max_age: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = size
        self.max_age = max_age
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    @staticmethod
    def _key(ref: MediaRef) -> tuple[str, str]:
        return (ref.channel.value if ref.channel else "", ref.file_id)

    def get(self, ref: MediaRef) -> str | None:
        key = self._key(ref)
        entry = self._entries.get(key)
        if entry is None:
            return None
        handle, at = entry
        if self.max_age is not None and self.clock() - at > self.max_age:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return handle

    def put(self, ref: MediaRef, handle: str | None) -> None:
        if not handle:
            return
        self._entries[self._key(ref)] = (handle, self.clock())
        self._entries.move_to_end(self._key(ref))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, ref: MediaRef) -> None:
        self._entries.pop(self._key(ref), None)
