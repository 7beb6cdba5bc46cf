"""The whole workflow through the real bot process and a fake Bot API, with a test clock.

A citizen files a ticket; the unit's group gets the card; a stranger's press is refused; the
officer accepts, asks, the citizen answers, the officer resolves with a proof photo, the citizen
is told. Then time moves (CIVICBOT_CLOCK_FILE) past the thresholds of a second ticket: one
reminder, one escalation, and nothing repeated after the process is killed and started again.
And the follow-up survey: sent by the running process when its time comes, "not fixed" reopens
the ticket to the group, "fixed" after the second resolution closes it, then the ratings.
"""

from __future__ import annotations

import re
import signal
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_updates import Call
from tests.test_telegram_e2e import REFERENCE, STEP, TOKEN, BotProcess, TelegramCitizen, bot_environment

GROUP, ADMIN, OFFICER, HEAD, STRANGER, CITIZEN, NEIGHBOUR = -100700, 9001, 7001, 7002, 5555, 5001, 5002
WIB = ZoneInfo("Asia/Jakarta")
CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}")


def set_clock(path: Path, moment: datetime) -> None:
    path.write_text(moment.isoformat())


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as server:
        server.add_group(GROUP, "DLH Kota Contoh")
        yield server


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    path = tmp_path / "clock"
    set_clock(path, datetime(2026, 11, 23, 9, 0, tzinfo=WIB))  # Monday, a working morning
    return path


@pytest.fixture
def env(api: FakeTelegramAPI, tmp_path: Path, clock_file: Path) -> dict[str, str]:
    return bot_environment(
        api,
        tmp_path,
        CIVICBOT_ADMIN_IDS=str(ADMIN),
        CIVICBOT_CLOCK_FILE=str(clock_file),
        CIVICBOT_SLA_SWEEP_SECONDS="0.3",
    )


@pytest.fixture
async def bot(env: dict[str, str], tmp_path: Path) -> AsyncIterator[BotProcess]:
    process = BotProcess(env, tmp_path / "bot.log")
    await process.start()
    try:
        yield process
    finally:
        await process.stop(signal.SIGKILL)
        print(process.log.read_text(errors="replace")[-4000:])


class Officer:
    """Staff in the group and in their private chat with the bot."""

    def __init__(self, api: FakeTelegramAPI, user_id: int, name: str) -> None:
        self.api = api
        self.user_id = user_id
        self.name = name

    async def private(self, text: str, expect: str) -> Call:
        if text.startswith("/"):
            self.api.push_command(self.user_id, text, first_name=self.name)
        else:
            self.api.push_text(self.user_id, text, first_name=self.name)
        return await self.api.wait_for_text(self.user_id, expect, timeout=STEP)

    def in_group(self, text: str, *, reply_to: int | None = None) -> None:
        self.api.push_group_text(GROUP, self.user_id, text, reply_to=reply_to, first_name=self.name)

    def press(self, card_id: int, label: str) -> None:
        for row in self.api.buttons(GROUP, card_id):
            for text, data in row:
                if label.lower() in text.lower() and data:
                    self.api.push_group_callback(GROUP, self.user_id, data, message_id=card_id)
                    return
        raise AssertionError(f"no {label!r} on the card: {self.api.buttons(GROUP, card_id)}")


async def file_complaint(
    citizen: TelegramCitizen, api: FakeTelegramAPI, text: str, lat: float, lon: float
) -> str:
    await citizen.say("/start", "Selamat datang")
    await citizen.press("Buat pengaduan", "Pengaduan Anda tentang apa")
    await citizen.press("Sampah", "Ceritakan masalahnya")
    await citizen.say(text, "Di mana lokasinya")
    api.push_location(citizen.user_id, lat, lon)
    await citizen.expect("Kirim foto")
    api.push_photo(citizen.user_id, caption="fotonya")
    await citizen.expect("Foto 1 dari 3")
    await citizen.press("Selesai", "identitas")
    await citizen.press("Publik", "Periksa pengaduan")
    done = await citizen.press("Kirim pengaduan", "Pengaduan terkirim")
    found = REFERENCE.search(done.text or "")
    assert found, done.text
    return found.group(0)


