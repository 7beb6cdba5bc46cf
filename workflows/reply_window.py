"""WhatsApp's 24-hour rule as a decision: send the message itself, its template, or hold it.

Meta lets a business send free-form messages only within 24 hours of the person's last message;
after that only an approved template may be sent. A notice that may fall outside (a status change,
an officer's question, the survey, an announcement) is queued with a `TemplateCall`: which of the
city's configured templates stands in for it and the values it may use. Anything else (a reply in
a conversation, a photo) is held until the person writes again, then sent in order.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from handlers.messages import Channel, OutTemplate, TemplateCall
from workflows.city_config import WhatsApp, WhatsAppTemplate

TEXT_PARAMETER_MAX = 700  # a template body is at most 1024 characters with its own words
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


# the channels with such a window: only there is a message ever held back (the outbox's "held")
WINDOWED_CHANNELS = frozenset({Channel.WHATSAPP.value})


class Choice(StrEnum):
    MESSAGE = "message"  # inside the window: the message as it is
    TEMPLATE = "template"  # outside: its template
    HOLD = "hold"  # outside, and no template stands in: wait for the person to write


@dataclass(frozen=True)
class ReplyWindow:
    length: timedelta
    templates: Mapping[str, WhatsAppTemplate]

    @classmethod
    def from_config(cls, config: WhatsApp) -> ReplyWindow:
        return cls(length=config.window_length, templates=config.templates)

    def is_open(self, last_message_at: datetime | None, now: datetime) -> bool:
        return last_message_at is not None and now - last_message_at < self.length

    def choose(
        self,
        *,
        last_message_at: datetime | None,
        now: datetime,
        call: TemplateCall | None,
        template_only: bool = False,
    ) -> tuple[Choice, OutTemplate | None]:
        """What to send now; `template_only` when Meta already refused the message itself."""
        if not template_only and self.is_open(last_message_at, now):
            return Choice.MESSAGE, None
        template = self.template(call) if call is not None else None
        if template is None:
            return Choice.HOLD, None
        return Choice.TEMPLATE, template

    def template(self, call: TemplateCall) -> OutTemplate | None:
        """The configured template for the call, filled; None when the city has none of that kind."""
        spec = self.templates.get(call.kind)
        if spec is None:
            return None
        return OutTemplate(
            name=spec.name,
            language=spec.languages.get(call.language, call.language),
            parameters=tuple(parameter(call.params.get(name, "")) for name in spec.parameters),
            quick_replies=call.quick_replies[: spec.quick_replies],
        )


def parameter(value: str) -> str:
    """A value as Meta accepts it in a template: no line breaks, tabs or runs of spaces, not empty."""
    flat = _SPACE.sub(" ", value).strip()
    if len(flat) > TEXT_PARAMETER_MAX:
        flat = flat[: TEXT_PARAMETER_MAX - 1].rstrip() + "…"
    return flat or "-"


def plain(text: str) -> str:
    """Our HTML subset as plain words (a template parameter cannot carry formatting)."""
    return html.unescape(_TAG.sub("", text))
