"""Ticket work and the messages it causes, in the caller's transaction.

Every change goes through workflows.lifecycle.apply (rules, event, clocks); this module tells
whom it concerns: the citizens following the ticket (each in their language), the unit's group
(the card, edited in place), the officer who holds a confidential ticket (privately).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from handlers import cards
from handlers.cards import deadline_line
from handlers.context import MENU, Desk, survey_payload
from handlers.format import MEDIA_EMOJI, city_time
from handlers.i18n import Safe
from handlers.messages import (
    Button,
    Channel,
    Inbound,
    InboundKind,
    Location,
    MediaRef,
    OutEdit,
    OutLocation,
    OutMedia,
    OutText,
)
from models import Attachment, Citizen, Identity, Role, Staff, Ticket, TicketEvent
from models.queries import latest_link
from workflows import duplicates, lifecycle, surveys
from workflows import staff as staff_rules
from workflows.drafts import attachment_kind
from workflows.lifecycle import Action, Actor, Change

CARD = "card"


async def _attachments(desk: Desk, ticket: Ticket, added_by: str | None = None) -> list[Attachment]:
    """Its photos, voice notes and documents, in the order they came."""
    query = select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(col(Attachment.id))
    if added_by is not None:
        query = query.where(Attachment.added_by == added_by)
    return list(await desk.session.exec(query))


async def card_chats(desk: Desk, ticket: Ticket) -> list[tuple[str, str]]:
    """Where the ticket's card lives: its unit's group; the admins privately while there is none."""
    group = await staff_rules.group_of(session=desk.session, unit=ticket.unit)
    if group is not None and group.chat_id:
        return [(group.channel, group.chat_id)]
    return [(a.channel, a.user_id) for a in await staff_rules.admins(session=desk.session)]


async def show_card(
    desk: Desk, ticket: Ticket, *, fresh: bool = False, photos: Sequence[Attachment] | None = None
) -> None:
    """Post the card (fresh: with the location and photos) or edit it in place.

    `photos`: the citizen's attachments, when the caller has them (the SLA sweep reads a batch's at once).
    """
    assert ticket.id is not None
    reporter = await desk.session.get(Citizen, ticket.citizen_id)
    holder = await desk.session.get(Staff, ticket.holder_staff_id) if ticket.holder_staff_id else None
    if photos is None:
        photos = await _attachments(desk, ticket, added_by="citizen")
    counts = Counter(a.kind for a in photos)
    card = cards.card(desk, ticket, reporter=reporter, holder=holder, attachments=counts)
    for channel, chat_id in await card_chats(desk, ticket):
        if not fresh:
            edit = OutEdit(text=card.text, buttons=card.buttons)
            desk.mail.send(channel, chat_id, edit, ticket_id=ticket.id, role=CARD)
            continue
        desk.mail.send(channel, chat_id, card, ticket_id=ticket.id, role=CARD)
        if ticket.identity == Identity.CONFIDENTIAL:
            continue  # details only to the officer who accepts it, privately
        await _send_place_and_photos(desk, ticket, channel, chat_id, photos)


async def _send_place_and_photos(
    desk: Desk, ticket: Ticket, channel: str, chat_id: str, photos: Sequence[Attachment]
) -> None:
    if ticket.latitude is not None and ticket.longitude is not None:
        place = OutLocation(location=Location(latitude=ticket.latitude, longitude=ticket.longitude))
        desk.mail.send(channel, chat_id, place, ticket_id=ticket.id, role="location")
    for photo in photos:  # of its platform (channel): another one's is uploaded by the adapter
        kind = attachment_kind(photo.kind)
        ref = MediaRef(kind=kind, file_id=photo.file_id, channel=Channel(photo.channel))
        media = OutMedia(media=ref, caption=ticket.reference)
        desk.mail.send(channel, chat_id, media, ticket_id=ticket.id, role=kind)  # photo, voice, document


async def new_ticket(desk: Desk, ticket: Ticket) -> None:
    """A ticket was filed: its card goes to the unit."""
    await show_card(desk, ticket, fresh=True)


async def tell_citizens(
    desk: Desk,
    ticket: Ticket,
    key: str,
    *,
    buttons: Sequence[Sequence[Button]] = (),
    media: Sequence[MediaRef] = (),
    role: str = "notice",
    reporter_only: bool = False,
    reporter_key: str | None = None,
    reporter_buttons: Sequence[Sequence[Button]] | None = None,
    skip_citizen: int | None = None,
    reporter_template: str | None = None,
    **params: Any,
) -> None:
    """A notice to the reporter and everyone who joined (or the reporter only), each in their language.

    The reporter may get another text (`reporter_key`) and buttons of their own (and, on WhatsApp
    after 24 hours, the template of that kind, `reporter_template`); `skip_citizen` is left out (the
    one who acted, answered in their own chat already)."""
    for citizen in await _audience(desk, ticket, reporter_only=reporter_only):
        if citizen.id == skip_citizen:
            continue
        lang = citizen.language
        is_reporter = citizen.id == ticket.citizen_id
        unit = staff_rules.unit_name(desk.deps.city, ticket.unit, lang)
        own_key = reporter_key if is_reporter and reporter_key else key
        text = desk.deps.texts(own_key, lang, reference=ticket.reference, unit=unit, **params)
        own_buttons = reporter_buttons if is_reporter and reporter_buttons is not None else buttons
        rows = tuple(
            tuple(Button(label=desk.deps.texts.plain(b.label, lang), payload=b.payload) for b in row)
            for row in own_buttons
        )
        desk.mail.send(
            citizen.channel,
            citizen.chat_id,
            OutText(text=text, buttons=rows),
            ticket_id=ticket.id,
            role=role,
            language=lang,
            template=(reporter_template if is_reporter and reporter_template else None)
            or ("officer_message" if role == "question" else "ticket_update"),
            template_params={
                "reference": ticket.reference,
                "unit": unit,
                "status": desk.deps.texts(f"ticket_status.{ticket.status}", lang),
            },
        )
        for item in media:
            desk.mail.send(
                citizen.channel, citizen.chat_id, OutMedia(media=item), ticket_id=ticket.id, role=role
            )


async def _audience(desk: Desk, ticket: Ticket, *, reporter_only: bool) -> list[Citizen]:
    """Who is told about the ticket in chat: its reporter (and who joined), when they have a chat."""
    if reporter_only:
        reporter = await desk.session.get(Citizen, ticket.citizen_id)
        people = [reporter] if reporter else []
    else:
        people = await duplicates.followers(session=desk.session, ticket=ticket)
    return [person for person in people if has_chat(person)]


CHAT_CHANNELS = frozenset(channel.value for channel in Channel)


def has_chat(citizen: Citizen) -> bool:
    """Whether messages can reach the citizen: those of the Open311 API (channel "open311") have no
    chat; their system follows the ticket through the API (bot/open311.py), so nothing is queued."""
    return citizen.channel in CHAT_CHANNELS


def answer_button(ticket: Ticket) -> Button:
    """'Reply' under a question or a relayed message (label key, translated per citizen)."""
    return Button(label="answer.button", payload=f"{MENU}|ans:{ticket.id}")


async def perform(
    desk: Desk,
    ticket: Ticket,
    action: Action,
    actor: Actor,
    *,
    note: str | None = None,
    to_unit: str | None = None,
    proof: Sequence[MediaRef] = (),
    details: dict[str, Any] | None = None,
) -> Change:
    """Apply an action and queue what it causes; raise lifecycle.Refused, changing nothing, if not allowed."""
    city = desk.deps.city
    if action == Action.RESOLVE and city.category(ticket.category).proof_photo and not proof:
        lifecycle.check(ticket, action, actor, note)  # a refusal for another reason comes first
        raise lifecycle.Refused("refused.proof_required")
    if action == Action.ASK and not await _audience(desk, ticket, reporter_only=True):
        lifecycle.check(ticket, action, actor, note)
        raise lifecycle.Refused("refused.reporter_without_chat")  # the question would never arrive
    if action == Action.TRANSFER and to_unit is not None:
        paused = await staff_rules.paused_units(session=desk.session, now=desk.now)
        if to_unit in paused:
            raise lifecycle.Refused("refused.unit_paused", unit=city.units[to_unit].short)
    change = await lifecycle.apply(
        session=desk.session,
        ticket=ticket,
        action=action,
        actor=actor,
        city=city,
        calendars=desk.deps.calendars,
        now=desk.now,
        note=note,
        to_unit=to_unit,
        details={**(details or {}), **({"proof_photos": len(proof)} if proof else {})} or None,
    )
    for item in proof:
        desk.session.add(
            Attachment(
                ticket_id=ticket.id or 0,
                kind="photo",
                channel=actor_channel(actor),
                file_id=item.file_id,
                unique_id=item.unique_id,
                added_by="officer",
                created_at=desk.now,
            )
        )
    await _announce(desk, ticket, change, actor, note=note, proof=proof)
    return change


def actor_channel(actor: Actor) -> str:
    return Channel.TELEGRAM.value  # officers act from Telegram


async def _announce(
    desk: Desk, ticket: Ticket, change: Change, actor: Actor, *, note: str | None, proof: Sequence[MediaRef]
) -> None:
    action = change.action
    if action == Action.TRANSFER:
        await _card_in_old_group(desk, ticket, change)
        await show_card(desk, ticket, fresh=True)
        await tell_citizens(desk, ticket, "notice.transferred", reason=note or "")
        return
    await show_card(desk, ticket)
    if action == Action.ACCEPT:
        await tell_citizens(desk, ticket, "notice.accepted")
        if ticket.identity == Identity.CONFIDENTIAL and actor.id is not None:
            await send_details(desk, ticket, actor.id)
    elif action == Action.ASK:
        await tell_citizens(
            desk,
            ticket,
            "notice.question",
            question=note or "",
            buttons=[[answer_button(ticket)]],
            role="question",
            reporter_only=True,  # a question about the report is for the one who made it
        )
    elif action == Action.ANSWER:
        await to_unit_thread(desk, ticket, "thread.citizen_answer", text=note or "")
    elif action == Action.RESOLVE:
        await _resolved(desk, ticket, note=note or "", proof=proof)
    elif action == Action.REJECT:
        await tell_citizens(desk, ticket, "notice.rejected", reason=note or "")
    elif action == Action.REOPEN:
        await _reopened(desk, ticket, actor)
    elif action == Action.CLOSE:
        await _closed(desk, ticket, actor, reason=str(change.event.details.get("reason") or ""))


async def _resolved(desk: Desk, ticket: Ticket, *, note: str, proof: Sequence[MediaRef]) -> None:
    """Everyone is told; the reporter can say at once whether it is really fixed (the survey's
    first question, which the survey asks again later if they do not)."""
    survey = await surveys.schedule(
        session=desk.session, ticket=ticket, city=desk.deps.city, calendars=desk.deps.calendars, now=desk.now
    )
    reporter = await desk.session.get(Citizen, ticket.citizen_id)
    if reporter is not None and reporter.surveys_off_at is not None:
        survey = None  # opted out: the plain notice, no survey question (it closes quietly later)
    fixed_buttons = None
    if survey is not None:
        fixed_buttons = [
            [
                Button(label="survey.fixed_yes", payload=survey_payload(survey.id, surveys.FIXED, "y")),
                Button(label="survey.fixed_no", payload=survey_payload(survey.id, surveys.FIXED, "n")),
            ],
            [Button(label="survey.stop_button", payload=survey_payload(survey.id, "stop", "-"))],
        ]
    await tell_citizens(
        desk,
        ticket,
        "notice.resolved",
        reporter_key="notice.resolved_reporter" if survey is not None else None,
        reporter_buttons=fixed_buttons,
        reporter_template="survey" if survey is not None else None,  # its template has these buttons
        note=note,
        media=proof,
    )


async def _reopened(desk: Desk, ticket: Ticket, actor: Actor) -> None:
    """Back to the same unit with a new deadline; reopened too often, the supervisors are told."""
    deadline = Safe(deadline_line(desk, ticket))
    await to_unit_thread(desk, ticket, "thread.reopened", count=ticket.reopen_count, deadline=deadline)
    due = city_time(desk.deps.city.city.timezone, ticket.due_at) if ticket.due_at else "—"
    await tell_citizens(
        desk, ticket, "notice.reopened", due=due, skip_citizen=actor.id if actor.kind == "citizen" else None
    )
    if ticket.reopen_count >= desk.deps.city.surveys.escalate_after_reopens:
        await _escalate_reopened(desk, ticket, deadline)


async def _escalate_reopened(desk: Desk, ticket: Ticket, deadline: Safe) -> None:
    assert ticket.id is not None
    people = await escalation_people(desk, ticket, "supervisors")
    unit = staff_rules.unit_name(desk.deps.city, ticket.unit, desk.deps.staff_language)
    text = desk.staff_text(
        "alert.reopened_often",
        reference=ticket.reference,
        unit=unit,
        count=ticket.reopen_count,
        deadline=deadline,
    )
    for person in people:
        desk.mail.send(person.channel, person.user_id, OutText(text=text), ticket_id=ticket.id, role="alert")
    desk.session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=desk.now,
            actor_kind="system",
            action="escalated",
            public=False,
            details={"reason": "reopened", "reopened": ticket.reopen_count, "recipients": len(people)},
        )
    )


async def _closed(desk: Desk, ticket: Ticket, actor: Actor, *, reason: str) -> None:
    if reason == "confirmed":
        await to_unit_thread(desk, ticket, "thread.confirmed")
        await tell_citizens(desk, ticket, "notice.closed_confirmed", skip_citizen=actor.id)
    else:  # the reporter, who was asked, hears why; who joined only that it is closed
        own = "notice.closed_no_feedback" if reason == "no_feedback" else None
        skip = actor.id if actor.kind == "citizen" else None
        await tell_citizens(desk, ticket, "notice.closed", reporter_key=own, skip_citizen=skip)


async def escalation_people(desk: Desk, ticket: Ticket, to: str) -> list[Staff]:
    """Supervisors of the unit (the admins when it has none), or the admins."""
    if to == "supervisors":
        people = await staff_rules.staff_of_unit(
            session=desk.session, unit=ticket.unit, roles=[Role.SUPERVISOR]
        )
        if people:
            return people
    return await staff_rules.admins(session=desk.session)


async def _card_in_old_group(desk: Desk, ticket: Ticket, change: Change) -> None:
    """The old unit's card stays, without buttons, saying where the ticket went."""
    group = await staff_rules.group_of(session=desk.session, unit=change.from_unit)
    if group is None or group.chat_id is None:
        return
    unit = staff_rules.unit_name(desk.deps.city, ticket.unit, desk.deps.staff_language)
    text = desk.staff_text(
        "card.transferred_away", reference=ticket.reference, unit=unit, reason=change.event.note or ""
    )
    desk.mail.send(group.channel, group.chat_id, OutEdit(text=text), ticket_id=ticket.id, role=CARD)


