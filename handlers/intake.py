"""Filing a complaint: category, description, location, photos, identity, summary, confirm.

Photos, voice notes and documents are kept as the complaint's attachments wherever they arrive
(each kind up to the city's `photos_max`); a voice note sent instead of the description is the
description (the officer listens to it), and the category is then chosen with the buttons.

Which step comes next is read off the draft (the first thing still missing), so editing a
part of the summary simply clears that part and the conversation returns to the summary.
"""

from __future__ import annotations

from handlers import ticket_actions
from handlers.context import Turn, pairs
from handlers.format import attachment_counts, expected_response, local_time, summary_text
from handlers.i18n import Safe
from handlers.menu import show_menu
from handlers.messages import Button, Inbound, InboundKind, MediaRef, OutText
from handlers.states import INTAKE_STATES, State
from models import OPEN_STATUSES, Identity, Ticket
from workflows import duplicates, routing, tickets
from workflows.drafts import ATTACHMENT_KINDS, AttachmentKind, Draft, DraftAttachment, attachment_kind

CONFIDENT = 0.45  # below this the classifier's guess is not offered; the citizen picks


def location_required(turn: Turn, draft: Draft) -> bool:
    return turn.deps.city.category(draft.category or "").location == "required"


def draft_of(turn: Turn) -> Draft:
    return Draft.of(turn.data)


def save(turn: Turn, draft: Draft) -> None:
    turn.set_data(draft=draft.dump())


def next_state(turn: Turn, draft: Draft) -> State:
    """The first step whose answer the draft still lacks."""
    if not draft.category:
        return State.CATEGORY
    if not draft.description:
        return State.DESCRIPTION
    if not draft.has_location or (location_required(turn, draft) and not draft.has_place):
        return State.LOCATION
    if needs_area(turn, draft):
        return State.AREA
    if not draft.attachments_done and draft.count("photo") < turn.deps.city.limits.photos_max:
        return State.PHOTOS
    if draft.identity is None:
        return State.IDENTITY
    return State.SUMMARY


async def advance(turn: Turn, draft: Draft) -> None:
    """Save the draft, move to the next missing step and ask its question."""
    save(turn, draft)
    state = next_state(turn, draft)
    if state == State.SUMMARY:
        turn.set_data(before_edit=None)  # an edit is finished once the summary is back
    turn.goto(state)
    await prompt(turn)


async def prompt(turn: Turn) -> None:
    """Ask the question of the current step (again)."""
    asker = PROMPTS.get(turn.state)
    if asker is None:
        await show_menu(turn)
        return
    asker(turn, draft_of(turn))


async def start(turn: Turn, text: str | None = None, media: MediaRef | None = None) -> None:
    """Begin a complaint: from the menu, from a free-text message, or from a photo, voice note or
    document (and caption)."""
    now = turn.deps.clock.now()
    if not await tickets.may_file(session=turn.session, citizen=turn.citizen, city=turn.deps.city, now=now):
        turn.say("limits.tickets_per_day", limit=turn.deps.city.limits.tickets_per_day)
        return
    turn.conversation.data = {}
    draft = Draft()
    maximum = turn.deps.city.limits.photos_max
    if media is not None and maximum > 0:
        kind = attachment_kind(media.kind)
        draft.attachments.append(DraftAttachment(kind=kind, file_id=media.file_id, unique_id=media.unique_id))
        turn.set_data(album=media.group_id)
        if kind == "voice" and text is None:
            speak_description(turn, draft, media)
        else:
            turn.say(f"{ATTACHMENT_TEXTS[kind]}.kept", count=1, maximum=maximum)
    elif media is not None and media.kind != "photo":
        turn.say(KIND_NUDGES[InboundKind(media.kind)])  # the city takes no attachments
    if text is not None and media is not None and not description_ok(turn, text):
        text = None  # the caption is refused (said why); the file still starts the complaint
    if text is None:
        save(turn, draft)
        turn.goto(State.CATEGORY)
        await prompt(turn)
        return
    await take_description_and_guess(turn, draft, text)


