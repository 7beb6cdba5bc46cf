"""Staff in private chat: the note, unit or proof photo an action needs, their queues, admin commands.

A card button that needs more than a press (ask, transfer, resolve, reject) continues here, in the
officer's private chat with the bot: it asks for the question, the reason, the resolution note and
photo, then acts. Commands: /join CODE (anyone with an invite), /tugas (my tickets), /antrian
(my unit's queue); admins also /undang UNIT [supervisor], /unit, /jeda UNIT [reason], /lanjut UNIT,
and those of handlers/admin.py (/admin, /tambah_admin, /hapus_admin, /tambah_kualitas, /hapus_kualitas,
/petugas, /cari); /siaran (/broadcast) composes an announcement (handlers/broadcast.py); /dasbor
(/dashboard) gives staff a login link to the dashboard (handlers/web_login.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from handlers import admin, broadcast, ticket_actions, unit_resume, web_login
from handlers.context import Desk, Turn
from handlers.format import city_time
from handlers.i18n import Safe, Translator
from handlers.messages import Button, InboundKind, MediaRef, OutText
from handlers.states import State
from models import Conversation, Role, Staff, Ticket, UnitState
from models.queries import conversation_for_update, ticket_for_message
from workflows import lifecycle
from workflows import staff as staff_rules
from workflows.city_config import CityConfig, parse_duration
from workflows.lifecycle import Action, Actor, Refused

NOTE_ACTIONS = (Action.ASK, Action.RESOLVE, Action.REJECT, Action.TRANSFER)
PROMPT_VALID = timedelta(hours=2)  # an unanswered prompt lapses: later text is not taken as its note

COMMANDS = {
    "join": "join",
    "gabung": "join",
    "tugas": "mine",
    "mytickets": "mine",
    "antrian": "queue",
    "queue": "queue",
    "undang": "invite",
    "invite": "invite",
    "unit": "units",
    "units": "units",
    "jeda": "pause",
    "pause": "pause",
    "lanjut": "resume",
    "resume": "resume",
    "detail": "detail",
    "details": "detail",
    **admin.COMMANDS,  # /admin, /tambah_admin, /hapus_admin, /petugas, /cari (handlers/admin.py)
    "siaran": "broadcast",  # compose an announcement (handlers/broadcast.py)
    "broadcast": "broadcast",
    **web_login.COMMANDS,  # /dasbor, /dashboard: a login link to the dashboard (handlers/web_login.py)
}


def refusal(texts: Translator, lang: str, refused: Refused, city: CityConfig | None = None) -> str:
    params: dict[str, Any] = dict(refused.params)
    if city is not None and params.get("unit") in city.units:
        params["unit"] = city.units[params["unit"]].short
    if "status" in params:
        params["status"] = texts(f"staff_status.{params['status']}", lang)
    return texts(refused.reason, lang, **params)


async def start_action(
    desk: Desk, ticket: Ticket, action: Action, staff: Staff | None, *, reply: Callable[..., None]
) -> None:
    """A card button was pressed: act at once (accept) or continue in the presser's private chat."""
    lang = desk.deps.staff_language
    if staff is None:
        reply("refused.not_staff")
        return
    actor = Actor.of_staff(staff)
    try:
        lifecycle.check(ticket, action, actor, note="(asked next)")
        if action == Action.ACCEPT:
            await ticket_actions.perform(desk, ticket, action, actor)
            return
    except Refused as refused:
        reply("refused.wrapper", reason=Safe(refusal(desk.deps.texts, lang, refused, desk.deps.city)))
        return
    conversation = await _private_conversation(desk, staff)
    conversation.step += 1
    pending = {"action": action.value, "ticket": ticket.id, "since": desk.now.isoformat()}
    conversation.data = {**conversation.data, "officer": pending}
    if action == Action.TRANSFER:
        conversation.state = State.OFFICER_UNIT.value
        prompt = await transfer_prompt(desk, ticket, conversation.step)
    else:
        conversation.state = State.OFFICER_NOTE.value
        prompt = OutText(
            text=desk.staff_text(f"officer.prompt.{action.value}", reference=ticket.reference),
            buttons=((_cancel(desk, conversation.step),),),
        )
    desk.mail.send(staff.channel, staff.user_id, prompt, ticket_id=ticket.id, role="prompt")
    reply("group.continue_private", name=staff.display_name or "")