async def send_details(desk: Desk, ticket: Ticket, staff_id: int) -> None:
    """A confidential ticket in full, to one officer in private chat."""
    officer = await desk.session.get(Staff, staff_id)
    if officer is None:
        return
    reporter = await desk.session.get(Citizen, ticket.citizen_id)
    photos = await _attachments(desk, ticket, added_by="citizen")
    text = cards.details_text(desk, ticket, reporter=reporter, attachments=Counter(a.kind for a in photos))
    said = await _reporter_messages(desk, ticket)
    if said:
        lines = "\n".join(desk.staff_text("card.said_line", text=note) for note in said)
        text += "\n\n" + desk.staff_text("card.said", lines=Safe(lines))
    desk.mail.send(officer.channel, officer.user_id, OutText(text=text), ticket_id=ticket.id, role="details")
    await _send_place_and_photos(desk, ticket, officer.channel, officer.user_id, photos)


async def _reporter_messages(desk: Desk, ticket: Ticket) -> list[str]:
    """What the reporter has written to the unit since filing (answers, additions), oldest first."""
    from sqlmodel import col

    query = (
        select(TicketEvent.note)
        .where(
            TicketEvent.ticket_id == ticket.id,
            TicketEvent.actor_kind == "citizen",
            col(TicketEvent.action).in_(["answered", "citizen_message"]),
            col(TicketEvent.note).is_not(None),
        )
        .order_by(col(TicketEvent.id))
    )
    return [note for note in await desk.session.exec(query) if note]


