"""Voice notes and documents are kept as a complaint's attachments wherever photos are: while it is
written (a voice note alone can be the description), added to an open ticket, as the answer to an
officer's question and as the survey's "what is still wrong"; the unit's group receives them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import col, select

from handlers.context import Deps
from handlers.messages import Channel, InboundKind, MediaRef, OutMedia, OutText
from handlers.pipeline import Pipeline
from models import Attachment, Conversation, Ticket, TicketEvent
from models.db import Database
from tests.desk import GROUP, OFFICER, Desk, Sent, texts
from tests.dialog import Dialog
from tests.test_intake_dialog import REFERENCE, file_rubbish_complaint
from tests.test_survey_loop import Citizen, resolve


async def voice(warga: Dialog, file_id: str = "voice-1", **extra: Any) -> list[Any]:
    return await warga.send(
        kind=InboundKind.VOICE, media=(MediaRef(kind="voice", file_id=file_id, unique_id=file_id),), **extra
    )


async def document(warga: Dialog, file_id: str = "doc-1", caption: str | None = None) -> list[Any]:
    return await warga.send(
        kind=InboundKind.DOCUMENT,
        text=caption,
        media=(MediaRef(kind="document", file_id=file_id, unique_id=file_id),),
    )


async def attachments(db: Database) -> list[tuple[str, str, str]]:
    async with db.sessions() as session:
        rows = await session.exec(select(Attachment).order_by(col(Attachment.id)))
        return [(a.kind, a.file_id, a.added_by) for a in rows]


async def only_ticket(db: Database) -> Ticket:
    async with db.sessions() as session:
        return (await session.exec(select(Ticket))).one()


def media_of(sent: list[Sent]) -> list[tuple[str, str]]:
    return [(s.action.media.kind, s.action.media.file_id) for s in sent if isinstance(s.action, OutMedia)]


async def test_a_spoken_complaint_with_a_document_reaches_the_group_with_both(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    warga = citizen()
    await voice(warga, "voice-A")  # at the menu: a voice note alone is a complaint
    assert "Pesan suara diterima sebagai uraian" in warga.text
    assert "Pilih kategori" in warga.text  # no words to classify: the category by buttons
    await warga.press("Sampah")
    assert warga.keyboard is not None  # on to the location: the voice note is the description
    await warga.share_location(-6.2001, 106.8167)
    assert "Pesan suara 🎤 dan dokumen 📄 juga boleh" in warga.text
    await document(warga, "doc-A")
    assert "Diterima: 1 pesan suara, 1 dokumen" in warga.text
    await warga.photo("photo-A")
    assert "1 foto, 1 pesan suara, 1 dokumen" in warga.text
    await warga.press("Selesai")
    await warga.press("Publik")
    assert "Uraian: 🎤 (pesan suara)" in warga.text
    assert "Lampiran: 1 foto, 1 pesan suara, 1 dokumen" in warga.text
    await warga.press("Kirim pengaduan")
    match = REFERENCE.search(warga.text)
    assert match, warga.text

    await desk.flush()
    posted = desk.new(GROUP)
    card = posted[0].action
    assert isinstance(card, OutText) and match.group(0) in card.text
    assert "🎤 (pesan suara)" in card.text and "Lampiran: 1 foto, 1 pesan suara, 1 dokumen" in card.text
    assert media_of(posted) == [("voice", "voice-A"), ("document", "doc-A"), ("photo", "photo-A")]
    channels = {s.action.media.channel for s in posted if isinstance(s.action, OutMedia)}
    assert channels == {Channel.TELEGRAM}  # whose file handles they are
    assert await attachments(db) == [
        ("voice", "voice-A", "citizen"),
        ("document", "doc-A", "citizen"),
        ("photo", "photo-A", "citizen"),
    ]
    assert (await only_ticket(db)).description == "🎤 (pesan suara)"


async def test_a_voice_note_for_the_description_and_words_typed_after_it(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Jalan")
    assert "Kirim pesan suara" in warga.text  # the description step says a voice note will do
    await voice(warga, "v1")
    assert "sebagai uraian" in warga.text and warga.keyboard is not None  # and moves on
    await warga.say("Jl. Anggrek 12 dekat masjid")
    await voice(warga, "v2")  # at the photo step: one more voice note, kept
    assert "Diterima: 2 pesan suara" in warga.text
    await warga.press("Selesai")
    await warga.press("Anonim")
    assert "Lampiran: 2 pesan suara" in warga.text

    # the description changed to typed words: the voice note that was it goes with it
    await warga.press("Ubah")
    await warga.press("Uraian")
    await warga.say("Aspal mengelupas dan berlubang sepanjang 20 meter")
    assert "Uraian: Aspal mengelupas" in warga.text and "Lampiran: 1 pesan suara" in warga.text
    await warga.press("Kirim pengaduan")
    assert await attachments(db) == [("voice", "v2", "citizen")]

    # words typed at the category question after a voice note replace its placeholder
    other = citizen("1002")
    await voice(other, "v3")
    await other.say("Lampu jalan mati sejak seminggu di Jl. Kenanga")
    assert "Lampu Jalan" in other.text  # the classifier read the typed words
    await other.press("Ya")
    await other.share_location()
    await other.press("Selesai")  # the voice note is already attached: no "skip"
    await other.press("Publik")
    assert "Uraian: Lampu jalan mati" in other.text and "Lampiran: 1 pesan suara" in other.text
    assert "🎤 (pesan suara)" not in other.text  # replaced, not added to


async def test_each_kind_is_capped_like_photos(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    await warga.say("Tumpukan sampah di TPS liar belakang pasar")
    await warga.share_location()
    for n in range(3):
        await voice(warga, f"v{n}")
    assert "Diterima: 3 pesan suara" in warga.text
    await voice(warga, "v3")
    assert "Maksimal 3 pesan suara" in warga.text
    await document(warga, "d1")  # another kind still fits, and photos are still asked for
    assert "3 pesan suara, 1 dokumen" in warga.text


async def test_a_voice_note_added_to_an_open_ticket_reaches_the_group_thread(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await desk.flush()
    desk.new(GROUP)
    card_id = await desk.card_id(GROUP, reference)
    ticket = await only_ticket(db)

    await warga.press_payload(f"m|ans:{ticket.id}")  # "Reply" under a message about the ticket
    assert "pesan suara" in warga.text
    await voice(warga, "voice-more")
    assert "Terkirim ke Dinas Lingkungan Hidup" in warga.text
    await desk.flush()
    thread = desk.new(GROUP)
    [note] = [s.action for s in thread if isinstance(s.action, OutText)]
    assert "Tambahan dari pelapor" in note.text and "🎤" in note.text and note.reply_to == card_id
    assert media_of(thread) == [("voice", "voice-more")]
    assert ("voice", "voice-more", "citizen") in await attachments(db)

    # a document with a caption, the same way
    await warga.press_payload(f"m|ans:{ticket.id}")
    await document(warga, "surat-rt", caption="Surat pengantar RT")
    await desk.flush()
    thread = desk.new(GROUP)
    assert "Surat pengantar RT" in texts(thread) and media_of(thread) == [("document", "surat-rt")]


async def test_a_voice_note_answers_the_officers_question(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")
    await desk.press_label(GROUP, OFFICER, "Tanya pelapor")
    await desk.say(OFFICER, OFFICER, "Di depan rumah nomor berapa, Bu?")
    assert (await only_ticket(db)).status == "waiting_citizen"
    desk.new(GROUP)

    await voice(warga, "voice-answer")  # at the menu, without pressing Reply: the answer
    assert "Terkirim ke Dinas Lingkungan Hidup" in warga.text
    assert "Pengaduan Anda tentang apa" not in warga.text  # not a new complaint
    assert (await only_ticket(db)).status == "in_progress"  # the clock runs again
    await desk.flush()
    thread = desk.new(GROUP)
    answers = [s.action.text for s in thread if isinstance(s.action, OutText)]
    assert len(answers) == 1 and "Jawaban pelapor" in answers[0] and "🎤 (pesan suara)" in answers[0]
    assert media_of(thread) == [("voice", "voice-answer")]
    async with db.sessions() as session:
        events = list(await session.exec(select(TicketEvent).order_by(col(TicketEvent.id))))
    assert [e.action for e in events][-2:] == ["answered", "citizen_message"]
    assert events[-1].details == {"photos": 0, "voice": 1}
    await warga.say(f"/status {reference}")
    assert "Lampiran: 2" in warga.text  # the photo filed with it and the voice note


async def test_a_voice_note_says_what_is_still_wrong(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    me = Citizen(warga, desk)
    await resolve(desk, reference, "Sampah sudah diangkut", "proof-1")
    await me.inbox()
    assert "pesan suara" in await me.press("Belum beres")
    desk.new(GROUP)
    await voice(warga, "masih-kotor")
    told = await me.inbox()
    assert "diteruskan" in told and "Pengaduan Anda tentang apa" not in told
    await desk.flush()
    thread = desk.new(GROUP)
    assert "apa yang belum beres" in texts(thread) and media_of(thread) == [("voice", "masih-kotor")]
    assert ("voice", "masih-kotor", "citizen") in await attachments(db)


async def test_a_whatsapp_voice_note_reaches_the_telegram_group_as_whatsapp_media(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    warga = citizen("6281234567890", channel=Channel.WHATSAPP)
    await voice(warga, "wa-media-77")
    await warga.press("Sampah")
    await warga.share_location()
    await warga.press("Lewati")  # no photo: the voice note is the description
    await warga.press("Publik")
    await warga.press("Kirim pengaduan")
    await desk.flush()
    [media] = [s.action.media for s in desk.new(GROUP) if isinstance(s.action, OutMedia)]
    assert (media.kind, media.file_id, media.channel) == ("voice", "wa-media-77", Channel.WHATSAPP)


async def test_a_restart_mid_conversation_keeps_voice_notes_and_documents(
    citizen: Callable[..., Dialog], db: Database, db_url: str, deps: Deps
) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    await voice(warga, "voice-R")
    await warga.share_location()
    await document(warga, "doc-R")
    restarted = Database(db_url)  # a new process: new engine, new pipeline, same database
    await restarted.migrate()
    try:
        after = warga.restarted(Pipeline(restarted, deps))
        await after.photo("photo-R")
        assert "Diterima: 1 foto, 1 pesan suara, 1 dokumen" in after.text
        await after.press("Selesai")
        await after.press("Publik")
        assert "Uraian: 🎤 (pesan suara)" in after.text
        assert "Lampiran: 1 foto, 1 pesan suara, 1 dokumen" in after.text
        await after.press("Kirim pengaduan")
        assert REFERENCE.search(after.text)
    finally:
        await restarted.dispose()
    assert await attachments(db) == [
        ("voice", "voice-R", "citizen"),
        ("document", "doc-R", "citizen"),
        ("photo", "photo-R", "citizen"),
    ]


async def test_a_draft_stored_before_attachments_had_kinds_still_loads(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    """Conversations stored by the previous version name the photos "photos" (no kind)."""
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    await warga.say("Tumpukan sampah di TPS liar belakang pasar")
    await warga.share_location()
    await warga.photo("old-photo")
    async with db.transaction() as session:
        conversation = (await session.exec(select(Conversation))).one()
        draft = dict(conversation.data["draft"])
        draft["photos"] = [{"file_id": "old-photo", "unique_id": "old-photo"}]
        draft["photos_done"] = False
        for key in ("attachments", "attachments_done", "spoken"):
            draft.pop(key)
        conversation.data = {**conversation.data, "draft": draft}
        session.add(conversation)
    await voice(warga, "new-voice")
    assert "Diterima: 1 foto, 1 pesan suara" in warga.text
    await warga.press("Selesai")
    await warga.press("Publik")
    await warga.press("Kirim pengaduan")
    assert await attachments(db) == [("photo", "old-photo", "citizen"), ("voice", "new-voice", "citizen")]


async def test_stickers_and_files_that_never_arrived_still_get_the_nudge(
    citizen: Callable[..., Dialog],
) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    await warga.other(InboundKind.STICKER)
    assert "stiker tidak dapat kami proses" in warga.text and "Ceritakan masalahnya" in warga.text
    # a voice note or document without its file (a platform that did not pass it on)
    await warga.other(InboundKind.VOICE)
    assert "pesan suara ini tidak dapat kami terima" in warga.text and "Ceritakan masalahnya" in warga.text
    await warga.other(InboundKind.DOCUMENT)
    assert "dokumen ini tidak dapat kami terima" in warga.text


async def test_every_attachment_text_exists_in_both_languages(catalogues: dict[str, dict[str, str]]) -> None:
    """Keys built at run time, which the catalogue test cannot find in the code."""
    from handlers.intake import ATTACHMENT_TEXTS

    keys = {f"{prefix}.{part}" for prefix in ATTACHMENT_TEXTS.values() for part in ("kept", "limit")}
    keys |= {f"attachments.{kind}_{n}" for kind in ATTACHMENT_TEXTS for n in ("one", "other")}
    keys |= {f"attachments.note.{kind}" for kind in ATTACHMENT_TEXTS}
    for lang in ("id", "en"):
        assert sorted(k for k in keys if k not in catalogues[lang]) == [], lang