def _cancel(desk: Desk, step: int) -> Button:
    return Button(
        label=desk.deps.texts.plain("officer.cancel_button", desk.deps.staff_language),
        payload=f"{step}|cancel",
    )


async def transfer_prompt(desk: Desk, ticket: Ticket, step: int) -> OutText:
    """The units to transfer to: every other one that is not paused."""
    lang = desk.deps.staff_language
    paused = await staff_rules.paused_units(session=desk.session, now=desk.now)
    units = [key for key in desk.deps.city.units if key != ticket.unit and key not in paused]
    buttons = [Button(label=desk.deps.city.units[key].short, payload=f"{step}|unit:{key}") for key in units]
    rows = (*tuple(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3)), (_cancel(desk, step),))
    return OutText(
        text=desk.deps.texts("officer.prompt.transfer", lang, reference=ticket.reference), buttons=rows
    )


async def _private_conversation(desk: Desk, staff: Staff) -> Conversation:
    conversation = await conversation_for_update(
        session=desk.session, channel=staff.channel, chat_id=staff.user_id
    )
    if conversation is None:
        conversation = Conversation(
            channel=staff.channel, chat_id=staff.user_id, data={}, updated_at=desk.now
        )
        desk.session.add(conversation)
    return conversation


# --- the officer's private chat ---------------------------------------------------------------


def _pending(turn: Turn) -> tuple[Action, int] | None:
    pending = turn.data.get("officer") or {}
    try:
        return Action(pending["action"]), int(pending["ticket"])
    except (KeyError, ValueError, TypeError):
        return None


def _finish(turn: Turn) -> None:
    turn.conversation.data = {k: v for k, v in turn.data.items() if k not in ("officer",)}
    turn.goto(State.IDLE)


async def on_pending(turn: Turn) -> None:
    """Input while an action waits for its note, unit or proof photo."""
    pending = _pending(turn)
    staff = turn.staff
    if pending is None or staff is None:
        _finish(turn)
        return
    action, ticket_id = pending
    ticket = await turn.session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None:
        _finish(turn)
        return
    inbound = turn.inbound
    since = turn.data["officer"].get("since")
    if since and turn.desk.now - datetime.fromisoformat(since) > PROMPT_VALID:
        _finish(turn)
        turn.say("officer.expired", reference=ticket.reference)
        return
    if inbound.reply_to_message_id and inbound.kind != InboundKind.BUTTON:
        replied = await ticket_for_message(
            session=turn.session,
            channel=inbound.channel.value,
            chat_id=inbound.chat_id,
            message_id=inbound.reply_to_message_id,
        )
        if replied is not None and replied != ticket.id:
            turn.say("officer.other_prompt", reference=ticket.reference)
            await reprompt(turn)
            return
    if inbound.kind == InboundKind.BUTTON:
        scope, _, choice = (inbound.payload or "").partition("|")
        if scope != str(turn.conversation.step):
            turn.say("errors.stale_button")
            await reprompt(turn)
            return
        if choice == "cancel":
            _finish(turn)
            turn.say("officer.cancelled", reference=ticket.reference)
        elif choice.startswith("unit:") and turn.state == State.OFFICER_UNIT:
            turn.set_data(officer={**turn.data["officer"], "unit": choice.removeprefix("unit:")})
            turn.goto(State.OFFICER_NOTE)
            turn.say(
                "officer.prompt.transfer_reason", reference=ticket.reference, buttons=[[_step_cancel(turn)]]
            )
        elif choice == "skip" and turn.state == State.OFFICER_PROOF:
            await _act(turn, ticket, action, turn.data["officer"].get("note"), ())
        else:
            await reprompt(turn)
        return
    text = (inbound.text or "").strip()
    cancel_word = inbound.kind == InboundKind.TEXT and turn.means("cancel", text)
    if cancel_word or (inbound.kind == InboundKind.COMMAND and inbound.command in ("batal", "cancel")):
        _finish(turn)
        turn.say("officer.cancelled", reference=ticket.reference)
        return
    if turn.state == State.OFFICER_NOTE and inbound.kind in (InboundKind.TEXT, InboundKind.PHOTO) and text:
        photos = inbound.media if inbound.kind == InboundKind.PHOTO else ()
        if action == Action.RESOLVE and not photos:
            turn.set_data(officer={**turn.data["officer"], "note": text})
            turn.goto(State.OFFICER_PROOF)
            await reprompt(turn)
            return
        await _act(turn, ticket, action, text, photos)
    elif turn.state == State.OFFICER_PROOF and inbound.kind == InboundKind.PHOTO and inbound.media:
        await _act(turn, ticket, action, turn.data["officer"].get("note") or text, inbound.media)
    else:
        await reprompt(turn)


