"""WhatsApp on the Cloud API: our actions as its messages, its webhooks as our inbound events.

Translation only (bot/channels/whatsapp_format.py); the conversations are the same handlers/
as on Telegram. What arrives by webhook: delivery receipts update the outbox rows they concern;
each message's media is downloaded through the media endpoint and stored (a failed download is
passed on as such, so the citizen is asked to send it again); then the pipeline handles it, once
per message id however often Meta delivers it.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.channels.base import DeliveryError
from bot.channels.whatsapp_client import GraphClient, MediaError
from bot.channels.whatsapp_format import parse_webhook, render
from handlers.messages import Channel, Inbound, InboundKind, MediaRef, Outbound
from models.db import Database
from models.queries import record_delivery

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class WhatsAppAdapter:
    channel = Channel.WHATSAPP

    def __init__(
        self,
        client: GraphClient,
        *,
        db: Database,
        handle: Callable[[Inbound], Awaitable[Any]],
        media_dir: Path,
        list_button_label: str,
        location_hint: str,
    ) -> None:
        self.client = client
        self.db = db
        self.handle = handle
        self.media_dir = media_dir
        self.list_button_label = list_button_label
        self.location_hint = location_hint

    async def deliver(self, chat_id: str, action: Outbound) -> str | None:
        """Send the action as one or more WhatsApp messages; the id of the last one."""
        try:
            bodies = render(
                action, list_button_label=self.list_button_label, location_hint=self.location_hint
            )
        except ValueError as error:
            raise DeliveryError(f"cannot be sent on WhatsApp: {error}", permanent=True) from error
        message_id: str | None = None
        for body in bodies:
            message_id = await self.client.send(chat_id, body)
        return message_id

    async def on_webhook(self, body: dict[str, Any]) -> None:
        """One verified webhook body (bot/webhooks.py); raising makes Meta deliver it again."""
        inbound, receipts = parse_webhook(body)
        if receipts:
            async with self.db.transaction() as session:
                for receipt in receipts:
                    await record_delivery(
                        session=session,
                        channel=Channel.WHATSAPP.value,
                        platform_message_id=receipt.message_id,
                        status=receipt.status,
                        at=datetime.fromtimestamp(receipt.timestamp, UTC),
                        error=receipt.error,
                    )
        for event in inbound:
            await self.handle(await self._with_media(event))

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
            extension = mimetypes.guess_extension(info.mime_type.split(";")[0].strip()) or ""
            path = self.media_dir / "whatsapp" / f"{_SAFE.sub('_', ref.file_id)}{extension}"
            await asyncio.to_thread(_store, path, data)
            kept.append(ref.model_copy(update={"unique_id": ref.unique_id or info.sha256 or None}))
        return event.model_copy(update={"media": tuple(kept), "media_failed": len(kept) < len(event.media)})


def _store(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(path)  # never a half-written file under the final name
