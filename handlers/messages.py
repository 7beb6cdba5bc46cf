"""The channel-neutral message model: what adapters turn platform updates into, and back.

Handlers read `Inbound` and write `Outbound` actions; no aiogram or WhatsApp type crosses
into `handlers/` or `workflows/`. Texts use a small HTML subset (<b>, <i>, <code>) with
user-supplied parts escaped; each adapter renders it for its platform.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Channel(StrEnum):
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    CONSOLE = "console"


class InboundKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    LOCATION = "location"
    PHOTO = "photo"
    VOICE = "voice"
    DOCUMENT = "document"
    STICKER = "sticker"
    CONTACT = "contact"
    EDITED = "edited"
    MIGRATED = "migrated"  # a group became a supergroup: its chat id changed
    JOINED = "joined"  # the bot was added to a group
    OTHER = "other"


class Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class MediaRef(BaseModel):
    """A platform's handle on a file (Telegram file_id, WhatsApp media id)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["photo", "voice", "document", "video"]
    file_id: str
    unique_id: str | None = None
    group_id: str | None = None  # photos sent together as an album
    # the platform the handle belongs to, when it may be delivered on another one (a WhatsApp photo
    # shown in a Telegram group); None: the channel it is sent on
    channel: Channel | None = None


class Inbound(BaseModel):
    """One thing a person did in a chat: a message, a button press, a shared location."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    event_id: str  # unique per channel: dedupes repeated deliveries
    chat_id: str
    user_id: str
    kind: InboundKind
    is_private: bool = True
    message_id: str | None = None
    text: str | None = None
    command: str | None = None  # without the slash, lower-case
    command_args: str = ""
    payload: str | None = None  # button payload
    location: Location | None = None
    media: tuple[MediaRef, ...] = ()
    display_name: str | None = None
    username: str | None = None
    platform_language: str | None = None
    reply_to_message_id: str | None = None  # the message this one answers (Telegram "reply")
    media_failed: bool = False  # media was sent but could not be fetched (WhatsApp media download)
    chat_title: str | None = None  # groups only
    migrate_to_chat_id: str | None = None  # MIGRATED, sent in the old group: its new id
    migrate_from_chat_id: str | None = None  # MIGRATED, sent in the new supergroup: its old id


class Button(BaseModel):
    """A choice: its label is plain text (not markup), its payload comes back when pressed."""

    model_config = ConfigDict(frozen=True)

    label: str
    payload: str = Field(max_length=64)


class OutText(BaseModel):
    """A text, optionally with choice buttons (rows) or a request to share location."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["text"] = "text"
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    request_location: str | None = None  # label of the "share my location" button
    skip_label: str | None = None  # with request_location: a second plain-reply button
    remove_keyboard: bool = False  # take away an earlier request_location keyboard
    reply_to: str | None = None  # platform message id this text answers (shown as a reply)
    language: str | None = None  # the text's language, for words the adapter adds (WhatsApp's list button)
    # holds a secret (a dashboard login link): the outbox keeps it only until it is sent (bot/sender.py)
    secret: bool = False


class OutMedia(BaseModel):
    """A photo, voice note, document or video, optionally with a caption and choice buttons (rows)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["media"] = "media"
    media: MediaRef
    caption: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()


class OutLocation(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["location"] = "location"
    location: Location


class OutEdit(BaseModel):
    """Replace the text and buttons of a ticket's message (its group card) in this chat.

    Queued with the ticket's id and the message's role; the sender fills `message_id` from the
    message it sent earlier for that ticket and role. With no such message (never delivered, or the
    group moved to a new chat id), or one the platform can no longer edit, the adapter sends the
    text as a new message, which becomes the one edited next time.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["edit"] = "edit"
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    message_id: str | None = None


class OutTemplate(BaseModel):
    """An approved WhatsApp template message: all that may be sent outside the 24-hour window.

    Made by the outbox sender from an envelope's `TemplateCall` (never by handlers); other channels
    refuse it."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["template"] = "template"
    name: str
    language: str  # Meta's language code of the approved translation (id, en_US, ...)
    parameters: tuple[str, ...] = ()  # the body's {{1}}, {{2}}, ... in order
    quick_replies: tuple[str, ...] = ()  # payloads of the template's quick-reply buttons, in order


Outbound = Annotated[OutText | OutMedia | OutLocation | OutEdit | OutTemplate, Field(discriminator="kind")]


class TemplateCall(BaseModel):
    """Which configured template stands in for a message when the citizen's 24-hour window is closed.

    `kind` names an entry of the city's `whatsapp.templates` (ticket_update, officer_message, survey,
    broadcast); `params` are the values its body may use, already in the citizen's `language`;
    `quick_replies` the payloads its buttons carry."""

    model_config = ConfigDict(frozen=True)

    kind: str
    language: str
    params: dict[str, str] = Field(default_factory=dict)
    quick_replies: tuple[str, ...] = ()


class Envelope(BaseModel):
    """An outbound action addressed to a chat: what the outbox stores and the sender delivers."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    chat_id: str
    action: Outbound
    ticket_id: int | None = None  # what the message is about: replies to it are mapped back
    role: str | None = None  # "card", "question", "relay", ...: which of the ticket's messages
    template: TemplateCall | None = None  # a WhatsApp notice that may fall outside the 24-hour window


def text_fields(text: str) -> dict[str, Any]:
    """A typed text as Inbound fields: a /command with its arguments, or plain text."""
    if text.startswith("/") and len(text) > 1 and not text[1].isspace():
        head, _, args = text[1:].partition(" ")
        command = head.split("@", 1)[0].lower()
        return {"kind": InboundKind.COMMAND, "text": text, "command": command, "command_args": args.strip()}
    return {"kind": InboundKind.TEXT, "text": text}


def units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2