async def take_description_and_guess(turn: Turn, draft: Draft, text: str) -> None:
    """Keep the text as the description (if it is one) and offer the classifier's guess."""
    if not description_ok(turn, text):
        return
    draft.description = text.strip()
    draft.spoken = None  # the voice note, if any, stays attached
    if draft.category:
        await advance(turn, draft)
        return
    guess = turn.deps.classifier.classify(text)
    save(turn, draft)
    if guess.confidence >= CONFIDENT and guess.category != turn.deps.city.fallback_category:
        turn.goto(State.CATEGORY_CONFIRM, guess=guess.category)
    else:
        turn.goto(State.CATEGORY)
    await prompt(turn)


def speak_description(turn: Turn, draft: Draft, voice: MediaRef) -> None:
    """A voice note instead of the words: the officer listens to it; the description says so."""
    draft.description = turn.t("attachments.note.voice")
    draft.spoken = voice.file_id
    turn.say("intake.voice.as_description")


def description_ok(turn: Turn, text: str) -> bool:
    """Refuse (politely, keeping the step) descriptions that are too short or too long."""
    limits = turn.deps.city.limits
    length = len(text.strip())
    if length < limits.description_min_chars:
        turn.say("intake.description.too_short", minimum=limits.description_min_chars)
        return False
    if length > limits.description_max_chars:
        turn.say("intake.description.too_long", maximum=limits.description_max_chars, length=length)
        return False
    return True


# --- prompts -------------------------------------------------------------------------------


def ask_category(turn: Turn, draft: Draft) -> None:
    city = turn.deps.city
    buttons = [
        turn.button("intake.category.button", f"cat:{key}", emoji=c.emoji, name=c.name.get(turn.lang))
        for key, c in city.categories.items()
    ]
    key = "intake.category.ask_with_text" if draft.description else "intake.category.ask"
    turn.say(key, buttons=[*pairs(buttons), [cancel_button(turn)]])


def ask_category_confirm(turn: Turn, draft: Draft) -> None:
    guess = turn.data.get("guess") or turn.deps.city.fallback_category
    category = turn.deps.city.category(guess)
    turn.say(
        "intake.category.confirm",
        name=category.name.get(turn.lang),
        emoji=category.emoji,
        buttons=[
            [turn.button("intake.category.yes", f"cat:{guess}")],
            [turn.button("intake.category.other", "cat_other")],
        ],
    )


def ask_description(turn: Turn, draft: Draft) -> None:
    limits = turn.deps.city.limits
    turn.say("intake.description.ask", maximum=limits.description_max_chars, buttons=[[cancel_button(turn)]])


def ask_location(turn: Turn, draft: Draft) -> None:
    category = turn.deps.city.category(draft.category or "")
    optional = category.location == "optional"
    key = "intake.location.ask_optional" if optional else "intake.location.ask_required"
    turn.send(
        OutText(
            text=turn.t(key),
            request_location=turn.label("intake.location.share_button"),
            skip_label=turn.label("intake.location.skip_button") if optional else None,
        )
    )


def needs_area(turn: Turn, draft: Draft) -> bool:
    """A typed address naming no area, for a category whose unit depends on the area: ask once."""
    return (
        bool(draft.address)
        and draft.latitude is None
        and draft.area is None
        and not draft.area_asked
        and bool(turn.deps.city.category(draft.category or "").area_units)
    )


def ask_area(turn: Turn, draft: Draft) -> None:
    areas = [(key, area) for key, area in turn.deps.city.areas.items() if area.kind == "kecamatan"]
    buttons = [Button(label=area.name, payload=f"{turn.conversation.step}|area:{key}") for key, area in areas]
    turn.say(
        "intake.area.ask",
        buttons=[*pairs(buttons, per_row=1), [turn.button("intake.area.unknown_button", "area:")]],
    )


def ask_photos(turn: Turn, draft: Draft) -> None:
    maximum = turn.deps.city.limits.photos_max
    done = [[turn.button("intake.photos.done_button", "photos_done")]]
    extra = {a.kind for a in draft.attachments if a.file_id != draft.spoken}
    if extra == {"photo"}:
        turn.say("intake.photos.more", count=draft.count("photo"), maximum=maximum, buttons=done)
        return
    if extra:
        counts = attachment_counts(turn.deps.texts, turn.lang, draft.counts())
        turn.say("intake.attachments.more", attachments=counts, buttons=done)
        return
    turn.say(
        "intake.photos.ask",
        maximum=maximum,
        buttons=[[turn.button("intake.photos.skip_button", "photos_done")]],
    )


