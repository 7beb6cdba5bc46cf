"""The local console channel: try every conversation in a terminal, no platform needed.

Typing a number presses that button of the last message; `/foto [NAME]` sends a photo,
`/lokasi LAT LON` shares a location, `/stiker` sends a sticker. Everything else is what a
citizen would type. The conversation is stored like any other, so it resumes after a restart.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from bot.channels.base import DeliveryError
from handlers.messages import (
    Button,
    Channel,
    Inbound,
    InboundKind,
    Location,
    MediaRef,
    Outbound,
    OutLocation,
    OutMedia,
    OutText,
    text_fields,
)

CHAT_ID = "console"
USER_ID = "console-user"
DEMO_LOCATION = Location(latitude=-6.2000, longitude=106.8166)
_TAG = re.compile(r"</?(b|i|u|s|code|pre)>")


class ConsoleAdapter:
    """Prints outbound actions; turns typed lines into Inbound events."""

    channel = Channel.CONSOLE

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._buttons: list[Button | str] = []  # payload buttons, or reply labels (str)
        self._location_choice: int | None = None
        self._session = uuid.uuid4().hex[:8]
        self._count = 0
        self._photos = 0

    async def deliver(
        self, chat_id: str, action: Outbound, *, skip: int = 0, paid: bool = False
    ) -> str | None:
        """Print the action with its buttons numbered (`paid` means nothing here)."""
        if chat_id != CHAT_ID:
            raise DeliveryError(f"console has no chat {chat_id}", permanent=True)
        self._count += 1
        if isinstance(action, OutText):
            self._print(render(action.text))
            self._show_buttons(action)
        elif isinstance(action, OutMedia):
            self._print(f"[{action.media.kind}: {action.media.file_id}] {render(action.caption)}")
            self._show_buttons(action)
        elif isinstance(action, OutLocation):
            self._print(f"[📍 {action.location.latitude:.5f}, {action.location.longitude:.5f}]")
        return f"{self._session}-{self._count}"

    def _show_buttons(self, action: OutText | OutMedia) -> None:
        if isinstance(action, OutText) and action.request_location:
            self._buttons = [action.request_location]
            self._location_choice = 1
            if action.skip_label:
                self._buttons.append(action.skip_label)
        elif action.buttons:
            self._buttons = [button for row in action.buttons for button in row]
            self._location_choice = None
        else:
            return
        for number, button in enumerate(self._buttons, start=1):
            label = button.label if isinstance(button, Button) else button
            self._print(f"  [{number}] {label}")

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def to_inbound(self, line: str) -> Inbound:
        """A typed line as an Inbound event."""
        self._count += 1
        base: dict[str, Any] = {
            "channel": Channel.CONSOLE,
            "event_id": f"{self._session}:{self._count}",
            "chat_id": CHAT_ID,
            "user_id": USER_ID,
            "message_id": str(self._count),
            "display_name": "Console",
        }
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(self._buttons):
            return Inbound(**base, **self._press(int(text)))
        head, _, rest = text.partition(" ")
        if head.lower() in ("/foto", "/photo"):
            self._photos += 1
            name = rest.strip() or f"console-photo-{self._session}-{self._photos}"
            media = MediaRef(kind="photo", file_id=name, unique_id=name, channel=Channel.CONSOLE)
            return Inbound(**base, kind=InboundKind.PHOTO, media=(media,))
        if head.lower() in ("/lokasi", "/location"):
            return Inbound(**base, **_location(rest))
        if head.lower() in ("/stiker", "/sticker"):
            return Inbound(**base, kind=InboundKind.STICKER)
        return Inbound(**base, **text_fields(text))

    def _press(self, number: int) -> dict[str, Any]:
        button = self._buttons[number - 1]
        if number == self._location_choice:
            return {"kind": InboundKind.LOCATION, "location": DEMO_LOCATION}
        if isinstance(button, Button):
            return {"kind": InboundKind.BUTTON, "payload": button.payload}
        return {"kind": InboundKind.TEXT, "text": button}


def _location(text: str) -> dict[str, Any]:
    numbers = re.findall(r"-?\d+(?:\.\d+)?", text)
    if len(numbers) >= 2:
        try:
            location = Location(latitude=float(numbers[0]), longitude=float(numbers[1]))
            return {"kind": InboundKind.LOCATION, "location": location}
        except ValueError:
            pass
    return {"kind": InboundKind.LOCATION, "location": DEMO_LOCATION}


def render(text: str) -> str:
    """Our markup as plain terminal text."""
    return html.unescape(_TAG.sub("", text))


async def read_lines(
    adapter: ConsoleAdapter,
    sink: Callable[[Inbound], Awaitable[bool]],
    answered: Callable[[], Awaitable[None]],
    stream: TextIO | None = None,
) -> None:
    """Feed typed lines to sink until end of input, each after the bot has answered the last.

    Waiting for the answer keeps piped input meaningful: a number typed ahead presses a button
    of the message it was typed after.
    """
    stream = stream or sys.stdin
    while True:
        line = await asyncio.to_thread(stream.readline)
        if not line:
            return
        if line.strip():
            await sink(adapter.to_inbound(line))
            await answered()
