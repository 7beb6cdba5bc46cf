"""One step of a conversation: the stored state and an inbound event in, replies and a new state out.

Order of precedence, the same in every state:

| input                          | what happens                                                  |
|--------------------------------|---------------------------------------------------------------|
| edited message                 | told edits are not read; the step is asked again              |
| (emergency words in any text or caption get the emergency number first: handlers/pipeline.py) | |
| /start /help /batal /cancel /bahasa /language /status /lapor /tiket | the command, from any state |
| unknown /command               | told so, with a pointer to /help; the step is asked again     |
| button from the menu ("m|…")   | works from any message, however old                           |
| button of an earlier step      | told it is no longer active; the current step is asked again  |
| button of the current step     | the step's answer                                             |
| text, location, photo          | the step's answer where it expects one, otherwise a nudge     |
| voice note, document           | kept as an attachment wherever a photo is (handlers/intake.py) |
| sticker, contact, anything else | a polite "can't use this here"; the step stays               |

Besides the citizen's own flow: staff commands (/join, /tugas, /antrian and the admin ones,
handlers/officer.py); an officer's pending action (its note, unit or proof photo) takes their
next input; the "Reply" button, a Telegram reply to a ticket's message, or text (or a voice note)
at the menu while a question waits go to the unit (handlers/answer.py). Survey buttons ("sv|…")
work from any message; the survey's comment takes the next text, photo, voice note or document;
/stop and /survei turn surveys off and on (handlers/survey.py). An admin's /siaran (/broadcast)
draft takes their texts, photo and its own buttons until it is sent or cancelled, and the buttons
under a broadcast's progress ("bc|…") work from any message (handlers/broadcast.py); the 🔕 button
under an announcement ("an|off"), /berhenti_pengumuman and /pengumuman turn announcements off and
on (handlers/announcements.py).
"""

from __future__ import annotations

from handlers import announcements, answer, broadcast, intake, menu, officer, status, survey
from handlers.context import MENU, SURVEY, Turn
from handlers.format import example_reference
from handlers.messages import InboundKind
from handlers.states import BROADCAST_STATES, INTAKE_STATES, OFFICER_STATES, State
from workflows.language import detect_language
from workflows.references import find_reference

COMMANDS = {
    "start": "start",
    "mulai": "start",
    "help": "help",
    "bantuan": "help",
    "batal": "cancel",
    "cancel": "cancel",
    "bahasa": "language",
    "language": "language",
    "status": "status",
    "cek": "status",
    "lapor": "new",
    "report": "new",
    "aduan": "new",
    "tiket": "tickets",
    "tickets": "tickets",
    "menu": "menu",
    "stop": "surveys_off",
    "survei": "surveys_on",
    "surveys": "surveys_on",
    "berhenti_pengumuman": "announcements_off",
    "stop_announcements": "announcements_off",
    "pengumuman": "announcements_on",
    "announcements": "announcements_on",
}


async def step(turn: Turn) -> None:
    """Handle one inbound event for the conversation it belongs to."""
    # a survey's comment or typed words must outlive a draft's reset, and a complaint started at
    # the comment step puts the comment aside until it is sent or cancelled
    put_aside = {key: turn.data.get(key) for key in ("survey_pending", "survey_note")}
    at_comment = turn.data.get("survey_id") if turn.state == State.SURVEY_COMMENT else None
    await _step(turn)
    if turn.inbound.is_private:
        if at_comment and turn.state in INTAKE_STATES and not put_aside["survey_pending"]:
            put_aside["survey_pending"] = at_comment
        await survey.resume(turn, put_aside)