def ask_identity(turn: Turn, draft: Draft) -> None:
    category = turn.deps.city.category(draft.category or "")
    choices = [Identity.ANONYMOUS, Identity.CONFIDENTIAL]
    key = "intake.identity.ask_sensitive"
    if not category.sensitive:
        choices.insert(0, Identity.PUBLIC)
        key = "intake.identity.ask"
    buttons = [[turn.button(f"intake.identity.{c.value}_button", f"id:{c.value}")] for c in choices]
    turn.say(key, buttons=buttons)


def ask_summary(turn: Turn, draft: Draft) -> None:
    turn.send(
        OutText(
            text=summary_text(turn, draft),
            buttons=(
                (turn.button("intake.summary.send_button", "submit"),),
                (
                    turn.button("intake.summary.edit_button", "edit"),
                    turn.button("intake.summary.cancel_button", "cancel"),
                ),
            ),
        )
    )


EDITABLE = ("category", "description", "location", "photos", "identity")


def ask_edit(turn: Turn, draft: Draft) -> None:
    buttons = [turn.button(f"intake.edit.{part}", f"edit:{part}") for part in EDITABLE]
    turn.say("intake.edit.ask", buttons=[*pairs(buttons), [turn.button("intake.edit.back", "edit:back")]])


def cancel_button(turn: Turn) -> Button:
    return turn.button("intake.cancel_button", "cancel")


PROMPTS = {
    State.CATEGORY: ask_category,
    State.CATEGORY_CONFIRM: ask_category_confirm,
    State.DESCRIPTION: ask_description,
    State.LOCATION: ask_location,
    State.AREA: ask_area,
    State.PHOTOS: ask_photos,
    State.IDENTITY: ask_identity,
    State.SUMMARY: ask_summary,
    State.EDIT: ask_edit,
    State.ME_TOO: lambda turn, draft: ask_me_too(turn),
}


def ask_me_too(turn: Turn) -> None:
    offer = turn.data.get("me_too") or {}
    turn.say(
        "intake.me_too.ask",
        reference=offer.get("reference", ""),
        summary=Safe(offer.get("summary", "")),
        reporters=offer.get("reporters", 1),
        buttons=[
            [turn.button("intake.me_too.join_button", "me_too:join")],
            [turn.button("intake.me_too.new_button", "me_too:new")],
        ],
    )


# --- answers -------------------------------------------------------------------------------


async def on_button(turn: Turn, action: str) -> bool:
    """Handle a current-step button of the intake; False when it means nothing here."""
    draft = draft_of(turn)
    state = turn.state
    name, _, value = action.partition(":")
    if name == "cancel":
        await cancel(turn)
    elif name == "cat" and state in (State.CATEGORY, State.CATEGORY_CONFIRM):
        await choose_category(turn, draft, value)
    elif name == "cat_other" and state == State.CATEGORY_CONFIRM:
        turn.goto(State.CATEGORY)
        await prompt(turn)
    elif name == "area" and state == State.AREA and (not value or value in turn.deps.city.areas):
        draft.area = value or None
        draft.area_asked = True
        await advance(turn, draft)
    elif name == "photos_done" and state == State.PHOTOS:
        draft.attachments_done = True
        await advance(turn, draft)
    elif name == "id" and state == State.IDENTITY and value in Identity.__members__.values():
        draft.identity = Identity(value)
        await advance(turn, draft)
    elif name == "submit" and state == State.SUMMARY:
        await submit(turn, draft)
    elif name == "me_too" and state == State.ME_TOO and value == "join":
        await join_existing(turn, draft)
    elif name == "me_too" and state == State.ME_TOO and value == "new":
        turn.set_data(me_too={"declined": True})
        await submit(turn, draft)
    elif name == "edit" and state == State.SUMMARY and not value:
        turn.goto(State.EDIT)
        await prompt(turn)
    elif name == "edit" and state == State.EDIT:
        await edit(turn, draft, value)
    else:
        return False
    return True


async def choose_category(turn: Turn, draft: Draft, key: str) -> None:
    """Set the category; what the new category demands is asked again (location, identity)."""
    category = turn.deps.city.categories.get(key)
    if category is None:
        turn.say("errors.stale_button")
        await prompt(turn)
        return
    draft.category = key
    if category.location == "required":
        draft.location_skipped = False  # a skipped location must now be given
    if category.sensitive and draft.identity == Identity.PUBLIC:
        draft.identity = None  # complaints about officials are never public: choose again
    await advance(turn, draft)


