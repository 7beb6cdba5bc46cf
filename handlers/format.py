"""Building the longer texts: the complaint summary, durations, a ticket's status and timeline."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.context import Turn
from handlers.i18n import Safe, Translator
from models import Ticket, TicketEvent
from workflows.city_config import WORKING_DAY
from workflows.clock import as_utc
from workflows.drafts import ATTACHMENT_KINDS, Draft

MEDIA_EMOJI = {"photo": "📷", "voice": "🎤", "document": "📄"}


def expected_response(turn: Turn, seconds: int, calendar: str) -> str:
    """'1 working day', '4 working hours', '45 minutes' in the citizen's language."""
    return duration_words(turn.deps.texts, turn.lang, seconds, calendar)


def duration_words(texts: Translator, lang: str, seconds: float, calendar: str, *, exact: bool = True) -> str:
    """A duration in words; a working day is 8 working hours. `exact=False` rounds to the largest unit."""
    working = calendar == "working"
    seconds = abs(int(seconds))
    day = int(WORKING_DAY.total_seconds()) if working else 86400
    for unit, size in (("days", day), ("hours", 3600), ("minutes", 60), ("seconds", 1)):
        if (seconds >= size and (seconds % size == 0 or not exact)) or unit == "seconds":
            count = max(1, round(seconds / size)) if exact else max(1, seconds // size)
            kind = f"{'working_' if working and unit in ('days', 'hours') else ''}{unit}"
            return texts(f"duration.{kind}_{'one' if count == 1 else 'other'}", lang, count=count)
    raise AssertionError("unreachable")


def local_time(turn: Turn, moment: datetime) -> str:
    """A stored moment as the city's local time: 23/11/2026 09:05 WIB."""
    return city_time(turn.deps.city.city.timezone, moment)


def city_time(zone: str, moment: datetime) -> str:
    local = as_utc(moment).astimezone(ZoneInfo(zone))
    return f"{local:%d/%m/%Y %H:%M} {local.tzname()}"


def example_reference(turn: Turn) -> str:
    """A reference of the city's pattern, for examples in texts."""
    return f"{turn.deps.city.city.reference_prefix}-2611-7KQ4"


def location_line(turn: Turn, draft: Draft) -> str:
    if draft.latitude is not None and draft.longitude is not None:
        return turn.t("summary.location_shared", lat=f"{draft.latitude:.5f}", lon=f"{draft.longitude:.5f}")
    if draft.address:
        area = turn.deps.city.areas.get(draft.area or "")
        address = (
            f"{draft.address} ({area.name})" if area and area.name not in draft.address else draft.address
        )
        return turn.t("summary.location_address", address=address)
    return turn.t("summary.location_none")


def summary_text(turn: Turn, draft: Draft) -> str:
    """The summary shown before the citizen confirms: every part they gave, escaped."""
    city = turn.deps.city
    category = city.category(draft.category or "")
    identity = draft.identity.value if draft.identity else "public"
    return turn.t(
        "summary.text",
        category=category.name.get(turn.lang),
        emoji=category.emoji,
        unit=city.units[category.unit].name.get(turn.lang),
        description=draft.description or "",
        location=Safe(location_line(turn, draft)),
        attachments=attachment_counts(turn.deps.texts, turn.lang, draft.counts()),
        identity=Safe(turn.t(f"identity.{identity}")),
    )


def attachment_counts(texts: Translator, lang: str, counts: Mapping[str, int]) -> str:
    """'2 foto, 1 pesan suara' in the language; 'none' without any."""
    parts = [
        texts(f"attachments.{kind}_{'one' if counts[kind] == 1 else 'other'}", lang, count=counts[kind])
        for kind in ATTACHMENT_KINDS
        if counts.get(kind)
    ]
    return ", ".join(parts) or texts("attachments.none", lang)


def status_name(turn: Turn, status: str) -> str:
    return turn.t(f"ticket_status.{status}")


def ticket_text(turn: Turn, ticket: Ticket, events: list[TicketEvent], photos: int) -> str:
    """A ticket as its reporter sees it: status, what they filed, and the timeline."""
    city = turn.deps.city
    category = city.category(ticket.category)
    lines = [
        turn.t(
            "ticket.header",
            reference=ticket.reference,
            status=status_name(turn, ticket.status),
            category=category.name.get(turn.lang),
            unit=city.units[ticket.unit].name.get(turn.lang) if ticket.unit in city.units else ticket.unit,
            filed=local_time(turn, ticket.created_at),
            description=_shorten(ticket.description, 500),
            photos=photos,
        ),
        turn.t("ticket.timeline"),
    ]
    for event in events:
        note = turn.t("ticket.event_note", note=event.note) if event.note else ""
        lines.append(
            turn.t(
                "ticket.event",
                at=local_time(turn, event.at),
                action=turn.t(event_key(event)),
                note=Safe(note),
            )
        )
    return "\n".join(lines)


def event_key(event: TicketEvent) -> str:
    """event.closed, or event.closed_no_feedback when the event says why."""
    reason = (event.details or {}).get("reason")
    return (
        f"event.{event.action}_{reason}" if reason and event.action == "closed" else f"event.{event.action}"
    )


def ticket_line(turn: Turn, ticket: Ticket) -> str:
    category = turn.deps.city.category(ticket.category)
    return turn.t(
        "tickets.line",
        reference=ticket.reference,
        emoji=category.emoji,
        category=category.name.get(turn.lang),
        status=status_name(turn, ticket.status),
        filed=local_time(turn, ticket.created_at),
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
