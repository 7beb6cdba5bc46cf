"""Many tickets due in one sweep: each alert answers its own card, each card is refreshed as it was
(photos, reporter), each alert is recorded once, and the sweep's queries do not grow with the
number of tickets due (benchmarks/sla_sweep.py: 1,000 due in one sweep)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlmodel import col, select

from handlers import alerts
from handlers.context import Deps
from handlers.messages import OutEdit, OutText
from models import TicketEvent
from models.db import Database
from tests.desk import GROUP, Desk
from tests.dialog import Dialog
from workflows.clock import FrozenClock

WIB = ZoneInfo("Asia/Jakarta")
REFERENCE = re.compile(r"ADU-\d{4}-[0-9A-Z]{4}")


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB)


async def file(warga: Dialog, number: int, *, photo: bool = False) -> str:
    """A rubbish complaint, each far from the others (no "me too"); with a photo if asked."""
    await warga.say("/start")
    await warga.press("Buat pengaduan")
    await warga.press("Sampah")
    await warga.say(f"Sampah menumpuk di pinggir jalan nomor {number}, sudah seminggu")
    await warga.share_location(-6.2001 - number * 0.01, 106.8167)
    if photo:
        await warga.photo(f"photo-{number}")
        await warga.press("Selesai")
    else:
        await warga.press("Lewati")
    await warga.press("Publik")
    done = await warga.press("Kirim pengaduan")
    found = REFERENCE.search("\n".join(r.text for r in done if isinstance(r, OutText)))
    assert found, done
    return found.group(0)


async def sweep_counting(db: Database, deps: Deps) -> tuple[int, int]:
    """(alerts sent, SQL statements the sweep made)."""
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        sent = await alerts.sweep(db, deps)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    return sent, len(statements)


async def test_many_due_at_once_each_answers_its_card_in_the_same_few_queries(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    # Monday 09:00: two complaints; 10:00: four more, one with a photo (8 working hours to respond)
    early = [await file(citizen(user_id=str(6100 + n)), n) for n in range(2)]
    clock.set(wib(23, 10, 0))
    late = [await file(citizen(user_id=str(6200 + n)), 10 + n, photo=n == 0) for n in range(4)]
    await desk.flush()
    desk.new(GROUP)
    cards = {reference: await desk.card_id(GROUP, reference) for reference in early + late}

    clock.set(wib(23, 13, 0))  # half the time of the first two
    sent_early, queries_early = await sweep_counting(db, deps)
    clock.set(wib(23, 14, 0))  # half the time of the other four
    sent_late, queries_late = await sweep_counting(db, deps)
    assert (sent_early, sent_late) == (2, 4)
    # read once for the batch, written once: twice the tickets, not more queries
    assert queries_late == queries_early, (queries_early, queries_late)

    await desk.flush()
    group = desk.new(GROUP)
    reminders: dict[str, list[OutText]] = {}
    for message in group:
        if isinstance(message.action, OutText) and "50% waktu layanan" in message.action.text:
            found = REFERENCE.search(message.action.text)
            assert found
            reminders.setdefault(found.group(0), []).append(message.action)
    assert sorted(reminders) == sorted(early + late)  # one reminder for each ticket
    for reference, sent in reminders.items():
        assert len(sent) == 1 and sent[0].reply_to == cards[reference]  # answering its own card
    refreshed = [m for m in group if isinstance(m.action, OutEdit)]
    assert {m.message_id for m in refreshed} == set(cards.values())  # every card edited in place
    with_photo = desk.card(GROUP, cards[late[0]]).text
    assert "1 foto" in with_photo and "Siti Warga" in with_photo  # the refreshed card lost nothing
    assert "1 foto" not in desk.card(GROUP, cards[late[1]]).text

    async with db.sessions() as session:
        events = list(await session.exec(select(TicketEvent).where(col(TicketEvent.action) == "reminder")))
    assert len(events) == 6 and len({e.ticket_id for e in events}) == 6
    assert all(e.details["fraction"] == 0.5 and not e.public for e in events)
