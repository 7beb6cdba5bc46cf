"""The follow-up survey in the citizen's chat: its questions with buttons, each answer taken once,
"not fixed" reopening the ticket, the comment, and opting out (/stop, /survei).

Survey buttons ("sv|<survey>|<question>|<value>") work from any message, however old: the survey,
not the conversation step, says whether an answer is still wanted (workflows/surveys.py).
A typed "sudah beres" or "belum beres, …" answers the newest survey still asking "fixed?".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from handlers import ticket_actions
from handlers.context import Deps, Turn, pairs, survey_payload
from handlers.format import MEDIA_EMOJI, city_time
from handlers.i18n import normalise
from handlers.intake import attachments_of
from handlers.messages import Button, MediaRef, OutText
from handlers.states import INTAKE_STATES, State
from models import OPEN_STATUSES, Survey, Ticket, TicketEvent, TicketStatus
from models.queries import ticket_for_message
from workflows import staff as staff_rules
from workflows import surveys
from workflows.clock import as_utc
from workflows.lifecycle import Action, Actor
from workflows.references import find_reference
from workflows.surveys import COMMENT, FIXED, Outcome

STOP = "stop"  # the opt-out button (a reserved question key: workflows/city_config.py)
COMMENT_VALID = timedelta(hours=2)  # the next message is read as the comment for this long


# --- the messages (the same from the scheduler and in a conversation) ---


def fixed_message(
    deps: Deps,
    lang: str,
    survey: Survey,
    ticket: Ticket,
    *,
    remind_until: str | None = None,
    with_stop: bool = True,
) -> OutText:
    """ "Is it really fixed?" with its buttons, and the way out of surveys."""
    city = deps.city
    if remind_until is None:
        text = deps.texts(
            "survey.ask_fixed",
            lang,
            reference=ticket.reference,
            category=city.category(ticket.category).name.get(lang),
            unit=staff_rules.unit_name(city, survey.unit, lang),
            resolved=city_time(city.city.timezone, survey.resolved_at),
        )
    else:
        text = deps.texts("survey.remind_fixed", lang, reference=ticket.reference, until=remind_until)
    buttons: tuple[tuple[Button, ...], ...] = (
        (
            Button(
                label=deps.texts.plain("survey.fixed_yes", lang),
                payload=survey_payload(survey.id, FIXED, "y"),
            ),
            Button(
                label=deps.texts.plain("survey.fixed_no", lang), payload=survey_payload(survey.id, FIXED, "n")
            ),
        ),
    )
    if with_stop:
        stop = Button(
            label=deps.texts.plain("survey.stop_button", lang), payload=survey_payload(survey.id, STOP, "-")
        )
        buttons = (*buttons, (stop,))
    return OutText(text=text, buttons=buttons)


def rating_message(deps: Deps, lang: str, survey: Survey, ticket: Ticket, question: str) -> OutText:
    rated = deps.city.surveys.questions
    number = next(i for i, q in enumerate(rated, start=1) if q.key == question)
    config = rated[number - 1]
    wording = config.text.get(lang) if config.text else deps.texts.plain(f"survey.q.{question}", lang)
    text = deps.texts(
        "survey.rate", lang, reference=ticket.reference, number=number, total=len(rated), question=wording
    )
    scale = [
        Button(
            label=deps.texts.plain(f"survey.scale.{value}", lang),
            payload=survey_payload(survey.id, question, str(value)),
        )
        for value in surveys.SCALE
    ]
    return OutText(text=text, buttons=tuple(tuple(row) for row in pairs(scale)))


def comment_message(deps: Deps, lang: str, survey: Survey, ticket: Ticket) -> OutText:
    key = "survey.ask_what_wrong" if survey.fixed is False else "survey.ask_comment"
    unit = staff_rules.unit_name(deps.city, survey.unit, lang)
    text = deps.texts(key, lang, reference=ticket.reference, unit=unit)
    skip = Button(
        label=deps.texts.plain("survey.skip_button", lang), payload=survey_payload(survey.id, COMMENT, "skip")
    )
    return OutText(text=text, buttons=((skip,),))


# --- answers in a conversation ---


async def on_button(turn: Turn, payload: str) -> None:
    """A survey button, from any message."""
    parts = payload.split("|")
    survey = None
    if len(parts) == 4 and parts[1].isdigit():
        survey = await turn.session.get(Survey, int(parts[1]), with_for_update=True)
    if survey is None or survey.citizen_id != turn.citizen.id:
        turn.say("errors.stale_button")
        return
    question, value = parts[2], parts[3]
    if question == STOP:
        await opt_out(turn)
        return
    parsed = _parse(question, value)
    if parsed is None:
        turn.say("errors.stale_button")
        return
    note = turn.data.get("survey_note") or {}
    comment = ""
    if question == FIXED and note.get("survey") == survey.id:  # typed "belum beres, <what>" before
        turn.conversation.data = {k: v for k, v in turn.data.items() if k != "survey_note"}
        comment = str(note.get("text") or "") if parsed is False else ""
    await answer(turn, survey, question, parsed, comment=comment)


def _parse(question: str, value: str) -> bool | int | str | None:
    if question == FIXED:
        return {"y": True, "n": False}.get(value)
    if question == COMMENT:
        return "" if value == "skip" else None
    return int(value) if value.isdigit() else None


async def answer(
    turn: Turn,
    survey: Survey,
    question: str,
    value: bool | int | str,
    *,
    media: Sequence[MediaRef] = (),
    comment: str = "",
) -> None:
    """Take one answer (after "not fixed", with the citizen's words typed before); ask what is next."""
    ticket = await turn.session.get(Ticket, survey.ticket_id, with_for_update=True)
    assert ticket is not None
    deps, now = turn.deps, turn.desk.now
    if question == FIXED and surveys.is_open(survey) and not surveys.answered(survey, FIXED):
        if ticket.status != TicketStatus.RESOLVED:  # the ticket moved on: nothing to confirm
            turn.say("survey.closed_late", reference=ticket.reference)
            return
    outcome = surveys.record(survey, question, value, city=deps.city, calendars=deps.calendars, now=now)
    if outcome == Outcome.INVALID:
        turn.say("errors.stale_button")
        return
    if outcome == Outcome.CLOSED:
        turn.say("survey.closed_late", reference=ticket.reference)
        return
    if outcome == Outcome.ALREADY:
        turn.say("survey.already")
        await ask_next(turn, survey, ticket)
        return
    if question == FIXED:
        await _verdict(turn, ticket, fixed=bool(value))
        if comment and survey.fixed is False:
            surveys.record(survey, COMMENT, comment, city=deps.city, calendars=deps.calendars, now=now)
            await _pass_on(turn, survey, ticket, comment, media)
    elif question == COMMENT and (value or media):
        await _pass_on(turn, survey, ticket, str(value), media)
    await ask_next(turn, survey, ticket, finished=True)


async def _verdict(turn: Turn, ticket: Ticket, *, fixed: bool) -> None:
    """ "Fixed" closes the ticket, "not fixed" sends it back to its unit with a new deadline."""
    assert turn.citizen.id is not None
    actor = Actor.citizen(turn.citizen.id)
    unit = staff_rules.unit_name(turn.deps.city, ticket.unit, turn.lang)
    if fixed:
        await ticket_actions.perform(turn.desk, ticket, Action.CLOSE, actor, details={"reason": "confirmed"})
        turn.say("survey.closed_thanks", reference=ticket.reference)
    else:
        await ticket_actions.perform(turn.desk, ticket, Action.REOPEN, actor)
        due = city_time(turn.deps.city.city.timezone, as_utc(ticket.due_at)) if ticket.due_at else "—"
        turn.say("survey.reopened", reference=ticket.reference, unit=unit, due=due)


async def _pass_on(turn: Turn, survey: Survey, ticket: Ticket, text: str, media: Sequence[MediaRef]) -> None:
    """The comment goes to the unit: what is still wrong, or the reporter's word after a fix."""
    key = "thread.reopen_comment" if survey.fixed is False else "thread.feedback"
    await ticket_actions.citizen_message(turn.desk, ticket, turn.citizen, text, media, key=key)
    if media and media[0].group_id:  # the rest of the album follows as separate messages
        turn.set_data(survey_album={"group": media[0].group_id, "ticket": ticket.id, "key": key})
    turn.say("survey.comment_forwarded", unit=staff_rules.unit_name(turn.deps.city, ticket.unit, turn.lang))


async def ask_next(turn: Turn, survey: Survey, ticket: Ticket, *, finished: bool = False) -> None:
    """The next question; thanks when the last one was just answered."""
    deps = turn.deps
    question = surveys.pending(survey, deps.city) if surveys.is_open(survey) else None
    waiting_comment = turn.state == State.SURVEY_COMMENT
    thanks = "survey.thanks"
    surveying = deps.city.surveys.enabled and turn.citizen.surveys_off_at is None
    if (
        not surveying
        and question not in (None, FIXED)
        and not (question == COMMENT and survey.fixed is False)
    ):
        surveys.finish(survey, now=turn.desk.now)  # opted out or switched off: the verdict only, no ratings
        question, thanks = None, "survey.noted"
    if question is None:
        if finished:
            turn.say(thanks)
        if waiting_comment:
            turn.goto(State.IDLE)
        return
    if question == COMMENT:
        if turn.state in INTAKE_STATES:  # the complaint being written keeps the next message
            turn.set_data(survey_pending=survey.id)  # asked once it is sent or cancelled (resume)
            return
        turn.send(comment_message(deps, turn.lang, survey, ticket))
        turn.goto(State.SURVEY_COMMENT, survey_id=survey.id, survey_asked=turn.desk.now.isoformat())
        return
    if question == FIXED:
        turn.send(fixed_message(deps, turn.lang, survey, ticket))
    else:
        turn.send(rating_message(deps, turn.lang, survey, ticket, question))
    if waiting_comment:
        turn.goto(State.IDLE)


async def resume(turn: Turn, put_aside: dict[str, Any]) -> None:
    """After a complaint was sent or cancelled: the survey comment put aside while it was written.

    `put_aside` holds what the step began with (survey_pending, survey_note), which a draft's
    reset must not lose; while the chat is still busy it is kept for later."""
    kept = {k: v for k, v in put_aside.items() if v is not None and k not in turn.data}
    if kept:
        turn.set_data(**kept)
    survey_id = turn.data.get("survey_pending")
    if survey_id is None or turn.state != State.IDLE:
        return
    turn.conversation.data = {k: v for k, v in turn.data.items() if k != "survey_pending"}
    survey = await turn.session.get(Survey, survey_id) if isinstance(survey_id, int) else None
    if survey is None or not surveys.is_open(survey) or surveys.pending(survey, turn.deps.city) != COMMENT:
        return
    ticket = await turn.session.get(Ticket, survey.ticket_id)
    if ticket is not None and _comment_wanted(survey, ticket):
        await ask_next(turn, survey, ticket)


def _comment_wanted(survey: Survey, ticket: Ticket) -> bool:
    """What is still wrong is wanted while that reopening is being worked on, not after the
    ticket was resolved again (the next round has its own survey)."""
    if survey.fixed is not False:
        return True
    return ticket.status in OPEN_STATUSES and ticket.reopen_count == survey.round + 1


def leave_comment(turn: Turn) -> None:
    """The next message is not the comment any more."""
    turn.conversation.data = {k: v for k, v in turn.data.items() if k not in ("survey_id", "survey_asked")}
    if turn.state == State.SURVEY_COMMENT:
        turn.goto(State.IDLE)


async def live_comment(turn: Turn) -> tuple[Survey, Ticket] | None:
    """The survey whose comment the chat is asked for, while that question is fresh and wanted;
    None, with the chat back at the menu, when it is not."""
    survey_id, asked = turn.data.get("survey_id"), turn.data.get("survey_asked")
    if isinstance(survey_id, int) and isinstance(asked, str):
        if turn.desk.now - as_utc(datetime.fromisoformat(asked)) <= COMMENT_VALID:
            survey = await turn.session.get(Survey, survey_id, with_for_update=True)
            ticket = (
                await turn.session.get(Ticket, survey.ticket_id, with_for_update=True) if survey else None
            )
            if (
                survey is not None
                and ticket is not None
                and survey.citizen_id == turn.citizen.id
                and surveys.is_open(survey)
                and surveys.pending(survey, turn.deps.city) == COMMENT
                and _comment_wanted(survey, ticket)
            ):
                return survey, ticket
    leave_comment(turn)
    return None


async def reply_is_comment(turn: Turn) -> bool:
    """A Telegram reply at the comment step is the comment only when it is to that ticket's message."""
    live = await live_comment(turn)
    if live is None or not turn.inbound.reply_to_message_id:
        return False
    replied = await ticket_for_message(
        session=turn.session,
        channel=turn.inbound.channel.value,
        chat_id=turn.inbound.chat_id,
        message_id=turn.inbound.reply_to_message_id,
    )
    if replied != live[0].ticket_id:
        leave_comment(turn)
        return False
    return True


async def on_comment(turn: Turn) -> bool:
    """Text, a photo, a voice note or a document while the comment is asked; False when it is not
    the comment after all (asked too long ago, naming a ticket, "my tickets", or after a newer
    question from an officer): the chat is back at the menu and the message is read as usual."""
    inbound = turn.inbound
    text = (inbound.text or "").strip()
    asked = turn.data.get("survey_asked")
    if find_reference(text) or turn.means("tickets", text) or await _newer_question(turn, asked):
        leave_comment(turn)
        return False
    live = await live_comment(turn)
    if live is None:
        return False
    survey, _ = live
    leave_comment(turn)
    media = attachments_of(inbound)
    if not text and not media:
        turn.goto(State.SURVEY_COMMENT, survey_id=survey.id, survey_asked=asked)
        turn.say("survey.comment_empty")
        return True
    await answer(turn, survey, COMMENT, text or MEDIA_EMOJI.get(media[0].kind, "📎"), media=media)
    return True


async def _newer_question(turn: Turn, asked: object) -> bool:
    """An officer asked the citizen something after the comment was asked: the text answers that."""
    if not isinstance(asked, str) or turn.citizen.id is None:
        return False
    query = select(func.max(TicketEvent.at)).where(
        TicketEvent.action == "question",
        col(TicketEvent.ticket_id).in_(
            select(Ticket.id).where(
                Ticket.citizen_id == turn.citizen.id, Ticket.status == TicketStatus.WAITING_CITIZEN
            )
        ),
    )
    latest = (await turn.session.exec(query)).one()
    return latest is not None and as_utc(latest) > as_utc(datetime.fromisoformat(asked))


async def skip_comment(turn: Turn) -> bool:
    """/batal at the comment: the same as Skip, so the ratings still follow; False when stale."""
    live = await live_comment(turn)
    if live is None:
        return False
    leave_comment(turn)
    await answer(turn, live[0], COMMENT, "")
    return True


async def more_comment_photos(turn: Turn) -> bool:
    """A photo of the album whose first photo was the survey comment: to the same ticket's unit."""
    album = turn.data.get("survey_album") or {}
    media = turn.inbound.media
    if not media or not album or media[0].group_id != album.get("group"):
        return False
    ticket = await turn.session.get(Ticket, int(album["ticket"]))
    if ticket is None:
        return False
    await ticket_actions.citizen_message(
        turn.desk, ticket, turn.citizen, (turn.inbound.text or "").strip(), media, key=str(album["key"])
    )
    return True


async def typed_verdict(turn: Turn, text: str) -> bool:
    """ "sudah beres" or "belum beres, <what>" at the menu while a survey asks "fixed?": that
    survey's question comes back to be confirmed with a button (a closed ticket stays closed, so
    typed words never close or reopen by themselves)."""
    if "?" in text or find_reference(text) or turn.citizen.id is None or not turn.deps.city.surveys.enabled:
        return False
    verdict = _verdict_words(turn, text)
    if verdict is None:
        return False
    survey = await surveys.awaiting_fixed(session=turn.session, citizen_id=turn.citizen.id)
    if survey is None:
        return False
    ticket = await turn.session.get(Ticket, survey.ticket_id)
    if ticket is None or ticket.status != TicketStatus.RESOLVED:
        return False
    fixed, note = verdict
    if not fixed and note:
        turn.set_data(survey_note={"survey": survey.id, "text": note})
    turn.say("survey.confirm_hint")
    turn.send(
        fixed_message(turn.deps, turn.lang, survey, ticket, with_stop=turn.citizen.surveys_off_at is None)
    )
    return True


async def offer_verdict(turn: Turn, ticket: Ticket) -> None:
    """The reporter looks at a resolved ticket whose "fixed?" is still open: ask it here too."""
    if ticket.status != TicketStatus.RESOLVED or ticket.citizen_id != turn.citizen.id:
        return
    if turn.citizen.surveys_off_at is not None or not turn.deps.city.surveys.enabled:
        return
    survey = await surveys.awaiting_fixed(
        session=turn.session, citizen_id=ticket.citizen_id, ticket_id=ticket.id
    )
    if survey is not None:
        turn.send(fixed_message(turn.deps, turn.lang, survey, ticket))


def _verdict_words(turn: Turn, text: str) -> tuple[bool, str] | None:
    """(fixed, what is still wrong) when the text is one of the catalogue's phrases, or, for
    "not fixed", the phrase, a comma (or full stop, colon, dash) and the citizen's words."""
    parts = _SEPARATOR.split(text.strip(), maxsplit=1)
    head, tail = parts[0], (parts[1].strip() if len(parts) > 1 else "")
    said = normalise(head)
    if said in turn.deps.texts.words("words.not_fixed"):
        return False, tail
    if said in turn.deps.texts.words("words.fixed"):  # "sudah beres, makasih" too: a button confirms
        return True, ""
    return None


_SEPARATOR = re.compile(r"[,.;:!\n–—-]")


# --- opting out ---


async def opt_out(turn: Turn) -> None:
    """/stop or the button: never surveyed again (until /survei)."""
    if turn.citizen.surveys_off_at is not None:
        turn.say("survey.already_off")
    else:
        turn.citizen.surveys_off_at = turn.desk.now
        turn.say("survey.off")
    if turn.state == State.SURVEY_COMMENT:
        turn.goto(State.IDLE)


async def opt_in(turn: Turn) -> None:
    turn.citizen.surveys_off_at = None
    turn.say("survey.on")