async def to_unit_thread(
    desk: Desk,
    ticket: Ticket,
    key: str,
    *,
    media: Sequence[MediaRef] = (),
    with_text: bool = True,
    **params: Any,
) -> None:
    """Something from the citizen for the unit: a reply to the card in the group, or, for a
    confidential ticket, privately to the officer who holds it (the group while nobody does).
    Without `with_text`, only the media (the words went before)."""
    assert ticket.id is not None
    text = desk.staff_text(key, reference=ticket.reference, **params)
    targets: list[tuple[str, str]]
    if ticket.identity == Identity.CONFIDENTIAL and ticket.holder_staff_id:
        holder = await desk.session.get(Staff, ticket.holder_staff_id)
        targets = [(holder.channel, holder.user_id)] if holder else []
        text = desk.staff_text(key, reference=ticket.reference, **params)
    else:
        targets = await card_chats(desk, ticket)
        if ticket.identity == Identity.CONFIDENTIAL:
            text = desk.staff_text("thread.confidential_waiting", reference=ticket.reference)
            media = ()
    for channel, chat_id in targets:
        card_id = await latest_link(session=desk.session, ticket_id=ticket.id, role=CARD, chat_id=chat_id)
        if with_text:
            desk.mail.send(
                channel, chat_id, OutText(text=text, reply_to=card_id), ticket_id=ticket.id, role="thread"
            )
        for item in media:
            desk.mail.send(
                channel,
                chat_id,
                OutMedia(media=item, caption=ticket.reference),
                ticket_id=ticket.id,
                role="thread",
            )


