"""'Ikut melapor' (me too): a second citizen reporting the same problem nearby joins the open ticket.

Sample city: same category, an open ticket filed in the last 14 days, within 150 m; confidential
tickets are never offered, nor is a confidential report offered to join; from 3 reporters the
ticket is high priority.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import col, select

from handlers.messages import OutMedia, OutText
from models import Attachment, Ticket, TicketEvent, TicketFollower
from models.db import Database
from tests.desk import GROUP, OFFICER, Desk, texts
from tests.dialog import Dialog
from tests.test_intake_dialog import REFERENCE
from workflows.clock import FrozenClock
from workflows.duplicates import distance_m

SITI, BUDI, ANI = "1001", "2002", "3003"
TPS_MELATI = (-6.2001, 106.8167)
NEARBY = (-6.2005, 106.8170)  # about 55 m away
FAR = (-6.2046, 106.8167)  # about 500 m away


async def report(
    warga: Dialog,
    point: tuple[float, float] = TPS_MELATI,
    *,
    category: str = "Sampah",
    description: str = "Sampah di TPS Jl. Melati sudah 3 hari tidak diangkut, baunya menyengat",
    photo: str | None = None,
    identity: str = "Publik",
) -> None:
    """Fill in a complaint and press send (which may offer 'ikut melapor' instead of filing)."""
    await warga.press_payload("m|new")
    await warga.press(category)
    await warga.say(description)
    await warga.share_location(*point)
    if photo:
        await warga.photo(photo)
        await warga.press("Selesai")
    else:
        await warga.press("Lewati")
    await warga.press(identity)
    await warga.press("Kirim pengaduan")


async def filed(
    warga: Dialog,
    point: tuple[float, float] = TPS_MELATI,
    *,
    photo: str | None = None,
    identity: str = "Publik",
) -> str:
    """A complaint that must be filed as a new ticket; returns its reference."""
    await report(warga, point, photo=photo, identity=identity)
    assert "Pengaduan terkirim" in warga.text, warga.text
    match = REFERENCE.search(warga.text)
    assert match
    return match.group(0)


async def all_tickets(db: Database) -> list[Ticket]:
    async with db.sessions() as session:
        return list(await session.exec(select(Ticket).order_by(col(Ticket.id))))


def offered(warga: Dialog) -> bool:
    return any("Ikut melapor" in b.label for b in warga.buttons)


def test_the_test_points_are_where_they_claim() -> None:
    assert 40 < distance_m(*TPS_MELATI, *NEARBY) < 100
    assert 450 < distance_m(*TPS_MELATI, *FAR) < 550


async def test_a_second_citizen_nearby_joins_and_both_hear_the_progress(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    siti, budi = citizen(SITI), citizen(BUDI)
    reference = await filed(siti, photo="photo-A")
    await desk.flush()
    card_id = await desk.card_id(GROUP, reference)
    desk.new(GROUP)

    await report(
        budi,
        NEARBY,
        description="Tumpukan sampah di TPS Melati sudah bau sekali, banyak lalat",
        photo="photo-B",
    )
    assert "sudah dilaporkan di dekat lokasi Anda" in budi.text
    assert reference in budi.text and "Sampah" in budi.text
    assert "1 warga melapor" in budi.text
    assert "TPS Jl. Melati" not in budi.text and "Siti" not in budi.text  # never the other's words or name
    assert offered(budi) and any("kirim laporan baru" in b.label for b in budi.buttons)
    assert len(await all_tickets(db)) == 1  # nothing filed while the citizen decides

    await budi.press("Ikut melapor")
    assert "Anda ikut melapor" in budi.text and reference in budi.text and "2 warga" in budi.text
    [ticket] = await all_tickets(db)  # no new ticket
    assert ticket.reporters == 2 and ticket.priority == 0
    async with db.sessions() as session:
        followers = (await session.exec(select(TicketFollower))).all()
        photos = (await session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id))).all()
        added = (await session.exec(select(TicketEvent).where(TicketEvent.action == "citizen_message"))).one()
    assert [f.ticket_id for f in followers] == [ticket.id]
    assert sorted(p.file_id for p in photos) == ["photo-A", "photo-B"]  # Budi's photo is on the ticket
    assert added.note is not None and "banyak lalat" in added.note

    # the unit sees Budi's words and photo under the card, and the card counts two reporters
    await desk.flush()
    thread = desk.new(GROUP)
    words = [s.action for s in thread if isinstance(s.action, OutText) and "banyak lalat" in s.action.text]
    assert words and words[0].reply_to == card_id
    assert any(isinstance(s.action, OutMedia) and s.action.media.file_id == "photo-B" for s in thread)
    assert "Dilaporkan oleh 2 warga" in desk.card(GROUP, card_id).text

    # the officer accepts: both citizens are told, each once; a reply to the card is for the reporter
    await desk.press_label(GROUP, OFFICER, "Terima")
    await desk.say(GROUP, OFFICER, "Bu Siti, rumah nomor berapa?", reply_to=card_id)
    for chat in (SITI, BUDI):
        told = texts(desk.channel.to(chat))
        assert told.count(f"<b>{reference}</b> sudah diterima oleh Dinas Lingkungan Hidup") == 1, chat
    assert texts(desk.channel.to(SITI)).count("Bu Siti, rumah nomor berapa?") == 1
    assert "rumah nomor berapa" not in texts(desk.channel.to(BUDI))


async def test_declining_files_a_new_ticket(citizen: Callable[..., Dialog], db: Database) -> None:
    first = await filed(citizen(SITI))
    budi = citizen(BUDI)
    await report(budi, NEARBY)
    assert offered(budi)
    await budi.press("Bukan, kirim laporan baru")
    assert "Pengaduan terkirim" in budi.text
    match = REFERENCE.search(budi.text)
    assert match and match.group(0) != first
    tickets = await all_tickets(db)
    assert len(tickets) == 2 and [t.reporters for t in tickets] == [1, 1]
    async with db.sessions() as session:
        assert (await session.exec(select(TicketFollower))).all() == []


async def test_a_typed_answer_works_too(citizen: Callable[..., Dialog], db: Database) -> None:
    await filed(citizen(SITI))
    budi = citizen(BUDI)
    await report(budi, NEARBY)
    await budi.say("ya")
    assert "Anda ikut melapor" in budi.text
    assert [t.reporters for t in await all_tickets(db)] == [2]


@pytest.mark.parametrize(
    ("point", "category", "identity"),
    [
        (FAR, "Sampah", "Publik"),  # 500 m away: another problem
        (NEARBY, "Jalan", "Publik"),  # the same place, another category
    ],
)
async def test_no_offer_far_away_or_for_another_category(
    citizen: Callable[..., Dialog], db: Database, point: tuple[float, float], category: str, identity: str
) -> None:
    await filed(citizen(SITI))
    budi = citizen(BUDI)
    await report(
        budi,
        point,
        category=category,
        identity=identity,
        description="Jalan berlubang dan sampah di depan TPS",
    )
    assert not offered(budi)
    assert "Pengaduan terkirim" in budi.text
    assert len(await all_tickets(db)) == 2


async def test_a_confidential_ticket_is_never_offered(citizen: Callable[..., Dialog], db: Database) -> None:
    await filed(citizen(SITI), identity="Rahasia")
    budi = citizen(BUDI)
    await report(budi, NEARBY)
    assert not offered(budi)  # offering it would reveal that someone reported it
    assert "Pengaduan terkirim" in budi.text
    assert len(await all_tickets(db)) == 2


async def test_an_old_ticket_is_not_offered(
    citizen: Callable[..., Dialog], db: Database, clock: FrozenClock
) -> None:
    await filed(citizen(SITI))
    clock.advance(timedelta(days=13))
    budi = citizen(BUDI)
    await report(budi, NEARBY)
    assert offered(budi)  # 13 days: still offered
    await budi.say("/batal")
    clock.advance(timedelta(days=2))  # filed more than 14 days ago
    await report(budi, NEARBY)
    assert not offered(budi)
    assert len(await all_tickets(db)) == 2


async def test_a_closed_ticket_is_not_offered(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    await filed(citizen(SITI))
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Tolak")
    assert "ditolak" in texts(await desk.say(OFFICER, OFFICER, "Lokasi ini lahan pribadi, bukan TPS resmi"))
    budi = citizen(BUDI)
    await report(budi, NEARBY)
    assert not offered(budi)
    assert "Pengaduan terkirim" in budi.text
    assert [t.status for t in await all_tickets(db)] == ["rejected", "submitted"]


async def test_a_ticket_closed_while_the_citizen_decides_is_filed_anew(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    await filed(citizen(SITI))
    await desk.flush()
    budi = citizen(BUDI)
    await report(budi, NEARBY)
    assert offered(budi)
    await desk.press_label(GROUP, OFFICER, "Tolak")
    await desk.say(OFFICER, OFFICER, "Lokasi ini lahan pribadi, bukan TPS resmi")
    await budi.press("Ikut melapor")
    assert "baru saja ditutup" in budi.text and "Pengaduan terkirim" in budi.text
    assert [(t.status, t.reporters) for t in await all_tickets(db)] == [("rejected", 1), ("submitted", 1)]


async def test_the_reporter_is_not_offered_their_own_ticket(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    siti = citizen(SITI)
    await filed(siti)
    await report(siti, NEARBY)
    assert not offered(siti)
    assert len(await all_tickets(db)) == 2


async def test_priority_rises_at_three_reporters(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    reference = await filed(citizen(SITI))
    budi, ani = citizen(BUDI), citizen(ANI)
    await report(budi, NEARBY)
    await budi.press("Ikut melapor")
    [ticket] = await all_tickets(db)
    assert (ticket.reporters, ticket.priority) == (2, 0)
    await report(ani, NEARBY)
    assert "2 warga melapor" in ani.text
    await ani.press("Ikut melapor")
    assert "3 warga" in ani.text
    [ticket] = await all_tickets(db)
    assert (ticket.reporters, ticket.priority) == (3, 1)
    async with db.sessions() as session:
        joined = (
            await session.exec(
                select(TicketEvent).where(TicketEvent.action == "joined").order_by(col(TicketEvent.id))
            )
        ).all()
    assert [e.details["priority_raised"] for e in joined] == [False, True]
    # the running response clock tightens to the `high` target (4 working hours, not 1 day)
    assert ticket.clock == "response" and ticket.clock_target_seconds == 4 * 3600
    # a high-priority ticket gets the `high` targets: resolution within 3 working days, not 5
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")
    [ticket] = await all_tickets(db)
    assert ticket.reference == reference
    assert ticket.clock == "resolution" and ticket.clock_target_seconds == 3 * 8 * 3600


async def test_a_citizen_who_joined_can_check_the_status(citizen: Callable[..., Dialog]) -> None:
    """The joined citizen was given the reference: /status must not answer "not found"."""
    reference = await filed(citizen(SITI))
    budi = citizen(BUDI)
    await report(budi, NEARBY)
    await budi.press("Ikut melapor")
    await budi.say(f"/status {reference}")
    assert "tidak ditemukan" not in budi.text
    assert reference in budi.text and "Riwayat" in budi.text
    await budi.press_payload("m|tickets")
    assert reference in budi.text  # and "Tiket saya" lists it


async def test_a_confidential_report_is_not_offered_to_join_a_public_ticket(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    """ "Rahasia" promises the report's content stays out of the unit's group; joining a public
    ticket would post it in that ticket's thread there, so it is filed on its own instead."""
    await filed(citizen(SITI))
    await desk.flush()
    desk.new(GROUP)
    budi = citizen(BUDI)
    await report(
        budi,
        NEARBY,
        identity="Rahasia",
        description="Saya dari RT 05, tetangga saya membuang sampah ke TPS setiap malam",
        photo="photo-secret",
    )
    assert not offered(budi)
    assert "Pengaduan terkirim" in budi.text
    assert [(t.identity, t.reporters) for t in await all_tickets(db)] == [("public", 1), ("confidential", 1)]
    await desk.flush()
    group = texts(desk.new(GROUP))
    assert "RT 05" not in group and "tetangga saya" not in group and "photo-secret" not in group


async def test_the_units_question_goes_to_the_reporter_only(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    await filed(citizen(SITI))
    budi = citizen(BUDI)
    await report(budi, NEARBY)
    await budi.press("Ikut melapor")
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")
    await desk.press_label(GROUP, OFFICER, "Tanya pelapor")
    await desk.say(OFFICER, OFFICER, "Bu Siti, di depan rumah nomor berapa?")
    assert "di depan rumah nomor berapa" in texts(desk.channel.to(SITI))
    assert "di depan rumah nomor berapa" not in texts(desk.channel.to(BUDI))
    await budi.say("Nomor 12")  # Budi is not asked: his words are an addition, not the answer
    [ticket] = await all_tickets(db)
    assert ticket.status == "waiting_citizen"