async def set_up_unit(api: FakeTelegramAPI) -> tuple[Officer, Officer]:
    """The bot is added to the DLH group, an admin links it, an officer and the head join by invite."""
    admin = Officer(api, ADMIN, "Admin")
    api.push_bot_added(GROUP, by_user_id=ADMIN)
    await api.wait_for_text(GROUP, "/link", timeout=STEP)
    admin.in_group("/link dlh")
    await api.wait_for_text(GROUP, "menerima tiket Dinas Lingkungan Hidup", timeout=STEP)
    officer, head = Officer(api, OFFICER, "Budi"), Officer(api, HEAD, "Ratna")
    for person, command in ((officer, "/undang dlh"), (head, "/undang dlh supervisor")):
        invite = await admin.private(command, "Kode undangan")
        code = CODE.search(invite.text or "")
        assert code, invite.text
        await person.private(f"/join {code.group(0)}", "Selamat bergabung")
    return officer, head


async def test_officers_work_a_ticket_from_their_group(api: FakeTelegramAPI, bot: BotProcess) -> None:
    officer, _head = await set_up_unit(api)
    siti = TelegramCitizen(api, CITIZEN)
    reference = await file_complaint(
        siti, api, "Sampah di TPS Jl. Melati 3 hari tidak diangkut", -6.2001, 106.8167
    )

    card = await api.wait_for_text(GROUP, reference, timeout=STEP)
    card_id = int(card.result["message_id"])
    await api.wait_for_call(lambda c: c.method == "sendLocation" and c.chat_id == GROUP, timeout=STEP)
    await api.wait_for_call(lambda c: c.method == "sendPhoto" and c.chat_id == GROUP, timeout=STEP)

    Officer(api, STRANGER, "Orang Lain").press(card_id, "Terima")
    await api.wait_for_text(GROUP, "hanya untuk petugas terdaftar", timeout=STEP)

    officer.press(card_id, "Terima")
    await siti.expect("sudah diterima oleh Dinas Lingkungan Hidup")
    assert "Sedang dikerjakan" in (api.current_text(GROUP, card_id) or "")  # edited in place
    assert "Budi" in (api.current_text(GROUP, card_id) or "")

    officer.press(card_id, "Tanya pelapor")
    await api.wait_for_text(OFFICER, "Tulis pertanyaan", timeout=STEP)
    await officer.private("Di depan rumah nomor berapa?", "Pertanyaan terkirim")
    await siti.expect("Di depan rumah nomor berapa?")

    api.push_text(CITIZEN, "Depan nomor 12, dekat pos ronda", first_name="Siti")
    await siti.expect("Terkirim ke Dinas Lingkungan Hidup")
    answer = await api.wait_for_text(GROUP, "Depan nomor 12", timeout=STEP)
    assert answer.params["reply_parameters"]["message_id"] == card_id  # in the card's thread

    officer.in_group("Truk datang besok pagi, Bu", reply_to=card_id)
    relayed = await siti.expect("Truk datang besok pagi")
    assert "Dinas Lingkungan Hidup" in (relayed.text or "") and "Budi" not in (relayed.text or "")

    officer.press(card_id, "Selesai")
    await api.wait_for_text(OFFICER, "catatan penyelesaian", timeout=STEP)
    await officer.private("Sampah sudah diangkut, TPS dibersihkan", "foto hasil")
    api.push_photo(OFFICER, caption=None)
    await api.wait_for_text(OFFICER, "ditandai selesai", timeout=STEP)
    await siti.expect("telah diselesaikan")
    await api.wait_for_call(lambda c: c.method == "sendPhoto" and c.chat_id == CITIZEN, timeout=STEP)
    assert "Selesai ditangani" in (api.current_text(GROUP, card_id) or "")
    assert api.buttons(GROUP, card_id) == []  # nothing left to press


async def test_one_reminder_and_one_escalation_even_across_a_restart(
    api: FakeTelegramAPI, bot: BotProcess, env: dict[str, str], clock_file: Path, tmp_path: Path
) -> None:
    _officer, _head = await set_up_unit(api)
    budi = TelegramCitizen(api, NEIGHBOUR)
    reference = await file_complaint(budi, api, "Tumpukan sampah di pinggir jalan Mawar", -6.23, 106.83)
    await api.wait_for_text(GROUP, reference, timeout=STEP)

    set_clock(clock_file, datetime(2026, 11, 23, 13, 0, tzinfo=WIB))  # half the working day used
    await api.wait_for_text(GROUP, "50% waktu layanan", timeout=STEP)
    set_clock(clock_file, datetime(2026, 11, 24, 8, 30, tzinfo=WIB))  # Tuesday 08:30: the deadline
    await api.wait_for_text(HEAD, "Eskalasi", timeout=STEP)

    await bot.stop(signal.SIGKILL)
    restarted = BotProcess(env, tmp_path / "bot.log")
    await restarted.start()
    try:
        budi_again = TelegramCitizen(api, NEIGHBOUR)
        await budi_again.say("/tiket", reference)  # the restarted bot is up and answering
        await api.wait_idle(quiet=1.5, timeout=STEP)  # several sweeps pass
    finally:
        assert await restarted.stop() == 0
    reminders = [t for t in api.texts(GROUP) if "waktu layanan" in t and reference in t]
    assert len(reminders) == 1  # 50%; the 90% one fell in the jump to the deadline, made moot by it
    assert len([t for t in api.texts(HEAD) if "Eskalasi" in t]) == 1


