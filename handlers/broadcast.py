"""An admin composes an announcement in private chat: /broadcast (/siaran), and stops one.

The steps, one question each: the Indonesian text; the English text (or the same for everyone);
an optional photo; the segment (everyone, or a kind and then its value); the send time (now, or a
typed local time); a preview as citizens will see it, with the number of recipients by channel,
and "Kirim". The draft lives in the conversation's data, so a restart continues at the same step,
and nothing is stored as a broadcast before "Kirim": cancelling (the button, "batal", /batal) at
any step leaves nothing behind. Which step comes next is worked out from what the draft holds
(`_next_state`), so every path (a re-asked text, a changed segment) lands where it should.

Limits are the ones the announcement must fit on Telegram: a message's text (4096), or a photo's
caption (1024) when there is a photo, counted as Telegram counts them (UTF-16 units: an emoji
counts two). A text over the caption limit stays in the draft until the admin sends a shorter
one or drops the photo.

The buttons "bc|cancel|<id>" (under the progress message workflows/broadcasts.py keeps up to date,
and under the "scheduled" confirmation), then "bc|sure|<id>" / "bc|keep|<id>", work from any
message: the broadcast's status, not the conversation step, says whether they still mean anything.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers.context import Turn, pairs
from handlers.format import local_time
from handlers.i18n import Safe, escape, normalise
from handlers.messages import Button, InboundKind, MediaRef, Outbound, OutMedia, OutText, units
from handlers.states import State
from handlers.ticket_actions import is_admin
from models.broadcasts import Broadcast, BroadcastStatus
from workflows import broadcasts
from workflows.broadcasts import (
    ANNOUNCED_CHANNELS,
    CANCEL_PREFIX,
    CAPTION_LIMIT,
    SEGMENT_KINDS,
    TEXT_LIMIT,
    BroadcastError,
    Segment,
)
from workflows.clock import as_utc
from workflows.reply_window import TEXT_PARAMETER_MAX, plain

COMPOSE_VALID = timedelta(hours=12)  # a draft left this long lapses: later text is not taken as its part
DRAFT = "broadcast"  # the draft's key in the conversation's data
PROGRESS = CANCEL_PREFIX.split("|")[0]  # "bc|cancel|<id>" (the runner's), "bc|sure|<id>", "bc|keep|<id>"
LANGUAGES = ("id", "en")  # the order texts are asked in
PREVIEW_PAYLOAD = "an|preview"  # the 🔕 of a preview (handlers/announcements.py explains it)

_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_DATE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})(?:[-/.](\d{2}|\d{4}))?$")


# --- the conversation -----------------------------------------------------------------------------


async def start(turn: Turn) -> None:
    """/broadcast, /siaran: a new draft (an unfinished one is dropped), then the first question."""
    if not is_admin(turn.staff):
        turn.say("broadcast_dialog.admin_only")
        return
    turn.set_data(**{DRAFT: {"touched": turn.desk.now.isoformat()}})
    await _advance(turn)


def _draft(turn: Turn) -> dict[str, Any]:
    draft = turn.data.get(DRAFT)
    return dict(draft) if isinstance(draft, dict) else {}


def _save(turn: Turn, draft: dict[str, Any]) -> None:
    turn.set_data(**{DRAFT: {**draft, "touched": turn.desk.now.isoformat()}})


def _drop(turn: Turn) -> None:
    turn.conversation.data = {k: v for k, v in turn.data.items() if k != DRAFT}
    turn.goto(State.IDLE)


async def on_input(turn: Turn) -> bool:
    """Input while a draft is being composed; False for what is not the draft's (a menu or survey
    button, a command other than /batal), which the router handles as anywhere else."""
    inbound = turn.inbound
    kind = inbound.kind
    step_button = kind == InboundKind.BUTTON and (inbound.payload or "").partition("|")[0] == str(
        turn.conversation.step
    )
    cancel_command = kind == InboundKind.COMMAND and inbound.command in ("batal", "cancel")
    if kind in (InboundKind.COMMAND, InboundKind.BUTTON) and not (step_button or cancel_command):
        return False
    draft = _draft(turn)
    touched = draft.get("touched")
    if not draft or not touched or turn.desk.now - as_utc(datetime.fromisoformat(touched)) > COMPOSE_VALID:
        _drop(turn)
        turn.say("broadcast_dialog.lapsed", hours=int(COMPOSE_VALID.total_seconds() // 3600))
        return True
    if not is_admin(turn.staff):  # no longer an admin since the draft was begun
        _drop(turn)
        turn.say("broadcast_dialog.admin_only")
        return True
    text = (inbound.text or "").strip()
    choice = (inbound.payload or "").partition("|")[2] if step_button else None
    if cancel_command or choice == "cancel" or (kind == InboundKind.TEXT and turn.means("cancel", text)):
        _drop(turn)
        turn.say("broadcast_dialog.cancelled_draft")
        return True
    if choice == "nophoto":
        draft.update(photo=None, photo_done=True)
        _save(turn, draft)
        await _advance(turn)
        return True
    state = turn.state
    if state in (State.BROADCAST_TEXT_ID, State.BROADCAST_TEXT_EN):
        await _on_text_step(turn, draft, choice, text)
    elif state == State.BROADCAST_PHOTO:
        await _on_photo_step(turn, draft, choice, text)
    elif state == State.BROADCAST_SEGMENT:
        await _on_segment(turn, draft, choice)
    elif state == State.BROADCAST_SEGMENT_VALUE:
        await _on_segment_value(turn, draft, choice)
    elif state == State.BROADCAST_TIME:
        await _on_time(turn, draft, choice, text)
    elif state == State.BROADCAST_PREVIEW:
        await _on_preview(turn, draft, choice)
    return True


async def _on_text_step(turn: Turn, draft: dict[str, Any], choice: str | None, text: str) -> None:
    lang = "id" if turn.state == State.BROADCAST_TEXT_ID else "en"
    kind = turn.inbound.kind
    if kind == InboundKind.PHOTO and turn.inbound.media:
        draft.update(photo=turn.inbound.media[0].model_dump(mode="json"), photo_done=True)
    if choice == "same" and lang == "en" and draft.get("texts", {}).get("id"):
        draft.update(en_same=True, texts={**draft["texts"], "en": draft["texts"]["id"]})
    elif kind in (InboundKind.TEXT, InboundKind.PHOTO) and text:
        limit = CAPTION_LIMIT if draft.get("photo") else TEXT_LIMIT
        if units(text) > limit:
            _save(turn, draft)  # a photo sent with the too-long caption is kept
            key = "broadcast_dialog.too_long_caption" if draft.get("photo") else "broadcast_dialog.too_long"
            turn.say(key, length=units(text), maximum=limit)
            await prompt(turn)
            return
        texts = {**draft.get("texts", {}), lang: text}
        if lang == "id" and draft.get("en_same"):
            texts["en"] = text
        draft["texts"] = texts
    elif kind not in (InboundKind.PHOTO,):
        await _not_here(turn, kind)
        return
    _save(turn, draft)
    await _advance(turn)


async def _on_photo_step(turn: Turn, draft: dict[str, Any], choice: str | None, text: str) -> None:
    kind = turn.inbound.kind
    if kind == InboundKind.PHOTO and turn.inbound.media:
        draft.update(photo=turn.inbound.media[0].model_dump(mode="json"), photo_done=True)
    elif choice == "skip" or (kind == InboundKind.TEXT and turn.means("skip", text)):
        draft.update(photo=None, photo_done=True)
    else:
        await _not_here(turn, kind)
        return
    _save(turn, draft)
    await _advance(turn)


async def _on_segment(turn: Turn, draft: dict[str, Any], choice: str | None) -> None:
    kind = (choice or "").removeprefix("seg:")
    if not (choice or "").startswith("seg:") or kind not in _kinds(turn):
        await _not_here(turn, turn.inbound.kind)
        return
    if kind == "everyone":
        draft["segment"] = {"kind": kind, "value": None}
        _save(turn, draft)
        await _advance(turn)
        return
    draft["segment_kind"] = kind
    _save(turn, draft)
    turn.goto(State.BROADCAST_SEGMENT_VALUE)
    await prompt(turn)


async def _on_segment_value(turn: Turn, draft: dict[str, Any], choice: str | None) -> None:
    kind = str(draft.get("segment_kind") or "")
    if choice == "back" or kind not in _kinds(turn):
        draft.pop("segment_kind", None)
        _save(turn, draft)
        turn.goto(State.BROADCAST_SEGMENT)
        await prompt(turn)
        return
    value = (choice or "").removeprefix("val:")
    if not (choice or "").startswith("val:") or value not in dict(_options(turn, kind)):
        await _not_here(turn, turn.inbound.kind)
        return
    draft["segment"] = {"kind": kind, "value": value}
    draft.pop("segment_kind", None)
    _save(turn, draft)
    await _advance(turn)


async def _on_time(turn: Turn, draft: dict[str, Any], choice: str | None, text: str) -> None:
    now = turn.desk.now
    if choice == "now" or (turn.inbound.kind == InboundKind.TEXT and _means(turn, "now", text)):
        draft.update(send_at=None, time_done=True)
    elif turn.inbound.kind == InboundKind.TEXT and text:
        moment = parse_send_time(
            text,
            now=now,
            zone=turn.deps.city.city.timezone,
            today=turn.deps.texts.words("broadcast_dialog.words_today"),
            tomorrow=turn.deps.texts.words("broadcast_dialog.words_tomorrow"),
        )
        if moment is None:
            turn.say("broadcast_dialog.time_unclear", example=_example_time(turn))
            return
        if moment <= now:
            turn.say("broadcast_dialog.time_past", when=local_time(turn, moment), now=local_time(turn, now))
            await prompt(turn)
            return
        draft.update(send_at=moment.isoformat(), time_done=True)
    else:
        await _not_here(turn, turn.inbound.kind)
        return
    _save(turn, draft)
    await _advance(turn)


async def _on_preview(turn: Turn, draft: dict[str, Any], choice: str | None) -> None:
    if choice == "segment":
        draft.pop("segment", None)
        _save(turn, draft)
        await _advance(turn)
    elif choice == "send":
        await _confirm(turn, draft)
    else:
        await _not_here(turn, turn.inbound.kind)


async def _not_here(turn: Turn, kind: InboundKind) -> None:
    """Something the step cannot use: say so, and ask the step again."""
    if kind in (InboundKind.TEXT, InboundKind.BUTTON) and turn.state in (
        State.BROADCAST_SEGMENT,
        State.BROADCAST_SEGMENT_VALUE,
        State.BROADCAST_PREVIEW,
    ):
        turn.say("broadcast_dialog.use_buttons")
    else:
        turn.say("broadcast_dialog.not_here")
    await prompt(turn, full=False)


# --- what comes next ------------------------------------------------------------------------------


def _next_state(draft: dict[str, Any]) -> State:
    """The first step whose answer the draft does not have yet (or no longer fits)."""
    texts = draft.get("texts") or {}
    for lang, state in zip(LANGUAGES, (State.BROADCAST_TEXT_ID, State.BROADCAST_TEXT_EN), strict=True):
        if not texts.get(lang):
            return state
    if not draft.get("photo_done"):
        return State.BROADCAST_PHOTO
    if draft.get("photo"):
        for lang, state in zip(LANGUAGES, (State.BROADCAST_TEXT_ID, State.BROADCAST_TEXT_EN), strict=True):
            if units(texts[lang]) > CAPTION_LIMIT:
                return state
    if not draft.get("segment"):
        return State.BROADCAST_SEGMENT
    if not draft.get("time_done"):
        return State.BROADCAST_TIME
    return State.BROADCAST_PREVIEW


async def _advance(turn: Turn) -> None:
    turn.goto(_next_state(_draft(turn)))
    await prompt(turn)


async def prompt(turn: Turn, *, full: bool = True) -> None:
    """Ask the current step's question (again); `full=False` at the preview: only its summary."""
    draft = _draft(turn)
    state = turn.state
    cancel = turn.button("broadcast_dialog.cancel_button", "cancel")
    if state in (State.BROADCAST_TEXT_ID, State.BROADCAST_TEXT_EN):
        lang = "id" if state == State.BROADCAST_TEXT_ID else "en"
        stored = (draft.get("texts") or {}).get(lang)
        if draft.get("photo") and stored and units(stored) > CAPTION_LIMIT:
            turn.say(
                "broadcast_dialog.ask_shorter",
                maximum=CAPTION_LIMIT,
                length=units(stored),
                lang_name=turn.t(f"broadcast_dialog.language.{lang}"),
                buttons=[[turn.button("broadcast_dialog.no_photo_button", "nophoto")], [cancel]],
            )
            return
        limit = CAPTION_LIMIT if draft.get("photo") else TEXT_LIMIT
        if lang == "id":
            turn.say("broadcast_dialog.ask_text_id", maximum=limit, buttons=[[cancel]])
        else:
            same = turn.button("broadcast_dialog.same_button", "same")
            turn.say("broadcast_dialog.ask_text_en", maximum=limit, buttons=[[same], [cancel]])
    elif state == State.BROADCAST_PHOTO:
        skip = turn.button("broadcast_dialog.skip_button", "skip")
        turn.say("broadcast_dialog.ask_photo", buttons=[[skip, cancel]])
    elif state == State.BROADCAST_SEGMENT:
        kinds = [turn.button(f"broadcast_dialog.segment.{kind}", f"seg:{kind}") for kind in _kinds(turn)]
        turn.say("broadcast_dialog.ask_segment", buttons=[*pairs(kinds), [cancel]])
    elif state == State.BROADCAST_SEGMENT_VALUE:
        kind = str(draft.get("segment_kind") or "")
        if kind not in _kinds(turn):
            turn.goto(State.BROADCAST_SEGMENT)
            await prompt(turn)
            return
        values = [
            Button(label=label, payload=f"{turn.conversation.step}|val:{value}")
            for value, label in _options(turn, kind)
        ]
        back = turn.button("broadcast_dialog.back_button", "back")
        turn.say(f"broadcast_dialog.ask_value.{kind}", buttons=[*pairs(values), [back, cancel]])
    elif state == State.BROADCAST_TIME:
        zone = as_utc(turn.desk.now).astimezone(ZoneInfo(turn.deps.city.city.timezone)).tzname() or ""
        now = turn.button("broadcast_dialog.now_button", "now")
        turn.say("broadcast_dialog.ask_time", zone=zone, example=_example_time(turn), buttons=[[now, cancel]])
    elif state == State.BROADCAST_PREVIEW:
        await _preview(turn, draft, full=full)


