"""An admin's /siaran (/broadcast) in private chat: texts, photo, segment, time, preview, send; and
stopping a broadcast from its progress message.

The `desk` fixture (tests/conftest.py): an admin (ADMIN), the DLH group, a DLH officer (who wrote to
the bot privately, so is also a citizen of Telegram) and its head. Citizens are added per test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.broadcast_runner import BroadcastRunner
from handlers.context import Deps
from handlers.messages import Button, Channel, OutEdit, OutMedia, OutText
from handlers.pipeline import Pipeline
from models import Broadcast, BroadcastStatus, Staff
from models.db import Database
from tests.desk import ADMIN, OFFICER, Desk, Sent, texts
from tests.dialog import Dialog
from workflows.clock import FrozenClock, as_utc

WHATSAPP_USER = "6281200000001"


async def citizens(citizen: Callable[..., Dialog]) -> None:
    """Two Telegram citizens (one reads English) and one on WhatsApp; with the admin and the officer,
    who wrote to the bot privately, that is four on Telegram and one on WhatsApp."""
    await citizen(user_id="1001").say("/start")
    english = citizen(user_id="1002")
    await english.say("/start")
    await english.press_payload("m|lang:en")
    await citizen(user_id=WHATSAPP_USER, channel=Channel.WHATSAPP).say("halo")


async def stored(db: Database) -> list[Broadcast]:
    async with db.sessions() as session:
        return list(await session.exec(select(Broadcast).order_by(col(Broadcast.id))))


async def admin_id(db: Database) -> str:
    async with db.sessions() as session:
        admin = (await session.exec(select(Staff).where(Staff.user_id == ADMIN))).one()
    return str(admin.id)


async def say(desk: Desk, text: str) -> str:
    return texts(await desk.say(ADMIN, ADMIN, text))


async def press(desk: Desk, label: str) -> str:
    return texts(await desk.press_label(ADMIN, ADMIN, label))


def buttons(sent: list[Sent]) -> list[Button]:
    return [
        b
        for s in sent
        if isinstance(s.action, OutText | OutEdit | OutMedia)
        for row in s.action.buttons
        for b in row
    ]


async def up_to_the_time(desk: Desk, text_id: str, text_en: str | None = None) -> str:
    """/siaran, the texts, no photo, everyone; returns the time question."""
    assert "Pengumuman baru" in await say(desk, "/siaran")
    asked = await say(desk, text_id)
    assert "bahasa Inggris" in asked and "Sama untuk semua" in [b.label for b in desk_buttons(desk)]
    if text_en is None:
        assert "Kirim satu foto" in await press(desk, "Sama untuk semua")
    else:
        assert "Kirim satu foto" in await say(desk, text_en)
    assert "Siapa yang menerima" in await press(desk, "Lewati")
    return await press(desk, "Semua warga")


def desk_buttons(desk: Desk) -> list[Button]:
    return buttons(desk.channel.to(ADMIN)[-1:])


# --- the whole conversation -----------------------------------------------------------------------


async def test_an_admin_composes_previews_and_sends_an_announcement(
    desk: Desk, db: Database, citizen: Callable[..., Dialog]
) -> None:
    await citizens(citizen)
    asked = await up_to_the_time(
        desk, "Air PDAM mati <Senin> 09.00–15.00 di Kota Barat.", "Water is off on <Monday>, 9 to 3."
    )
    assert "Kapan dikirim" in asked and "WIB" in asked

    preview = await desk.press_label(ADMIN, ADMIN, "Sekarang")
    shown = texts(preview)
    # each language as citizens will get it (the admin's words shown as typed, never as markup) ...
    assert "Air PDAM mati &lt;Senin&gt; 09.00–15.00 di Kota Barat." in shown
    assert "Water is off on &lt;Monday&gt;, 9 to 3." in shown
    bell = next(b for b in buttons(preview) if "🔕" in b.label)  # with the 🔕 button citizens get...
    explained = await desk.press(ADMIN, ADMIN, bell.payload)  # ...which, pressed here, only explains
    assert "pratinjau" in texts(explained)
    # ... and who receives it, by channel
    assert "Telegram: 4" in shown and "WhatsApp: 1" in shown and "Jumlah: 5" in shown
    assert await stored(db) == []  # nothing is stored before "Kirim"

    started = await press(desk, "Kirim")
    assert "mulai dikirim ke 5 penerima" in started
    [broadcast] = await stored(db)
    assert broadcast.status == BroadcastStatus.SENDING
    assert broadcast.texts == {
        "id": "Air PDAM mati &lt;Senin&gt; 09.00–15.00 di Kota Barat.",
        "en": "Water is off on &lt;Monday&gt;, 9 to 3.",
    }
    assert broadcast.segment == {"kind": "everyone", "value": None}
    assert broadcast.photo is None and broadcast.send_at is None
    assert broadcast.total == 5
    assert (broadcast.report_channel, broadcast.report_chat_id) == ("telegram", ADMIN)
    assert broadcast.created_by == await admin_id(db)

    # the conversation is over: the old "Kirim" does nothing, new text is not an announcement
    assert "sudah tidak berlaku" in await press(desk, "Kirim")
    assert len(await stored(db)) == 1


async def test_a_scheduled_announcement_with_a_photo_to_one_language(
    desk: Desk, db: Database, citizen: Callable[..., Dialog]
) -> None:
    await citizens(citizen)
    await say(desk, "/broadcast")
    await say(desk, "Vaksinasi gratis di puskesmas.")
    await say(desk, "Free vaccination at the health centre.")
    assert "Siapa yang menerima" in texts(await desk.photo(ADMIN, ADMIN, "poster-1"))
    areas = await press(desk, "Per wilayah")
    assert "wilayah mana" in areas and "Kelurahan Sukamaju" in [b.label for b in desk_buttons(desk)]
    assert "Siapa yang menerima" in await press(desk, "Kembali")  # back to the kinds of segment
    assert "bahasa apa" in await press(desk, "Per bahasa")
    assert "Kapan dikirim" in await press(desk, "Inggris")

    preview = await desk.say(ADMIN, ADMIN, "besok jam 09:00")
    shown = texts(preview)
    assert "[media poster-1]" in shown  # the photo, its caption the text
    captions = [s.action.caption for s in preview if isinstance(s.action, OutMedia)]
    assert any("Free vaccination" in c for c in captions) and any("Vaksinasi" in c for c in captions)
    assert "24/11/2026 09:00 WIB" in shown and "Telegram: 1" in shown and "Jumlah: 1" in shown
    # under the photo the 🔕 citizens get; pressed here it only explains, the admin stays subscribed
    bell = next(b for b in buttons(preview) if "🔕" in b.label)
    assert "pratinjau" in texts(await desk.press(ADMIN, ADMIN, bell.payload))
    assert "✅ Kirim" in [b.label for b in buttons(preview)]

    confirmed = await desk.press_label(ADMIN, ADMIN, "Kirim")
    assert "dijadwalkan pada 24/11/2026 09:00 WIB" in texts(confirmed)
    [broadcast] = await stored(db)
    assert broadcast.status == BroadcastStatus.SCHEDULED
    assert broadcast.send_at is not None
    assert as_utc(broadcast.send_at) == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert broadcast.segment == {"kind": "language", "value": "en"}
    assert broadcast.photo is not None and broadcast.photo["file_id"] == "poster-1"
    # the confirmation can stop it before it starts
    assert f"bc|cancel|{broadcast.id}" in [b.payload for b in buttons(confirmed)]


async def test_the_preview_warns_what_whatsapp_citizens_outside_the_window_get(
    desk: Desk, citizen: Callable[..., Dialog]
) -> None:
    await citizens(citizen)  # one of them on WhatsApp
    await up_to_the_time(desk, "Pemadaman listrik bergilir besok. " * 30)  # over 700 characters
    preview = await press(desk, "Sekarang")
    assert "WhatsApp: 1" in preview and "dipotong setelah 700 karakter" in preview

    await say(desk, "batal")
    await up_to_the_time(desk, "Pemadaman listrik bergilir besok.")  # short, no photo: nothing to say
    assert "dipotong" not in await press(desk, "Sekarang")


async def test_officers_of_a_unit_as_the_segment(desk: Desk, db: Database) -> None:
    await up_to_the_time(desk, "Rapat koordinasi DLH besok pukul 08.00.")
    await press(desk, "Sekarang")
    assert "Siapa yang menerima" in await press(desk, "Ubah penerima")
    await press(desk, "Petugas satu dinas")
    preview = await press(desk, "DLH")  # the time was given already: the preview again
    assert "Telegram: 2" in preview and "Jumlah: 2" in preview  # the DLH officer and its head
    await press(desk, "Kirim")
    [broadcast] = await stored(db)
    assert broadcast.segment == {"kind": "unit_officers", "value": "dlh"} and broadcast.total == 2


@pytest.mark.parametrize("how", ["batal", "/batal", "button"])
async def test_cancelling_midway_creates_nothing(desk: Desk, db: Database, how: str) -> None:
    await say(desk, "/siaran")
    await say(desk, "Pengumuman yang tidak jadi.")
    await press(desk, "Sama untuk semua")
    assert "Siapa yang menerima" in await press(desk, "Lewati")
    if how == "button":
        cancelled = await press(desk, "Batal")
    else:
        cancelled = await say(desk, how)
    assert "Pengumuman dibatalkan" in cancelled
    assert await stored(db) == []
    # the draft is gone: the old segment buttons are stale and text is read as usual again
    assert "sudah tidak berlaku" in await press(desk, "Semua warga")
    assert await stored(db) == []


async def test_only_admins_may_broadcast(desk: Desk, citizen: Callable[..., Dialog], db: Database) -> None:
    refused = texts(await desk.say(OFFICER, OFFICER, "/siaran"))
    assert "hanya untuk admin" in refused
    warga = citizen(user_id="1001")
    await warga.say("/broadcast")
    assert "tidak dikenal" in warga.text  # citizens are not told about staff commands
    # neither began a draft: their next words are not an announcement
    later = texts(await desk.say(OFFICER, OFFICER, "halo"))
    assert "bahasa Inggris" not in later and "Apa yang bisa kami bantu" in later
    assert await stored(db) == []


async def test_a_time_in_the_past_or_unreadable_is_asked_again(desk: Desk, db: Database) -> None:
    await up_to_the_time(desk, "Kerja bakti hari Minggu.")
    past = await say(desk, "05-11-2026 09:00")
    assert "05/11/2026 09:00 WIB sudah lewat" in past and "23/11/2026 09:00 WIB" in past
    assert "Kapan dikirim" in past
    # it is 09:00 in the city: 08:30 today has passed too
    assert "sudah lewat" in await say(desk, "hari ini 08.30")
    assert "tidak kami pahami" in await say(desk, "minggu depan saja")
    preview = await say(desk, "23-11-2026 15:00")
    assert "Pratinjau" in preview and "23/11/2026 15:00 WIB" in preview
    await press(desk, "Kirim")
    [broadcast] = await stored(db)
    assert broadcast.send_at is not None
    assert as_utc(broadcast.send_at) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


async def test_a_too_long_text_is_refused_with_the_limit_and_asked_again(desk: Desk, db: Database) -> None:
    await say(desk, "/siaran")
    huge = "🙂" * 2100  # 4200 characters as Telegram counts them (an emoji is two)
    refused = await say(desk, huge)
    assert "terlalu panjang (4200 karakter; maks. 4096)" in refused and "Pengumuman baru" in refused

    long_text = "Pemadaman listrik bergilir. " * 49 + "Mohon maaf."  # 1383 characters: a text, not a caption
    assert "bahasa Inggris" in await say(desk, long_text)
    await press(desk, "Sama untuk semua")
    # with a photo the caption limit holds: the text is asked again, the photo kept
    asked = texts(await desk.photo(ADMIN, ADMIN, "map-1"))
    assert "paling banyak 1024" in asked and "1383 karakter" in asked
    assert "terlalu panjang untuk keterangan foto (1383 karakter; maks. 1024" in await say(desk, long_text)
    assert "Siapa yang menerima" in await say(desk, "Pemadaman listrik bergilir Senin 10.00–12.00.")
    await press(desk, "Semua warga")
    await press(desk, "Sekarang")
    await press(desk, "Kirim")
    [broadcast] = await stored(db)
    short = "Pemadaman listrik bergilir Senin 10.00–12.00."
    assert broadcast.texts == {"id": short, "en": short}  # "same for everyone" follows the new text
    assert broadcast.photo is not None and broadcast.photo["file_id"] == "map-1"


async def test_a_long_text_can_keep_its_length_by_dropping_the_photo(desk: Desk, db: Database) -> None:
    await say(desk, "/siaran")
    long_text = "Jadwal pengangkutan sampah berubah. " * 40  # 1440 characters
    await say(desk, long_text)
    await press(desk, "Sama untuk semua")
    await desk.photo(ADMIN, ADMIN, "map-1")
    assert "Siapa yang menerima" in await press(desk, "Tanpa foto")
    await press(desk, "Semua warga")
    await press(desk, "Sekarang")
    await press(desk, "Kirim")
    [broadcast] = await stored(db)
    assert broadcast.photo is None and broadcast.texts["id"] == long_text.strip()


async def test_a_stale_button_is_answered_and_the_step_asked_again(desk: Desk) -> None:
    await say(desk, "/siaran")
    await say(desk, "Pengumuman.")
    await press(desk, "Sama untuk semua")
    again = await press(desk, "Sama untuk semua")  # the English step is over
    assert "sudah tidak berlaku" in again and "Kirim satu foto" in again
    nudged = await say(desk, "apa ini?")  # text where a photo or "Lewati" is wanted
    assert "Kirim satu foto" in nudged


async def test_a_restart_mid_conversation_continues(
    desk: Desk, db: Database, deps: Deps, citizen: Callable[..., Dialog]
) -> None:
    await citizens(citizen)
    await say(desk, "/siaran")
    await say(desk, "Pasar murah di alun-alun.")
    await press(desk, "Sama untuk semua")
    desk.pipeline = Pipeline(db, deps)  # another process on the same database
    assert "Siapa yang menerima" in await press(desk, "Lewati")
    await press(desk, "Per aplikasi")
    await press(desk, "WhatsApp")
    preview = await press(desk, "Sekarang")
    assert "WhatsApp: 1" in preview and "Jumlah: 1" in preview
    await press(desk, "Kirim")
    [broadcast] = await stored(db)
    assert broadcast.texts["id"] == "Pasar murah di alun-alun."
    assert broadcast.segment == {"kind": "channel", "value": "whatsapp"} and broadcast.total == 1


async def test_a_draft_left_too_long_lapses(desk: Desk, db: Database, clock: FrozenClock) -> None:
    await say(desk, "/siaran")
    clock.advance(timedelta(hours=13))
    lapsed = await say(desk, "Teks yang datang terlambat.")
    assert "kedaluwarsa" in lapsed and "/siaran" in lapsed
    assert await stored(db) == []


# --- stopping it from the progress message --------------------------------------------------------


def cancel_payload(sent: list[Sent]) -> str:
    found = [b.payload for b in buttons(sent) if b.payload.startswith("bc|cancel|")]
    assert found, texts(sent)
    return found[-1]


async def test_the_progress_message_s_button_stops_a_broadcast_after_asking(
    desk: Desk, db: Database, deps: Deps, citizen: Callable[..., Dialog]
) -> None:
    await citizens(citizen)
    await up_to_the_time(desk, "Uji coba sirene pukul 10.00.")
    await press(desk, "Sekarang")
    await press(desk, "Kirim")
    runner = BroadcastRunner(db, deps, {"telegram": 0.1, "whatsapp": 0.1})  # one copy queued at a time
    await runner.run_once()
    await desk.flush()
    stop = cancel_payload(desk.channel.to(ADMIN))  # the runner's progress message, with its button
    [broadcast] = await stored(db)
    assert stop == f"bc|cancel|{broadcast.id}"

    # only an admin may stop it
    assert "hanya admin" in texts(await desk.press(OFFICER, OFFICER, stop))

    sure = await desk.press(ADMIN, ADMIN, stop)
    assert "Yakin menghentikan pengumuman" in texts(sure)
    assert "tetap berjalan" in texts(await desk.press_label(ADMIN, ADMIN, "Tidak, lanjutkan"))
    assert (await stored(db))[0].status == BroadcastStatus.SENDING

    await desk.press(ADMIN, ADMIN, stop)
    stopped = texts(await desk.press_label(ADMIN, ADMIN, "Ya, hentikan"))
    assert f"Pengumuman #{broadcast.id} dihentikan" in stopped
    [broadcast] = await stored(db)
    assert broadcast.status == BroadcastStatus.CANCELLED and broadcast.cancelled_by == await admin_id(db)

    # a second press, of either button, is answered politely
    assert "sudah dihentikan sebelumnya" in texts(await desk.press_label(ADMIN, ADMIN, "Ya, hentikan"))
    assert "sudah dihentikan sebelumnya" in texts(await desk.press(ADMIN, ADMIN, stop))


async def test_a_finished_broadcast_cannot_be_stopped(desk: Desk, db: Database) -> None:
    await up_to_the_time(desk, "Pengumuman singkat.")
    await press(desk, "Sekarang")
    await press(desk, "Kirim")
    [broadcast] = await stored(db)
    async with db.transaction() as session:
        done = await session.get(Broadcast, broadcast.id)
        assert done is not None
        done.status = BroadcastStatus.DONE
        session.add(done)
    assert "sudah selesai dikirim" in texts(await desk.press(ADMIN, ADMIN, f"bc|cancel|{broadcast.id}"))
    assert "tidak berlaku" in texts(await desk.press(ADMIN, ADMIN, "bc|cancel|999"))