async def edit(turn: Turn, draft: Draft, part: str) -> None:
    """Clear one part and ask for it again; cancelling goes back to the summary unchanged."""
    if part in EDITABLE:
        turn.set_data(before_edit=draft.dump())
    replaced = [a for a in draft.attachments if a.file_id != draft.spoken]
    if part == "photos" and replaced:
        counts = Draft(attachments=replaced).counts()
        turn.say("intake.photos.replacing", attachments=attachment_counts(turn.deps.texts, turn.lang, counts))
    if part == "category":
        draft.category = None
    elif part == "description":  # a voice note that was the description goes with it
        draft.attachments = [a for a in draft.attachments if a.file_id != draft.spoken]
        draft.description, draft.spoken = None, None
    elif part == "location":
        draft.latitude = draft.longitude = draft.address = draft.area = None
        draft.location_skipped = draft.area_asked = False
    elif part == "photos":  # every attachment but the voice note that is the description
        draft.attachments = [a for a in draft.attachments if a.file_id == draft.spoken]
        draft.attachments_done = False
    elif part == "identity":
        draft.identity = None
    await advance(turn, draft)


async def on_text(turn: Turn, text: str) -> None:
    """Free text at an intake step: an answer where text is expected, else a gentle nudge."""
    draft = draft_of(turn)
    state = turn.state
    if state == State.CATEGORY_CONFIRM and turn.means("yes", text):
        await choose_category(turn, draft, turn.data.get("guess") or "")
    elif state == State.CATEGORY_CONFIRM and turn.means("no", text):
        turn.goto(State.CATEGORY)
        await prompt(turn)
    elif state == State.SUMMARY and turn.means("yes", text):
        await submit(turn, draft)
    elif state == State.ME_TOO and turn.means("yes", text):
        await join_existing(turn, draft)
    elif state == State.ME_TOO and turn.means("no", text):
        turn.set_data(me_too={"declined": True})
        await submit(turn, draft)
    elif state == State.PHOTOS and (turn.means("done", text) or turn.means("skip", text)):
        draft.attachments_done = True
        await advance(turn, draft)
    elif state in (State.CATEGORY, State.CATEGORY_CONFIRM):
        if draft.description and not draft.spoken:
            await reclassify(turn, draft, text)
        else:
            await take_description_and_guess(turn, draft, text)
    elif state == State.DESCRIPTION:
        if description_ok(turn, text):
            draft.description = text.strip()
            await advance(turn, draft)
    elif state == State.LOCATION:
        await location_text(turn, draft, text)
    elif state == State.AREA:
        area = routing.area_named_in(turn.deps.city, text)
        if area is None and not (turn.means("skip", text) or turn.means("no", text)):
            turn.say("nudge.intake.area")
            await prompt(turn)
            return
        draft.area, draft.area_asked = area, True
        await advance(turn, draft)
    else:
        turn.say(f"nudge.{state.value}")
        await prompt(turn)


async def reclassify(turn: Turn, draft: Draft, text: str) -> None:
    """More words at the category question: added to the description, the whole read again."""
    combined = f"{draft.description}\n{text.strip()}"
    if len(combined) <= turn.deps.city.limits.description_max_chars:
        draft.description = combined
        save(turn, draft)
        turn.say("intake.description.added")
    guess = turn.deps.classifier.classify(draft.description or text)
    if guess.category != turn.deps.city.fallback_category and guess.confidence >= CONFIDENT / 2:
        turn.goto(State.CATEGORY_CONFIRM, guess=guess.category)
    else:
        turn.goto(State.CATEGORY)
    await prompt(turn)


async def location_text(turn: Turn, draft: Draft, text: str) -> None:
    city = turn.deps.city
    category = city.category(draft.category or "")
    if turn.means("skip", text) or turn.means("no", text):
        if category.location == "required":
            turn.say("intake.location.required")
            await prompt(turn)
            return
        draft.location_skipped = True
        turn.send(OutText(text=turn.t("intake.location.skipped"), remove_keyboard=True))
        await advance(turn, draft)
        return
    address = text.strip()
    if len(address) < 5 or len(address) > city.limits.address_max_chars:
        turn.say("intake.location.address_length", maximum=city.limits.address_max_chars)
        return
    draft.address = address
    draft.area = routing.area_named_in(city, address)
    draft.area_asked = False
    turn.send(OutText(text=turn.t("intake.location.address_received"), remove_keyboard=True))
    await advance(turn, draft)