# what of an officer's reply can reach the citizen besides its words (a sticker or a location cannot)
RELAYED_KINDS = (InboundKind.PHOTO, InboundKind.VOICE, InboundKind.DOCUMENT)


def relayable(inbound: Inbound) -> tuple[str, tuple[MediaRef, ...]] | None:
    """An officer's reply as it goes to the citizen: its words (or the file's emoji when it has
    none) and its photo, voice note or document; None when nothing of it can go."""
    text = (inbound.text or "").strip()
    media = inbound.media if inbound.kind in RELAYED_KINDS else ()
    if not text and not media:
        return None
    return text or MEDIA_EMOJI.get(media[0].kind, "📎"), media


async def relay_to_citizens(
    desk: Desk, ticket: Ticket, officer: Staff, text: str, media: Sequence[MediaRef] = ()
) -> bool:
    """An officer's message (a reply to the card) reaches the citizens, signed with the unit; False
    when nobody could be told (a reporter of the Open311 API has no chat), the message only recorded."""
    city = desk.deps.city
    desk.session.add(
        TicketEvent(
            ticket_id=ticket.id or 0,
            at=desk.now,
            actor_kind=officer.role,
            actor_id=str(officer.id),
            action="officer_message",
            note=text,
            details=_media_counts(media),
        )
    )
    signature_name = officer.display_name if city.officers.sign_with_name and officer.display_name else None
    audience = await _audience(desk, ticket, reporter_only=True)  # a reply to the card is to the reporter
    for citizen in audience:
        lang = citizen.language
        unit = staff_rules.unit_name(city, ticket.unit, lang)
        sign = (
            desk.deps.texts("relay.signed_name", lang, name=signature_name, unit=unit)
            if signature_name
            else unit
        )
        body = desk.deps.texts("relay.from_unit", lang, reference=ticket.reference, signature=sign, text=text)
        button = Button(label=desk.deps.texts.plain("answer.button", lang), payload=f"{MENU}|ans:{ticket.id}")
        for item in media:
            desk.mail.send(
                citizen.channel, citizen.chat_id, OutMedia(media=item), ticket_id=ticket.id, role="relay"
            )
        desk.mail.send(
            citizen.channel,
            citizen.chat_id,
            OutText(text=body, buttons=((button,),)),
            ticket_id=ticket.id,
            role="relay",
            language=lang,
            template="officer_message",
            template_params={"reference": ticket.reference, "unit": sign, "text": text},
        )
    return bool(audience)


