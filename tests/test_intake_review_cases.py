"""Dialogs for the corners a review found: category changes, typed answers, captions, failures."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import select

from handlers import router
from handlers.messages import OutText
from models import Ticket
from models.db import Database
from tests.dialog import Dialog
from tests.test_intake_dialog import file_rubbish_complaint, tickets_in


async def to_summary_with_skipped_location(warga: Dialog) -> None:
    await warga.press_payload("m|new")
    await warga.press("KTP")
    await warga.say("Sudah 2 bulan e-KTP belum jadi, katanya blanko habis")
    await warga.say("Lewati")
    await warga.press("Lewati")
    await warga.press("Publik")
    assert "Periksa pengaduan" in warga.text


async def test_a_new_category_that_needs_a_location_asks_for_it(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    await to_summary_with_skipped_location(warga)
    await warga.press("Ubah")
    await warga.press("Kategori")
    await warga.press("Jalan")
    assert warga.keyboard is not None and warga.keyboard.skip_label is None  # asked, no skipping
    await warga.say("Jl. Kenari 7")
    assert "Periksa pengaduan" in warga.text
    await warga.press("Kirim")
    [ticket] = await tickets_in(db)
    assert (ticket.category, ticket.address) == ("jalan", "Jl. Kenari 7")


async def test_changing_to_a_sensitive_category_asks_the_identity_again(
    citizen: Callable[..., Dialog],
) -> None:
    warga = citizen()
    await to_summary_with_skipped_location(warga)
    await warga.press("Ubah")
    await warga.press("Kategori")
    await warga.press("Pungli")
    labels = [b.label for b in warga.buttons]
    assert "Inspektorat" in warga.text and not any("Publik" in label for label in labels)
    await warga.press("Anonim")
    assert "Identitas: Anonim" in warga.text


async def test_status_during_a_complaint_keeps_the_complaint(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await warga.press_payload("m|new")
    await warga.press("Jalan")
    await warga.say("Jalan berlubang di depan SD Negeri 3")
    await warga.say("/status abc")
    assert "/status" in warga.text and warga.keyboard is not None  # usage, then the location again
    await warga.say(f"/status {reference}")
    assert "Riwayat" in warga.text and warga.keyboard is not None
    await warga.say("Jl. Kenanga No. 5")
    assert "Alamat dicatat" in warga.text


async def test_a_complaint_typed_while_a_reference_is_awaited_is_not_lost(
    citizen: Callable[..., Dialog],
) -> None:
    warga = citizen()
    await warga.say("/status")
    await warga.say("Sampah menumpuk di depan rumah saya sudah seminggu")
    assert "Sepertinya ini tentang" in warga.text and "Sampah" in warga.text


async def test_emergency_in_a_caption_or_while_flooding_still_gets_112(
    citizen: Callable[..., Dialog],
) -> None:
    warga = citizen()
    await warga.photo("fire", caption="kebakaran rumah di jl melati tolong ada orang terjebak")
    assert "112" in warga.text
    for _ in range(31):
        await warga.say("/help")
    await warga.say("tolong ada kecelakaan motor, orangnya berdarah tidak sadar")
    assert "112" in warga.text


@pytest.mark.parametrize("typed", ["lewati", "LEWATI", "skip", "tidak ada"])
async def test_typed_skip_words_are_understood(citizen: Callable[..., Dialog], typed: str) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Sampah")  # location required
    await warga.say("Sampah berserakan di taman kota")
    await warga.say(typed)
    assert "lokasi wajib" in warga.text
    await warga.say("/batal")
    await warga.press_payload("m|new")
    await warga.press("KTP")  # location optional
    await warga.say("Sudah 2 bulan e-KTP belum jadi")
    await warga.say(typed)
    assert "tanpa lokasi" in warga.text


async def test_typed_yes_and_done(citizen: Callable[..., Dialog], db: Database) -> None:
    warga = citizen()
    await warga.say("lampu jalan di gang mawar mati sudah seminggu, gelap banget")
    await warga.say("ya benar")
    assert warga.keyboard is not None  # category taken: on to the location
    await warga.share_location()
    await warga.say("selesai")
    assert "identitas" in warga.text.lower()


async def test_a_caption_answers_the_description_question(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Jalan")
    await warga.photo("hole", caption="Jalan berlubang besar di depan SD Negeri 3, sudah dua motor jatuh")
    assert "Foto disimpan" in warga.text and warga.keyboard is not None


async def test_thanks_and_references_at_the_menu_are_not_complaints(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await warga.say("Terima kasih banyak ya pak")
    assert "Sama-sama" in warga.text and "Pilih kategori" not in warga.text
    await warga.say(reference)
    assert "Riwayat" in warga.text


async def test_a_stale_button_at_the_menu_shows_the_menu(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await file_rubbish_complaint(warga)
    await warga.press("Kirim pengaduan")  # the summary's button, pressed again
    assert "sudah tidak berlaku" in warga.text
    assert any("Buat pengaduan" in b.label for b in warga.buttons)


async def test_a_failure_is_apologised_for_and_the_message_can_be_sent_again(
    citizen: Callable[..., Dialog], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    warga = citizen()
    real_step = router.step

    async def broken(turn: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(router, "step", broken)
    await warga.send(event_id="again", kind="command", text="/start", command="start")
    assert [r.text for r in warga.replies if isinstance(r, OutText)] == [
        "Maaf, pesan Anda belum dapat kami proses karena gangguan sementara. Mohon kirim lagi sebentar lagi."
    ]
    monkeypatch.setattr(router, "step", real_step)
    await warga.send(event_id="again", kind="command", text="/start", command="start")
    assert "Selamat datang" in warga.text  # nothing of the failed attempt was kept
    async with db.sessions() as session:
        assert list(await session.exec(select(Ticket))) == []


# --- found by exploratory testing -----------------------------------------------------------


async def test_more_words_at_the_category_question_are_added_and_read_together(
    citizen: Callable[..., Dialog],
) -> None:
    warga = citizen()
    await warga.say("lampu jalan di gang kami mati")
    await warga.say("sudah seminggu, gelap banget dan rawan maling")
    assert "Keterangan tambahan dicatat" in warga.text and "Lampu Jalan" in warga.text
    await warga.press("Ya, benar")
    await warga.say("Gang Kenari")
    await warga.press("Lewati")
    await warga.press("Publik")
    assert "lampu jalan di gang kami mati\nsudah seminggu, gelap banget dan rawan maling" in warga.text


async def test_cancelling_an_edit_keeps_the_complaint(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await to_summary_with_skipped_location(warga)
    await warga.press("Ubah")
    await warga.press("Uraian")
    await warga.press("Batal")
    assert "Perubahan dibatalkan" in warga.text
    assert "Periksa pengaduan" in warga.text and "blanko habis" in warga.text
    await warga.say("batal")  # typed, at the summary: now the whole complaint goes
    assert "Pengaduan dibatalkan" in warga.text


async def test_replacing_photos_is_announced(citizen: Callable[..., Dialog]) -> None:
    warga = citizen()
    await file_rubbish_complaint_to_summary(warga)
    await warga.press("Ubah")
    await warga.press("Foto")
    assert "1 foto sebelumnya akan diganti" in warga.text


async def file_rubbish_complaint_to_summary(warga: Dialog) -> None:
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    await warga.say("Sampah di TPS Jl. Melati sudah 3 hari tidak diangkut")
    await warga.share_location()
    await warga.photo("photo-A")
    await warga.press("Selesai")
    await warga.press("Publik")


async def test_an_english_emergency_is_answered_in_english_and_starts_nothing(
    citizen: Callable[..., Dialog],
) -> None:
    warga = citizen()
    await warga.say("There is a fire in my neighbour's house, please help!")
    assert "call <b>112</b> now" in warga.text
    assert "category" not in warga.text.lower()  # no complaint pushed on them
    assert any("File a complaint" in b.label for b in warga.buttons)


async def test_typed_menu_words_and_references_in_the_middle_of_a_complaint(
    citizen: Callable[..., Dialog],
) -> None:
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    await warga.say("tiket saya")
    assert reference in warga.text and "Pilih kategori" not in warga.text
    await warga.press_payload("m|new")
    await warga.say(f"cek status {reference}")
    assert "Riwayat" in warga.text and "Pengaduan Anda tentang apa" in warga.text


async def test_yes_at_the_summary_sends_it(citizen: Callable[..., Dialog], db: Database) -> None:
    warga = citizen()
    await file_rubbish_complaint_to_summary(warga)
    await warga.say("iya")
    assert "Pengaduan terkirim" in warga.text
    assert len(await tickets_in(db)) == 1


async def test_a_location_shared_early_is_kept(citizen: Callable[..., Dialog], db: Database) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.share_location(-6.21, 106.81)
    assert "Lokasi disimpan" in warga.text and "Pengaduan Anda tentang apa" in warga.text
    await warga.press("Sampah")
    await warga.say("Sampah menumpuk di pinggir kali")
    assert "Kirim foto" in warga.text  # the location step is already answered
    await warga.press("Lewati")
    await warga.press("Publik")
    await warga.press("Kirim")
    [ticket] = await tickets_in(db)
    assert (ticket.latitude, ticket.longitude) == (-6.21, 106.81)


async def test_a_typed_address_naming_no_area_asks_the_kecamatan_when_it_decides_the_unit(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    warga = citizen()
    await warga.say("/start")
    await warga.press("Buat pengaduan")
    await warga.press("Sampah")
    await warga.say("Sampah menumpuk di pinggir pantai dekat dermaga")
    await warga.say("Jl. Dermaga No. 3")
    assert "kecamatan mana" in warga.text  # sampah goes to another unit in Pesisir
    await warga.press("Kecamatan Pesisir")
    assert "foto" in warga.text.lower()
    await warga.press("Lewati")
    await warga.press("Anonim")
    assert "Kecamatan Pesisir" in warga.text  # the summary says where
    await warga.press("Kirim pengaduan")
    async with db.sessions() as session:
        ticket = (await session.exec(select(Ticket))).one()
    assert (ticket.area, ticket.unit) == ("pesisir", "kec_pesisir")


async def test_an_address_naming_its_area_or_a_category_without_area_units_is_not_asked(
    citizen: Callable[..., Dialog],
) -> None:
    warga = citizen()
    await warga.say("/start")
    await warga.press("Buat pengaduan")
    await warga.press("Sampah")
    await warga.say("Sampah menumpuk di depan balai warga sejak minggu lalu")
    await warga.say("Jl. Kenanga 4, Kelurahan Sukamaju")
    assert "kecamatan mana" not in warga.text and "foto" in warga.text.lower()
    jalan = citizen(user_id="2002")
    await jalan.say("/start")
    await jalan.press("Buat pengaduan")
    await jalan.press("Jalan")
    await jalan.say("Jalan berlubang dalam di depan sekolah dasar")
    await jalan.say("Jl. Anggrek No. 12")
    assert "kecamatan mana" not in jalan.text
