"""Admin commands in private chat: the menu, adding and removing admins and quality managers, officers
per unit, ticket search.

Reached through handlers/officer.py, which has already refused anyone who is not an admin (staff are
told the command is for admins; people who are not staff are not told it exists). The other admin
commands (/undang, /unit, /jeda, /lanjut, /detail) live there too; these reuse workflows/staff.py.
"""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import col, select

from handlers.cards import deadline_line
from handlers.context import Turn
from handlers.format import example_reference, local_time
from handlers.i18n import Safe
from handlers.messages import OutText
from models import Identity, InviteCode, Role, Staff, Ticket, TicketEvent
from models.queries import citizen_by_identity
from workflows import staff as staff_rules
from workflows.references import find_reference

COMMANDS = {
    "admin": "admin_menu",
    "adm": "admin_menu",
    "tambah_admin": "add_admin",
    "add_admin": "add_admin",
    "hapus_admin": "remove_admin",
    "remove_admin": "remove_admin",
    "petugas": "officers",
    "officers": "officers",
    "cari": "find",
    "find": "find",
    "tambah_kualitas": "add_quality",  # quality managers: the dashboard's every unit, read-only
    "add_quality": "add_quality",
    "hapus_kualitas": "remove_quality",
    "remove_quality": "remove_quality",
}
TIMELINE_EVENTS = 12  # the latest ones; the whole history is in `civicbot admin ticket REF`
DESCRIPTION_CHARS = 300
INVITE_EXPIRIES_SHOWN = 3


async def on_command(turn: Turn, action: str, args: str) -> bool:
    """An admin command of this module (the caller checked the person is an admin); False if not one."""
    if action == "admin_menu":
        turn.say("admin.menu")
    elif action == "add_admin":
        await add_admin(turn, args)
    elif action == "remove_admin":
        await remove_admin(turn, args)
    elif action == "officers":
        await officers(turn, args)
    elif action == "find":
        await find(turn, args)
    elif action == "add_quality":
        await add_quality(turn, args)
    elif action == "remove_quality":
        await remove_quality(turn, args)
    else:
        return False
    return True


def _user_id(args: str) -> str | None:
    """A platform user id as typed ("123456789"); None for anything else (a @username cannot be
    resolved to an id by a bot)."""
    word = args.strip().split(" ", 1)[0]
    return word if word.isdigit() and len(word) <= 20 else None


def _who(turn: Turn, staff: Staff | None, user_id: str) -> Safe:
    if staff is not None and staff.display_name:
        return Safe(turn.t("admin.who", name=staff.display_name, user_id=user_id))
    return Safe(turn.t("admin.who_unnamed", user_id=user_id))


async def add_admin(turn: Turn, args: str) -> None:
    """/tambah_admin ID: another admin; told in their private chat if they have started the bot."""
    user_id = _user_id(args)
    if user_id is None:
        turn.say("admin.add_usage")
        return
    assert turn.staff is not None
    channel = turn.staff.channel
    made = await staff_rules.add_admin(
        session=turn.session,
        channel=channel,
        user_id=user_id,
        now=turn.desk.now,
        added_by=f"admin:{turn.staff.id}",
    )
    staff = await staff_rules.staff_by_user(session=turn.session, channel=channel, user_id=user_id)
    if not made:
        turn.say("admin.already", who=_who(turn, staff, user_id))
        return
    await _welcome(turn, staff, user_id, "admin")


async def _welcome(turn: Turn, staff: Staff | None, user_id: str, prefix: str) -> None:
    """Tell the person made admin or quality manager, in their private chat if they have started the
    bot (`<prefix>.welcome`), and the admin whether they were told (`<prefix>.added`)."""
    assert turn.staff is not None
    channel = turn.staff.channel
    person = await citizen_by_identity(session=turn.session, channel=channel, external_id=user_id)
    if person is not None:
        texts, by = turn.deps.texts, turn.inbound.display_name or turn.staff.display_name
        adder = by or texts("admin.who_unnamed", person.language, user_id=turn.staff.user_id)
        welcome = texts(f"{prefix}.welcome", person.language, by=adder)
        turn.mail.send(channel, person.chat_id, OutText(text=welcome), language=person.language)
    told = f"{prefix}.added_told" if person is not None else f"{prefix}.added_untold"
    turn.say(f"{prefix}.added", who=_who(turn, staff, user_id), told=Safe(turn.t(told)))


async def remove_admin(turn: Turn, args: str) -> None:
    """/hapus_admin ID: never an admin the server's settings name, never the last one."""
    user_id = _user_id(args)
    if user_id is None:
        turn.say("admin.remove_usage")
        return
    assert turn.staff is not None
    channel = turn.staff.channel
    staff = await staff_rules.staff_by_user(session=turn.session, channel=channel, user_id=user_id)
    outcome = await staff_rules.remove_admin(session=turn.session, channel=channel, user_id=user_id)
    turn.say(f"admin.remove.{outcome.value}", who=_who(turn, staff, user_id))


async def add_quality(turn: Turn, args: str) -> None:
    """/tambah_kualitas ID: a quality manager (every unit on the dashboard, read-only); told if
    they have started the bot."""
    user_id = _user_id(args)
    if user_id is None:
        turn.say("admin_quality.add_usage")
        return
    assert turn.staff is not None
    channel = turn.staff.channel
    outcome = await staff_rules.add_quality(
        session=turn.session,
        channel=channel,
        user_id=user_id,
        now=turn.desk.now,
        added_by=f"admin:{turn.staff.id}",
    )
    staff = await staff_rules.staff_by_user(session=turn.session, channel=channel, user_id=user_id)
    if outcome != staff_rules.QualityChange.ADDED:
        turn.say(f"admin_quality.{outcome.value}", who=_who(turn, staff, user_id))
        return
    await _welcome(turn, staff, user_id, "admin_quality")