async def citizen_message(
    desk: Desk,
    ticket: Ticket,
    citizen: Citizen,
    text: str,
    media: Sequence[MediaRef] = (),
    *,
    key: str | None = None,
    media_only: bool = False,
) -> None:
    """A citizen adds to their ticket outside a question: recorded, and passed to the unit.

    `media` (photos, voice notes, documents) are kept as the ticket's attachments and follow the
    text in the unit's thread; `media_only`: the words went to the unit already (an answer), only
    the files follow."""
    assert ticket.id is not None and citizen.id is not None
    desk.session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=desk.now,
            actor_kind="citizen",
            actor_id=str(citizen.id),
            action="citizen_message",
            note=text or None,
            details=_media_counts(media),
        )
    )
    origin = Channel(citizen.channel)
    media = [item if item.channel else item.model_copy(update={"channel": origin}) for item in media]
    for item in media:
        desk.session.add(
            Attachment(
                ticket_id=ticket.id,
                kind=attachment_kind(item.kind),
                channel=citizen.channel,
                file_id=item.file_id,
                unique_id=item.unique_id,
                created_at=desk.now,
            )
        )
    if key is None:
        key = "thread.citizen_message" if citizen.id == ticket.citizen_id else "thread.follower_message"
    label = MEDIA_EMOJI.get(media[0].kind, "📎") if media else ""
    await to_unit_thread(desk, ticket, key, text=text or label, media=media, with_text=not media_only)


