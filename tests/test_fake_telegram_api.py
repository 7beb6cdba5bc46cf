"""Prove the fake Telegram Bot API server against a real aiogram 3 bot."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    Update,
)

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_limits import FloodLimits
from tests.fakes.telegram_updates import ApiError

USER = 4242


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    """A started fake server, stopped after the test."""
    async with FakeTelegramAPI() as fake:
        yield fake


def make_bot(api: FakeTelegramAPI) -> Bot:
    """A real aiogram Bot talking to the fake server."""
    return Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))


@contextlib.asynccontextmanager
async def polling(api: FakeTelegramAPI, router: Router) -> AsyncIterator[Bot]:
    """Run ``dp.start_polling`` with ``router`` in a task; stop it cleanly on exit."""
    bot = make_bot(api)
    dp = Dispatcher()
    dp.include_router(router)
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        await api.wait_for_call(lambda c: c.method == "getUpdates")
        yield bot
    finally:
        if not task.done():
            await dp.stop_polling()
        await task  # start_polling closes the bot session itself


def echo_router(seen: list[int] | None = None) -> Router:
    """Echo texts with an inline keyboard; answer and edit on button presses."""
    router = Router()
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Selesai", callback_data="done")]]
    )

    @router.message(F.text)
    async def echo(message: Message, event_update: Update) -> None:
        if seen is not None:
            seen.append(event_update.update_id)
        await message.answer(f"echo: {message.text}", reply_markup=keyboard)

    @router.callback_query(F.data == "done")
    async def done(query: CallbackQuery) -> None:
        await query.answer("Terima kasih")
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"{query.message.text} ✅")

    return router


async def test_echo_and_callback_roundtrip(api: FakeTelegramAPI) -> None:
    async with polling(api, echo_router()):
        update = api.push_text(USER, "halo", first_name="Budi")
        reply = await api.wait_for_text(USER, "echo: halo")
        message = reply.result
        assert message["chat"] == {"id": USER, "type": "private", "first_name": "Budi"}
        assert message["from"]["is_bot"] is True
        assert message["message_id"] == update["message"]["message_id"] + 1
        assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "done"

        query = api.push_callback(USER, "done", message_id=message["message_id"])
        answer = await api.wait_for_call(lambda c: c.method == "answerCallbackQuery")
        assert answer.params["callback_query_id"] == query["callback_query"]["id"]
        assert answer.params["text"] == "Terima kasih"
        assert query["callback_query"]["message"]["text"] == "echo: halo"
        edit = await api.wait_for_text(USER, "echo: halo ✅")
        assert edit.method == "editMessageText"
        assert "reply_markup" not in edit.result  # edit without markup drops the keyboard
        await api.wait_idle(quiet=0.1)
    assert api.texts(USER) == ["echo: halo", "echo: halo ✅"]
    assert [c.method for c in api.sent(USER)] == ["sendMessage", "editMessageText"]


async def test_duplicate_update_is_redelivered(api: FakeTelegramAPI) -> None:
    seen: list[int] = []
    async with polling(api, echo_router(seen)):
        update = api.push_text(USER, "dobel")
        await api.wait_for_text(USER, "echo: dobel")
        assert api.push_raw(update) is update
        await api.wait_for_text(USER, "echo: dobel")  # aiogram itself does not dedupe
        api.push_text(USER, "berikutnya")
        await api.wait_for_text(USER, "echo: berikutnya")
    uid = update["update_id"]
    assert seen == [uid, uid, uid + 1]
    delivered = [u["update_id"] for c in api.calls if c.method == "getUpdates" for u in c.result or []]
    assert delivered.count(uid) == 2


async def test_long_poll_returns_promptly_and_honours_offset(api: FakeTelegramAPI) -> None:
    bot = make_bot(api)
    try:
        started = time.monotonic()
        assert await bot.get_updates(timeout=0) == []
        waiting = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        pushed = api.push_text(USER, "bangun")
        updates = await asyncio.wait_for(waiting, 1)
        assert time.monotonic() - started < 1
        assert [u.update_id for u in updates] == [pushed["update_id"]]
        # unconfirmed updates are re-sent; an offset above them confirms them
        assert len(await bot.get_updates(timeout=0)) == 1
        assert await bot.get_updates(offset=pushed["update_id"] + 1, timeout=0) == []
        assert await bot.get_updates(timeout=0) == []
    finally:
        await bot.session.close()


async def test_retry_after_fault_has_telegram_shape(api: FakeTelegramAPI) -> None:
    bot = make_bot(api)
    try:
        api.fail_next("sendMessage", retry_after=3)
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(USER, "halo")
        assert caught.value.retry_after == 3
        await bot.send_message(USER, "halo lagi")  # only the next call failed
        failed = api.sent(USER, include_failed=True)[0]
        assert (failed.failed, failed.status) == (True, 429)
        assert api.texts(USER) == ["halo lagi"]

        api.fail_next("sendMessage", status=403)
        with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
            await bot.send_message(USER, "x")
        api.fail_next("sendChatAction", status=502, times=2)
        for _ in range(2):
            with pytest.raises(TelegramServerError):
                await bot.send_chat_action(USER, "typing")
        assert await bot.send_chat_action(USER, "typing") is True
    finally:
        await bot.session.close()

    api.fail_next("getMe")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}/bot{api.token}/getMe") as resp:
            assert resp.status == 429
            assert await resp.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }


async def test_limits_and_protocol_errors(api: FakeTelegramAPI) -> None:
    bot = make_bot(api)
    try:
        with pytest.raises(TelegramBadRequest, match="message is too long"):
            await bot.send_message(USER, "x" * 4097)
        assert (await bot.send_message(USER, "x" * 4096)).message_id == 1
        with pytest.raises(TelegramBadRequest, match="message text is empty"):
            await bot.send_message(USER, " ")
        with pytest.raises(TelegramBadRequest, match="message caption is too long"):
            await bot.send_photo(USER, "AgACphoto", caption="c" * 1025)
        too_long = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]]
        )
        with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
            await bot.send_message(USER, "pilih", reply_markup=too_long)
        with pytest.raises(TelegramBadRequest, match="can't parse entities"):
            await bot.send_message(USER, "<b>tebal", parse_mode="HTML")
        sent = await bot.send_message(USER, "<b>Tiket</b> &amp; status", parse_mode="HTML")
        assert sent.text == "Tiket & status"
        with pytest.raises(TelegramBadRequest, match="message is not modified"):
            await bot.edit_message_text("Tiket & status", chat_id=USER, message_id=sent.message_id)
    finally:
        await bot.session.close()
    assert [c.status for c in api.calls] == [400, 200, 400, 400, 400, 400, 200, 400]

    async with aiohttp.ClientSession() as http:

        async def post(token: str, method: str, **kwargs: Any) -> tuple[int, Any]:
            async with http.post(f"{api.base_url}/bot{token}/{method}", **kwargs) as resp:
                return resp.status, await resp.json()

        assert await post("1:wrong", "getMe") == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )
        assert await post(api.token, "sendDice", json={"chat_id": USER}) == (
            404,
            {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
        )
        status, body = await post(api.token, "sendMessage", json={"text": "hi"})
        assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
        status, body = await post(api.token, "sendMessage", data={"chat_id": "7", "text": "12"})
        assert (status, body["result"]["text"], body["result"]["chat"]["id"]) == (200, "12", 7)


async def test_photos_files_and_uploads(api: FakeTelegramAPI) -> None:
    bot = make_bot(api)
    try:
        update = api.push_photo(USER, file_id="AgACfoto1", caption="jalan rusak")
        sizes = update["message"]["photo"]
        assert sizes[-1]["file_id"] == "AgACfoto1"
        assert len({s["file_unique_id"] for s in sizes}) == len(sizes) > 1
        file = await bot.get_file("AgACfoto1")
        assert file.file_path and file.file_path.endswith(".jpg")
        downloaded = await bot.download_file(file.file_path)
        assert downloaded is not None and downloaded.read().startswith(b"fake-telegram-file")
        with pytest.raises(TelegramBadRequest, match="invalid file_id"):
            await bot.get_file("nope")

        upload = BufferedInputFile(b"\xff\xd8jpeg", filename="bukti.jpg")
        photo = await bot.send_photo(USER, upload, caption="bukti")
        assert photo.photo and photo.caption == "bukti"
        assert api.calls[-1].params["photo"].data == b"\xff\xd8jpeg"
        location = await bot.send_location(USER, -6.2, 106.8)
        assert location.location and location.location.latitude == pytest.approx(-6.2)
        assert api.texts(USER) == ["bukti"]
    finally:
        await bot.session.close()


async def test_builders_parse_as_aiogram_updates(api: FakeTelegramAPI) -> None:
    group = -1001234
    updates = [
        api.push_text(USER, "halo", username="budi", language_code="id"),
        api.push_command(USER, "lapor jalan rusak"),
        api.push_photo(USER, caption="a", media_group_id="album1"),
        api.push_photo(USER, media_group_id="album1"),
        api.push_location(USER, -6.2, 106.8),
        api.push_sticker(USER),
        api.push_voice(USER),
        api.push_document(USER, caption="surat"),
        api.push_contact(USER),
        api.push_edited_text(USER, 1, "halo lagi"),
        api.push_callback(USER, "x", message_id=999),
        api.push_text(USER, "di grup", chat_id=group),
        api.push_update(
            {"message": {"message_id": 77, "date": 0, "text": "manual", "chat": {"id": 5, "type": "private"}}}
        ),
    ]
    parsed = [Update.model_validate(u) for u in updates]
    assert [u.update_id for u in parsed] == list(range(1, len(updates) + 1))
    assert [u.event_type for u in parsed][-4:] == ["edited_message", "callback_query", "message", "message"]
    command = parsed[1].message
    assert command and command.text == "/lapor jalan rusak" and command.entities
    assert command.entities[0].type == "bot_command" and command.entities[0].length == 6
    assert parsed[0].message and parsed[0].message.from_user
    assert parsed[0].message.from_user.username == "budi"
    assert parsed[11].message and parsed[11].message.chat.type == "supergroup"
    private_ids = [u.message.message_id for u in parsed[:9] if u.message]
    assert private_ids == list(range(1, 10))  # per-chat message ids, shared with the bot
    assert parsed[9].edited_message and parsed[9].edited_message.text == "halo lagi"


async def test_other_methods_through_aiogram(api: FakeTelegramAPI) -> None:
    bot = make_bot(api)
    try:
        me = await bot.get_me()
        assert me.is_bot and me.id == int(api.token.split(":")[0])
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert (await bot.get_webhook_info()).url == ""
        assert await bot.set_my_commands([BotCommand(command="lapor", description="Lapor")])
        assert [c.command for c in await bot.get_my_commands()] == ["lapor"]
        with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand(command="Lapor", description="x")])
        assert await bot.delete_my_commands()
        chat = await bot.get_chat(USER)
        assert chat.type == "private"

        album = await bot.send_media_group(
            USER,
            [
                InputMediaPhoto(media="AgACx", caption="satu"),
                InputMediaPhoto(media=BufferedInputFile(b"img", filename="b.jpg")),
            ],
        )
        assert len({m.media_group_id for m in album}) == 1 and album[0].caption == "satu"
        photo = await bot.send_photo(USER, "AgACy", caption="lama")
        edited = await bot.edit_message_caption(chat_id=USER, message_id=photo.message_id, caption="baru")
        assert isinstance(edited, Message) and edited.caption == "baru"
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Buka", url="https://example.org")]]
        )
        edited = await bot.edit_message_reply_markup(
            chat_id=USER, message_id=photo.message_id, reply_markup=keyboard
        )
        assert isinstance(edited, Message) and edited.reply_markup
        assert edited.reply_markup.inline_keyboard[0][0].url == "https://example.org"
        assert await bot.delete_message(USER, photo.message_id)
        with pytest.raises(TelegramBadRequest, match="message to delete not found"):
            await bot.delete_message(USER, photo.message_id)
        with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
            await bot.answer_callback_query("123")
        api.block(USER)
        with pytest.raises(TelegramForbiddenError):
            await bot.send_message(USER, "halo")
        assert await bot.close() and await bot.log_out()
    finally:
        await bot.session.close()
    assert api.texts(USER) == ["satu", "lama", "baru"]


async def test_group_builders_parse_as_aiogram_updates(api: FakeTelegramAPI) -> None:
    group, basic, officer = -1005550001, -4005550002, 5151
    assert api.add_group(group, "Dinas PU") == {"id": group, "type": "supergroup", "title": "Dinas PU"}
    assert api.add_group(basic)["type"] == "group"  # basic groups: negative ids without -100
    with pytest.raises(ValueError):
        api.push_group_text(USER, officer, "bukan grup")

    bot = make_bot(api)
    try:
        card = await bot.send_message(group, "Tiket baru")
        updates = [
            api.push_group_text(group, officer, "saya ambil", reply_to=card.message_id, first_name="Budi"),
            api.push_group_text(group, officer, "/status@civicbot_test_bot ADU-1"),
            api.push_group_photo(group, officer, caption="bukti", file_id="AgACgrup", reply_to=999),
            api.push_group_callback(group, officer, "ambil", message_id=card.message_id),
            api.push_bot_added(basic, officer),
            api.push_member_left(basic, USER, by_user_id=officer),
        ]
        parsed = [Update.model_validate(u, context={"bot": bot}) for u in updates]
        reply, command, photo = (p.message for p in parsed[:3])
        assert reply and reply.chat.type == "supergroup" and reply.chat.title == "Dinas PU"
        assert reply.reply_to_message and reply.reply_to_message.text == "Tiket baru"
        assert reply.reply_to_message.from_user and reply.reply_to_message.from_user.is_bot
        assert reply.from_user and reply.from_user.first_name == "Budi"
        assert command and command.entities and command.entities[0].type == "bot_command"
        assert command.entities[0].length == len("/status@civicbot_test_bot")
        assert photo and photo.caption == "bukti" and photo.photo and photo.photo[-1].file_id == "AgACgrup"
        assert photo.reply_to_message and photo.reply_to_message.message_id == 999  # unknown: minimal
        query = parsed[3].callback_query
        assert query and query.message and query.message.chat.id == group and query.from_user.id == officer
        added = parsed[4].message
        assert added and added.new_chat_members and added.new_chat_members[0].id == bot.id
        assert added.from_user and added.from_user.id == officer and added.chat.type == "group"
        left = parsed[5].message
        assert left and left.left_chat_member and left.left_chat_member.id == USER

        # a reply to a reply carries only one level, like Telegram
        nested = api.push_group_text(group, officer, "lagi", reply_to=reply.message_id)
        assert "reply_to_message" not in nested["message"]["reply_to_message"]

        # adding the bot also sends my_chat_member first, which only bots asking for it receive
        everything = await bot.get_updates(timeout=0)
        [member_update] = [u for u in everything if u.my_chat_member]
        assert (
            member_update.my_chat_member and member_update.my_chat_member.new_chat_member.status == "member"
        )
        assert member_update.update_id == parsed[4].update_id - 1
        wanted = await bot.get_updates(allowed_updates=["message", "callback_query"], timeout=0)
        assert len(wanted) == len(everything) - 1 == len(updates) + 1
        assert all(u.my_chat_member is None for u in wanted)
    finally:
        await bot.session.close()


async def test_migrated_group_answers_like_telegram(api: FakeTelegramAPI) -> None:
    old, new, officer = -4005550002, -1004005550002, 5151
    api.add_group(old, "Kecamatan Utara")
    bot = make_bot(api)
    try:
        card = await bot.send_message(old, "kartu")
        pushed = api.migrate_chat(old, new, by_user_id=officer)
        assert pushed is not None
        to_update, from_update = (Update.model_validate(u, context={"bot": bot}).message for u in pushed)
        assert to_update and to_update.chat.id == old and to_update.migrate_to_chat_id == new
        assert from_update and from_update.chat.id == new and from_update.migrate_from_chat_id == old
        assert from_update.chat.type == "supergroup" and from_update.chat.title == "Kecamatan Utara"
        assert to_update.from_user and to_update.from_user.id == officer

        with pytest.raises(TelegramMigrateToChat) as caught:
            await bot.send_message(old, "halo")
        assert caught.value.migrate_to_chat_id == new
        with pytest.raises(TelegramMigrateToChat):
            await bot.edit_message_text("baru", chat_id=old, message_id=card.message_id)
        with pytest.raises(TelegramMigrateToChat):
            await bot.send_chat_action(old, "typing")
        sent = await bot.send_message(new, "halo")
        assert sent.chat.type == "supergroup" and sent.message_id == 2  # after the service message
    finally:
        await bot.session.close()

    async with aiohttp.ClientSession() as http:
        url = f"{api.base_url}/bot{api.token}/sendMessage"
        async with http.post(url, json={"chat_id": old, "text": "halo"}) as resp:
            assert resp.status == 400
            assert await resp.json() == {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": new},
            }
    assert api.migrate_chat(-4001, -1004001, push_updates=False) is None
    assert api.migrated == {old: new, -4001: -1004001}


async def test_edit_message_text_like_telegram(api: FakeTelegramAPI) -> None:
    group = -1005550001
    one = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Ambil", callback_data="take")]])
    two = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Selesai", callback_data="done"),
                InlineKeyboardButton(text="Tolak", callback_data="reject"),
            ]
        ]
    )
    bot = make_bot(api)
    try:
        card = await bot.send_message(group, "<b>ADU-1</b> baru", parse_mode="HTML", reply_markup=one)
        assert api.current_text(group, card.message_id) == "ADU-1 baru"
        assert api.buttons(group, card.message_id) == [[("Ambil", "take")]]

        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await bot.edit_message_text("x", chat_id=group, message_id=999)
        with pytest.raises(TelegramBadRequest) as caught:
            await bot.edit_message_text(
                "<b>ADU-1</b> baru",
                chat_id=group,
                message_id=card.message_id,
                parse_mode="HTML",
                reply_markup=one,
            )
        assert caught.value.message == (
            "Bad Request: message is not modified: specified new message content and reply markup "
            "are exactly the same as a current content and reply markup of the message"
        )

        # the same text with other buttons is a change; so is the same text without buttons
        edited = await bot.edit_message_text(
            "ADU-1 baru", chat_id=group, message_id=card.message_id, reply_markup=two
        )
        assert isinstance(edited, Message) and edited.edit_date
        assert api.buttons(group, card.message_id) == [[("Selesai", "done"), ("Tolak", "reject")]]
        await bot.edit_message_text("ADU-1 selesai", chat_id=group, message_id=card.message_id)
        assert api.current_text(group, card.message_id) == "ADU-1 selesai"
        assert api.buttons(group, card.message_id) == []

        theirs = api.push_group_text(group, USER, "halo")["message"]["message_id"]
        with pytest.raises(TelegramBadRequest, match="message can't be edited"):
            await bot.edit_message_text("x", chat_id=group, message_id=theirs)
    finally:
        await bot.session.close()
    edits = api.edits(group, card.message_id)
    assert [c.text for c in edits] == ["ADU-1 baru", "ADU-1 selesai"]  # failed edits are not listed
    assert api.current_text(group, 12345) is None and api.buttons(group, 12345) == []


async def test_flood_limits_answer_429_like_telegram(api: FakeTelegramAPI) -> None:
    now = [100.0]
    api.limit_rate(FloodLimits(per_second=3, per_group_per_minute=2, clock=lambda: now[0]))
    api.add_group(-1001, "Grup")
    bot = make_bot(api)
    try:
        await bot.send_message(USER, "1")
        with pytest.raises(TelegramRetryAfter) as caught:  # one per second in a private chat
            await bot.send_message(USER, "2")
        assert caught.value.retry_after == 1
        await bot.send_message(USER + 1, "a")
        await bot.send_message(USER + 2, "b")
        with pytest.raises(TelegramRetryAfter):  # three per second overall
            await bot.send_message(USER + 3, "c")
        now[0] += 1.0
        await bot.send_message(-1001, "g1")
        await bot.send_message(-1001, "g2")
        with pytest.raises(TelegramRetryAfter) as caught:  # two per minute in the group
            await bot.send_message(-1001, "g3")
        assert caught.value.retry_after == 60
        assert api.limits is not None and api.limits.refused == 3
        assert api.texts(USER) == ["1"]  # a refused send is not delivered
    finally:
        await bot.session.close()


async def test_injected_trouble_is_repeatable_by_seed(api: FakeTelegramAPI) -> None:
    outcomes = []
    for _ in range(2):
        limits = FloodLimits(per_second=None, per_chat_per_second=None, fault_rate=0.3, seed=7)
        results = []
        for _ in range(50):
            try:
                limits.admit(USER)
                results.append(200)
            except ApiError as error:
                results.append(error.status)
        outcomes.append(results)
    assert outcomes[0] == outcomes[1]
    assert 5 < sum(status != 200 for status in outcomes[0]) < 30
    assert {429, 500, 502} >= set(outcomes[0]) - {200}
