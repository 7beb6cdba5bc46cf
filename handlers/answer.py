"""A citizen writing to the unit about their ticket: answering a question, or adding information.

Reached by the "Reply" button under a question or a relayed message, by replying (Telegram's
reply) to one of them, or by writing (or sending a voice note) at the menu while a question waits
for them. Photos, voice notes and documents go along as the ticket's attachments.
"""

from __future__ import annotations

from sqlmodel import col, select

from handlers import menu, ticket_actions
from handlers.context import Turn
from handlers.intake import attachments_of
from handlers.states import State
from models import Ticket, TicketStatus
from models.queries import ticket_for_message
from models.tickets import OPEN_STATUSES
from workflows import lifecycle
from workflows.drafts import attachment_kind
from workflows.lifecycle import Action, Actor, Refused


async def own_open_ticket(turn: Turn, ticket_id: int) -> Ticket | None:
    ticket = await turn.session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None or ticket.status not in OPEN_STATUSES:
        return None
    if not await lifecycle.is_reporter(turn.session, ticket, turn.citizen.id):
        return None
    return ticket


async def waiting_question(turn: Turn) -> Ticket | None:
    """The citizen's newest ticket that waits for their answer (as its reporter), if any."""
    query = (
        select(Ticket)
        .where(Ticket.status == TicketStatus.WAITING_CITIZEN, Ticket.citizen_id == turn.citizen.id)
        .order_by(col(Ticket.updated_at).desc())
    )
    return (await turn.session.exec(query)).first()


async def replied_ticket(turn: Turn) -> Ticket | None:
    """The ticket of the bot message the citizen replied to (Telegram's reply), if it is theirs."""
    inbound = turn.inbound
    if not inbound.reply_to_message_id:
        return None
    ticket_id = await ticket_for_message(
        session=turn.session,
        channel=inbound.channel.value,
        chat_id=inbound.chat_id,
        message_id=inbound.reply_to_message_id,
    )
    return await own_open_ticket(turn, ticket_id) if ticket_id is not None else None


async def start(turn: Turn, value: str) -> None:
    """The "Reply" button: the next message goes to the unit."""
    ticket = await own_open_ticket(turn, int(value)) if value.isdigit() else None
    if ticket is None:
        turn.say("answer.closed")
        await menu.show_menu(turn, brief=True)
        return
    turn.goto(State.ANSWER, answer_ticket=ticket.id)
    turn.say(
        "answer.ask",
        reference=ticket.reference,
        buttons=[[turn.menu_button("answer.cancel_button", "cancel")]],
    )


async def on_input(turn: Turn) -> None:
    """Text, a photo, a voice note or a document in the ANSWER state."""
    ticket_id = turn.data.get("answer_ticket")
    ticket = await own_open_ticket(turn, int(ticket_id)) if isinstance(ticket_id, int) else None
    turn.conversation.data = {k: v for k, v in turn.data.items() if k != "answer_ticket"}
    turn.goto(State.IDLE)
    if ticket is None:
        turn.say("answer.closed")
        await menu.show_menu(turn, brief=True)
        return
    await deliver(turn, ticket)


async def deliver(turn: Turn, ticket: Ticket) -> None:
    """This message is for the unit: the answer to their question, or more information.

    A photo, voice note or document alone answers the question too (the officer looks or listens):
    the answer's words then say what was sent ("🎤 (pesan suara)"), and the file follows them."""
    inbound = turn.inbound
    text = (inbound.text or "").strip()
    media = attachments_of(inbound)
    if not text and not media:
        turn.say("answer.empty", reference=ticket.reference)
        return
    desk = turn.desk
    if ticket.status == TicketStatus.WAITING_CITIZEN and ticket.citizen_id == turn.citizen.id:
        assert turn.citizen.id is not None
        note = text or turn.t(f"attachments.note.{attachment_kind(media[0].kind)}")
        try:
            await ticket_actions.perform(
                desk, ticket, Action.ANSWER, Actor.citizen(turn.citizen.id), note=note
            )
        except Refused:
            await ticket_actions.citizen_message(desk, ticket, turn.citizen, text, media)
        else:
            if media:
                await ticket_actions.citizen_message(desk, ticket, turn.citizen, "", media, media_only=True)
    else:
        await ticket_actions.citizen_message(desk, ticket, turn.citizen, text, media)
    unit = (
        turn.deps.city.units[ticket.unit].name.get(turn.lang)
        if ticket.unit in turn.deps.city.units
        else ticket.unit
    )
    turn.say("answer.sent", reference=ticket.reference, unit=unit)
