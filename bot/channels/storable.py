"""Text as the database and the platforms can keep it.

A JSON body may carry a lone UTF-16 surrogate ("\\ud83d" without its other half: a client that cut an
emoji in two), which no UTF-8 encoder takes: SQLite's driver refuses the row, and so would Telegram
the card quoting it. PostgreSQL refuses NUL in text. Such a message would fail in the pipeline, and
fail again each time the person sent it. The adapters pass what they read through these functions:
the message is kept, with U+FFFD where the broken half was and without the NULs.
"""

from __future__ import annotations

import re
from typing import Any

from handlers.messages import Inbound, MediaRef

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _replacement(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else "\ufffd"


def storable(text: str) -> str:
    """The text without NUL, a lone surrogate shown as U+FFFD (the same text when it has neither)."""
    return _UNSTORABLE.sub(_replacement, text) if _UNSTORABLE.search(text) else text


def storable_inbound(inbound: Inbound) -> Inbound:
    """The event with every text in it storable (the same object when nothing needed changing)."""
    changes: dict[str, Any] = {
        name: storable(value)
        for name, value in inbound
        if isinstance(value, str) and _UNSTORABLE.search(value)
    }
    if any(_unstorable_media(ref) for ref in inbound.media):
        changes["media"] = tuple(_storable_media(ref) for ref in inbound.media)
    return inbound.model_copy(update=changes) if changes else inbound


def _unstorable_media(ref: MediaRef) -> bool:
    return any(isinstance(value, str) and _UNSTORABLE.search(value) for _, value in ref)


def _storable_media(ref: MediaRef) -> MediaRef:
    changes = {name: storable(value) for name, value in ref if isinstance(value, str)}
    return ref.model_copy(update=changes)