async def remove_quality(turn: Turn, args: str) -> None:
    """/hapus_kualitas ID: a quality manager is staff no more."""
    user_id = _user_id(args)
    if user_id is None:
        turn.say("admin_quality.remove_usage")
        return
    assert turn.staff is not None
    channel = turn.staff.channel
    staff = await staff_rules.staff_by_user(session=turn.session, channel=channel, user_id=user_id)
    outcome = await staff_rules.remove_quality(session=turn.session, channel=channel, user_id=user_id)
    turn.say(f"admin_quality.{outcome.value}", who=_who(turn, staff, user_id))


async def officers(turn: Turn, args: str) -> None:
    """/petugas [UNIT]: each unit's officers and its open invite codes (how many, until when)."""
    city = turn.deps.city
    wanted = args.strip().lower()
    if wanted and wanted not in city.units:
        turn.say("admin.officers_usage", units=", ".join(city.units))
        return
    unit = wanted or None
    people = await staff_rules.active_staff(session=turn.session, unit=unit)
    invites = await staff_rules.open_invites(session=turn.session, now=turn.desk.now, unit=unit)
    staff_by_unit: dict[str | None, list[Staff]] = defaultdict(list)
    for person in people:
        staff_by_unit[person.unit].append(person)
    invites_by_unit: dict[str, list[InviteCode]] = defaultdict(list)
    for invite in invites:
        invites_by_unit[invite.unit].append(invite)
    blocks = [
        turn.t(
            "admin.officers_unit",
            name=unit_info.name.get(turn.lang),
            unit=key,
            people=Safe(_people(turn, staff_by_unit[key])),
            invites=Safe(_invites(turn, invites_by_unit[key])),
        )
        for key, unit_info in city.units.items()
        if unit is None or key == unit
    ]
    if unit is None:
        blocks.append(turn.t("admin.officers_admins", people=Safe(_people(turn, staff_by_unit[None]))))
    turn.say("admin.officers", blocks=Safe("\n\n".join(blocks)))


def _people(turn: Turn, people: list[Staff]) -> str:
    if not people:
        return turn.t("admin.officers_none")
    return "\n".join(
        turn.t(
            "admin.officer_line",
            who=_who(turn, person, person.user_id),
            role=turn.t(f"role.{person.role}"),
        )
        for person in people
    )


def _invites(turn: Turn, invites: list[InviteCode]) -> str:
    if not invites:
        return turn.t("admin.invites_none")
    expiries = ", ".join(local_time(turn, i.expires_at) for i in invites[:INVITE_EXPIRIES_SHOWN])
    if len(invites) > INVITE_EXPIRIES_SHOWN:
        expiries += ", …"
    plural = "one" if len(invites) == 1 else "other"
    return turn.t(f"admin.invites_open_{plural}", count=len(invites), expiries=expiries)


async def find(turn: Turn, args: str) -> None:
    """/cari REF: any unit's ticket for an admin: status, unit, holder, deadline and history.

    No reporter's identity, location or notes (personal data under UU PDP): /detail REF sends
    those privately, by the same rule as for the unit's officers.
    """
    reference = find_reference(args)
    if reference is None:
        turn.say("admin.find_usage", example=example_reference(turn))
        return
    query = select(Ticket).where(Ticket.reference == reference)
    ticket = (await turn.session.exec(query)).first()
    if ticket is None:
        turn.say("admin.find_none", reference=reference)
        return
    turn.send(OutText(text=await ticket_summary(turn, ticket)))


async def ticket_summary(turn: Turn, ticket: Ticket) -> str:
    city = turn.deps.city
    category = city.category(ticket.category)
    holder = await turn.session.get(Staff, ticket.holder_staff_id) if ticket.holder_staff_id else None
    confidential = ticket.identity == Identity.CONFIDENTIAL
    description = ticket.description
    if len(description) > DESCRIPTION_CHARS:
        description = description[: DESCRIPTION_CHARS - 1].rstrip() + "…"
    return turn.t(
        "admin.found",
        reference=ticket.reference,
        emoji=category.emoji,
        category=category.name.get(turn.lang),
        state=turn.t(f"staff_status.{ticket.status}"),
        unit=staff_rules.unit_name(city, ticket.unit, turn.lang),
        holder=Safe(_who(turn, holder, holder.user_id) if holder else turn.t("admin.no_holder")),
        deadline=Safe(deadline_line(turn.desk, ticket) or turn.t("admin.no_deadline")),
        filed=local_time(turn, ticket.created_at),
        area=city.areas[ticket.area].name if ticket.area in city.areas else "—",
        identity=turn.t(f"identity.{ticket.identity}"),
        description=turn.t("admin.confidential_content") if confidential else description,
        timeline=Safe(await _timeline(turn, ticket)),
    )


async def _timeline(turn: Turn, ticket: Ticket) -> str:
    """The latest events, who (by role) and what; notes stay out (they may hold personal data)."""
    query = (
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id)
        .order_by(col(TicketEvent.id).desc())
        .limit(TIMELINE_EVENTS)
    )
    events = list(reversed(list(await turn.session.exec(query))))
    texts = turn.deps.texts
    lines = []
    for event in events:
        action_key = f"admin.action.{event.action}"
        actor_key = (
            f"role.{event.actor_kind}" if event.actor_kind in set(Role) else f"admin.actor.{event.actor_kind}"
        )
        lines.append(
            turn.t(
                "admin.event",
                at=local_time(turn, event.at),
                action=turn.t(action_key) if texts.has(action_key) else event.action,
                actor=turn.t(actor_key) if texts.has(actor_key) else event.actor_kind,
            )
        )
    return "\n".join(lines)
