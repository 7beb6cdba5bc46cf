"""The Telegram adapter against the fake Bot API: groups, replies, migrations and edits in place.

Inbound translation is checked on aiogram objects parsed from the updates the fake builds (and once
through the adapter's own router, long polling); outbound actions go through the real aiogram Bot
to the fake server, which answers like Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Update

from bot.channels.base import DeliveryError
from bot.channels.telegram import (
    TEXT_LIMIT,
    TelegramAdapter,
    callback_to_inbound,
    make_bot,
    message_to_inbound,
)
from bot.media_store import MediaStore
from handlers.messages import Button, Channel, Inbound, InboundKind, MediaRef, OutEdit, OutMedia, OutText
from tests.fakes.telegram_api import FakeTelegramAPI

GROUP = -1001234567890  # a supergroup
BASIC = -4001234567  # a basic group, upgraded in the migration tests
SUPER = -1004001234567  # what BASIC becomes
OFFICER = 5151
CITIZEN = 4242
TITLE = "Dinas PU - Pengaduan"


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        fake.add_group(GROUP, TITLE)
        fake.add_group(BASIC, "Kecamatan Utara")
        yield fake


@pytest.fixture
async def bot(api: FakeTelegramAPI) -> AsyncIterator[Bot]:
    bot = make_bot(api.token, api.base_url)
    yield bot
    await bot.session.close()


@pytest.fixture
def adapter(bot: Bot) -> TelegramAdapter:
    return TelegramAdapter(bot)


def inbound(update: dict[str, Any], bot: Bot) -> Inbound | None:
    """What the adapter makes of a message update the fake built."""
    parsed = Update.model_validate(update, context={"bot": bot})
    assert parsed.message is not None
    return message_to_inbound(parsed.message, bot_id=bot.id)


def card_buttons(*payloads: str) -> tuple[tuple[Button, ...], ...]:
    return (tuple(Button(label=p.title(), payload=p) for p in payloads),)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


# --- inbound ---------------------------------------------------------------------------------


async def test_adapter_knows_the_bot_id_from_the_token(
    api: FakeTelegramAPI, adapter: TelegramAdapter
) -> None:
    assert adapter.bot_id == api.bot_user["id"]
    assert api.calls == []  # no getMe needed


async def test_a_reply_in_a_group_carries_the_message_it_answers(
    api: FakeTelegramAPI, bot: Bot, adapter: TelegramAdapter
) -> None:
    card_id = await adapter.deliver(str(GROUP), OutText(text="<b>ADU-2026-AB12</b> jalan rusak"))
    assert card_id is not None
    update = api.push_group_text(GROUP, OFFICER, "sudah dicek", reply_to=int(card_id), first_name="Pak Budi")
    assert update["message"]["reply_to_message"]["text"] == "ADU-2026-AB12 jalan rusak"

    event = inbound(update, bot)
    assert event is not None
    assert (event.kind, event.text, event.is_private) == (InboundKind.TEXT, "sudah dicek", False)
    assert (event.chat_id, event.user_id) == (str(GROUP), str(OFFICER))
    assert event.reply_to_message_id == card_id
    assert event.chat_title == TITLE
    assert event.display_name == "Pak Budi"
    assert event.event_id == f"m:{GROUP}:{update['message']['message_id']}"


async def test_group_commands_plain_texts_and_captioned_photos(api: FakeTelegramAPI, bot: Bot) -> None:
    command = inbound(api.push_group_text(GROUP, OFFICER, "/status@civicbot_test_bot ADU-2026-AB12"), bot)
    assert command is not None
    assert (command.kind, command.command, command.command_args) == (
        InboundKind.COMMAND,
        "status",
        "ADU-2026-AB12",
    )
    assert command.reply_to_message_id is None and command.chat_title == TITLE

    first = api.push_group_text(GROUP, OFFICER, "foto menyusul")
    photo_update = api.push_group_photo(
        GROUP,
        OFFICER,
        caption="sesudah perbaikan",
        file_id="AgACdone",
        reply_to=first["message"]["message_id"],
    )
    photo = inbound(photo_update, bot)
    assert photo is not None
    assert (photo.kind, photo.text, photo.is_private) == (InboundKind.PHOTO, "sesudah perbaikan", False)
    assert photo.media[0].file_id == "AgACdone"
    assert photo.reply_to_message_id == str(first["message"]["message_id"])

    private = inbound(api.push_text(CITIZEN, "halo"), bot)
    assert private is not None
    assert (private.is_private, private.chat_title, private.reply_to_message_id) == (True, None, None)


async def test_migration_service_messages_become_migrated_events(api: FakeTelegramAPI, bot: Bot) -> None:
    pushed = api.migrate_chat(BASIC, SUPER, by_user_id=OFFICER)
    assert pushed is not None
    old, new = (inbound(update, bot) for update in pushed)
    assert old is not None and new is not None
    assert (old.kind, old.chat_id, old.migrate_to_chat_id) == (InboundKind.MIGRATED, str(BASIC), str(SUPER))
    assert old.migrate_from_chat_id is None
    assert (new.kind, new.chat_id, new.migrate_from_chat_id) == (InboundKind.MIGRATED, str(SUPER), str(BASIC))
    assert new.migrate_to_chat_id is None
    assert old.user_id == new.user_id == str(OFFICER)
    assert (old.is_private, new.is_private) == (False, False)
    assert new.chat_title == "Kecamatan Utara"
    assert old.event_id != new.event_id

    anonymous = inbound(api.push_migrated_to(-4009, -1004009), bot)  # no "from" at all
    assert anonymous is not None
    assert (anonymous.kind, anonymous.migrate_to_chat_id) == (InboundKind.MIGRATED, "-1004009")


async def test_the_bot_added_to_a_group_is_joined_other_comings_and_goings_are_ignored(
    api: FakeTelegramAPI, bot: Bot
) -> None:
    joined = inbound(api.push_bot_added(GROUP, OFFICER), bot)
    assert joined is not None
    assert (joined.kind, joined.chat_id, joined.user_id) == (InboundKind.JOINED, str(GROUP), str(OFFICER))
    assert (joined.is_private, joined.chat_title) == (False, TITLE)

    together = inbound(api.push_new_members(GROUP, [CITIZEN, bot.id], by_user_id=OFFICER), bot)
    assert together is not None and together.kind == InboundKind.JOINED

    assert inbound(api.push_new_members(GROUP, [CITIZEN], by_user_id=OFFICER), bot) is None
    assert inbound(api.push_new_members(GROUP, [CITIZEN]), bot) is None  # joined by link
    assert inbound(api.push_member_left(GROUP, CITIZEN), bot) is None
    assert inbound(api.push_member_left(GROUP, bot.id, by_user_id=OFFICER), bot) is None
    # without knowing its own id the adapter cannot tell the bot apart: nothing to report
    parsed = Update.model_validate(api.push_bot_added(GROUP, OFFICER), context={"bot": bot})
    assert parsed.message is not None and message_to_inbound(parsed.message) is None


async def test_the_adapter_router_delivers_group_events(
    api: FakeTelegramAPI, bot: Bot, adapter: TelegramAdapter
) -> None:
    card_id = await adapter.deliver(str(GROUP), OutText(text="Tiket baru", buttons=card_buttons("ambil")))
    assert card_id is not None
    seen: list[Inbound] = []

    async def sink(event: Inbound) -> bool:
        seen.append(event)
        return True

    dispatcher = adapter.dispatcher(sink)
    task = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        api.push_bot_added(GROUP, OFFICER)
        api.push_group_text(GROUP, OFFICER, "saya ambil", reply_to=int(card_id))
        query = api.push_group_callback(GROUP, OFFICER, "ambil", message_id=int(card_id))
        api.migrate_chat(BASIC, SUPER, by_user_id=OFFICER)
        await until(lambda: len(seen) == 5)
        answer = await api.wait_for_call(lambda c: c.method == "answerCallbackQuery")
        assert answer.params["callback_query_id"] == query["callback_query"]["id"]
    finally:
        with contextlib.suppress(RuntimeError):
            await dispatcher.stop_polling()
        await task

    # aiogram handles updates concurrently: look them up by kind, not by position
    by_kind: dict[InboundKind, list[Inbound]] = {}
    for event in seen:
        by_kind.setdefault(event.kind, []).append(event)
    assert {k: len(v) for k, v in by_kind.items()} == {
        InboundKind.JOINED: 1,
        InboundKind.TEXT: 1,
        InboundKind.BUTTON: 1,
        InboundKind.MIGRATED: 2,
    }
    [reply], [press] = by_kind[InboundKind.TEXT], by_kind[InboundKind.BUTTON]
    assert reply.reply_to_message_id == card_id
    assert (press.payload, press.message_id, press.is_private) == ("ambil", card_id, False)
    assert (press.chat_id, press.user_id, press.chat_title) == (str(GROUP), str(OFFICER), TITLE)
    assert len({e.event_id for e in seen}) == 5


# --- outbound: edits -------------------------------------------------------------------------


async def test_an_edit_changes_the_card_in_place(api: FakeTelegramAPI, adapter: TelegramAdapter) -> None:
    card_id = await adapter.deliver(
        str(GROUP), OutText(text="<b>ADU-2026-AB12</b> baru", buttons=card_buttons("ambil"))
    )
    assert card_id is not None
    edit = OutEdit(
        text="<b>ADU-2026-AB12</b> diproses", buttons=card_buttons("selesai", "tolak"), message_id=card_id
    )

    assert await adapter.deliver(str(GROUP), edit) == card_id
    message_id = int(card_id)
    assert api.current_text(GROUP, message_id) == "ADU-2026-AB12 diproses"
    assert api.buttons(GROUP, message_id) == [[("Selesai", "selesai"), ("Tolak", "tolak")]]
    [call] = api.edits(GROUP, message_id)
    assert call.method == "editMessageText" and call.params["parse_mode"] == "HTML"
    assert [c.method for c in api.sent(GROUP)] == ["sendMessage", "editMessageText"]

    closed = OutEdit(text="<b>ADU-2026-AB12</b> selesai", message_id=card_id)
    assert await adapter.deliver(str(GROUP), closed) == card_id
    assert api.buttons(GROUP, message_id) == []  # no buttons: the keyboard goes
    assert len(api.edits(GROUP, message_id)) == 2


async def test_an_unchanged_edit_is_a_success(api: FakeTelegramAPI, adapter: TelegramAdapter) -> None:
    card = OutText(text="<b>ADU-2026-AB12</b> diproses", buttons=card_buttons("selesai"))
    card_id = await adapter.deliver(str(GROUP), card)
    assert card_id is not None
    same = OutEdit(text=card.text, buttons=card.buttons, message_id=card_id)

    assert await adapter.deliver(str(GROUP), same) == card_id
    failed = api.sent(GROUP, include_failed=True)[-1]
    assert (failed.method, failed.status) == ("editMessageText", 400)
    assert failed.description and "message is not modified" in failed.description
    assert [c.method for c in api.sent(GROUP)] == ["sendMessage"]  # nothing new sent


@pytest.mark.parametrize("message_id", [None, "999", "not-a-telegram-id"])
async def test_an_edit_without_a_message_to_edit_sends_a_new_one(
    api: FakeTelegramAPI, adapter: TelegramAdapter, message_id: str | None
) -> None:
    api.push_group_text(GROUP, OFFICER, "halo")  # message 1 is someone else's
    edit = OutEdit(
        text="<b>ADU-2026-AB12</b> diproses", buttons=card_buttons("selesai"), message_id=message_id
    )

    new_id = await adapter.deliver(str(GROUP), edit)

    assert new_id == "2"
    assert api.current_text(GROUP, 2) == "ADU-2026-AB12 diproses"
    assert api.buttons(GROUP, 2) == [[("Selesai", "selesai")]]
    assert [c.method for c in api.sent(GROUP)] == ["sendMessage"]
    tried = [c.method for c in api.sent(GROUP, include_failed=True)]
    assert tried == (["sendMessage"] if message_id != "999" else ["editMessageText", "sendMessage"])


async def test_an_edit_of_a_message_the_bot_cannot_edit_sends_a_new_one(
    api: FakeTelegramAPI, adapter: TelegramAdapter
) -> None:
    theirs = api.push_group_text(GROUP, OFFICER, "halo")["message"]["message_id"]
    photo = await adapter.bot.send_photo(GROUP, "AgACphoto", caption="bukti")

    for message_id in (theirs, photo.message_id):
        new_id = await adapter.deliver(str(GROUP), OutEdit(text="kartu", message_id=str(message_id)))
        assert new_id is not None and int(new_id) > photo.message_id
        assert api.current_text(GROUP, int(new_id)) == "kartu"
    descriptions = [c.description for c in api.sent(GROUP, include_failed=True) if c.failed]
    assert descriptions == [
        "Bad Request: message can't be edited",
        "Bad Request: there is no text in the message to edit",
    ]


async def test_a_long_edit_is_cut_to_one_message(api: FakeTelegramAPI, adapter: TelegramAdapter) -> None:
    card_id = await adapter.deliver(str(GROUP), OutText(text="kartu"))
    assert card_id is not None
    long_text = "<b>Riwayat</b>\n" + "\n".join(f"baris {n} " + "x" * 60 for n in range(200))

    assert await adapter.deliver(str(GROUP), OutEdit(text=long_text, message_id=card_id)) == card_id
    shown = api.current_text(GROUP, int(card_id))
    assert shown is not None and shown.startswith("Riwayat\nbaris 0") and len(shown) <= TEXT_LIMIT
    assert len(api.sent(GROUP)) == 2  # the card and its one edit

    new_id = await adapter.deliver(str(GROUP), OutEdit(text=long_text))
    assert new_id is not None and api.current_text(GROUP, int(new_id)) == shown
    assert len(api.sent(GROUP)) == 3


async def test_other_edit_failures_stay_delivery_errors(
    api: FakeTelegramAPI, adapter: TelegramAdapter
) -> None:
    card_id = await adapter.deliver(str(GROUP), OutText(text="kartu"))
    api.block(GROUP)
    with pytest.raises(DeliveryError) as caught:
        await adapter.deliver(str(GROUP), OutEdit(text="baru", message_id=card_id))
    assert caught.value.permanent and caught.value.migrate_to_chat_id is None
    api.unblock(GROUP)
    api.fail_next("editMessageText", retry_after=4)
    with pytest.raises(DeliveryError) as caught:
        await adapter.deliver(str(GROUP), OutEdit(text="baru", message_id=card_id))
    assert caught.value.retry_after == 4 and not caught.value.permanent
    assert [c.method for c in api.sent(GROUP)] == ["sendMessage"]  # no fallback send for these


# --- outbound: paid broadcasts and people who cannot be reached ------------------------------


async def test_a_paid_send_asks_telegram_for_a_paid_broadcast_and_a_plain_one_does_not(
    api: FakeTelegramAPI, adapter: TelegramAdapter
) -> None:
    photo = MediaRef(kind="photo", file_id="AgACAgQAAxkBAAIBpengumuman", channel=Channel.TELEGRAM)
    await adapter.deliver(str(CITIZEN), OutText(text="Pengumuman: pemadaman air besok"), paid=True)
    await adapter.deliver(str(CITIZEN), OutMedia(media=photo, caption="Peta pemadaman"), paid=True)
    await adapter.deliver(str(CITIZEN), OutText(text="Laporan Anda kami terima"))
    announcement, map_photo, reply = api.sent(CITIZEN)
    assert (announcement.method, announcement.params.get("allow_paid_broadcast")) == ("sendMessage", True)
    assert (map_photo.method, map_photo.params.get("allow_paid_broadcast")) == ("sendPhoto", True)
    assert "allow_paid_broadcast" not in reply.params


async def test_a_photo_announcement_carries_its_bell_button_and_a_press_on_it_comes_back(
    api: FakeTelegramAPI, bot: Bot, tmp_path: Path
) -> None:
    store = MediaStore(tmp_path / "media")
    adapter = TelegramAdapter(bot, media=store)
    bell = ((Button(label="🔕 Berhenti terima pengumuman", payload="an|off"),),)
    keyboard = {"inline_keyboard": [[{"text": "🔕 Berhenti terima pengumuman", "callback_data": "an|off"}]]}
    photo = MediaRef(kind="photo", file_id="AgACAgQAAxkBAAIBpengumuman", channel=Channel.TELEGRAM)
    await store.save(Channel.WHATSAPP, "1013859600285441", b"\xff\xd8\xff\xe0 poster", ".jpg")
    uploaded = MediaRef(kind="photo", file_id="1013859600285441", channel=Channel.WHATSAPP)

    message_id = await adapter.deliver(
        str(CITIZEN), OutMedia(media=photo, caption="Kerja bakti <b>Minggu</b>", buttons=bell), paid=True
    )
    await adapter.deliver(str(CITIZEN), OutMedia(media=uploaded, caption="Kerja bakti", buttons=bell))
    await adapter.deliver(str(CITIZEN), OutMedia(media=photo, caption="Bukti ADU-3"))
    by_id, by_upload, plain = api.sent(CITIZEN)
    assert (by_id.method, by_id.params["caption"]) == ("sendPhoto", "Kerja bakti <b>Minggu</b>")
    assert by_id.params["reply_markup"] == keyboard  # under the photo, as under a text
    assert by_id.result["reply_markup"] == keyboard  # what the citizen's app shows
    assert by_upload.method == "sendPhoto" and by_upload.params["reply_markup"] == keyboard
    assert "reply_markup" not in plain.params

    update = api.push_callback(CITIZEN, "an|off", message_id=int(message_id or 0))
    parsed = Update.model_validate(update, context={"bot": bot})
    assert parsed.callback_query is not None
    press = callback_to_inbound(parsed.callback_query)
    assert (press.kind, press.payload, press.message_id) == (InboundKind.BUTTON, "an|off", message_id)


@pytest.mark.parametrize(
    ("status", "description"),
    [
        (403, "Forbidden: bot was blocked by the user"),
        (403, "Forbidden: user is deactivated"),
        (400, "Bad Request: chat not found"),
    ],
)
async def test_a_person_who_cannot_be_reached_is_reported_as_unreachable(
    api: FakeTelegramAPI, adapter: TelegramAdapter, status: int, description: str
) -> None:
    api.fail_next("sendMessage", status=status, description=description)
    with pytest.raises(DeliveryError) as caught:
        await adapter.deliver(str(CITIZEN), OutText(text="Tiket Anda selesai"))
    assert caught.value.unreachable and caught.value.permanent
    assert description in caught.value.reason


async def test_a_blocked_bot_is_unreachable_other_refusals_are_not(
    api: FakeTelegramAPI, adapter: TelegramAdapter
) -> None:
    api.block(CITIZEN)
    with pytest.raises(DeliveryError) as caught:
        await adapter.deliver(str(CITIZEN), OutText(text="Tiket Anda selesai"))
    assert caught.value.unreachable
    api.unblock(CITIZEN)
    refusals = [
        (400, "Bad Request: can't parse entities: unsupported start tag", True),  # our message, not them
        (429, None, False),
        (500, "Internal Server Error", False),
    ]
    for status, description, permanent in refusals:
        api.fail_next("sendMessage", status=status, description=description, retry_after=3)
        with pytest.raises(DeliveryError) as caught:
            await adapter.deliver(str(CITIZEN), OutText(text="Tiket Anda selesai"))
        assert (caught.value.permanent, caught.value.unreachable) == (permanent, False), status
        # only a server error says the message did not go (its rate slot may go to the next one)
        assert caught.value.not_taken == (status == 500), status


# --- outbound: migrated groups and replies ---------------------------------------------------


async def test_sending_to_an_upgraded_group_names_its_new_id(
    api: FakeTelegramAPI, adapter: TelegramAdapter
) -> None:
    card_id = await adapter.deliver(str(BASIC), OutText(text="kartu", buttons=card_buttons("ambil")))
    api.migrate_chat(BASIC, SUPER, push_updates=False)

    for action in (OutText(text="tiket baru"), OutEdit(text="diproses", message_id=card_id)):
        with pytest.raises(DeliveryError) as caught:
            await adapter.deliver(str(BASIC), action)
        assert caught.value.migrate_to_chat_id == str(SUPER)
        assert not caught.value.permanent and caught.value.retry_after is None
    failed = api.sent(BASIC, include_failed=True)[-1]
    assert (failed.status, failed.description) == (
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
    )

    moved_id = await adapter.deliver(str(SUPER), OutEdit(text="diproses"))
    assert moved_id is not None and api.current_text(SUPER, int(moved_id)) == "diproses"


async def test_a_text_replying_to_a_message_is_sent_as_a_reply(
    api: FakeTelegramAPI, adapter: TelegramAdapter
) -> None:
    asked = api.push_group_text(GROUP, OFFICER, "ADU-2026-AB12 sudah selesai?")["message"]["message_id"]

    sent_id = await adapter.deliver(str(GROUP), OutText(text="Belum, sedang diproses.", reply_to=str(asked)))

    call = api.sent(GROUP)[-1]
    reply = call.params["reply_parameters"]
    assert (reply["message_id"], reply["allow_sending_without_reply"]) == (asked, True)
    assert call.result["reply_to_message"]["message_id"] == asked
    assert sent_id == str(call.result["message_id"])

    # a long answer: only its first part is the reply
    long_text = "\n".join(f"baris {n} " + "y" * 70 for n in range(120))
    before = len(api.sent(GROUP))
    await adapter.deliver(str(GROUP), OutText(text=long_text, reply_to=str(asked)))
    first, *rest = api.sent(GROUP)[before:]
    assert rest and "reply_parameters" in first.params
    assert not any("reply_parameters" in call.params for call in rest)

    # the question was deleted meanwhile: the answer still goes out, as a plain message
    gone = await adapter.deliver(str(CITIZEN), OutText(text="Terima kasih", reply_to="999"))
    assert gone is not None and "reply_to_message" not in api.sent(CITIZEN)[-1].result


async def test_voice_notes_and_documents_carry_their_files(api: FakeTelegramAPI, bot: Bot) -> None:
    """Kept with a complaint like photos (handlers), so the update must hand over the file."""
    voice = inbound(api.push_voice(4242), bot)
    assert voice is not None and voice.kind == InboundKind.VOICE
    assert [(m.kind, m.channel) for m in voice.media] == [("voice", Channel.TELEGRAM)]
    assert voice.media[0].file_id.startswith("AwAC")
    captioned = inbound(api.push_voice(4242, caption="dengarkan sampai akhir"), bot)
    assert captioned is not None and captioned.text == "dengarkan sampai akhir"  # relayed with it
    document = inbound(api.push_document(4242, caption="surat RT"), bot)
    assert document is not None and document.kind == InboundKind.DOCUMENT
    assert [(m.kind, m.channel) for m in document.media] == [("document", Channel.TELEGRAM)]
    assert document.text == "surat RT"
