"""Telegram through aiogram 3: updates become Inbound events, Outbound actions become API calls.

Only translation lives here. What a message means is decided in handlers/.

Media of another platform (a WhatsApp citizen's photo shown in a unit group) has no Telegram file_id:
the file the other adapter stored (bot/media_store.py) is uploaded instead. `fetch_media` goes the
other way: a Telegram file downloaded into the store, for the WhatsApp adapter to upload there.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteWebhook,
    EditMessageText,
    GetFile,
    GetMe,
    GetUpdates,
    SendDocument,
    SendLocation,
    SendMessage,
    SendPhoto,
    SendVideo,
    SendVoice,
    SetMyCommands,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    CallbackQuery,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from pydantic import ValidationError

from bot.channels.base import DeliveryError
from bot.channels.storable import storable_inbound
from bot.media_store import MediaStore, UploadCache
from bot.text_split import split_html
from handlers.messages import (
    Button,
    Channel,
    Inbound,
    InboundKind,
    Location,
    MediaRef,
    Outbound,
    OutEdit,
    OutLocation,
    OutMedia,
    OutText,
    text_fields,
)

log = logging.getLogger(__name__)

InboundSink = Callable[[Inbound], Awaitable[bool]]
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# editMessageText answers (400) that mean "that message is gone or not a text we may change".
NOT_EDITABLE = (
    "message to edit not found",
    "message can't be edited",
    "message_id_invalid",
    "there is no text in the message to edit",
)
NOT_MODIFIED = "message is not modified"
# 400 answers that mean the chat itself is gone (403 Forbidden always means the bot cannot reach it)
CHAT_GONE = ("chat not found", "user not found", "peer_id_invalid", "user is deactivated")
# what sendVoice takes (OGG/OPUS, MP3, M4A); another platform's audio in another format goes as a file
VOICE_EXTENSIONS = frozenset({".ogg", ".oga", ".opus", ".mp3", ".m4a"})

# aiogram builds `Response[ReturnType]` for every call; pydantic caches parametrised generics
# weakly, so without a reference the garbage collector drops them and each call rebuilds the
# model. Holding them for the life of the process cut CPU per update by 15-55% in our benchmark.
_KEEP_RESPONSE_MODELS = [
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (
        GetUpdates,
        SendMessage,
        EditMessageText,
        SendPhoto,
        SendLocation,
        SendVoice,
        SendDocument,
        SendVideo,
        GetFile,
        AnswerCallbackQuery,
        GetMe,
        DeleteWebhook,
        SetMyCommands,
    )
]

# The command menu, in the order shown; descriptions come from the catalogues (`commands.*`).
COMMANDS = {
    "id": ("start", "lapor", "tiket", "status", "bahasa", "batal", "help", "stop", "berhenti_pengumuman"),
    "en": (
        "start",
        "report",
        "tickets",
        "status",
        "language",
        "cancel",
        "help",
        "stop",
        "stop_announcements",
    ),
}


def make_bot(token: str, api_base: str) -> Bot:
    """An aiogram Bot talking to api_base (Telegram, a local Bot API server, or a test fake)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base.rstrip("/")))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


