"""Officers in their unit's group: /link, the card's buttons, replies to the card, group moves.

| input in a group                         | what happens                                           |
|------------------------------------------|--------------------------------------------------------|
| bot added to the group                   | a welcome saying how an admin links it to a unit       |
| /link UNIT                               | an admin links at once; anyone else asks the admins    |
| /antrian /queue                          | the linked unit's open tickets, nearest deadline first |
| a card button (accept, ask, transfer, …) | staff of the ticket's unit or an admin: done (accept)  |
|                                          | or continued privately (the note, unit, proof photo);  |
|                                          | anyone else: a polite refusal, nothing changes         |
| a reply to a ticket's message            | staff: relayed to the citizens, signed with the unit   |
| the group became a supergroup            | the unit's binding and queued messages follow it       |
| anything else                            | ignored: officers talk among themselves here           |
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import officer, ticket_actions
from handlers.cards import STAFF
from handlers.context import Deps, Desk, Mail
from handlers.messages import Button, Inbound, InboundKind, Outbound, OutText
from models import Role, Staff, Ticket
from models.queries import ticket_for_message
from workflows import staff as staff_rules
from workflows.lifecycle import Action, Actor, Refused


@dataclass
class GroupTurn:
    inbound: Inbound
    staff: Staff | None
    session: AsyncSession
    deps: Deps
    replies: list[Outbound] = field(default_factory=list)
    mail: Mail = field(default_factory=Mail)

    @property
    def desk(self) -> Desk:
        return Desk(session=self.session, deps=self.deps, mail=self.mail, now=self.deps.clock.now())

    def say(self, key: str, *, reply: bool = True, **params: object) -> None:
        text = self.deps.texts(key, self.deps.staff_language, **params)
        self.replies.append(OutText(text=text, reply_to=self.inbound.message_id if reply else None))


async def step(turn: GroupTurn) -> None:
    inbound = turn.inbound
    if inbound.kind in (InboundKind.COMMAND, InboundKind.BUTTON):
        await staff_rules.refresh_group_title(
            session=turn.session, chat_id=inbound.chat_id, title=inbound.chat_title
        )
    if inbound.kind == InboundKind.MIGRATED:
        old, new = _migration(inbound)
        await staff_rules.follow_chat_migration(
            session=turn.session, channel=inbound.channel.value, old_chat_id=old, new_chat_id=new
        )
    elif inbound.kind == InboundKind.JOINED:
        turn.say("group.welcome", reply=False, units=", ".join(turn.deps.city.units))
    elif inbound.kind == InboundKind.COMMAND:
        await on_command(turn, inbound.command or "", inbound.command_args)
    elif inbound.kind == InboundKind.BUTTON:
        await on_button(turn, inbound.payload or "")
    elif inbound.reply_to_message_id and inbound.kind != InboundKind.EDITED:
        await on_reply(turn)  # words, a photo, voice note or document; anything else is refused there


def _migration(inbound: Inbound) -> tuple[str, str]:
    if inbound.migrate_to_chat_id:
        return inbound.chat_id, inbound.migrate_to_chat_id
    assert inbound.migrate_from_chat_id
    return inbound.migrate_from_chat_id, inbound.chat_id


async def on_command(turn: GroupTurn, command: str, args: str) -> None:
    if command == "link":
        await link(turn, args.strip().lower())
    elif command in ("antrian", "queue"):
        unit = await staff_rules.unit_of_group(session=turn.session, chat_id=turn.inbound.chat_id)
        if unit is None:
            turn.say("group.not_linked")
            return
        turn.replies.append(OutText(text=await officer.queue_text(turn.desk, unit=unit)))
    elif command in ("start", "help", "bantuan"):
        turn.say("group.help", reply=False)
    # other commands may be for other bots in the group: stay quiet


async def link(turn: GroupTurn, unit: str) -> None:
    city = turn.deps.city
    if unit not in city.units:
        turn.say("group.link_usage", units=", ".join(city.units))
        return
    inbound = turn.inbound
    if turn.staff is not None and turn.staff.role == Role.ADMIN:
        await staff_rules.link_group(
            session=turn.session,
            unit=unit,
            channel=inbound.channel.value,
            chat_id=inbound.chat_id,
            title=inbound.chat_title,
            by=str(turn.staff.id),
            now=turn.desk.now,
        )
        turn.say("group.linked", unit=city.units[unit].name.get(turn.deps.staff_language))
        return
    # anyone else: the admins approve it from their private chat
    await staff_rules.request_link(
        session=turn.session,
        channel=inbound.channel.value,
        chat_id=inbound.chat_id,
        unit=unit,
        title=inbound.chat_title,
        by=inbound.user_id,
        now=turn.desk.now,
    )
    title = inbound.chat_title or inbound.chat_id
    for admin in await staff_rules.admins(session=turn.session):
        text = turn.deps.texts(
            "admin.link_request",
            turn.deps.staff_language,
            name=inbound.display_name or inbound.user_id,
            group=title,
            unit=city.units[unit].name.get(turn.deps.staff_language),
        )
        approve = Button(
            label=turn.deps.texts.plain("admin.link_approve", turn.deps.staff_language),
            payload=f"a|link:{unit}:{inbound.chat_id}",
        )
        turn.mail.send(admin.channel, admin.user_id, OutText(text=text, buttons=((approve,),)))
    turn.say("group.link_requested")


async def ticket_for_staff(turn: GroupTurn, ticket_id: str) -> Ticket | None:
    if not ticket_id.isdigit():
        return None
    return await turn.session.get(Ticket, int(ticket_id), with_for_update=True)


async def on_button(turn: GroupTurn, payload: str) -> None:
    scope, _, rest = payload.partition("|")
    action_name, _, ticket_id = rest.partition("|")
    if scope != STAFF:
        turn.say("errors.stale_button")
        return
    ticket = await ticket_for_staff(turn, ticket_id)
    try:
        action = Action(action_name)
    except ValueError:
        action = None
    if ticket is None or action is None:
        turn.say("errors.stale_button")
        return
    await officer.start_action(turn.desk, ticket, action, turn.staff, reply=turn.say)


async def on_reply(turn: GroupTurn) -> None:
    inbound = turn.inbound
    assert inbound.reply_to_message_id
    ticket_id = await ticket_for_message(
        session=turn.session,
        channel=inbound.channel.value,
        chat_id=inbound.chat_id,
        message_id=inbound.reply_to_message_id,
    )
    if ticket_id is None:
        return  # a reply to something else: a conversation among officers
    ticket = await turn.session.get(Ticket, ticket_id)
    if ticket is None:
        return
    staff = turn.staff
    replier = staff if staff is not None and Actor.of_staff(staff).may_act_for(ticket.unit) else None
    reply = ticket_actions.relayable(inbound)
    if reply is None:
        if replier is not None:  # a sticker, a location…: say so rather than let them think it went
            turn.say("group.not_relayable", reference=ticket.reference)
        return  # from anyone else, banter: nothing was meant for the reporter
    if replier is None:
        turn.say(
            "refused.other_unit_reply",
            unit=staff_rules.unit_name(turn.deps.city, ticket.unit, turn.deps.staff_language),
        )
        return
    text, media = reply
    sent = await ticket_actions.relay_to_citizens(turn.desk, ticket, replier, text, media=media)
    turn.say("group.relayed" if sent else "group.not_relayed", reference=ticket.reference)


__all__ = ["Refused", "step"]