def _media_counts(media: Sequence[MediaRef]) -> dict[str, int]:
    """A message's files as its event records them: photos always, other kinds when there are some."""
    kinds = Counter(attachment_kind(item.kind) for item in media)
    return {"photos": kinds["photo"], **{k: n for k, n in kinds.items() if k != "photo"}}


async def add_proof(desk: Desk, ticket: Ticket, media: Sequence[MediaRef]) -> None:
    """Further photos of a resolution (the rest of an album): kept and shown to the citizens."""
    for item in media:
        desk.session.add(
            Attachment(
                ticket_id=ticket.id or 0,
                kind="photo",
                channel=Channel.TELEGRAM.value,
                file_id=item.file_id,
                unique_id=item.unique_id,
                added_by="officer",
                created_at=desk.now,
            )
        )
    for citizen in await _audience(desk, ticket, reporter_only=False):
        for item in media:
            desk.mail.send(
                citizen.channel,
                citizen.chat_id,
                OutMedia(media=item, caption=ticket.reference),
                ticket_id=ticket.id,
                role="notice",
            )


async def count_open(desk: Desk, unit: str) -> int:
    from models.tickets import OPEN_STATUSES

    query = (
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.unit == unit,
            Ticket.status.in_([s.value for s in OPEN_STATUSES]),  # type: ignore[attr-defined]
        )
    )
    return int((await desk.session.exec(query)).one())


def staff_actor(staff: Staff) -> Actor:
    return Actor.of_staff(staff)


def is_admin(staff: Staff | None) -> bool:
    return staff is not None and staff.role == Role.ADMIN