def _kinds(turn: Turn) -> tuple[str, ...]:
    """The segment kinds this city can use (by area only where areas are configured)."""
    return tuple(k for k in SEGMENT_KINDS if k != "area" or turn.deps.city.areas)


def _options(turn: Turn, kind: str) -> list[tuple[str, str]]:
    """A segment kind's values and their labels, in the admin's language."""
    city = turn.deps.city
    if kind == "channel":
        return [(c, turn.label(f"broadcast_dialog.channel.{c}")) for c in ANNOUNCED_CHANNELS]
    if kind == "language":
        return [(code, turn.label(f"broadcast_dialog.language.{code}")) for code in LANGUAGES]
    if kind == "area":
        return [(key, area.name) for key, area in city.areas.items()]
    if kind == "category":
        return [(key, f"{c.emoji} {c.name.get(turn.lang)}".strip()) for key, c in city.categories.items()]
    if kind == "unit_officers":
        return [(key, unit.short) for key, unit in city.units.items()]
    return []


# --- the preview and the confirmation ----------------------------------------------------------


def _segment(draft: dict[str, Any]) -> Segment:
    return Segment.model_validate(draft["segment"])


def _send_at(draft: dict[str, Any]) -> datetime | None:
    return as_utc(datetime.fromisoformat(draft["send_at"])) if draft.get("send_at") else None


