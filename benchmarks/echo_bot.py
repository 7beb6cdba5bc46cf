"""The floor for benchmarks/intake.py: a bare aiogram bot that echoes, polling like `civicbot run`.

Every message is answered with one text, every button press with answerCallbackQuery and one
text. Run by the benchmark with TELEGRAM_BOT_TOKEN and TELEGRAM_API_BASE set to the fake's.
"""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_BASE"]))
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=session)
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "ok")

    @dispatcher.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer()
        if query.message is not None:
            await bot.send_message(query.message.chat.id, query.data or "ok")

    await dispatcher.start_polling(bot, polling_timeout=int(os.environ.get("TELEGRAM_POLLING_TIMEOUT", "1")))


if __name__ == "__main__":
    asyncio.run(main())
