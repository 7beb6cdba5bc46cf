"""What a handler works with: the inbound message, the person, their conversation, and the replies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.i18n import Translator, normalise
from handlers.messages import Button, Channel, Envelope, Inbound, Outbound, OutText, TemplateCall
from handlers.states import State
from models import Citizen, Conversation
from workflows import reply_window
from workflows.areas import AreaMap
from workflows.city_config import CityConfig
from workflows.classify import Classifier
from workflows.clock import Clock
from workflows.outbox import Priority
from workflows.sla import Calendars

MENU = "m"  # button payloads that work from any message: "m|action"
SURVEY = "sv"  # a survey's answer buttons: "sv|<survey id>|<question>|<value>" (handlers/survey.py)


def survey_payload(survey_id: int | None, question: str, value: str) -> str:
    return f"{SURVEY}|{survey_id}|{question}|{value}"


@dataclass(frozen=True)
class Deps:
    """Long-lived dependencies, built once at start and passed to every turn."""

    city: CityConfig
    texts: Translator
    clock: Clock
    classifier: Classifier
    areas: AreaMap = field(default_factory=AreaMap.empty)
    # where /dasbor's login links point (bot/settings.py dashboard_url, from CIVICBOT_PUBLIC_URL)
    dashboard_url: str = "http://localhost:8080/dashboard"

    @cached_property
    def calendars(self) -> Calendars:
        return Calendars(self.city)

    @property
    def staff_language(self) -> str:
        """Cards, reminders and escalations are written in the city's default language."""
        return self.texts.default_language


@dataclass
class Mail:
    """Messages for chats other than the one being answered, queued in the same transaction."""

    items: list[tuple[Envelope, Priority]] = field(default_factory=list)

    def send(
        self,
        channel: Channel | str,
        chat_id: str,
        action: Outbound,
        *,
        ticket_id: int | None = None,
        role: str | None = None,
        priority: Priority = Priority.NOTIFICATION,
        language: str | None = None,
        template: str | None = None,
        template_params: Mapping[str, str] | None = None,
    ) -> None:
        """Queue an action for a chat.

        `language`: the recipient's, when the action is a text written for them. `template`: the kind
        of notice this is (workflows/reply_window.py), so that on WhatsApp a configured template can
        stand in when the person's 24-hour window has closed; it may use `template_params`, the
        text itself (plain) and the payloads of its buttons as quick replies.
        """
        if language is not None and isinstance(action, OutText):
            action = action.model_copy(update={"language": language})
        call = None
        if template is not None and Channel(channel) == Channel.WHATSAPP:
            assert language is not None, "a template is written in the recipient's language"
            params = dict(template_params or {})
            if isinstance(action, OutText):
                params.setdefault("text", reply_window.plain(action.text))
            buttons = action.buttons if isinstance(action, OutText) else ()
            call = TemplateCall(
                kind=template,
                language=language or "",
                params=params,
                quick_replies=tuple(b.payload for row in buttons for b in row),
            )
        envelope = Envelope(
            channel=Channel(channel),
            chat_id=chat_id,
            action=action,
            ticket_id=ticket_id,
            role=role,
            template=call,
        )
        self.items.append((envelope, priority))


@dataclass
class Desk:
    """What ticket work needs beside the ticket: the transaction, the dependencies, the mail."""

    session: AsyncSession
    deps: Deps
    mail: Mail
    now: datetime

    def staff_text(self, key: str, **params: Any) -> str:
        return self.deps.texts(key, self.deps.staff_language, **params)


@dataclass
class Turn:
    """One inbound event being handled inside one database transaction."""

    inbound: Inbound
    citizen: Citizen
    conversation: Conversation
    session: AsyncSession
    deps: Deps
    replies: list[Outbound] = field(default_factory=list)
    emergency: bool = False  # the emergency number was already given for this event
    mail: Mail = field(default_factory=Mail)
    staff: Any = None  # models.Staff when the person is staff (officer commands in private chat)

    @property
    def desk(self) -> Desk:
        return Desk(session=self.session, deps=self.deps, mail=self.mail, now=self.deps.clock.now())

    @property
    def lang(self) -> str:
        return self.citizen.language

    @property
    def state(self) -> State:
        try:
            return State(self.conversation.state)
        except ValueError:  # a state from a newer or older version: start over politely
            return State.IDLE

    @property
    def data(self) -> dict[str, Any]:
        return self.conversation.data

    def t(self, key: str, **params: Any) -> str:
        """The catalogue text for key in the person's language; its `key@<channel>` variant where
        the platform needs other words (WhatsApp has no "send my location" button)."""
        variant = f"{key}@{self.inbound.channel.value}"
        return self.deps.texts(variant if self.deps.texts.has(variant) else key, self.lang, **params)

    def say(self, key: str, *, buttons: Sequence[Sequence[Button]] = (), **params: Any) -> None:
        """Queue a catalogue text as a reply, with optional button rows."""
        self.send(OutText(text=self.t(key, **params), buttons=_rows(buttons)))

    def send(self, action: Outbound) -> None:
        self.replies.append(action)

    def means(self, kind: str, text: str) -> bool:
        """Whether text is one of the catalogue's words for kind (yes, no, skip, done), any language."""
        return normalise(text) in self.deps.texts.words(f"words.{kind}")

    def opens_with(self, kind: str, text: str, max_words: int) -> bool:
        """Whether a short text starts with one of the words for kind ("terima kasih banyak ya")."""
        said = normalise(text)
        if not said or len(said.split()) > max_words:
            return False
        return any(said == w or said.startswith(w + " ") for w in self.deps.texts.words(f"words.{kind}"))

    def label(self, key: str, **params: Any) -> str:
        """A catalogue text as a plain label (buttons and keyboards are never markup)."""
        return self.deps.texts.plain(key, self.lang, **params)

    def button(self, key: str, action: str, **params: Any) -> Button:
        """A button valid only while the conversation stays at this step."""
        return Button(label=self.label(key, **params), payload=f"{self.conversation.step}|{action}")

    def menu_button(self, key: str, action: str, **params: Any) -> Button:
        """A button that works from any message, however old."""
        return Button(label=self.label(key, **params), payload=f"{MENU}|{action}")

    def goto(self, state: State, **data: Any) -> None:
        """Move to a state; buttons of earlier steps become stale."""
        self.conversation.state = state.value
        self.conversation.step += 1
        if data:
            self.set_data(**data)

    def set_data(self, **data: Any) -> None:
        # a new dict so SQLAlchemy sees the JSON column change
        self.conversation.data = {**self.conversation.data, **data}

    def reset(self) -> None:
        """Forget any draft and go back to the main menu state."""
        self.conversation.data = {}
        self.goto(State.IDLE)


def _rows(buttons: Iterable[Sequence[Button]]) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(row) for row in buttons if row)


def pairs(buttons: Sequence[Button], per_row: int = 2) -> list[list[Button]]:
    """Lay buttons out in rows of per_row (phones show two short labels side by side)."""
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]
