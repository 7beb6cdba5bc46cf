"""WhatsApp on the Cloud API: our actions as its messages, its webhooks as our inbound events.

Translation only (bot/channels/whatsapp_format.py); the conversations are the same handlers/
as on Telegram. What arrives by webhook: delivery receipts update the outbox rows they concern;
each message's media is downloaded through the media endpoint and stored (a failed download is
passed on as such, so the citizen is asked to send it again); then the pipeline handles it, once
per message id however often Meta delivers it.

Another platform's file (an officer's Telegram photo) is sent by uploading it: `fetch_foreign`
gives its local file (App wires the Telegram adapter's `fetch_media`), the media endpoint takes the
bytes and answers a WhatsApp media id, and that id is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.channels.base import DeliveryError
from bot.channels.storable import storable, storable_inbound
from bot.channels.whatsapp_client import GraphClient, MediaError
from bot.channels.whatsapp_format import parse_webhook, render
from bot.media_store import MediaStore, UploadCache, extension, mime_type
from handlers.messages import Channel, Inbound, InboundKind, MediaRef, Outbound, OutMedia
from models.db import Database
from models.queries import record_delivery

log = logging.getLogger(__name__)


class WhatsAppAdapter:
    channel = Channel.WHATSAPP

    def __init__(
        self,
        client: GraphClient,
        *,
        db: Database,
        handle: Callable[[Inbound], Awaitable[Any]],
        media_dir: Path,
        list_button_labels: Mapping[str, str],
        location_hints: Mapping[str, str],
        default_language: str = "id",
        fetch_foreign: Callable[[MediaRef], Awaitable[Path]] | None = None,
    ) -> None:
        self.client = client
        self.db = db
        self.handle = handle
        self.media_dir = media_dir
        self.store = MediaStore(media_dir)
        # the local file of another platform's media (raises DeliveryError); by default what is stored
        self.fetch_foreign = fetch_foreign or self.store.lookup
        # words WhatsApp needs beside ours, per language: the list's button, how to share a location
        self.list_button_labels = dict(list_button_labels)
        self.location_hints = dict(location_hints)
        self.default_language = default_language
        # another platform's file uploaded once → its WhatsApp media id, reused for a week (Meta keeps
        # uploads 30 days): an announcement's photo is uploaded once, not once per recipient
        self.uploaded = UploadCache(max_age=7 * 24 * 3600)

    async def deliver(
        self, chat_id: str, action: Outbound, *, skip: int = 0, paid: bool = False
    ) -> str | None:
        """Send the action as one or more WhatsApp messages; the id of the last one (`paid`: no such
        thing on WhatsApp, ignored)."""
        foreign = isinstance(action, OutMedia) and action.media.channel not in (None, Channel.WHATSAPP)
        if isinstance(action, OutMedia) and foreign:
            original = action.media
            action = await self._uploaded(action)
        try:
            language = getattr(action, "language", None) or self.default_language
            if language not in self.list_button_labels:
                language = self.default_language
            bodies = render(
                action,
                list_button_label=self.list_button_labels[language],
                location_hint=self.location_hints[language],
            )
        except ValueError as error:
            raise DeliveryError(f"cannot be sent on WhatsApp: {error}", permanent=True) from error
        message_id: str | None = None
        for index in range(min(skip, len(bodies) - 1), len(bodies)):
            try:
                message_id = await self.client.send(chat_id, bodies[index])
            except DeliveryError as error:
                error.parts_sent = index
                if foreign and index == 0:  # perhaps the upload we reused is gone: upload it next time
                    self.uploaded.forget(original)
                raise
        return message_id

    async def on_webhook(self, body: dict[str, Any]) -> None:
        """One verified webhook body (bot/webhooks.py); raising makes Meta deliver it again, so only
        a failure that may pass (the database) raises: what cannot be read is skipped."""
        inbound, receipts = parse_webhook(body)
        if receipts:
            async with self.db.transaction() as session:
                for receipt in receipts:
                    at = _moment(receipt.timestamp)
                    if at is None:
                        log.warning("WhatsApp receipt skipped: timestamp %r is no moment", receipt.timestamp)
                        continue
                    await record_delivery(
                        session=session,
                        channel=Channel.WHATSAPP.value,
                        platform_message_id=storable(receipt.message_id),
                        status=receipt.status,
                        at=at,
                        error=storable(receipt.error) if receipt.error else None,
                    )
        for event in inbound:
            await self.handle(await self._with_media(storable_inbound(event)))

    async def _with_media(self, event: Inbound) -> Inbound:
        if not event.media or event.kind == InboundKind.OTHER:
            return event  # a video, say: the handlers answer that it cannot be used, nothing to fetch
        kept: list[MediaRef] = []
        for ref in event.media:
            try:
                data, info = await self.client.download(ref.file_id)
            except MediaError as error:
                log.warning("WhatsApp media %s of %s not downloaded: %s", ref.file_id, event.event_id, error)
                continue
            await self.store.save(Channel.WHATSAPP, ref.file_id, data, extension(info.mime_type))
            kept.append(ref.model_copy(update={"unique_id": ref.unique_id or info.sha256 or None}))
        return event.model_copy(update={"media": tuple(kept), "media_failed": len(kept) < len(event.media)})

    async def _uploaded(self, action: OutMedia) -> OutMedia:
        """Another platform's file uploaded to WhatsApp (once: then its media id is reused): the same
        action, by the WhatsApp media id."""
        media = action.media
        media_id = self.uploaded.get(media)
        if media_id is not None:
            return action.model_copy(update={"media": _on_whatsapp(media, media_id)})
        path = await self.fetch_foreign(media)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as error:  # removed meanwhile: fetched again next time
            raise DeliveryError(f"the stored file {path} cannot be read: {error}") from error
        media_id = await self.client.upload(data, mime_type(path, media.kind), path.name)
        log.info("%s %s %s uploaded to WhatsApp as %s", media.channel, media.kind, media.file_id, media_id)
        self.uploaded.put(media, media_id)
        return action.model_copy(update={"media": _on_whatsapp(media, media_id)})


def _moment(timestamp: int) -> datetime | None:
    """Unix seconds as a moment; None for a number no clock reaches."""
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _on_whatsapp(media: MediaRef, media_id: str) -> MediaRef:
    return MediaRef(kind=media.kind, file_id=media_id, unique_id=media.unique_id, channel=Channel.WHATSAPP)
