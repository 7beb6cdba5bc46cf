"""Citizens turn announcements off (the 🔕 button under one, /berhenti_pengumuman, /stop_announcements)
and on again (/pengumuman, /announcements, the button under the confirmation); opted-out citizens are
never counted nor sent one. Surveys' /stop is a different switch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiogram.types import Update
from sqlmodel import select

from bot.broadcast_runner import BroadcastRunner
from bot.channels.telegram import TelegramAdapter, callback_to_inbound, make_bot, message_to_inbound
from bot.channels.whatsapp import WhatsAppAdapter
from bot.channels.whatsapp_client import GraphClient
from bot.media_store import MediaStore
from bot.sender import OutboxSender
from handlers.context import Deps
from handlers.messages import Channel, MediaRef, OutText
from handlers.pipeline import Pipeline
from models import Citizen
from models.db import Database
from tests.dialog import Dialog
from tests.fakes.graph_api import FakeGraphAPI, button_reply, text_message
from tests.fakes.telegram_api import FakeTelegramAPI
from workflows import broadcasts
from workflows.broadcasts import Segment
from workflows.city_config import CityConfig
from workflows.clock import FrozenClock
from workflows.reply_window import ReplyWindow


async def everyone(db: Database, city: CityConfig) -> dict[str, int]:
    async with db.sessions() as session:
        return await broadcasts.count_recipients(session=session, segment=Segment(kind="everyone"), city=city)


async def record(db: Database, user_id: str) -> Citizen:
    async with db.sessions() as session:
        return (await session.exec(select(Citizen).where(Citizen.external_id == user_id))).one()


async def test_the_bell_button_turns_announcements_off_and_pengumuman_on_again(
    citizen: Callable[..., Dialog], db: Database, city: CityConfig
) -> None:
    siti, budi = citizen(user_id="1001"), citizen(user_id="1002")
    await siti.say("/start")
    await budi.say("/start")
    assert await everyone(db, city) == {"telegram": 2, "whatsapp": 0}

    await siti.press_payload("an|off")  # the 🔕 under an announcement, however old
    assert "tidak akan menerima pengumuman lagi" in siti.text and "/pengumuman" in siti.text
    assert (await record(db, "1001")).announcements_off_at is not None
    assert await everyone(db, city) == {"telegram": 1, "whatsapp": 0}  # only Budi now

    await siti.press_payload("an|off")
    assert "sudah tidak menerima pengumuman" in siti.text

    await siti.say("/pengumuman")
    assert "akan menerima pengumuman lagi" in siti.text and "/berhenti_pengumuman" in siti.text
    assert await everyone(db, city) == {"telegram": 2, "whatsapp": 0}


async def test_english_commands_and_the_undo_button(
    citizen: Callable[..., Dialog], db: Database, city: CityConfig
) -> None:
    jane = citizen(user_id="1003")
    await jane.say("/start")
    await jane.press_payload("m|lang:en")
    await jane.say("/stop_announcements")
    assert "you will not receive announcements any more" in jane.text and "/announcements" in jane.text
    assert await everyone(db, city) == {"telegram": 0, "whatsapp": 0}
    await jane.press("Receive announcements again")  # the undo under the confirmation
    assert "you will receive announcements again" in jane.text and "/stop_announcements" in jane.text
    assert await everyone(db, city) == {"telegram": 1, "whatsapp": 0}
    await jane.say("/announcements")
    assert "You already receive announcements" in jane.text


async def test_an_opted_out_citizen_is_never_sent_one(
    citizen: Callable[..., Dialog], db: Database, deps: Deps, clock: FrozenClock
) -> None:
    siti, budi = citizen(user_id="1001"), citizen(user_id="1002")
    await siti.say("/start")
    await budi.say("/start")
    await siti.say("/berhenti_pengumuman")
    async with db.transaction() as session:
        draft = await broadcasts.create_broadcast(
            session=session,
            created_by="cli",
            texts={"id": "Pasar murah Sabtu ini di alun-alun."},
            photo=None,
            segment=Segment(kind="everyone"),
            send_at=None,
            now=clock.now(),
            report_to=None,
        )
        assert draft.id is not None
        await broadcasts.confirm_broadcast(
            session=session, broadcast_id=draft.id, city=deps.city, now=clock.now()
        )
    await BroadcastRunner(db, deps, {"telegram": 100.0, "whatsapp": 100.0}).run_once()

    await budi.say("/tiket")  # reads on: the announcement was queued before this reply
    got = [r for r in budi.history if isinstance(r, OutText) and "Pasar murah" in r.text]
    assert got and got[0].buttons[0][0].payload == "an|off"
    await siti.say("/tiket")
    assert not [r for r in siti.history if isinstance(r, OutText) and "Pasar murah" in r.text]


async def test_surveys_stop_and_announcements_are_separate_switches(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    siti = citizen(user_id="1001")
    await siti.say("/start")
    await siti.say("/stop")
    assert "tidak akan menerima survei lagi" in siti.text
    stopped = await record(db, "1001")
    assert stopped.surveys_off_at is not None and stopped.announcements_off_at is None
    await siti.say("/berhenti_pengumuman")
    await siti.say("/survei")
    both = await record(db, "1001")
    assert both.surveys_off_at is None and both.announcements_off_at is not None


async def test_help_tells_how(citizen: Callable[..., Dialog]) -> None:
    siti = citizen(user_id="1001")
    await siti.say("/help")
    assert "/berhenti_pengumuman" in siti.text and "/pengumuman" in siti.text


async def test_turning_them_off_while_writing_a_complaint_goes_back_to_it(
    citizen: Callable[..., Dialog],
) -> None:
    siti = citizen(user_id="1001")
    await siti.say("/start")
    await siti.press("Buat pengaduan")
    asked = siti.text
    await siti.press_payload("an|off")
    assert "tidak akan menerima pengumuman lagi" in siti.text
    assert asked.splitlines()[0] in siti.text  # the complaint's question again


async def test_the_bell_under_a_photo_announcement_turns_them_off_on_telegram_and_whatsapp(
    pipeline: Pipeline, db: Database, deps: Deps, clock: FrozenClock, city: CityConfig, tmp_path: Path
) -> None:
    """Through the real adapters and the fake platforms: the photo with the 🔕 under it, then the press."""
    siti, wati, yanti = 4242, "6281234567890", "6289876543210"
    poster = "AgACposterFILE"  # the admin's photo, a Telegram file: uploaded once to WhatsApp
    async with FakeTelegramAPI() as api, FakeGraphAPI() as graph:
        bot = make_bot(api.token, api.base_url)
        client = GraphClient(
            access_token=graph.access_token, phone_number_id=graph.phone_number_id, base_url=graph.base_url
        )
        try:
            store = MediaStore(tmp_path / "media")
            telegram = TelegramAdapter(bot, media=store)
            whatsapp = WhatsAppAdapter(
                client,
                db=db,
                handle=pipeline.handle,
                media_dir=store.root,
                list_button_labels={"id": "Pilih", "en": "Choose"},
                location_hints={"id": "", "en": ""},
                fetch_foreign=telegram.fetch_media,
            )
            sender = OutboxSender(
                db,
                {"telegram": telegram, "whatsapp": whatsapp},
                clock,
                per_second=1e6,
                windows={"whatsapp": ReplyWindow.from_config(city.whatsapp)},
            )

            async def telegram_update(update: dict[str, object]) -> None:
                parsed = Update.model_validate(update, context={"bot": bot})
                if parsed.callback_query is not None:
                    await pipeline.handle(callback_to_inbound(parsed.callback_query))
                else:
                    assert parsed.message is not None
                    inbound = message_to_inbound(parsed.message, bot_id=bot.id)
                    assert inbound is not None
                    await pipeline.handle(inbound)

            async def flush() -> None:
                while await sender.send_due():
                    pass

            await telegram_update(api.push_text(siti, "halo", language_code="id"))
            await whatsapp.on_webhook(text_message(wati, "halo", wamid="wamid.in.1"))
            await whatsapp.on_webhook(text_message(yanti, "halo", wamid="wamid.in.2"))
            await flush()
            api.set_file_content(poster, b"\xff\xd8\xff\xe0 the poster")
            greeted = {wati: len(graph.sent_to(wati)), yanti: len(graph.sent_to(yanti))}

            async with db.transaction() as session:
                draft = await broadcasts.create_broadcast(
                    session=session,
                    created_by="cli",
                    texts={"id": "Kerja bakti <b>Minggu</b> pagi."},
                    photo=MediaRef(kind="photo", file_id=poster, channel=Channel.TELEGRAM),
                    segment=Segment(kind="everyone"),
                    send_at=None,
                    now=clock.now(),
                    report_to=None,
                )
                assert draft.id is not None
                await broadcasts.confirm_broadcast(
                    session=session, broadcast_id=draft.id, city=city, now=clock.now()
                )
            await BroadcastRunner(db, deps, {"telegram": 100.0, "whatsapp": 100.0}, tier=250).run_once()
            await flush()

            # Telegram: one photo, the caption the text alone, the 🔕 under it
            [photo] = [c for c in api.sent(siti) if c.method == "sendPhoto"]
            assert photo.params["caption"] == "Kerja bakti <b>Minggu</b> pagi."
            assert photo.params["reply_markup"] == {
                "inline_keyboard": [[{"text": "🔕 Berhenti terima pengumuman", "callback_data": "an|off"}]]
            }
            # WhatsApp: one interactive message each, the photo its header, the caption its body
            [upload] = graph.uploads()  # uploaded once, its media id reused for the second citizen
            for wa_id in (wati, yanti):
                [announcement] = graph.sent_to(wa_id)[greeted[wa_id] :]
                assert announcement.type == "interactive"
                assert announcement.body["interactive"]["header"] == {
                    "type": "image",
                    "image": {"id": upload.media_id},
                }
                assert announcement.text == "Kerja bakti *Minggu* pagi."
                assert announcement.buttons == [("an|off", "🔕 Stop pengumuman")]

            # pressing it turns announcements off, on either platform
            message_id = photo.result["message_id"]
            await telegram_update(api.push_callback(siti, "an|off", message_id=message_id))
            pressed = graph.sent_to(wati)[-1].wamid
            assert pressed is not None
            await whatsapp.on_webhook(button_reply(wati, "an|off", "🔕 Stop pengumuman", context=pressed))
            await flush()
            assert (await record(db, str(siti))).announcements_off_at is not None
            assert (await record(db, wati)).announcements_off_at is not None
            assert (await record(db, yanti)).announcements_off_at is None  # she did not press it
            told = [c.params["text"] for c in api.sent(siti) if c.method == "sendMessage"]
            assert "tidak akan menerima pengumuman lagi" in told[-1]
            assert "tidak akan menerima pengumuman lagi" in (graph.texts(wati)[-1] or "")
            assert await everyone(db, city) == {"telegram": 0, "whatsapp": 1}
        finally:
            await client.close()
            await bot.session.close()