class TelegramAdapter:
    """Translates between aiogram and the channel-neutral model."""

    channel = Channel.TELEGRAM

    def __init__(self, bot: Bot, *, media: MediaStore | None = None) -> None:
        self.bot = bot
        self.bot_id = bot.id  # from the token, no network call: tells "the bot was added" apart
        self.media = media  # files of other platforms to upload, and Telegram files fetched for them
        self._answers: set[asyncio.Task[Any]] = set()
        # another platform's file uploaded once → the file_id Telegram gave it: an announcement's photo
        # is uploaded for the first recipient and sent by id to the other hundred thousand
        self.uploaded = UploadCache()

    # --- inbound ---------------------------------------------------------------------------

    def router(self, sink: InboundSink) -> Router:
        """A router that hands every message (private or group) and button press to sink."""
        router = Router(name="telegram-adapter")

        @router.message()
        async def on_message(message: Message) -> None:
            inbound = message_to_inbound(message, bot_id=self.bot_id)
            if inbound is not None:
                await sink(inbound)

        @router.edited_message()
        async def on_edited(message: Message) -> None:
            if message.text is None and message.caption is None:
                return  # a live location moving, or media replaced: nothing the citizen typed
            inbound = message_to_inbound(message, edited=True, bot_id=self.bot_id)
            if inbound is not None:
                await sink(inbound)

        @router.callback_query(F.message)
        async def on_callback(query: CallbackQuery) -> None:
            # Telegram drops slow answers: answer at once, beside the work, which must not wait for
            # the network (a text typed right after the press would overtake it).
            task = asyncio.create_task(self._answer(query))
            self._answers.add(task)
            task.add_done_callback(self._answers.discard)
            await sink(callback_to_inbound(query))

        return router

    @staticmethod
    async def _answer(query: CallbackQuery) -> None:
        try:
            await query.answer()
        except TelegramAPIError as error:
            log.info("answerCallbackQuery failed: %s", error)

    async def settle(self) -> None:
        """Let the button-press answers on their way arrive (before the bot's session closes)."""
        if self._answers:
            await asyncio.wait(set(self._answers), timeout=10)

    def dispatcher(self, sink: InboundSink) -> Dispatcher:
        dispatcher = Dispatcher()
        dispatcher.include_router(self.router(sink))
        return dispatcher

    async def set_commands(self, describe: Callable[[str, str], str]) -> None:
        """The command menu in both languages (Telegram shows the one matching the app's language).

        describe(command, language) gives each command's description.
        """
        for language, commands in COMMANDS.items():
            await self.bot.set_my_commands(
                [BotCommand(command=c, description=describe(c, language)) for c in commands],
                language_code=None if language == "id" else language,
            )

    async def set_menu(self, menu: dict[str, list[BotCommand]], *, chat_id: str | None = None) -> None:
        """One chat's own command menu (a staff member's private chat), or every group's when no chat
        is given; per language, Indonesian being the default. An empty menu removes the chat's own,
        so the default one shows again."""
        scope: BotCommandScopeChat | BotCommandScopeAllGroupChats
        scope = BotCommandScopeChat(chat_id=int(chat_id)) if chat_id else BotCommandScopeAllGroupChats()
        for language, commands in menu.items():
            code = None if language == "id" else language
            if commands:
                await self.bot.set_my_commands(commands, scope=scope, language_code=code)
            else:
                await self.bot.delete_my_commands(scope=scope, language_code=code)

    # --- outbound --------------------------------------------------------------------------

    async def deliver(
        self, chat_id: str, action: Outbound, *, skip: int = 0, paid: bool = False
    ) -> str | None:
        """Send one action; platform errors become DeliveryError with retry advice.

        `paid`: send as a paid broadcast (allow_paid_broadcast: past the 30 a second, billed in Stars).
        """
        try:
            if isinstance(action, OutText):
                return await self._send_text(int(chat_id), action, skip, paid=paid)
            return await self._send(int(chat_id), action, paid=paid)
        except TelegramAPIError as error:
            raise delivery_error(error) from error

    async def _send(self, chat_id: int, action: Outbound, *, paid: bool = False) -> str | None:
        if isinstance(action, OutText):
            return await self._send_text(chat_id, action, paid=paid)
        if isinstance(action, OutEdit):
            return await self._edit_text(chat_id, action)
        if isinstance(action, OutMedia):
            return await self._send_media(chat_id, action, paid=paid)
        if isinstance(action, OutLocation):
            sent = await self.bot.send_location(
                chat_id,
                action.location.latitude,
                action.location.longitude,
                allow_paid_broadcast=paid or None,
            )
            return str(sent.message_id)
        raise DeliveryError(f"unknown action {action!r}", permanent=True)

    async def _send_text(self, chat_id: int, action: OutText, skip: int = 0, *, paid: bool = False) -> str:
        parts = split_html(action.text, TEXT_LIMIT)
        reply_to = _platform_id(action.reply_to)
        sent_id = ""
        for index in range(min(skip, len(parts) - 1), len(parts)):
            markup = reply_markup(action) if index == len(parts) - 1 else None
            reply = (
                ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
                if index == 0 and reply_to is not None
                else None
            )
            try:
                sent = await self.bot.send_message(
                    chat_id,
                    parts[index],
                    reply_markup=markup,
                    reply_parameters=reply,
                    allow_paid_broadcast=paid or None,
                )
            except TelegramAPIError as error:
                failure = delivery_error(error)
                failure.parts_sent = index
                raise failure from error
            sent_id = str(sent.message_id)
        return sent_id

    async def _edit_text(self, chat_id: int, action: OutEdit) -> str:
        """Edit the message in place; send it anew when there is none to edit (one message either way)."""
        text = split_html(action.text, TEXT_LIMIT)[0]
        markup = inline_keyboard(action.buttons)
        message_id = _platform_id(action.message_id)
        if message_id is not None:
            try:
                await self.bot.edit_message_text(
                    chat_id=chat_id, message_id=message_id, text=text, reply_markup=markup
                )
                return str(message_id)
            except TelegramBadRequest as error:
                reason = error.message.lower()
                if NOT_MODIFIED in reason:
                    return str(message_id)
                if not any(gone in reason for gone in NOT_EDITABLE):
                    raise
                log.info("message %s in chat %s not editable (%s): sending anew", message_id, chat_id, reason)
        sent = await self.bot.send_message(chat_id, text, reply_markup=markup)
        return str(sent.message_id)

    async def _send_media(self, chat_id: int, action: OutMedia, *, paid: bool = False) -> str:
        caption = split_html(action.caption, CAPTION_LIMIT)[0] if action.caption else None
        media = action.media
        kind = media.kind
        file: str | FSInputFile = media.file_id
        foreign = media.channel not in (None, Channel.TELEGRAM)  # a WhatsApp media id means nothing here
        if foreign:
            path = await self._store().lookup(media)
            if kind == "voice" and path.suffix.lower() not in VOICE_EXTENSIONS:
                kind = "document"
            reused = self.uploaded.get(media)
            file = reused if reused is not None else FSInputFile(path, filename=path.name)
        paid_broadcast = paid or None  # None: the parameter is left out
        markup = inline_keyboard(action.buttons)  # under the media, as under a text
        if kind == "photo":
            sent = await self.bot.send_photo(
                chat_id, file, caption=caption, reply_markup=markup, allow_paid_broadcast=paid_broadcast
            )
        elif kind == "voice":
            sent = await self.bot.send_voice(
                chat_id, file, caption=caption, reply_markup=markup, allow_paid_broadcast=paid_broadcast
            )
        elif kind == "video":
            sent = await self.bot.send_video(
                chat_id, file, caption=caption, reply_markup=markup, allow_paid_broadcast=paid_broadcast
            )
        else:
            sent = await self.bot.send_document(
                chat_id, file, caption=caption, reply_markup=markup, allow_paid_broadcast=paid_broadcast
            )
        if foreign and not isinstance(file, str):
            self.uploaded.put(media, _sent_file_id(sent))
        return str(sent.message_id)

    def _store(self) -> MediaStore:
        if self.media is None:
            raise DeliveryError("no media store: another platform's file cannot be sent", permanent=True)
        return self.media

    async def fetch_media(self, ref: MediaRef) -> Path:
        """A local file of the media: a Telegram file downloaded into the store (once), another
        platform's as stored. Raises DeliveryError (permanent when asking again will not help)."""
        store = self._store()
        if ref.channel not in (None, Channel.TELEGRAM):
            return await store.lookup(ref)
        found = await asyncio.to_thread(store.find, Channel.TELEGRAM, ref.file_id)
        if found is not None:
            return found
        try:
            file = await self.bot.get_file(ref.file_id)
            if not file.file_path:
                raise DeliveryError(f"Telegram gave no file path for {ref.file_id!r}", permanent=True)
            content = io.BytesIO()
            await self.bot.download_file(file.file_path, content)
        except TelegramAPIError as error:
            raise delivery_error(error) from error
        except aiohttp.ClientResponseError as error:  # the file URL answered an error
            reason = f"Telegram file {ref.file_id!r} not downloaded: http {error.status}"
            raise DeliveryError(reason, permanent=error.status in (400, 403, 404)) from error
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise DeliveryError(f"Telegram file {ref.file_id!r} not downloaded: {error!r}") from error
        suffix = PurePosixPath(file.file_path).suffix
        return await store.save(Channel.TELEGRAM, ref.file_id, content.getvalue(), suffix)