async def on_location(turn: Turn) -> None:
    """A shared location: the answer at the location step, else kept for later or refused."""
    location = turn.inbound.location
    assert location is not None
    draft = draft_of(turn)
    if turn.state in INTAKE_STATES and turn.state != State.LOCATION and not draft.has_place:
        draft.latitude, draft.longitude = location.latitude, location.longitude
        save(turn, draft)
        turn.say("intake.location.kept")
        await prompt(turn)  # back to the question the location interrupted
        return
    if turn.state != State.LOCATION:
        turn.say("nudge.location_not_now")
        await prompt(turn)
        return
    draft.latitude, draft.longitude = location.latitude, location.longitude
    draft.address = draft.area = None
    turn.send(OutText(text=turn.t("intake.location.received"), remove_keyboard=True))
    await advance(turn, draft)


def attachments_of(inbound: Inbound) -> tuple[MediaRef, ...]:
    """What of a message is kept as a ticket's attachments: its photos, voice note or document."""
    return inbound.media if inbound.kind in ATTACHMENT_KINDS else ()


# the catalogue's texts about each kind: "<prefix>.kept", "<prefix>.limit"
ATTACHMENT_TEXTS: dict[AttachmentKind, str] = {
    "photo": "intake.photos",
    "voice": "intake.voice",
    "document": "intake.documents",
}


async def on_media(turn: Turn) -> None:
    """A photo, voice note or document is never thrown away: it starts a complaint, or joins the
    one being written (a voice note instead of the description is the description)."""
    item = turn.inbound.media[0]
    kind = attachment_kind(item.kind)
    if turn.state not in INTAKE_STATES:
        caption = (turn.inbound.text or "").strip()
        long_enough = len(caption) >= turn.deps.city.limits.description_min_chars
        await start(turn, caption if long_enough else None, media=item)
        return
    draft = draft_of(turn)
    maximum = turn.deps.city.limits.photos_max
    same_album = item.group_id is not None and item.group_id == turn.data.get("album")
    turn.set_data(album=item.group_id)
    if maximum == 0 and kind != "photo":
        turn.say(KIND_NUDGES[turn.inbound.kind])  # the city takes no attachments
        await prompt(turn)
        return
    if draft.count(kind) >= maximum:
        turn.say(f"{ATTACHMENT_TEXTS[kind]}.limit", maximum=maximum)
        if turn.state != State.PHOTOS and not same_album:
            await prompt(turn)
        return
    new = all(a.file_id != item.file_id for a in draft.attachments)
    if new:
        draft.attachments.append(DraftAttachment(kind=kind, file_id=item.file_id, unique_id=item.unique_id))
    caption = (turn.inbound.text or "").strip()
    speaking = turn.state in (State.CATEGORY, State.DESCRIPTION) and not draft.description
    if kind == "voice" and new and speaking and not caption:
        speak_description(turn, draft, item)
        await advance(turn, draft)  # on to the location, or the category chosen with buttons
        return
    if turn.state != State.PHOTOS:
        save(turn, draft)
        turn.say(f"{ATTACHMENT_TEXTS[kind]}.kept", count=draft.count(kind), maximum=maximum)
        if caption and turn.state in (State.CATEGORY, State.CATEGORY_CONFIRM, State.DESCRIPTION):
            await on_text(turn, caption)  # the caption answers the question the file interrupted
        elif not same_album:
            await prompt(turn)  # back to the question the file interrupted
        return
    if kind == "photo" and draft.count("photo") >= maximum:
        turn.say("intake.photos.full", maximum=maximum)
        draft.attachments_done = True
        await advance(turn, draft)
        return
    save(turn, draft)
    await prompt(turn)


async def cancel(turn: Turn) -> None:
    """Leave the complaint (nothing is filed), or, in the middle of an edit, leave only the edit."""
    before = turn.data.get("before_edit")
    if before and turn.state in INTAKE_STATES:
        turn.send(OutText(text=turn.t("intake.edit.cancelled"), remove_keyboard=True))
        await advance(turn, Draft.model_validate(before))
        return
    turn.reset()
    turn.send(OutText(text=turn.t("intake.cancelled"), remove_keyboard=True))
    await show_menu(turn)