def _photo(draft: dict[str, Any]) -> MediaRef | None:
    return MediaRef.model_validate(draft["photo"]) if draft.get("photo") else None


def _texts(draft: dict[str, Any]) -> dict[str, str]:
    """The texts as the broadcast stores them: the catalogues' markup, so the admin's words escaped."""
    return {lang: escape(draft["texts"][lang]) for lang in LANGUAGES}


def _described(turn: Turn, segment: Segment) -> Safe:
    return Safe(segment.describe(turn.deps.texts, turn.lang, turn.deps.city))  # markup, names escaped


async def _preview(turn: Turn, draft: dict[str, Any], *, full: bool) -> None:
    """Each language's announcement exactly as a citizen of this channel gets it (the runner's own
    rendering), then the recipients by channel and the send time, with "Kirim"."""
    segment = _segment(draft)
    counts = await broadcasts.count_recipients(session=turn.session, segment=segment, city=turn.deps.city)
    total = sum(counts.values())
    cancel = turn.button("broadcast_dialog.cancel_button", "cancel")
    change = turn.button("broadcast_dialog.change_segment_button", "segment")
    if full:
        turn.say("broadcast_dialog.preview_intro")
        unsaved = Broadcast(  # never added to the session: only rendered
            created_by="", created_at=turn.desk.now, texts=_texts(draft), photo=draft.get("photo"), segment={}
        )
        shown = ("id",) if draft.get("en_same") else LANGUAGES
        for lang in shown:
            if draft.get("en_same"):
                turn.say("broadcast_dialog.preview_all")
            else:
                language = turn.t(f"broadcast_dialog.language.{lang}")
                turn.say("broadcast_dialog.preview_language", lang_name=language)
            channel = turn.inbound.channel.value
            as_sent = broadcasts.message_for(
                unsaved, turn.deps.texts, lang, channel=channel, citizen=not segment.officers
            )
            turn.send(_inert(as_sent))
    if total == 0:
        turn.say(
            "broadcast_dialog.preview_empty", segment=_described(turn, segment), buttons=[[change], [cancel]]
        )
        return
    send_at = _send_at(draft)
    lines = [
        turn.t("broadcast_dialog.count_line", channel=_channel_name(turn, channel), count=count)
        for channel, count in counts.items()
    ]
    turn.say(
        "broadcast_dialog.preview_summary",
        segment=_described(turn, segment),
        counts=Safe("\n".join(lines)),
        total=total,
        when=local_time(turn, send_at) if send_at else turn.t("broadcast_dialog.when_now"),
        buttons=[[turn.button("broadcast_dialog.send_button", "send"), cancel], [change]],
    )
    if counts.get("whatsapp") and "broadcast" in turn.deps.city.whatsapp.templates:
        # outside the 24-hour window WhatsApp takes only the approved template: its one parameter
        # holds the words, not the photo, and at most TEXT_PARAMETER_MAX of them
        too_long = any(
            units(plain(text)) > TEXT_PARAMETER_MAX for text in (draft.get("texts") or {}).values()
        )
        if too_long or draft.get("photo"):
            turn.say("broadcast_dialog.whatsapp_template_note", limit=TEXT_PARAMETER_MAX)