def _sent_file_id(sent: Message) -> str | None:
    """The file_id Telegram gave a file the bot uploaded (the largest size of a photo)."""
    if sent.photo:
        return sent.photo[-1].file_id
    for part in (sent.voice, sent.video, sent.document, sent.audio):
        if part is not None:
            return part.file_id
    return None


def delivery_error(error: TelegramAPIError) -> DeliveryError:
    """A Bot API error as the outbox sender acts on it: wait, retry, move to the new chat, or give up."""
    if isinstance(error, TelegramMigrateToChat):  # before the others: the group became a supergroup
        return DeliveryError(str(error), migrate_to_chat_id=str(error.migrate_to_chat_id))
    if isinstance(error, TelegramRetryAfter):
        return DeliveryError(str(error), retry_after=float(error.retry_after))
    if isinstance(error, TelegramServerError):
        failed = DeliveryError(str(error))
        failed.not_taken = True
        return failed
    if isinstance(error, TelegramNetworkError):  # it may have arrived: it counted
        return DeliveryError(str(error))
    if isinstance(error, TelegramForbiddenError):  # blocked by the user, deactivated, kicked
        return DeliveryError(str(error), unreachable=True)
    if isinstance(error, TelegramBadRequest) and any(gone in error.message.lower() for gone in CHAT_GONE):
        return DeliveryError(str(error), unreachable=True)
    if isinstance(error, TelegramNotFound | TelegramBadRequest):
        return DeliveryError(str(error), permanent=True)
    return DeliveryError(str(error))


