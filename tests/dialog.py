"""A citizen talking to the real pipeline; replies are read back from the outbox, as the sender would."""

from __future__ import annotations

import itertools
from typing import Any

from pydantic import TypeAdapter
from sqlmodel import col, select

from handlers.messages import (
    Button,
    Channel,
    Inbound,
    InboundKind,
    Location,
    MediaRef,
    Outbound,
    OutText,
    text_fields,
)
from handlers.pipeline import Pipeline
from models import OutboxMessage

_ACTION: TypeAdapter[Outbound] = TypeAdapter(Outbound)
_events = itertools.count(1)


class Dialog:
    """Say things, press buttons, share locations and photos; get the bot's replies."""

    def __init__(self, pipeline: Pipeline, *, user_id: str, channel: Channel = Channel.TELEGRAM) -> None:
        self.pipeline = pipeline
        self.user_id = user_id
        self.chat_id = user_id
        self.channel = channel
        self.replies: list[Outbound] = []  # the replies to the last input
        self.history: list[Outbound] = []  # every reply so far
        self._seen = 0

    def restarted(self, pipeline: Pipeline) -> Dialog:
        """The same citizen talking to another process: replies read on from where this one was."""
        after = Dialog(pipeline, user_id=self.user_id, channel=self.channel)
        after._seen = self._seen
        return after

    # --- inputs ----------------------------------------------------------------------------

    async def send(self, event_id: str | None = None, **fields: Any) -> list[Outbound]:
        inbound = Inbound(
            channel=self.channel,
            event_id=event_id or f"t{next(_events)}",
            chat_id=self.chat_id,
            user_id=self.user_id,
            display_name="Siti Warga",
            **fields,
        )
        await self.pipeline.handle(inbound)
        self.replies = await self._new_replies()
        return self.replies

    async def say(self, text: str, **extra: Any) -> list[Outbound]:
        return await self.send(**text_fields(text), **extra)

    async def press(self, label: str) -> list[Outbound]:
        """Press the newest button whose label contains `label`."""
        return await self.send(kind=InboundKind.BUTTON, payload=self.button(label).payload)

    async def press_payload(self, payload: str) -> list[Outbound]:
        return await self.send(kind=InboundKind.BUTTON, payload=payload)

    async def share_location(self, latitude: float = -6.2, longitude: float = 106.8) -> list[Outbound]:
        return await self.send(
            kind=InboundKind.LOCATION, location=Location(latitude=latitude, longitude=longitude)
        )

    async def photo(self, file_id: str = "photo-1", caption: str | None = None) -> list[Outbound]:
        return await self.send(
            kind=InboundKind.PHOTO,
            text=caption,
            media=(MediaRef(kind="photo", file_id=file_id, unique_id=file_id),),
        )

    async def file_complaint(
        self,
        description: str,
        *,
        category: str = "Sampah",
        at: tuple[float, float] = (-6.2001, 106.8167),
        identity: str = "Publik",
    ) -> list[Outbound]:
        """The whole path from the menu: a category, the words, a shared location, no photo, send."""
        await self.say("/start")
        await self.press("Buat pengaduan")
        await self.press(category)
        await self.say(description)
        await self.share_location(*at)
        await self.press("Lewati")
        await self.press(identity)
        return await self.press("Kirim pengaduan")

    async def other(self, kind: InboundKind) -> list[Outbound]:
        return await self.send(kind=kind)

    # --- reading replies -------------------------------------------------------------------

    @property
    def text(self) -> str:
        """Every text of the last replies, joined."""
        return "\n".join(r.text for r in self.replies if isinstance(r, OutText))

    @property
    def buttons(self) -> list[Button]:
        return [b for r in self.replies if isinstance(r, OutText) for row in r.buttons for b in row]

    def button(self, label: str) -> Button:
        for reply in reversed(self.history):
            if isinstance(reply, OutText):
                for row in reply.buttons:
                    for button in row:
                        if label.lower() in button.label.lower():
                            return button
        raise AssertionError(f"no button {label!r} in {[b.label for b in self.buttons]}")

    @property
    def keyboard(self) -> OutText | None:
        """The last reply that asked for a location (a reply keyboard)."""
        for reply in reversed(self.replies):
            if isinstance(reply, OutText) and reply.request_location:
                return reply
        return None

    async def _new_replies(self) -> list[Outbound]:
        async with self.pipeline.db.sessions() as session:
            rows = (
                await session.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.chat_id == self.chat_id, col(OutboxMessage.id) > self._seen)
                    .order_by(col(OutboxMessage.id))
                )
            ).all()
        if rows:
            self._seen = rows[-1].id or self._seen
        replies = [_ACTION.validate_python(row.payload) for row in rows]
        self.history.extend(replies)
        return replies