async def _step(turn: Turn) -> None:
    inbound = turn.inbound
    if not inbound.is_private:
        return  # group chats belong to officers: handled by the workflow engine, not here
    if inbound.kind == InboundKind.EDITED:
        turn.say("unsupported.edited")
        await reprompt(turn)
        return
    if inbound.media_failed and not inbound.media:
        turn.say("errors.media_failed")  # nothing of it arrived: ask for it again, nothing else changes
        await reprompt(turn)
        return
    if inbound.kind == InboundKind.PHOTO and (
        await officer.more_proof(turn) or await survey.more_comment_photos(turn)
    ):
        return
    if turn.state in OFFICER_STATES and not (
        inbound.kind == InboundKind.COMMAND and inbound.command not in ("batal", "cancel")
    ):
        await officer.on_pending(turn)
        return
    if turn.state in BROADCAST_STATES and await broadcast.on_input(turn):
        return
    # words or files for someone: text, or a photo, voice note or document (with its file)
    said = inbound.kind == InboundKind.TEXT or bool(intake.attachments_of(inbound))
    if turn.state == State.ANSWER and said:
        if not (inbound.kind == InboundKind.TEXT and turn.means("cancel", inbound.text or "")):
            await answer.on_input(turn)
            return
    if (
        turn.state == State.SURVEY_COMMENT
        and inbound.reply_to_message_id
        and await survey.reply_is_comment(turn)
    ):
        if await survey.on_comment(turn):
            return
    if said and turn.state not in INTAKE_STATES:
        if await officer.on_private_reply(turn):  # words, a photo, a voice note or a document
            return
        replied = await answer.replied_ticket(turn)
        if replied is not None:
            await answer.deliver(turn, replied)
            return
    if turn.state == State.SURVEY_COMMENT and said:
        if not (inbound.kind == InboundKind.TEXT and turn.means("cancel", inbound.text or "")):
            if await survey.on_comment(turn):
                return
    if inbound.kind == InboundKind.COMMAND:
        await on_command(turn, inbound.command or "", inbound.command_args)
    elif inbound.kind == InboundKind.BUTTON:
        await on_button(turn, inbound.payload or "")
    elif inbound.kind == InboundKind.TEXT:
        await on_text(turn, inbound.text or "")
    elif inbound.kind == InboundKind.LOCATION:
        await intake.on_location(turn)
    elif said:
        await on_media(turn)
    else:
        turn.say(intake.KIND_NUDGES.get(inbound.kind, "unsupported.other"))
        await reprompt(turn)


async def on_media(turn: Turn) -> None:
    """A photo, voice note or document: kept for a complaint; a voice note at the menu while a
    question of the unit waits is the answer, as typed words would be."""
    if turn.inbound.kind == InboundKind.VOICE and turn.state not in INTAKE_STATES:
        waiting = await answer.waiting_question(turn)
        if waiting is not None:
            turn.goto(State.IDLE)
            await answer.deliver(turn, waiting)
            return
    await intake.on_media(turn)


async def on_command(turn: Turn, command: str, args: str) -> None:
    action = COMMANDS.get(command)
    staff_action = officer.COMMANDS.get(command)
    if action is None and staff_action is not None and await officer.on_command(turn, staff_action, args):
        return
    if action is None:
        turn.say("errors.unknown_command", command=command[:32])
        await reprompt(turn)
    elif action == "start":
        if turn.state in INTAKE_STATES:
            turn.say("start.in_progress")
            await intake.prompt(turn)
        else:
            turn.goto(State.IDLE)
            await menu.greet(turn)
    elif action == "status" and turn.state in INTAKE_STATES:
        await status_during_intake(turn, args)
    elif action == "status":
        await status.show_status(turn, args)
    else:
        await menu_action(turn, action)


async def menu_action(turn: Turn, action: str) -> None:
    """What the main-menu buttons and their commands do, from any state."""
    name, _, value = action.partition(":")
    busy = turn.state in INTAKE_STATES
    if name == "new" and busy:
        turn.say("intake.already_started")
        await intake.prompt(turn)
    elif name == "new":
        await intake.start(turn)
    elif name == "ans":
        await answer.start(turn, value)
    elif name == "cancel":
        if turn.state in INTAKE_STATES:
            await intake.cancel(turn)
        elif turn.state == State.SURVEY_COMMENT and await survey.skip_comment(turn):
            pass
        elif turn.state in (State.STATUS_REF, State.ANSWER, State.SURVEY_COMMENT):
            turn.goto(State.IDLE)
            await menu.show_menu(turn, brief=True)
        else:
            turn.say("cancel.nothing")
            await menu.show_menu(turn, brief=True)
    elif name == "surveys_off":
        await survey.opt_out(turn)
    elif name == "surveys_on":
        await survey.opt_in(turn)
    elif name == "announcements_off":
        await announcements.opt_out(turn)
    elif name == "announcements_on":
        await announcements.opt_in(turn)
    elif name == "tickets":
        await status.show_my_tickets(turn)
    elif name == "tk":
        await status.show_status(turn, value)
    elif name == "help":
        await menu.show_help(turn)
    elif name == "menu":
        await menu.show_menu(turn)
    elif name == "language":
        await menu.ask_language(turn)
    elif name == "lang" and value:
        await menu.set_language(turn, value, resume=turn.state != State.IDLE)
        if turn.state != State.IDLE:
            await reprompt(turn)
    elif name == "lang":
        await menu.ask_language(turn)
    else:
        turn.say("errors.stale_button")
    if busy and name in (
        "tickets",
        "tk",
        "help",
        "menu",
        "surveys_off",
        "surveys_on",
        "announcements_off",
        "announcements_on",
    ):
        await intake.prompt(turn)  # back to the complaint being written