def _step_cancel(turn: Turn) -> Button:
    return turn.button("officer.cancel_button", "cancel")


async def reprompt(turn: Turn) -> None:
    pending = _pending(turn)
    if pending is None:
        return
    action, ticket_id = pending
    ticket = await turn.session.get(Ticket, ticket_id)
    reference = ticket.reference if ticket else "?"
    if turn.state == State.OFFICER_UNIT and ticket is not None:
        turn.send(await transfer_prompt(turn.desk, ticket, turn.conversation.step))
    elif turn.state == State.OFFICER_PROOF:
        required = ticket is not None and turn.deps.city.category(ticket.category).proof_photo
        buttons = (
            [[_step_cancel(turn)]]
            if required
            else [[turn.button("officer.skip_photo", "skip"), _step_cancel(turn)]]
        )
        key = "officer.prompt.proof_required" if required else "officer.prompt.proof_optional"
        turn.say(key, reference=reference, buttons=buttons)
    else:
        name = "transfer_reason" if action == Action.TRANSFER else action.value
        turn.say(f"officer.prompt.{name}", reference=reference, buttons=[[_step_cancel(turn)]])


async def _act(
    turn: Turn, ticket: Ticket, action: Action, note: str | None, proof: tuple[MediaRef, ...]
) -> None:
    assert turn.staff is not None
    to_unit = turn.data["officer"].get("unit")
    try:
        await ticket_actions.perform(
            turn.desk, ticket, action, Actor.of_staff(turn.staff), note=note, to_unit=to_unit, proof=proof
        )
    except Refused as refused:
        if refused.reason == "refused.proof_required":
            turn.set_data(officer={**turn.data["officer"], "note": note})
            turn.goto(State.OFFICER_PROOF)
            await reprompt(turn)
            return
        _finish(turn)
        turn.say("refused.wrapper", reason=Safe(refusal(turn.deps.texts, turn.lang, refused, turn.deps.city)))
        return
    _finish(turn)
    groups = {p.group_id for p in proof if p.group_id}
    if action == Action.RESOLVE and groups:
        # the rest of an album (before/after photos) arrives as separate messages after this one
        turn.set_data(proof_album={"group": groups.pop(), "ticket": ticket.id})
    turn.say(f"officer.done.{action.value}", reference=ticket.reference)


async def more_proof(turn: Turn) -> bool:
    """A photo of the album whose first photo resolved a ticket: more proof, not a new complaint."""
    album = turn.data.get("proof_album") or {}
    media = turn.inbound.media
    if not media or not album or media[0].group_id != album.get("group") or turn.staff is None:
        return False
    ticket = await turn.session.get(Ticket, int(album["ticket"]))
    if ticket is None:
        return False
    await ticket_actions.add_proof(turn.desk, ticket, media)
    return True


async def on_private_reply(turn: Turn) -> bool:
    """Staff replying privately to a ticket's message (a confidential ticket's details): relayed."""
    inbound = turn.inbound
    staff = turn.staff
    if staff is None or not inbound.reply_to_message_id:
        return False
    ticket_id = await ticket_for_message(
        session=turn.session,
        channel=inbound.channel.value,
        chat_id=inbound.chat_id,
        message_id=inbound.reply_to_message_id,
    )
    ticket = await turn.session.get(Ticket, ticket_id) if ticket_id is not None else None
    if ticket is None or not Actor.of_staff(staff).may_act_for(ticket.unit):
        return False
    reply = ticket_actions.relayable(inbound)
    if reply is None:
        return False
    text, media = reply
    sent = await ticket_actions.relay_to_citizens(turn.desk, ticket, staff, text, media=media)
    turn.say("group.relayed" if sent else "group.not_relayed", reference=ticket.reference)
    return True


