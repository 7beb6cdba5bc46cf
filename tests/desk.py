"""The officers' side of the tests: groups and private chats, with the outbox really 'sent'.

A recording channel stands in for Telegram: the real OutboxSender delivers every queued row to it,
numbering messages per chat as Telegram does, so the links from messages to tickets are recorded
and a reply to a card finds its ticket, exactly as in production.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select

from bot.sender import OutboxSender
from handlers.messages import (
    Button,
    Channel,
    Inbound,
    InboundKind,
    MediaRef,
    Outbound,
    OutEdit,
    OutMedia,
    OutText,
    text_fields,
)
from handlers.pipeline import Pipeline
from models import MessageLink, Role, Ticket
from models.db import Database
from workflows.clock import Clock
from workflows.staff import add_staff, ensure_admins

_events = itertools.count(1)

GROUP = "-100700"  # the DLH unit's group
ADMIN, OFFICER, HEAD, OUTSIDER, STRANGER = "9001", "7001", "7002", "8001", "5555"


@dataclass
class Sent:
    chat_id: str
    message_id: str
    action: Outbound


@dataclass
class RecordingChannel:
    """A Telegram stand-in: remembers every delivery; edits change the stored message."""

    channel: Channel = Channel.TELEGRAM
    sent: list[Sent] = field(default_factory=list)
    current: dict[tuple[str, str], OutText] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(500))

    async def deliver(
        self, chat_id: str, action: Outbound, *, skip: int = 0, paid: bool = False
    ) -> str | None:
        if isinstance(action, OutEdit) and action.message_id and (chat_id, action.message_id) in self.current:
            message_id = action.message_id
            self.current[(chat_id, message_id)] = OutText(text=action.text, buttons=action.buttons)
        else:
            message_id = str(next(self._ids))
            if isinstance(action, OutEdit):
                self.current[(chat_id, message_id)] = OutText(text=action.text, buttons=action.buttons)
            elif isinstance(action, OutText):
                self.current[(chat_id, message_id)] = action
        self.sent.append(Sent(chat_id, message_id, action))
        return message_id

    def to(self, chat_id: str) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]


class Desk:
    """Officers and admins acting in groups and private chats, through the real pipeline."""

    def __init__(self, pipeline: Pipeline, db: Database, clock: Clock) -> None:
        self.pipeline = pipeline
        self.db = db
        self.channel = RecordingChannel()
        self.sender = OutboxSender(db, {"telegram": self.channel}, clock, per_second=1e6)
        self._seen: dict[str, int] = {}

    async def flush(self) -> None:
        """Deliver everything queued (the sender's passes, until nothing is due)."""
        for _ in range(200):
            if not await self.sender.send_due():
                return

    async def event(
        self, chat_id: str, user_id: str, *, private: bool, name: str = "Petugas", **fields: Any
    ) -> None:
        inbound = Inbound(
            channel=Channel.TELEGRAM,
            event_id=f"d{next(_events)}",
            chat_id=chat_id,
            user_id=user_id,
            is_private=private,
            display_name=name,
            chat_title=None if private else "Grup Unit",
            **fields,
        )
        await self.pipeline.handle(inbound)
        await self.flush()

    async def say(
        self, chat_id: str, user_id: str, text: str, *, reply_to: str | None = None, **extra: Any
    ) -> list[Sent]:
        private = chat_id == user_id
        await self.event(
            chat_id, user_id, private=private, reply_to_message_id=reply_to, **text_fields(text), **extra
        )
        return self.new(chat_id)

    async def photo(
        self, chat_id: str, user_id: str, file_id: str, caption: str | None = None, **extra: Any
    ) -> list[Sent]:
        media = (MediaRef(kind="photo", file_id=file_id, unique_id=file_id),)
        await self.event(
            chat_id,
            user_id,
            private=chat_id == user_id,
            kind=InboundKind.PHOTO,
            media=media,
            text=caption,
            **extra,
        )
        return self.new(chat_id)

    async def press(self, chat_id: str, user_id: str, payload: str) -> list[Sent]:
        await self.event(
            chat_id, user_id, private=chat_id == user_id, kind=InboundKind.BUTTON, payload=payload
        )
        return self.new(chat_id)

    async def press_label(self, chat_id: str, user_id: str, label: str) -> list[Sent]:
        return await self.press(chat_id, user_id, self.button(chat_id, label).payload)

    def new(self, chat_id: str) -> list[Sent]:
        """Messages to the chat since the last look."""
        sent = self.channel.to(chat_id)
        start = self._seen.get(chat_id, 0)
        self._seen[chat_id] = len(sent)
        return sent[start:]

    def button(self, chat_id: str, label: str) -> Button:
        for sent in reversed(self.channel.to(chat_id)):
            action = sent.action
            if isinstance(action, OutText | OutEdit):
                for row in action.buttons:
                    for button in row:
                        if label.lower() in button.label.lower():
                            return button
        raise AssertionError(f"no button {label!r} in chat {chat_id}")

    async def card_id(self, chat_id: str, reference: str) -> str:
        async with self.db.sessions() as session:
            ticket = (await session.exec(select(Ticket).where(Ticket.reference == reference))).one()
            links = (
                await session.exec(
                    select(MessageLink).where(
                        MessageLink.ticket_id == ticket.id,
                        MessageLink.role == "card",
                        MessageLink.chat_id == chat_id,
                    )
                )
            ).all()
        assert links, f"no card of {reference} in {chat_id}"
        return links[-1].message_id

    def card(self, chat_id: str, message_id: str) -> OutText:
        """The card as it reads now, after every edit."""
        return self.channel.current[(chat_id, message_id)]


def texts(sent: list[Sent]) -> str:
    return "\n".join(s.action.text for s in sent if isinstance(s.action, OutText | OutEdit)) + "".join(
        f"\n[media {s.action.media.file_id}]" for s in sent if isinstance(s.action, OutMedia)
    )


async def staffed_desk(pipeline: Pipeline, db: Database, clock: Clock) -> Desk:
    """An admin, the DLH group linked by them, a DLH officer (joined by invite) and its head, a DPUPR officer.

    Built through the chat where people would do it (/link, /undang, /join), so it is tested too.
    """
    desk = Desk(pipeline, db, clock)
    async with db.transaction() as session:
        await ensure_admins(session=session, channel="telegram", user_ids=[ADMIN], now=clock.now())
        await add_staff(
            session=session,
            channel="telegram",
            user_id=HEAD,
            role=Role.SUPERVISOR,
            unit="dlh",
            now=clock.now(),
            display_name="Bu Kepala",
        )
        await add_staff(
            session=session,
            channel="telegram",
            user_id=OUTSIDER,
            role=Role.OFFICER,
            unit="dpupr",
            now=clock.now(),
        )
    reply = await desk.say(GROUP, ADMIN, "/link dlh")
    assert "Dinas Lingkungan Hidup" in texts(reply)
    invite = texts(await desk.say(ADMIN, ADMIN, "/undang dlh"))
    code = re.search(r"<code>([A-Z0-9-]+)</code>", invite)
    assert code, invite
    joined = texts(await desk.say(OFFICER, OFFICER, f"/join {code.group(1)}", name="Pak Budi"))
    assert "Dinas Lingkungan Hidup" in joined and "petugas" in joined
    return desk
