"""What officers see of a ticket: the card in the unit's group, and the details sent privately.

Everything the citizen typed is escaped by the translator. The reporter's name appears only when
they chose a public report; a confidential ticket's card shows its reference and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping

from handlers.context import Desk
from handlers.format import attachment_counts, city_time, duration_words
from handlers.i18n import Safe
from handlers.messages import Button, OutText
from models import Citizen, Identity, Staff, Ticket, TicketStatus
from workflows import open311, sla
from workflows.lifecycle import Action, allowed_actions

STAFF = "t"  # button payloads of ticket actions: "t|action|ticket id"

_BUTTON_KEYS = {
    Action.ACCEPT: "card.button.accept",
    Action.ASK: "card.button.ask",
    Action.TRANSFER: "card.button.transfer",
    Action.RESOLVE: "card.button.resolve",
    Action.REJECT: "card.button.reject",
}


def map_link(latitude: float, longitude: float) -> str:
    return f"https://maps.google.com/?q={latitude:.6f},{longitude:.6f}"


def deadline_line(desk: Desk, ticket: Ticket) -> str:
    """'Deadline 24/11/2026 09:00 WIB (7 working hours left)', 'overdue by …', or paused."""
    if ticket.clock is None or ticket.due_at is None:
        return ""
    zone = desk.deps.city.city.timezone
    if ticket.paused_at is not None:
        return desk.staff_text("card.deadline_paused")
    left = sla.time_left(ticket, calendars=desk.deps.calendars, now=desk.now) or 0.0
    words = duration_words(desk.deps.texts, desk.deps.staff_language, left, ticket.sla_calendar, exact=False)
    key = "card.deadline_left" if left > 0 else "card.deadline_over"
    return desk.staff_text(
        key,
        clock=Safe(desk.staff_text(f"card.clock.{ticket.clock}")),
        due=city_time(zone, ticket.due_at),
        left=words,
    )


def card_text(
    desk: Desk,
    ticket: Ticket,
    *,
    reporter: Citizen | None,
    holder: Staff | None,
    attachments: Mapping[str, int],
) -> str:
    city = desk.deps.city
    lang = desk.deps.staff_language
    category = city.category(ticket.category)
    state = desk.staff_text(f"staff_status.{ticket.status}")
    holder_line = (
        desk.staff_text("card.holder", name=holder.display_name or desk.staff_text("card.holder_unnamed"))
        if holder is not None and ticket.status not in (TicketStatus.SUBMITTED, TicketStatus.REOPENED)
        else ""
    )
    common = {
        "reference": ticket.reference,
        "emoji": category.emoji,
        "category": category.name.get(lang),
        "state": state,
        "unit": city.units[ticket.unit].short if ticket.unit in city.units else ticket.unit,
        "holder": Safe(holder_line),
        "deadline": Safe(deadline_line(desk, ticket)),
        "reporters": Safe(
            desk.staff_text("card.reporters", count=ticket.reporters) if ticket.reporters > 1 else ""
        ),
    }
    if ticket.identity == Identity.CONFIDENTIAL:
        return desk.staff_text("card.confidential", **common)
    return desk.staff_text(
        "card.text",
        **common,
        description=_shorten(ticket.description, 1500),
        location=Safe(location_text(desk, ticket)),
        area=city.areas[ticket.area].name if ticket.area in city.areas else "—",
        attachments=attachment_counts(desk.deps.texts, lang, attachments),
        reporter=Safe(reporter_text(desk, ticket, reporter)),
    )


def location_text(desk: Desk, ticket: Ticket) -> str:
    if ticket.latitude is not None and ticket.longitude is not None:
        return desk.staff_text("card.location_map", link=map_link(ticket.latitude, ticket.longitude))
    if ticket.address:
        return desk.staff_text("card.location_address", address=ticket.address)
    return desk.staff_text("card.location_none")


def reporter_text(desk: Desk, ticket: Ticket, reporter: Citizen | None) -> str:
    system = open311.key_name_of(reporter)
    if system is not None:  # filed by another system through the API: no chat to write to
        name = reporter.display_name if reporter and ticket.identity == Identity.PUBLIC else None
        if name:
            return desk.staff_text("open311.card.reporter_named", system=system, name=name)
        return desk.staff_text("open311.card.reporter", system=system)
    if ticket.identity != Identity.PUBLIC or reporter is None:
        return desk.staff_text(f"card.identity.{ticket.identity}")
    handle = f" (@{reporter.username})" if reporter.username else ""
    return desk.staff_text("card.reporter", name=(reporter.display_name or "—") + handle)


def details_text(
    desk: Desk, ticket: Ticket, *, reporter: Citizen | None, attachments: Mapping[str, int]
) -> str:
    """The whole ticket for the officer who accepted a confidential one, in private chat."""
    city = desk.deps.city
    category = city.category(ticket.category)
    return desk.staff_text(
        "card.details",
        reference=ticket.reference,
        emoji=category.emoji,
        category=category.name.get(desk.deps.staff_language),
        description=ticket.description,
        location=Safe(location_text(desk, ticket)),
        attachments=attachment_counts(desk.deps.texts, desk.deps.staff_language, attachments),
        reporter=Safe(reporter_text(desk, ticket, reporter)),
    )


def card_buttons(desk: Desk, ticket: Ticket) -> tuple[tuple[Button, ...], ...]:
    lang = desk.deps.staff_language
    buttons = [
        Button(
            label=desk.deps.texts.plain(_BUTTON_KEYS[action], lang), payload=f"{STAFF}|{action}|{ticket.id}"
        )
        for action in allowed_actions(ticket)
        if action in _BUTTON_KEYS
    ]
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


def card(
    desk: Desk,
    ticket: Ticket,
    *,
    reporter: Citizen | None,
    holder: Staff | None,
    attachments: Mapping[str, int],
) -> OutText:
    return OutText(
        text=card_text(desk, ticket, reporter=reporter, holder=holder, attachments=attachments),
        buttons=card_buttons(desk, ticket),
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