async def on_button(turn: Turn, payload: str) -> None:
    scope, _, action = payload.partition("|")
    if scope == MENU:
        await menu_action(turn, action)
        return
    if scope == SURVEY:
        await survey.on_button(turn, payload)
        if turn.state in INTAKE_STATES:
            await intake.prompt(turn)  # back to the complaint being written
        return
    if scope == broadcast.PROGRESS:
        await broadcast.on_progress_button(turn, payload)
        return
    if scope == announcements.SCOPE:
        await announcements.on_button(turn, action)
        if turn.state in INTAKE_STATES:
            await intake.prompt(turn)  # back to the complaint being written
        return
    if scope == "a" and action.startswith("link:"):
        await officer.approve_link(turn, action.removeprefix("link:"))
        return
    if scope != str(turn.conversation.step):
        turn.say("errors.stale_button")
        await reprompt(turn)
        return
    if not await intake.on_button(turn, action):
        turn.say("errors.stale_button")
        await reprompt(turn)


async def status_during_intake(turn: Turn, args: str) -> None:
    """/status while writing a complaint: show the ticket, then back to the complaint."""
    if find_reference(args):
        await status.show_status(turn, args)
    else:
        turn.say("status.usage", example=example_reference(turn))
    await intake.prompt(turn)


async def on_text(turn: Turn, text: str) -> None:
    busy = turn.state in INTAKE_STATES
    if turn.means("cancel", text):
        await menu_action(turn, "cancel")
    elif turn.means("tickets", text):
        await menu_action(turn, "tickets")
    elif busy and turn.state != State.LOCATION and find_reference(text):
        await status_during_intake(turn, text)
    elif busy:
        await intake.on_text(turn, text)
    else:
        await text_at_rest(turn, text)


async def text_at_rest(turn: Turn, text: str) -> None:
    """Text outside a complaint: a reference being awaited, or a new message at the menu."""
    if turn.state == State.STATUS_REF:
        if find_reference(text) or len(text.split()) <= 2:
            await status.show_status(turn, text)
            return
        turn.goto(State.IDLE)  # not a reference after all: read it as a new message
    await idle_text(turn, text)


async def idle_text(turn: Turn, text: str) -> None:
    """Free text at the menu: a reference, an answer awaited, thanks, a greeting, or a new complaint."""
    waiting = None if find_reference(text) else await answer.waiting_question(turn)
    if waiting is not None and not turn.emergency:
        await answer.deliver(turn, waiting)
    elif not turn.emergency and await survey.typed_verdict(turn, text):
        pass  # "sudah beres" / "belum beres, …" answered the survey
    elif find_reference(text):
        await status.show_status(turn, text)
    elif turn.emergency:
        await menu.show_menu(turn, brief=True)  # 112 was said; a complaint only if they choose one
    elif turn.opens_with("thanks", text, max_words=6):
        turn.say("smalltalk.thanks")
        await menu.show_menu(turn, brief=True)
    elif turn.opens_with("greeting", text, max_words=4) or (
        len(text.strip()) < turn.deps.city.limits.description_min_chars
    ):
        await menu.greet(turn)
    else:
        await intake.start(turn, text)


def remember_language(turn: Turn, text: str) -> None:
    """Detect the language from the first free text long enough to tell, unless one was chosen."""
    citizen = turn.citizen
    if citizen.language_source != "default" or len(text.split()) < 3:
        return
    citizen.language = detect_language(text, default=citizen.language)
    citizen.language_source = "detected"


async def reprompt(turn: Turn) -> None:
    """Ask the current step's question again so the citizen knows where they are."""
    if turn.state in INTAKE_STATES:
        await intake.prompt(turn)
    elif turn.state == State.STATUS_REF:
        turn.say("status.ask", example=example_reference(turn))
    elif turn.state in OFFICER_STATES:
        await officer.reprompt(turn)
    elif turn.state in BROADCAST_STATES:
        await broadcast.prompt(turn, full=False)
    elif turn.state == State.ANSWER:
        turn.say("answer.ask_again")
    elif turn.state == State.SURVEY_COMMENT and await survey.live_comment(turn):
        turn.say("survey.comment_empty")
    elif turn.state == State.SURVEY_COMMENT:  # the question went stale: back at the menu
        await menu.show_menu(turn, brief=True)
    else:
        await menu.show_menu(turn, brief=True)
