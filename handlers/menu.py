"""Greeting, main menu, help and language choice."""

from __future__ import annotations

from handlers.context import Turn
from handlers.format import example_reference
from handlers.messages import OutText

LANGUAGE_NAMES = {"id": "🇮🇩 Bahasa Indonesia", "en": "🇬🇧 English"}


async def show_menu(turn: Turn, *, brief: bool = False) -> None:
    """The main menu: file a complaint, my tickets, help, language."""
    turn.say(
        "menu.brief" if brief else "menu.ask",
        buttons=[
            [turn.menu_button("menu.new_complaint", "new")],
            [turn.menu_button("menu.my_tickets", "tickets")],
            [turn.menu_button("menu.help", "help"), turn.menu_button("menu.language", "lang")],
        ],
    )


async def greet(turn: Turn) -> None:
    """/start: a welcome in the citizen's language, then the menu."""
    city = turn.deps.city
    turn.send(
        OutText(
            text=turn.t(
                "start.welcome", city=city.city.name.get(turn.lang), emergency=city.city.emergency_number
            ),
            remove_keyboard=True,
        )
    )
    await show_menu(turn)


async def show_help(turn: Turn) -> None:
    """/help: what the bot does and the commands."""
    city = turn.deps.city
    turn.say(
        "help.text",
        emergency=city.city.emergency_number,
        per_day=city.limits.tickets_per_day,
        photos_max=city.limits.photos_max,
        example=example_reference(turn),
    )


async def ask_language(turn: Turn) -> None:
    """/bahasa, /language: offer the languages served."""
    buttons = [
        [turn.menu_button("language.button", f"lang:{code}", name=name)]
        for code, name in LANGUAGE_NAMES.items()
    ]
    turn.say("language.ask", buttons=buttons)


async def set_language(turn: Turn, code: str, resume: bool) -> None:
    """Remember the chosen language; go on where the citizen was."""
    if code not in LANGUAGE_NAMES:
        turn.say("errors.stale_button")
        return
    turn.citizen.language = code
    turn.citizen.language_source = "chosen"
    turn.say("language.set", name=LANGUAGE_NAMES[code])
    if not resume:
        await show_menu(turn)