async def resolve_with_proof(api: FakeTelegramAPI, officer: Officer, card_id: int, note: str) -> None:
    """The officer accepts the ticket on its card and resolves it with a note and a proof photo."""

    def can_resolve(call: Call) -> bool:
        labels = [text for row in api.buttons(GROUP, card_id) for text, _ in row]
        return call.chat_id == GROUP and call.method.startswith("edit") and "✔️ Selesai" in labels

    officer.press(card_id, "Terima")
    await api.wait_for_call(can_resolve, timeout=STEP)  # the card, edited: accepted by Budi
    officer.press(card_id, "Selesai")
    await api.wait_for_text(OFFICER, "catatan penyelesaian", timeout=STEP)
    await officer.private(note, "foto hasil")
    api.push_photo(OFFICER, caption=None)
    await api.wait_for_text(OFFICER, "ditandai selesai", timeout=STEP)


async def test_the_survey_reopens_a_ticket_then_closes_it_with_ratings(
    api: FakeTelegramAPI, bot: BotProcess, clock_file: Path
) -> None:
    # the process starts slowly on a loaded machine (importing aiogram alone takes seconds)
    await api.wait_for_call(lambda c: c.method == "getUpdates", timeout=3 * STEP)
    officer, _head = await set_up_unit(api)
    siti = TelegramCitizen(api, CITIZEN)
    reference = await file_complaint(siti, api, "Sampah di TPS Jl. Kenanga tidak diangkut", -6.21, 106.82)
    card = await api.wait_for_text(GROUP, reference, timeout=STEP)
    card_id = int(card.result["message_id"])

    await resolve_with_proof(api, officer, card_id, "Sampah sudah diangkut")
    notice = await siti.expect("telah diselesaikan")
    labels = [button["text"] for row in notice.params["reply_markup"]["inline_keyboard"] for button in row]
    assert labels == ["✅ Sudah beres", "❌ Belum beres", "🔕 Berhenti survei"]
    assert not [t for t in api.texts(CITIZEN) if "benar-benar sudah beres" in t]  # not before its time

    # one working day later (Tuesday 08:30) the running process's sweep asks
    set_clock(clock_file, datetime(2026, 11, 24, 8, 30, tzinfo=WIB))
    await siti.expect("Apakah masalahnya benar-benar sudah beres?")
    await siti.press("Belum beres", "apa yang masih belum beres")
    await siti.expect(f"{reference} dibuka kembali dan kembali ke Dinas Lingkungan Hidup")
    await api.wait_for_text(GROUP, f"{reference} dibuka kembali oleh pelapor", timeout=STEP)
    await siti.say("Sampahnya masih menumpuk di pojok TPS", "diteruskan ke Dinas Lingkungan Hidup")
    comment = await api.wait_for_text(GROUP, "masih menumpuk di pojok TPS", timeout=STEP)
    assert comment.params["reply_parameters"]["message_id"] == card_id
    await siti.expect("penilaian 1 dari 4")  # this survey's ratings, left unanswered

    await resolve_with_proof(api, officer, card_id, "Pojok TPS juga sudah dibersihkan")
    await siti.expect("Pojok TPS juga sudah dibersihkan")

    set_clock(clock_file, datetime(2026, 11, 25, 8, 0, tzinfo=WIB))  # the second survey's time
    await siti.expect("Apakah masalahnya benar-benar sudah beres?")
    await siti.press("Sudah beres", "penilaian 1 dari 4")
    await api.wait_for_text(GROUP, f"Pelapor mengonfirmasi {reference}", timeout=STEP)
    for number, label in enumerate(("4 · Sangat", "3 · Baik", "4 · Sangat"), start=2):
        await siti.press(label, f"penilaian {number} dari 4")
    await siti.press("4 · Sangat", "saran atau komentar")
    await siti.press("Lewati", "Terima kasih atas penilaian")
    status = await siti.say(f"/status {reference}", "Riwayat")
    assert "Ditutup: pelapor menyatakan sudah beres" in (status.text or "")
    assert "Dibuka kembali" in (status.text or "")