def _channel_name(turn: Turn, channel: str) -> str:
    key = f"broadcast_dialog.channel.{channel}"
    return turn.t(key) if turn.deps.texts.has(key) else channel


async def _confirm(turn: Turn, draft: dict[str, Any]) -> None:
    """ "Kirim": the broadcast is created and confirmed in this transaction, the draft forgotten."""
    now = turn.desk.now
    send_at = _send_at(draft)
    if send_at is not None and send_at <= now:  # the preview stayed open past the send time
        draft.pop("time_done", None)
        draft.pop("send_at", None)
        _save(turn, draft)
        turn.say("broadcast_dialog.time_passed_at_send", when=local_time(turn, send_at))
        await _advance(turn)
        return
    assert turn.staff is not None
    created = await broadcasts.create_broadcast(
        session=turn.session,
        created_by=str(turn.staff.id),
        texts=_texts(draft),
        photo=_photo(draft),
        segment=_segment(draft),
        send_at=send_at,
        now=now,
        report_to=(turn.inbound.channel.value, turn.inbound.chat_id),
    )
    assert created.id is not None
    confirmed = await broadcasts.confirm_broadcast(
        session=turn.session, broadcast_id=created.id, city=turn.deps.city, now=now
    )
    _drop(turn)
    if confirmed.status == BroadcastStatus.SCHEDULED and confirmed.send_at is not None:
        stop = broadcasts.cancel_button(confirmed, turn.deps.texts, turn.lang)  # as on the progress message
        turn.say(
            "broadcast_dialog.scheduled",
            id=confirmed.id,
            when=local_time(turn, confirmed.send_at),
            total=confirmed.total,
            buttons=[[stop]],
        )
    else:
        turn.say("broadcast_dialog.started", id=confirmed.id, total=confirmed.total)


