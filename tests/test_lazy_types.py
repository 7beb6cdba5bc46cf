"""aiogram's types built at first use (bot/lazy_types.py): the bot's process still reads every kind of
update it handles and writes every call it makes, and types it never meets are never built.

Each case runs in a fresh interpreter: the deferral only happens when `bot` is imported before aiogram.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, sys
import bot  # defers aiogram's types
from aiogram import types
from aiogram.methods import SendMessage, SendPhoto, EditMessageText, AnswerCallbackQuery, SetMyCommands
from aiogram.methods.base import Response

never_used = types.Sticker.__pydantic_complete__, types.Gift.__pydantic_complete__
chat = {"id": 42, "type": "private", "first_name": "Siti"}
user = {"id": 42, "is_bot": False, "first_name": "Siti", "language_code": "id"}
photo = {"file_id": "p", "file_unique_id": "u", "width": 9, "height": 9}
message = {"message_id": 7, "date": 1764000000, "chat": chat, "from": user}
updates = [
    {"update_id": 1, "message": {**message, "text": "Jalan berlubang <b>"}},
    {"update_id": 2, "message": {**message, "caption": "foto", "photo": [photo]}},
    {"update_id": 3, "message": {**message, "location": {"latitude": -6.2, "longitude": 106.8}}},
    {"update_id": 4, "message": {**message, "voice": {"file_id": "v", "file_unique_id": "w", "duration": 3}}},
    {"update_id": 5, "callback_query": {"id": "c", "from": user, "chat_instance": "i", "data": "menu|file",
                                        "message": {**message, "text": "menu"}}},
    {"update_id": 6, "message": {**message, "chat": {"id": -100, "type": "supergroup", "title": "DLH"},
                                  "new_chat_members": [user]}},
]
read = [types.Update.model_validate(u).model_dump(exclude_none=True)["update_id"] for u in updates]
button = types.InlineKeyboardButton(text="OK", callback_data="x")
markup = types.InlineKeyboardMarkup(inline_keyboard=[[button]])
calls = [
    SendMessage(chat_id=42, text="Terima kasih", reply_markup=markup).model_dump(exclude_none=True)["text"],
    SendPhoto(chat_id=42, photo="p", caption="c").model_dump(exclude_none=True)["photo"],
    EditMessageText(chat_id=42, message_id=7, text="t").model_dump(exclude_none=True)["text"],
    AnswerCallbackQuery(callback_query_id="c").model_dump(exclude_none=True)["callback_query_id"],
    len(SetMyCommands(commands=[types.BotCommand(command="start", description="Mulai")]).commands),
]
answer = Response[types.Message].model_validate({"ok": True, "result": {**message, "text": "hi"}}).result.text
print(json.dumps({"never_used": never_used, "read": read, "calls": calls, "answer": answer,
                  "sticker_after": types.Sticker.__pydantic_complete__}))
"""


def _probe(**env: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_deferred_types_read_every_update_the_bot_handles_and_write_its_calls() -> None:
    seen = _probe()
    assert seen["never_used"] == [False, False]  # stickers and gifts: never built unless met
    assert seen["read"] == [1, 2, 3, 4, 5, 6]
    assert seen["calls"] == ["Terima kasih", "p", "t", "c", 1]
    assert seen["answer"] == "hi"
    assert seen["sticker_after"] is False  # reading messages did not build the sticker type


def test_eager_types_on_request() -> None:
    seen = _probe(CIVICBOT_EAGER_TYPES="1")
    assert seen["never_used"] == [True, True]
    assert seen["read"] == [1, 2, 3, 4, 5, 6]
