"""The follow-up survey in the citizen's chat: its questions with buttons, each answer taken once,
"not fixed" reopening the ticket, the comment, and opting out (/stop, /survei).

Survey buttons ("sv|<survey>|<question>|<value>") work from any message, however old: the survey,
not the conversation step, says whether an answer is still wanted (workflows/surveys.py).
A typed "sudah beres" or "belum beres, …" answers the newest survey still asking "fixed?".
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers import ticket_actions
from handlers.context import Deps, Turn, pairs, survey_payload
from handlers.format import city_time
from handlers.i18n import normalise
from handlers.messages import Button, InboundKind, MediaRef, OutText
from handlers.states import INTAKE_STATES, State
from models import Survey, Ticket
from workflows import staff as staff_rules
from workflows import surveys
from workflows.clock import as_utc
from workflows.lifecycle import Action, Actor, Refused
from workflows.surveys import COMMENT, FIXED, Outcome

STOP = "stop"


# --- the messages (the same from the scheduler and in a conversation) ---


def fixed_message(
    deps: Deps, lang: str, survey: Survey, ticket: Ticket, *, remind_until: str | None = None
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
    buttons = (
        (
            Button(
                label=deps.texts.plain("survey.fixed_yes", lang),
                payload=survey_payload(survey.id, FIXED, "y"),
            ),
            Button(
                label=deps.texts.plain("survey.fixed_no", lang), payload=survey_payload(survey.id, FIXED, "n")
            ),
        ),
        (
            Button(
                label=deps.texts.plain("survey.stop_button", lang),
                payload=survey_payload(survey.id, STOP, "-"),
            ),
        ),
    )
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


def comment_message(deps: Deps, lang: str, survey: Survey) -> OutText:
    key = "survey.ask_what_wrong" if survey.fixed is False else "survey.ask_comment"
    text = deps.texts(key, lang, unit=staff_rules.unit_name(deps.city, survey.unit, lang))
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
    await answer(turn, survey, question, parsed)


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
    """Take one answer (and, for a typed "belum beres, …", the comment with it); ask what is next."""
    ticket = await turn.session.get(Ticket, survey.ticket_id, with_for_update=True)
    assert ticket is not None
    deps = turn.deps
    outcome = surveys.record(
        survey, question, value, city=deps.city, calendars=deps.calendars, now=turn.desk.now
    )
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
            surveys.record(
                survey, COMMENT, comment, city=deps.city, calendars=deps.calendars, now=turn.desk.now
            )
            await _pass_on(turn, survey, ticket, comment, media)
    elif question == COMMENT and survey.fixed is False and (value or media):
        await _pass_on(turn, survey, ticket, str(value), media)
    await ask_next(turn, survey, ticket, finished=True)


async def _verdict(turn: Turn, ticket: Ticket, *, fixed: bool) -> None:
    """ "Fixed" closes the ticket, "not fixed" sends it back to its unit with a new deadline."""
    assert turn.citizen.id is not None
    actor = Actor.citizen(turn.citizen.id)
    unit = staff_rules.unit_name(turn.deps.city, ticket.unit, turn.lang)
    try:
        if fixed:
            await ticket_actions.perform(
                turn.desk, ticket, Action.CLOSE, actor, details={"reason": "confirmed"}
            )
            turn.say("survey.closed_thanks", reference=ticket.reference)
        else:
            await ticket_actions.perform(turn.desk, ticket, Action.REOPEN, actor)
            due = city_time(turn.deps.city.city.timezone, as_utc(ticket.due_at)) if ticket.due_at else "—"
            turn.say("survey.reopened", reference=ticket.reference, unit=unit, due=due)
    except Refused:
        pass  # the ticket moved on meanwhile; the answer still counts for the survey


async def _pass_on(turn: Turn, survey: Survey, ticket: Ticket, text: str, media: Sequence[MediaRef]) -> None:
    """What is still wrong goes to the unit that has the ticket again."""
    await ticket_actions.citizen_message(
        turn.desk, ticket, turn.citizen, text, media, key="thread.reopen_comment"
    )
    turn.say("survey.comment_forwarded", unit=staff_rules.unit_name(turn.deps.city, ticket.unit, turn.lang))


async def ask_next(turn: Turn, survey: Survey, ticket: Ticket, *, finished: bool = False) -> None:
    """The next question; thanks when the last one was just answered."""
    deps = turn.deps
    question = surveys.pending(survey, deps.city) if surveys.is_open(survey) else None
    waiting_comment = turn.state == State.SURVEY_COMMENT
    if question is None:
        if finished:
            turn.say("survey.thanks")
        if waiting_comment:
            turn.goto(State.IDLE)
        return
    if question == COMMENT:
        turn.send(comment_message(deps, turn.lang, survey))
        if turn.state not in INTAKE_STATES:  # a complaint being written keeps the next message
            turn.goto(State.SURVEY_COMMENT, survey_id=survey.id)
        return
    if question == FIXED:
        turn.send(fixed_message(deps, turn.lang, survey, ticket))
    else:
        turn.send(rating_message(deps, turn.lang, survey, ticket, question))
    if waiting_comment:
        turn.goto(State.IDLE)


async def on_comment(turn: Turn) -> bool:
    """Text or a photo while the comment is asked; False if that survey is gone (read it as usual)."""
    survey_id = turn.data.get("survey_id")
    turn.conversation.data = {k: v for k, v in turn.data.items() if k != "survey_id"}
    turn.goto(State.IDLE)
    survey = (
        await turn.session.get(Survey, survey_id, with_for_update=True)
        if isinstance(survey_id, int)
        else None
    )
    if survey is None or survey.citizen_id != turn.citizen.id or not surveys.is_open(survey):
        return False
    inbound = turn.inbound
    text = (inbound.text or "").strip()
    media = inbound.media if inbound.kind == InboundKind.PHOTO else ()
    if not text and not media:
        turn.goto(State.SURVEY_COMMENT, survey_id=survey.id)
        turn.say("survey.comment_empty")
        return True
    await answer(turn, survey, COMMENT, text or "📷", media=media)
    return True


async def typed_verdict(turn: Turn, text: str) -> bool:
    """'sudah beres' / 'belum beres, sampahnya masih ada' at the menu, while a survey asks "fixed?"."""
    phrase = _opening(turn, "not_fixed", text)
    not_fixed = phrase is not None
    fixed = not not_fixed and turn.opens_with("fixed", text, max_words=6)
    if not (fixed or not_fixed) or turn.citizen.id is None:
        return False
    survey = await surveys.awaiting_fixed(session=turn.session, citizen_id=turn.citizen.id)
    if survey is None:
        return False
    comment = text.strip() if phrase is not None and normalise(text) != phrase else ""
    await answer(turn, survey, FIXED, fixed, comment=comment)
    return True


def _opening(turn: Turn, kind: str, text: str) -> str | None:
    """The longest of the catalogue's words for kind that the text starts with."""
    said = normalise(text)
    found = [w for w in turn.deps.texts.words(f"words.{kind}") if said == w or said.startswith(w + " ")]
    return max(found, key=len) if found else None


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
