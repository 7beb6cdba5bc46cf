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