# --- stopping a confirmed broadcast ---------------------------------------------------------------


async def on_progress_button(turn: Turn, payload: str) -> None:
    """ "bc|cancel|<id>" asks "sure?"; "bc|sure|<id>" stops it; "bc|keep|<id>" leaves it be."""
    _, action, number = [*payload.split("|"), "", ""][:3]
    if not is_admin(turn.staff):
        turn.say("broadcast_dialog.admin_only")
        return
    broadcast = await turn.session.get(Broadcast, int(number)) if number.isdigit() else None
    if broadcast is None or broadcast.id is None or action not in ("cancel", "sure", "keep"):
        turn.say("errors.stale_button")
        return
    if broadcast.status == BroadcastStatus.CANCELLED:
        turn.say("broadcast_dialog.already_cancelled", id=broadcast.id)
    elif broadcast.status == BroadcastStatus.DONE:
        turn.say("broadcast_dialog.already_done", id=broadcast.id)
    elif broadcast.status == BroadcastStatus.DRAFT:
        turn.say("errors.stale_button")  # never confirmed: nothing to stop
    elif action == "cancel":
        sure = Button(
            label=turn.label("broadcast_dialog.cancel_yes_button"), payload=f"{PROGRESS}|sure|{broadcast.id}"
        )
        keep = Button(
            label=turn.label("broadcast_dialog.cancel_no_button"), payload=f"{PROGRESS}|keep|{broadcast.id}"
        )
        segment = broadcasts.segment_of(broadcast)
        turn.say(
            "broadcast_dialog.cancel_sure",
            id=broadcast.id,
            segment=_described(turn, segment),
            buttons=[[sure, keep]],
        )
    elif action == "keep":
        turn.say("broadcast_dialog.cancel_kept", id=broadcast.id)
    else:
        await _stop(turn, broadcast)