# --- commands --------------------------------------------------------------------------------


async def on_command(turn: Turn, action: str, args: str) -> bool:
    """Staff and admin commands; False if this is not one (or not for this person)."""
    staff = turn.staff
    if action == "join":
        await join(turn, args)
        return True
    if action == "dashboard":  # answered to anyone: staff get a link, others a polite refusal
        await web_login.login_link(turn)
        return True
    if staff is None:
        return False
    if action == "mine":
        turn.send(OutText(text=await queue_text(turn.desk, unit=None, holder=staff.id, lang=turn.lang)))
        return True
    if action == "queue":
        if staff.unit is None:
            turn.say("officer.queue_admin" if staff.role == Role.ADMIN else "admin_quality.queue")
            return True
        turn.send(OutText(text=await queue_text(turn.desk, unit=staff.unit, lang=turn.lang)))
        return True
    if action == "detail":
        await detail(turn, args)
        return True
    if staff.role != Role.ADMIN:
        turn.say("officer.admin_only")
        return True
    if action == "invite":
        await invite(turn, args)
    elif action == "units":
        await units(turn)
    elif action in ("pause", "resume"):
        await pause(turn, args, paused=action == "pause")
    elif action == "broadcast":
        await broadcast.start(turn)
    else:
        await admin.on_command(turn, action, args)
    return True


async def detail(turn: Turn, args: str) -> None:
    """/detail REF: the whole ticket again, privately (a confidential one only to its holder or an admin)."""
    from sqlmodel import select

    from workflows.references import find_reference

    staff = turn.staff
    assert staff is not None
    reference = find_reference(args)
    ticket = (
        (await turn.session.exec(select(Ticket).where(Ticket.reference == reference))).first()
        if reference
        else None
    )
    allowed = ticket is not None and Actor.of_staff(staff).may_act_for(ticket.unit)
    if ticket is not None and ticket.identity == "confidential" and staff.role != Role.ADMIN:
        allowed = allowed and ticket.holder_staff_id == staff.id
    if ticket is None or not allowed:
        turn.say("officer.detail_usage")
        return
    assert staff.id is not None
    await ticket_actions.send_details(turn.desk, ticket, staff.id)


async def join(turn: Turn, code: str) -> None:
    if not code.strip():
        turn.say("officer.join_usage")
        return
    inbound = turn.inbound
    staff = await staff_rules.redeem_invite(
        session=turn.session,
        code=code,
        channel=inbound.channel.value,
        user_id=inbound.user_id,
        display_name=inbound.display_name,
        now=turn.desk.now,
    )
    if staff is None:
        turn.say("officer.join_failed")
        return
    turn.staff = staff
    unit = staff_rules.unit_name(turn.deps.city, staff.unit or "", turn.lang)
    turn.say("officer.joined", unit=unit, role=turn.t(f"role.{staff.role}"))


async def invite(turn: Turn, args: str) -> None:
    parts = args.lower().split()
    city = turn.deps.city
    if not parts or parts[0] not in city.units:
        turn.say("officer.invite_usage", units=", ".join(city.units))
        return
    role = (
        Role.SUPERVISOR if len(parts) > 1 and parts[1] in ("supervisor", "kepala", "head") else Role.OFFICER
    )
    assert turn.staff is not None
    code = await staff_rules.create_invite(
        session=turn.session,
        unit=parts[0],
        role=role,
        created_by=str(turn.staff.id),
        now=turn.desk.now,
        valid=parse_duration(city.officers.invite_valid),
    )
    turn.say(
        "officer.invite_code",
        code=code,
        unit=city.units[parts[0]].name.get(turn.lang),
        role=turn.t(f"role.{role}"),
        valid=city.officers.invite_valid,
    )