def reply_markup(action: OutText) -> Any:
    """Inline buttons, a share-location keyboard, or the removal of one."""
    if action.request_location:
        rows = [[KeyboardButton(text=action.request_location, request_location=True)]]
        if action.skip_label:
            rows.append([KeyboardButton(text=action.skip_label)])
        return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)
    if action.buttons:
        return inline_keyboard(action.buttons)
    if action.remove_keyboard:
        return ReplyKeyboardRemove()
    return None


def inline_keyboard(buttons: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    """Choice buttons as an inline keyboard (None without any)."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.label, callback_data=b.payload) for b in row] for row in buttons
        ]
    )


def _platform_id(message_id: str | None) -> int | None:
    """A Telegram message id from its stored form (None if absent or not one of ours)."""
    if message_id is None or not message_id.strip().isdigit():
        return None
    return int(message_id)


def message_to_inbound(
    message: Message, *, edited: bool = False, bot_id: int | None = None
) -> Inbound | None:
    """A Telegram message as an Inbound event; None for service messages we do not act on.

    bot_id (the bot's own user id) tells the service message "the bot was added" apart. Its texts
    come storable (bot/channels/storable.py).
    """
    inbound = _message_to_inbound(message, edited=edited, bot_id=bot_id)
    return storable_inbound(inbound) if inbound is not None else None


def _message_to_inbound(message: Message, *, edited: bool, bot_id: int | None) -> Inbound | None:
    chat = message.chat
    chat_id = str(chat.id)
    is_private = chat.type == "private"
    user = message.from_user
    service = _service(message, bot_id)
    if service is None:
        if message.new_chat_members or message.left_chat_member is not None:
            return None  # other people joining or leaving
        if user is None or user.is_bot:
            return None
    # A service message may come without a person (an anonymous admin): the chat stands in for one.
    sender_id = user.id if user is not None else (message.sender_chat or chat).id
    base: dict[str, Any] = {
        "channel": Channel.TELEGRAM,
        "chat_id": chat_id,
        "user_id": str(sender_id),
        "message_id": str(message.message_id),
        "is_private": is_private,
        "chat_title": None if is_private else chat.title,
    }
    if user is not None:
        base |= {
            "display_name": user.full_name,
            "username": user.username,
            "platform_language": user.language_code,
        }
    if service is not None:
        return Inbound(event_id=f"m:{chat_id}:{message.message_id}", **base, **service)
    reply = message.reply_to_message
    base["reply_to_message_id"] = str(reply.message_id) if reply is not None else None
    if edited:
        edited_at = message.edit_date
        stamp = edited_at.timestamp() if isinstance(edited_at, datetime) else float(edited_at or 0)
        return Inbound(
            event_id=f"e:{chat_id}:{message.message_id}:{stamp:.0f}",
            kind=InboundKind.EDITED,
            text=message.text,
            **base,
        )
    return Inbound(event_id=f"m:{chat_id}:{message.message_id}", **base, **_content(message))


def _service(message: Message, bot_id: int | None) -> dict[str, Any] | None:
    """Inbound fields of a service message about the chat itself (moved, bot added), else None."""
    if message.migrate_to_chat_id is not None:
        return {"kind": InboundKind.MIGRATED, "migrate_to_chat_id": str(message.migrate_to_chat_id)}
    if message.migrate_from_chat_id is not None:
        return {"kind": InboundKind.MIGRATED, "migrate_from_chat_id": str(message.migrate_from_chat_id)}
    added = message.new_chat_members or ()
    if bot_id is not None and any(member.id == bot_id for member in added):
        return {"kind": InboundKind.JOINED}
    if message.group_chat_created:  # the bot was among the members the group was created with
        return {"kind": InboundKind.JOINED}
    return None


def _content(message: Message) -> dict[str, Any]:
    if message.text is not None:
        return text_fields(message.text)
    if message.photo:
        largest = message.photo[-1]
        ref = MediaRef(
            kind="photo",
            file_id=largest.file_id,
            unique_id=largest.file_unique_id,
            group_id=message.media_group_id,
            channel=Channel.TELEGRAM,
        )
        return {"kind": InboundKind.PHOTO, "media": (ref,), "text": message.caption}
    if message.location is not None:
        try:
            location = Location(latitude=message.location.latitude, longitude=message.location.longitude)
        except ValidationError:  # no place on Earth
            return {"kind": InboundKind.OTHER}
        return {"kind": InboundKind.LOCATION, "location": location}
    if message.voice:  # kept with the complaint, sent on by its own kind (sendVoice)
        voice = MediaRef(
            kind="voice",
            file_id=message.voice.file_id,
            unique_id=message.voice.file_unique_id,
            channel=Channel.TELEGRAM,
        )
        return {"kind": InboundKind.VOICE, "media": (voice,), "text": message.caption}
    if message.audio or message.video_note:
        # a music file or a round video: Telegram would refuse it as a voice note elsewhere
        return {"kind": InboundKind.VOICE}
    if message.document:
        document = MediaRef(
            kind="document",
            file_id=message.document.file_id,
            unique_id=message.document.file_unique_id,
            channel=Channel.TELEGRAM,
        )
        return {"kind": InboundKind.DOCUMENT, "media": (document,), "text": message.caption}
    if message.sticker:
        return {"kind": InboundKind.STICKER}
    if message.contact:
        return {"kind": InboundKind.CONTACT}
    return {"kind": InboundKind.OTHER}


def callback_to_inbound(query: CallbackQuery) -> Inbound:
    """A button press as an Inbound event (the callback id makes each press unique)."""
    message = query.message
    chat = message.chat if message is not None else None
    chat_id = str(chat.id if chat is not None else query.from_user.id)
    is_private = chat is None or chat.type == "private"
    inbound = Inbound(
        channel=Channel.TELEGRAM,
        event_id=f"c:{query.id}",
        chat_id=chat_id,
        user_id=str(query.from_user.id),
        kind=InboundKind.BUTTON,
        is_private=is_private,
        chat_title=None if is_private or chat is None else chat.title,
        message_id=str(message.message_id) if message is not None else None,
        payload=(query.data or "")[:64],
        display_name=query.from_user.full_name,
        username=query.from_user.username,
        platform_language=query.from_user.language_code,
    )
    return storable_inbound(inbound)