async def _stop(turn: Turn, broadcast: Broadcast) -> None:
    assert turn.staff is not None and broadcast.id is not None
    now = turn.desk.now
    try:
        stopped = await broadcasts.cancel_broadcast(
            session=turn.session, broadcast_id=broadcast.id, by=str(turn.staff.id), now=now
        )
    except BroadcastError:  # it finished (or was stopped) a moment ago
        turn.say("broadcast_dialog.already_done", id=broadcast.id)
        return
    progress = await broadcasts.broadcast_progress(session=turn.session, broadcast=stopped, now=now, rate=0)
    turn.say("broadcast_dialog.cancel_done", id=broadcast.id, sent=progress.sent)


# --- typed send times -----------------------------------------------------------------------------


def parse_send_time(
    text: str, *, now: datetime, zone: str, today: frozenset[str], tomorrow: frozenset[str]
) -> datetime | None:
    """A typed local time as a UTC moment: "05-12-2026 09:00", "5/12 9.00", "besok 09:00",
    "hari ini 15:30", "15:30" (today); None if it is not one. `today`/`tomorrow`: the words for them."""
    words = text.replace(",", " ").split()
    words = [w for w in words if normalise(w) not in ("jam", "pukul", "pkl", "at")]
    clock = _CLOCK.match(words[-1]) if words else None
    if clock is None:
        return None
    hour, minute = int(clock.group(1)), int(clock.group(2))
    if hour > 23 or minute > 59:
        return None
    local_zone = ZoneInfo(zone)
    local_today = as_utc(now).astimezone(local_zone).date()
    said = normalise(" ".join(words[:-1]))
    day: date | None
    if not said or said in today:
        day = local_today
    elif said in tomorrow:
        day = local_today + timedelta(days=1)
    else:
        day = _date(" ".join(words[:-1]), local_today)
    if day is None:
        return None
    return datetime.combine(day, time(hour, minute), tzinfo=local_zone).astimezone(UTC)


def _date(text: str, today: date) -> date | None:
    """ "05-12-2026", "5/12/26", "5.12" (this year) as a date; None if not one."""
    found = _DATE.match(text.strip())
    if found is None:
        return None
    day, month = int(found.group(1)), int(found.group(2))
    year = int(found.group(3)) if found.group(3) else today.year
    year = year + 2000 if year < 100 else year
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _example_time(turn: Turn) -> str:
    """Tomorrow at nine, local, as the admin would type it."""
    local = as_utc(turn.desk.now).astimezone(ZoneInfo(turn.deps.city.city.timezone))
    return f"{local + timedelta(days=1):%d-%m-%Y} 09:00"


def _means(turn: Turn, kind: str, text: str) -> bool:
    return normalise(text) in turn.deps.texts.words(f"broadcast_dialog.words_{kind}")


def _inert(shown: Outbound) -> Outbound:
    """The preview's 🔕 looks as citizens will see it, but pressing it only explains (an admin trying it
    must not opt themselves out of announcements)."""
    if not isinstance(shown, OutText | OutMedia):
        return shown
    rows = tuple(
        tuple(
            b.model_copy(update={"payload": PREVIEW_PAYLOAD}) if b.payload == broadcasts.STOP_PAYLOAD else b
            for b in row
        )
        for row in shown.buttons
    )
    return shown.model_copy(update={"buttons": rows})
