"""Keeps Telegram's command menus in step with who is staff (handlers/command_menus.py says who gets what).

At start: the groups' menu, and each staff member's own menu in their private chat. Then, every
minute, whoever became staff or admin since, or stopped being, gets theirs (a chat Telegram does not
know yet, someone who never opened the bot, is tried again the next minute).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand

from bot.channels.telegram import TelegramAdapter
from handlers.command_menus import GROUP, Menu, staff_menus
from models.db import Database

log = logging.getLogger(__name__)


class StaffMenus:
    def __init__(self, db: Database, adapter: TelegramAdapter, describe: Callable[[str, str], str]) -> None:
        self.db = db
        self.adapter = adapter
        self.describe = describe  # (command, language) → its description
        self.shown: dict[str, Menu] = {}  # chat → the menu it has now

    def _commands(self, menu: Menu) -> dict[str, list[BotCommand]]:
        return {
            language: [BotCommand(command=c, description=self.describe(c, language)) for c in commands]
            for language, commands in menu.items()
        }

    async def start(self) -> None:
        try:
            await self.adapter.set_menu(self._commands(GROUP))
        except TelegramAPIError as error:
            log.warning("the groups' command menu was not set: %s", error)
        await self.refresh()

    async def refresh(self) -> int:
        """Set the menus that changed; how many chats got a new one."""
        async with self.db.sessions() as session:
            wanted = await staff_menus(session=session, channel="telegram")
        changed = 0
        for chat_id, menu in wanted.items():
            if self.shown.get(chat_id) == menu:
                continue
            try:
                await self.adapter.set_menu(self._commands(menu), chat_id=chat_id)
            except TelegramAPIError as error:  # never wrote to the bot, blocked it: next time
                log.debug("command menu of chat %s not set: %s", chat_id, error)
                continue
            self.shown[chat_id] = menu
            changed += 1
        return changed
