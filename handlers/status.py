"""A citizen's own tickets: the list, and one ticket's status and timeline."""

from __future__ import annotations

from handlers import survey
from handlers.context import Turn
from handlers.format import example_reference, ticket_line, ticket_text
from handlers.i18n import Safe
from handlers.states import State
from workflows import tickets
from workflows.references import find_reference


async def show_my_tickets(turn: Turn) -> None:
    """'My tickets': the newest few, each a button to its status."""
    mine = await tickets.recent_tickets(session=turn.session, citizen=turn.citizen, limit=5)
    if not mine:
        turn.say("tickets.none", buttons=[[turn.menu_button("menu.new_complaint", "new")]])
        return
    lines = "\n".join(ticket_line(turn, ticket) for ticket in mine)
    buttons = [
        [turn.menu_button("tickets.open_button", f"tk:{t.reference}", reference=t.reference)] for t in mine
    ]
    turn.say("tickets.list", lines=Safe(lines), buttons=buttons)


async def show_status(turn: Turn, text: str) -> None:
    """/status REF: the ticket if it is the citizen's own; the same answer for any other."""
    reference = find_reference(text)
    if reference is None:
        if text.strip():
            turn.say("status.bad_reference", example=example_reference(turn))
        turn.goto(State.STATUS_REF)
        turn.say("status.ask", example=example_reference(turn))
        return
    ticket = await tickets.own_ticket(session=turn.session, citizen=turn.citizen, reference=reference)
    if turn.state == State.STATUS_REF:
        turn.goto(State.IDLE)
    if ticket is None:
        turn.say("status.not_found", reference=reference)
        return
    events = await tickets.public_timeline(session=turn.session, ticket=ticket, viewer=turn.citizen)
    photos = await tickets.count_attachments(session=turn.session, ticket=ticket)
    turn.say("status.ticket", body=Safe(ticket_text(turn, ticket, events, photos)))
    await survey.offer_verdict(turn, ticket)  # resolved and not yet confirmed: "fixed?" with its buttons
