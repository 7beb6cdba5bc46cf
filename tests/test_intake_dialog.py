"""A citizen files complaints through the channel-neutral pipeline: dialogs as the citizen sees them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import select

from handlers.context import Deps
from handlers.messages import InboundKind, MediaRef, OutText
from handlers.pipeline import Pipeline
from models import Attachment, Citizen, Conversation, Ticket, TicketEvent
from models.db import Database
from tests.dialog import Dialog
from workflows.clock import FrozenClock

REFERENCE = re.compile(r"ADU-2611-[0-9A-HJKMNP-TV-Z]{4}")


async def tickets_in(db: Database) -> list[Ticket]:
    async with db.sessions() as session:
        return list(await session.exec(select(Ticket)))


async def file_rubbish_complaint(warga: Dialog) -> str:
    """The whole happy path through the menu; returns the reference."""
    await warga.say("/start")
    await warga.press("Buat pengaduan")
    await warga.press("Sampah")
    await warga.say("Sampah di TPS Jl. Melati sudah 3 hari tidak diangkut, baunya menyengat")
    await warga.share_location(-6.2001, 106.8167)
    await warga.photo("photo-A")
    await warga.press("Selesai")
    await warga.press("Publik")
    await warga.press("Kirim pengaduan")
    match = REFERENCE.search(warga.text)
    assert match, warga.text
    return match.group(0)


async def test_start_greets_in_indonesian_with_the_main_menu(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.say("/start")
    assert "Selamat datang" in warga.text
    assert "112" in warga.text
    labels = [b.label for b in warga.buttons]
    assert any("Buat pengaduan" in label for label in labels)
    assert any("Tiket saya" in label for label in labels)
    assert any("Bantuan" in label for label in labels)
    assert any("Bahasa" in label for label in labels)


async def test_full_complaint_stores_a_ticket_and_gives_a_reference(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    assert "1 hari kerja" in warga.text  # the sampah SLA policy promises a response in 1 working day
    assert "Dinas Lingkungan Hidup" in warga.text
    [ticket] = await tickets_in(db)
    assert ticket.reference == reference
    assert (ticket.category, ticket.unit, ticket.identity) == ("sampah", "dlh", "public")
    assert (ticket.latitude, ticket.longitude) == (-6.2001, 106.8167)
    assert "3 hari tidak diangkut" in ticket.description
    async with db.sessions() as session:
        photos = (await session.exec(select(Attachment))).all()
        events = (await session.exec(select(TicketEvent))).all()
    assert [p.file_id for p in photos] == ["photo-A"]
    assert [(e.action, e.actor_kind, e.to_status) for e in events] == [("submitted", "citizen", "submitted")]


async def test_summary_shows_everything_before_sending(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Jalan")
    await warga.say("Jalan berlubang besar di depan SD Negeri 3 <b>bahaya</b> & licin")
    await warga.say("Jl. Kenanga No. 5, depan SD Negeri 3")
    await warga.press("Lewati")
    await warga.press("Anonim")
    summary = warga.text
    assert "Jalan & Trotoar".replace("&", "&amp;") in summary
    assert "Jl. Kenanga No. 5" in summary
    assert "Anonim" in summary
    # the citizen's text is escaped: it can never become markup in an officer's or their own chat
    assert "&lt;b&gt;bahaya&lt;/b&gt; &amp; licin" in summary
    assert "<b>bahaya</b>" not in summary


async def test_free_text_is_classified_and_offered(citizen: Callable[..., Dialog], db: Database) -> None:
    warga = citizen()
    await warga.say("lampu jalan di gang mawar mati sudah seminggu, gelap banget kalau malam")
    assert "Sepertinya ini tentang" in warga.text
    assert "Lampu Jalan" in warga.text
    await warga.press("Ya, benar")
    # the first message was the description: the bot goes straight to the location
    assert warga.keyboard is not None
    await warga.share_location()
    await warga.press("Lewati")
    await warga.press("Rahasia")
    await warga.press("Kirim pengaduan")
    [ticket] = await tickets_in(db)
    assert ticket.category == "penerangan"
    assert ticket.identity == "confidential"
    assert ticket.description.startswith("lampu jalan di gang mawar")


async def test_rejecting_the_guess_lets_the_citizen_pick(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.say("lampu jalan di gang mawar mati sudah seminggu, gelap banget")
    await warga.press("pilih kategori lain")
    assert "Pilih kategori" in warga.text
    await warga.press("Ketertiban")
    assert warga.keyboard is not None  # description kept; on to the location


async def test_english_is_detected_from_the_first_message_and_remembered(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    await warga.say("/start")
    assert "Selamat datang" in warga.text
    await warga.say("There is a huge pile of rubbish next to the market and nobody collects it")
    assert "This looks like" in warga.text
    await warga.say("/cancel")
    assert "cancelled" in warga.text
    await warga.say("/help")
    assert "How this service works" in warga.text
    async with db.sessions() as session:
        stored = (await session.exec(select(Citizen))).one()
    assert (stored.language, stored.language_source) == ("en", "detected")


async def test_language_can_be_switched_and_stays(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.say("/bahasa")
    await warga.press("English")
    assert "Language set to" in warga.text
    # a later Indonesian message does not switch it back: the citizen chose
    await warga.say("sampah menumpuk di pinggir jalan dekat pasar sudah lama")
    assert "This looks like" in warga.text


async def test_cancel_leaves_any_step_and_files_nothing(citizen: Callable[..., Dialog], db: Database) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Banjir")
    await warga.say("Got mampet di depan rumah, air meluap ke jalan")
    await warga.say("/batal")
    assert "dibatalkan" in warga.text
    assert await tickets_in(db) == []
    await warga.say("/batal")
    assert "Tidak ada yang perlu dibatalkan" in warga.text


async def test_emergency_gets_112_at_once_and_the_complaint_goes_on(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.say("tolong ada kebakaran rumah di gang kelinci, apinya besar!")
    first = warga.replies[0]
    assert isinstance(first, OutText) and "112" in first.text
    assert len(warga.replies) > 1  # and the bot still helps with the report


async def test_stale_button_is_refused_and_the_step_is_asked_again(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    old_category_button = warga.button("Sampah")
    await warga.press("Sampah")
    assert "Ceritakan masalahnya" in warga.text
    await warga.press_payload(old_category_button.payload)
    assert "sudah tidak berlaku" in warga.text
    assert "Ceritakan masalahnya" in warga.text  # still at the description step
    await warga.say("Sampah berserakan di taman kota, banyak lalat")
    assert warga.keyboard is not None


async def test_button_labels_are_plain_text(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    labels = [b.label for b in warga.buttons]
    assert "🛡 Pungli & Penyalahgunaan Wewenang" in labels  # not "&amp;": buttons are not HTML


async def test_old_menu_buttons_keep_working(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.say("/start")
    help_button = warga.button("Bantuan")
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    await warga.press_payload(help_button.payload)
    assert "Cara menggunakan" in warga.text
    assert "Ceritakan masalahnya" in warga.text  # and back to where the complaint was


async def test_duplicate_delivery_is_handled_once(citizen: Callable[..., Dialog], db: Database) -> None:
    warga = citizen()
    await warga.send(event_id="update-42", kind=InboundKind.COMMAND, text="/start", command="start")
    assert warga.replies
    await warga.send(event_id="update-42", kind=InboundKind.COMMAND, text="/start", command="start")
    assert warga.replies == []


async def test_restart_in_the_middle_resumes_where_the_citizen_was(
    citizen: Callable[..., Dialog], db_url: str, deps: Deps
) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Jalan")
    await warga.say("Aspal mengelupas dan berlubang sepanjang 20 meter")
    assert warga.keyboard is not None
    # a new process: new engine, new pipeline, same database
    restarted = Database(db_url)
    await restarted.migrate()
    try:
        after = warga.restarted(Pipeline(restarted, deps))
        await after.say("Jl. Anggrek 12 dekat masjid")
        assert "Alamat dicatat" in after.text
        assert "Kirim foto" in after.text
        await after.press("Lewati")
        await after.press("Publik")
        assert "Aspal mengelupas" in after.text
        await after.press("Kirim pengaduan")
        [ticket] = await tickets_in(restarted)
        assert (ticket.category, ticket.address) == ("jalan", "Jl. Anggrek 12 dekat masjid")
    finally:
        await restarted.dispose()


async def test_unsupported_messages_get_a_polite_reply_and_keep_the_step(
    citizen: Callable[..., Dialog],
) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    for kind, words in [
        (InboundKind.STICKER, "stiker"),
        # without their file (a platform that did not pass it on); with it they are kept as
        # attachments (tests/test_voice_and_documents.py)
        (InboundKind.VOICE, "pesan suara"),
        (InboundKind.DOCUMENT, "dokumen"),
        (InboundKind.CONTACT, "kontak"),
        (InboundKind.OTHER, "jenis pesan"),
    ]:
        await warga.other(kind)
        assert words in warga.text, kind
        assert "Ceritakan masalahnya" in warga.text, kind
    await warga.say("Sampah dibuang sembarangan di sungai belakang pasar")
    assert warga.keyboard is not None


async def test_edited_messages_and_unknown_commands(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.send(kind=InboundKind.EDITED, text="koreksi")
    assert "diedit" in warga.text
    await warga.say("/hapussemua")
    assert "/hapussemua tidak dikenal" in warga.text


async def test_huge_texts_are_refused_politely_and_nothing_is_lost(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    await warga.say("sampah " * 1000)
    assert "terlalu panjang" in warga.text
    await warga.say("sampah menumpuk " * 200)  # 3,200 characters: over the description limit
    assert "Mohon diringkas" in warga.text
    await warga.say("Sampah menumpuk di depan gang, sudah seminggu")
    assert warga.keyboard is not None


async def test_location_is_required_where_the_category_says_so(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Jalan")
    await warga.say("Jembatan kecil di atas kali retak dan miring")
    assert warga.keyboard is not None and warga.keyboard.skip_label is None
    await warga.say("Lewati")
    assert "lokasi wajib" in warga.text
    await warga.say("/batal")
    await warga.press_payload("m|new")
    await warga.press("KTP")
    await warga.say("Sudah 2 bulan e-KTP belum jadi, katanya blanko habis")
    assert warga.keyboard is not None and warga.keyboard.skip_label == "Lewati"
    await warga.say("Lewati")
    assert "tanpa lokasi" in warga.text


async def test_at_most_three_photos(citizen: Callable[..., Dialog], db: Database) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    await warga.say("Tumpukan sampah di TPS liar belakang pasar")
    await warga.share_location()
    await warga.photo("p1")
    assert "Foto 1 dari 3" in warga.text
    await warga.photo("p2")
    await warga.photo("p3")
    assert "3 foto diterima" in warga.text
    assert "identitas" in warga.text.lower()  # moved on by itself
    await warga.photo("p4")
    assert "Maksimal 3 foto" in warga.text
    assert "identitas" in warga.text.lower()  # and asked again where the citizen is
    await warga.press("Publik")
    assert "Lampiran: 3 foto" in warga.text


async def test_a_photo_first_starts_a_complaint_with_its_caption(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    await warga.photo("pothole", caption="jalan berlubang besar di depan sd negeri 5, sudah ada yang jatuh")
    assert "Foto disimpan" in warga.text
    assert "Sepertinya ini tentang" in warga.text and "Jalan" in warga.text
    await warga.press("Ya, benar")
    await warga.share_location()
    assert "Kirim foto lain" in warga.text  # the photo step knows one is already there
    await warga.press("Selesai")
    await warga.press("Publik")
    await warga.press("Kirim")
    [ticket] = await tickets_in(db)
    assert ticket.category == "jalan"
    async with db.sessions() as session:
        assert [a.file_id for a in await session.exec(select(Attachment))] == ["pothole"]


async def test_a_photo_sent_early_is_kept(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.photo("no-caption")
    assert "Foto disimpan" in warga.text and "Pengaduan Anda tentang apa" in warga.text
    await warga.press("Sampah")
    await warga.photo("second")  # while the bot asks for the description
    assert "(2 dari 3)" in warga.text and "Ceritakan masalahnya" in warga.text
    await warga.say("Sampah plastik menyumbat saluran di pasar")
    await warga.share_location()
    await warga.press("Selesai")
    await warga.press("Anonim")
    assert "Lampiran: 2 foto" in warga.text


async def test_an_album_of_five_keeps_three_and_says_so_once(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    await warga.say("Tumpukan sampah di TPS liar belakang pasar")
    await warga.share_location()
    album = [
        await warga.send(
            kind=InboundKind.PHOTO, media=(MediaRef(kind="photo", file_id=f"a{i}", group_id="album-1"),)
        )
        for i in range(5)
    ]
    texts = ["\n".join(r.text for r in replies if isinstance(r, OutText)) for replies in album]
    assert "3 foto diterima" in texts[2] and "identitas" in texts[2].lower()
    assert all("Maksimal 3 foto" in t and "identitas" not in t.lower() for t in texts[3:])


async def test_editing_a_part_returns_to_the_summary(citizen: Callable[..., Dialog], db: Database) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Air")
    await warga.say("Air PDAM mati sejak kemarin pagi di RT 03")
    await warga.share_location()
    await warga.press("Lewati")
    await warga.press("Publik")
    await warga.press("Ubah")
    await warga.press("Uraian")
    await warga.say("Air PDAM mati sejak kemarin pagi di RT 03 dan RT 04")
    assert "Periksa pengaduan" in warga.text
    assert "RT 04" in warga.text
    await warga.press("Kirim")
    [ticket] = await tickets_in(db)
    assert ticket.description.endswith("RT 04")


async def test_complaints_about_officials_are_never_public(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Pungli")
    await warga.say("Petugas kelurahan minta uang 200 ribu untuk surat pengantar")
    await warga.say("Lewati")  # the location keyboard's skip
    await warga.press("Lewati")  # no photos
    assert "Publik" not in [b.label for b in warga.buttons]
    assert "Inspektorat" in warga.text
    await warga.press("Rahasia")
    await warga.press("Kirim")
    [ticket] = await tickets_in(db)
    assert (ticket.unit, ticket.identity) == ("inspektorat", "confidential")


async def test_daily_limit(citizen: Callable[..., Dialog], db: Database, clock: FrozenClock) -> None:
    warga = citizen()
    for _ in range(5):
        await file_rubbish_complaint(warga)
        clock.advance(timedelta(hours=1))
    await warga.press_payload("m|new")
    assert "batas harian" in warga.text
    assert len(await tickets_in(db)) == 5
    clock.advance(timedelta(hours=20))  # 24 hours after the first one
    await warga.press_payload("m|new")
    assert "Pilih kategori" in warga.text


async def test_status_shows_only_the_citizens_own_tickets(citizen: Callable[..., Dialog]) -> None:
    siti = citizen("1001")
    reference = await file_rubbish_complaint(siti)
    await siti.say(f"/status {reference.lower().replace('-', '')}")
    assert reference in siti.text
    assert "Pengaduan dikirim" in siti.text  # the timeline
    assert "Sampah" in siti.text
    budi = citizen("2002")
    await budi.say(f"/status {reference}")
    not_yours = budi.text
    await budi.say("/status ADU-2611-ZZZZ")
    assert not_yours.replace(reference, "X") == budi.text.replace("ADU-2611-ZZZZ", "X")
    assert "tidak ditemukan" in not_yours
    assert "Sampah" not in not_yours


async def test_my_tickets_lists_and_opens(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.press_payload("m|tickets")
    assert "belum memiliki tiket" in warga.text
    reference = await file_rubbish_complaint(warga)
    await warga.press("Tiket saya")
    assert reference in warga.text
    await warga.press(reference)
    assert "Riwayat" in warga.text


async def test_status_asks_for_a_reference_when_none_given(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await warga.say("/status")
    assert "Ketik nomor tiket" in warga.text
    await warga.say("bukan nomor")
    assert "bukan nomor tiket yang valid" in warga.text
    await warga.say(f"cek {reference} dong")
    assert "Riwayat" in warga.text


async def test_flooding_is_slowed_down(
    citizen: Callable[..., Dialog], db: Database, clock: FrozenClock
) -> None:
    warga = citizen()
    for _ in range(30):
        await warga.say("/help")
    await warga.say("/help")
    assert "terlalu cepat" in warga.text
    await warga.say("/help")
    assert warga.replies == []  # only told once; nothing more is processed until the minute passes
    async with db.sessions() as session:
        conversation = (await session.exec(select(Conversation))).one()
    assert conversation.state == "idle"
    clock.advance(timedelta(seconds=61))
    await warga.say("/help")
    assert "Cara menggunakan" in warga.text