async def submit(turn: Turn, draft: Draft) -> None:
    """File the ticket and tell the citizen its reference and the expected response time."""
    city = turn.deps.city
    now = turn.deps.clock.now()
    if not await tickets.may_file(session=turn.session, citizen=turn.citizen, city=city, now=now):
        turn.say("limits.tickets_per_day", limit=city.limits.tickets_per_day)
        return
    try:
        tickets.check_draft(draft, city)
    except tickets.DraftIncomplete:
        await advance(turn, draft)
        return
    if not (turn.data.get("me_too") or {}).get("declined") and await offer_me_too(turn, draft):
        return
    route = await tickets.route_draft(
        session=turn.session, city=city, areas=turn.deps.areas, draft=draft, now=now
    )
    ticket = await tickets.submit(
        session=turn.session,
        citizen=turn.citizen,
        draft=draft,
        city=city,
        now=now,
        route=route,
        calendars=turn.deps.calendars,
    )
    await ticket_actions.new_ticket(turn.desk, ticket)
    turn.reset()
    unit = city.units[ticket.unit]
    turn.say(
        "intake.submitted",
        reference=ticket.reference,
        unit=unit.name.get(turn.lang),
        response=Safe(expected_response(turn, ticket.response_target_seconds, ticket.sla_calendar)),
    )
    await show_menu(turn, brief=True)


async def offer_me_too(turn: Turn, draft: Draft) -> bool:
    """An open ticket like this one nearby: offer to join it instead. True if offered."""
    city = turn.deps.city
    existing = await duplicates.nearby_open_ticket(
        session=turn.session, citizen=turn.citizen, draft=draft, city=city, now=turn.deps.clock.now()
    )
    if existing is None:
        return False
    category = city.category(existing.category)
    assert existing.latitude is not None and existing.longitude is not None
    assert draft.latitude is not None and draft.longitude is not None
    # what is public about it: never its words, its photos or who filed it
    summary = turn.t(
        "intake.me_too.summary",
        emoji=category.emoji,
        category=category.name.get(turn.lang),
        status=turn.t(f"ticket_status.{existing.status}"),
        distance=round(
            duplicates.distance_m(draft.latitude, draft.longitude, existing.latitude, existing.longitude)
        ),
        filed=local_time(turn, existing.created_at),
    )
    offer = {
        "ticket": existing.id,
        "reference": existing.reference,
        "summary": summary,
        "reporters": existing.reporters,
    }
    turn.goto(State.ME_TOO, me_too=offer)
    ask_me_too(turn)
    return True


async def join_existing(turn: Turn, draft: Draft) -> None:
    """'Me too': the citizen follows the open ticket; their photos and words are added to it."""
    offer = turn.data.get("me_too") or {}
    ticket = await turn.session.get(Ticket, offer.get("ticket") or 0, with_for_update=True)
    if ticket is None or ticket.status not in OPEN_STATUSES:
        turn.set_data(me_too={"declined": True})
        turn.say("intake.me_too.gone")
        await submit(turn, draft)
        return
    desk = turn.desk
    await duplicates.join(
        session=turn.session,
        ticket=ticket,
        citizen=turn.citizen,
        city=turn.deps.city,
        now=desk.now,
        calendars=turn.deps.calendars,
    )
    channel = turn.inbound.channel  # the draft's attachments are the citizen's, sent in this chat
    media = tuple(
        MediaRef(kind=a.kind, file_id=a.file_id, unique_id=a.unique_id, channel=channel)
        for a in draft.attachments
    )
    await ticket_actions.citizen_message(desk, ticket, turn.citizen, draft.description or "", media)
    await ticket_actions.show_card(desk, ticket)
    turn.reset()
    turn.say("intake.me_too.joined", reference=ticket.reference, reporters=ticket.reporters)
    await show_menu(turn, brief=True)


# what cannot be used; a voice note or document only when no file came with it (a platform that does
# not pass it on) or the city takes no attachments (photos_max 0)
KIND_NUDGES = {
    InboundKind.STICKER: "unsupported.sticker",
    InboundKind.VOICE: "unsupported.voice",
    InboundKind.DOCUMENT: "unsupported.document",
    InboundKind.CONTACT: "unsupported.contact",
    InboundKind.OTHER: "unsupported.other",
}