async def units(turn: Turn) -> None:
    lines = []
    paused = await staff_rules.paused_units(session=turn.session, now=turn.desk.now)
    for key, unit in turn.deps.city.units.items():
        group = await staff_rules.group_of(session=turn.session, unit=key)
        lines.append(
            turn.t(
                "officer.unit_line",
                unit_key=key,
                name=unit.short,
                group=group.chat_title or group.chat_id if group else turn.t("officer.no_group"),
                paused=Safe(await _paused_mark(turn, key) if key in paused else ""),
                open=await ticket_actions.count_open(turn.desk, key),
            )
        )
    turn.say("officer.units", lines=Safe("\n".join(lines)))


async def _paused_mark(turn: Turn, unit: str) -> str:
    state = await turn.session.get(UnitState, unit)
    if state is None or state.paused_until is None:
        return turn.t("officer.paused_mark")
    last = staff_rules.last_paused_day(state.paused_until, turn.deps.city.city.timezone)
    return turn.t("unit_pause.paused_mark", day=unit_resume.day_words(turn.deps.texts, turn.lang, last))


async def pause(turn: Turn, args: str, *, paused: bool) -> None:
    """/jeda UNIT [DAY] [reason]: with a day, the pause ends by itself after it (handlers/unit_resume.py)."""
    unit, _, reason = args.strip().partition(" ")
    city = turn.deps.city
    if unit.lower() not in city.units:
        turn.say("unit_pause.usage", units=", ".join(city.units))
        return
    assert turn.staff is not None
    first, _, rest = reason.strip().partition(" ")
    last_day = unit_resume.parse_day(first) if paused else None
    if last_day is not None:
        reason = rest
        if last_day < unit_resume.local_day(turn.desk.now, city.city.timezone):
            turn.say("unit_pause.past_day", day=unit_resume.day_words(turn.deps.texts, turn.lang, last_day))
            return
    await staff_rules.set_paused(
        session=turn.session,
        unit=unit.lower(),
        paused=paused,
        by=str(turn.staff.id),
        now=turn.desk.now,
        reason=reason,
        until=staff_rules.pause_end(last_day, city.city.timezone) if last_day else None,
    )
    fallback = city.units[unit.lower()].fallback or city.triage_unit
    key = "officer.paused" if paused else "officer.resumed"
    told = turn.t(
        key,
        unit=city.units[unit.lower()].name.get(turn.lang),
        fallback=city.units[fallback].name.get(turn.lang),
    )
    if last_day is not None:
        day = unit_resume.day_words(turn.deps.texts, turn.lang, last_day)
        told += "\n" + turn.t("unit_pause.until_note", day=day)
    turn.send(OutText(text=told))


async def approve_link(turn: Turn, value: str) -> None:
    """An admin pressed "approve" under a group's /link request ("unit:chat id")."""
    unit, _, chat_id = value.partition(":")
    staff = turn.staff
    if staff is None or staff.role != Role.ADMIN:
        turn.say("officer.admin_only")
        return
    request = await staff_rules.approve_link(
        session=turn.session, chat_id=chat_id, unit=unit, by=str(staff.id), now=turn.desk.now
    )
    if request is None:
        turn.say("admin.link_stale")
        return
    name = (
        turn.deps.city.units[request.unit].name.get(turn.deps.staff_language)
        if request.unit in turn.deps.city.units
        else request.unit
    )
    turn.mail.send(request.channel, chat_id, OutText(text=turn.desk.staff_text("group.linked", unit=name)))
    turn.say("admin.link_done", unit=name)


async def queue_text(
    desk: Desk, *, unit: str | None, holder: int | None = None, lang: str | None = None
) -> str:
    """Open tickets, nearest deadline first, with the time left."""
    from handlers.cards import deadline_line

    lang = lang or desk.deps.staff_language
    tickets = await staff_rules.unit_queue(session=desk.session, unit=unit, holder=holder)
    if not tickets:
        return desk.deps.texts("officer.queue_empty", lang)
    lines = []
    for ticket in tickets:
        category = desk.deps.city.category(ticket.category)
        lines.append(
            desk.deps.texts(
                "officer.queue_line",
                lang,
                reference=ticket.reference,
                emoji=category.emoji,
                status=desk.deps.texts(f"staff_status.{ticket.status}", lang),
                deadline=Safe(deadline_line(desk, ticket) or "—"),
            )
        )
    return desk.deps.texts("officer.queue", lang, lines=Safe("\n".join(lines)), count=len(tickets))


__all__ = ["city_time"]
