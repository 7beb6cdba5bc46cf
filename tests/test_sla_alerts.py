"""SLA clocks in working time: one reminder per threshold, escalations after the deadline, never twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bot.metrics import Metrics
from handlers import alerts
from handlers.context import Deps
from handlers.pipeline import Pipeline
from models import Ticket, TicketEvent
from models.db import Database
from tests.desk import ADMIN, GROUP, HEAD, OFFICER, Desk, texts
from tests.dialog import Dialog
from tests.test_intake_dialog import file_rubbish_complaint
from workflows.clock import FrozenClock

WIB = ZoneInfo("Asia/Jakarta")


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB)


async def ticket_of(db: Database) -> Ticket:
    async with db.sessions() as session:
        return (await session.exec(select(Ticket))).one()


async def alert_events(db: Database) -> list[TicketEvent]:
    async with db.sessions() as session:
        query = select(TicketEvent).where(col(TicketEvent.action).in_(["reminder", "escalated"]))
        return list(await session.exec(query.order_by(col(TicketEvent.id))))


async def test_response_deadline_counts_working_hours_only(
    citizen: Callable[..., Dialog], desk: Desk, db: Database
) -> None:
    await file_rubbish_complaint(citizen())  # Monday 09:00 WIB; sampah: respond within 1 working day (8 h)
    ticket = await ticket_of(db)
    # Monday 09:00–16:00 is 7 h, the 8th hour is Tuesday 07:30–08:30
    assert ticket.due_at is not None and ticket.due_at.replace(tzinfo=ZoneInfo("UTC")) == wib(24, 8, 30)
    assert ticket.clock == "response"


async def test_one_reminder_per_threshold_then_escalations_each_once(
    citizen: Callable[..., Dialog],
    desk: Desk,
    db: Database,
    deps: Deps,
    clock: FrozenClock,
    pipeline: Pipeline,
) -> None:
    reference = await file_rubbish_complaint(citizen())
    await desk.flush()
    desk.new(GROUP)
    card_id = await desk.card_id(GROUP, reference)

    clock.set(wib(23, 12, 59))
    assert await alerts.sweep(db, deps) == 0
    clock.set(wib(23, 13, 0))  # 4 of 8 working hours used: 50%
    assert await alerts.sweep(db, deps) == 1
    await desk.flush()
    reminder = texts(desk.new(GROUP))
    assert "50% waktu layanan" in reminder and reference in reminder
    assert await alerts.sweep(db, deps) == 0  # nothing twice

    # a restart: a new process with fresh dependencies reads the same database
    restarted = Deps(
        city=deps.city, texts=deps.texts, clock=clock, classifier=deps.classifier, areas=deps.areas
    )
    assert await alerts.sweep(db, restarted) == 0

    clock.set(wib(24, 7, 42))  # overnight does not count: 7.2 h used is Tuesday 07:42
    assert await alerts.sweep(db, restarted) == 1
    await desk.flush()
    assert "90% waktu layanan" in texts(desk.new(GROUP))

    clock.set(wib(24, 8, 30))  # the deadline: the unit head is told privately
    assert await alerts.sweep(db, restarted) == 1
    await desk.flush()
    escalation = texts(desk.new(HEAD))
    assert "Eskalasi" in escalation and reference in escalation
    assert "terlambat" in desk.card(GROUP, card_id).text  # the card shows the breach
    assert not desk.new(ADMIN)

    clock.set(wib(24, 12, 30))  # half a target later: the admins
    assert await alerts.sweep(db, restarted) == 1
    await desk.flush()
    assert "Eskalasi lanjutan" in texts(desk.new(ADMIN))

    clock.set(wib(30, 12, 0))  # a week later: nothing is left to send
    assert await alerts.sweep(db, restarted) == 0
    events = await alert_events(db)
    assert [(e.action, e.details["fraction"]) for e in events] == [
        ("reminder", 0.5),
        ("reminder", 0.9),
        ("escalated", 1.0),
        ("escalated", 1.5),
    ]
    assert not [e for e in events if e.public]  # the citizen's timeline does not show them


async def test_after_an_outage_only_the_escalations_still_matter(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    await file_rubbish_complaint(citizen())
    clock.set(wib(24, 13, 0))  # the bot was down from Monday morning to Tuesday afternoon
    assert await alerts.sweep(db, deps) == 2  # both escalation levels; stale reminders skipped
    await desk.flush()
    assert not [s for s in desk.new(GROUP) if "waktu layanan" in texts([s])]
    assert "Eskalasi" in texts(desk.new(HEAD))


async def test_the_metrics_tell_reminders_escalations_and_missed_deadlines_apart(
    citizen: Callable[..., Dialog], db: Database, deps: Deps, clock: FrozenClock
) -> None:
    """What a quality manager's Prometheus shows: a reminder, then the missed deadline and its two
    escalations (one ticket, one breach)."""
    metrics = Metrics(db, {})
    await file_rubbish_complaint(citizen())
    for moment in (wib(23, 13, 0), wib(24, 8, 30), wib(24, 12, 30)):  # 50%, the deadline, 150%
        clock.set(moment)
        counts: Counter[str] = Counter()
        await alerts.sweep(db, deps, counts)
        metrics.count_sla(counts)
    figures = {
        (sample.name, tuple(sample.labels.items())): sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name.startswith("civicbot_sla_")
    }
    assert figures[("civicbot_sla_alerts_total", (("kind", "reminder"),))] == 1
    assert figures[("civicbot_sla_alerts_total", (("kind", "escalation"),))] == 2
    assert figures[("civicbot_sla_breaches_total", ())] == 1


async def test_waiting_for_the_citizen_pauses_the_clock(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    warga = citizen()
    await file_rubbish_complaint(warga)
    await desk.flush()
    await desk.press_label(GROUP, OFFICER, "Terima")  # Monday 09:00: resolution clock, 5 working days
    resolution_due = (await ticket_of(db)).due_at
    await desk.press_label(GROUP, OFFICER, "Tanya pelapor")
    await desk.say(OFFICER, OFFICER, "Foto dari sisi jalan, bisa?")
    clock.set(wib(26, 9, 0))  # the citizen answers on Thursday: three working days later
    assert await alerts.sweep(db, deps) == 0  # nothing falls due while paused
    await warga.say("Sudah saya kirim fotonya tadi")
    after = await ticket_of(db)
    assert after.status == "in_progress" and after.paused_at is None
    assert resolution_due is not None and after.due_at is not None
    # the deadline was Friday 15:00 (40 working hours from Monday 09:00); paused for all of it, the
    # 40 hours start again on Thursday 09:00: Thu 7 h, Fri 9 h, Mon and Tue 8.5 h, Wed 7 h → 14:30
    assert resolution_due.replace(tzinfo=ZoneInfo("UTC")) == wib(27, 15, 0)
    assert after.due_at.replace(tzinfo=ZoneInfo("UTC")) == datetime(2026, 12, 2, 14, 30, tzinfo=WIB)


async def test_daily_digest_once_per_working_day(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    reference = await file_rubbish_complaint(citizen())
    clock.set(wib(24, 7, 0))  # Tuesday 07:00: the ticket is at 90% of its response time
    assert await alerts.digest(db, deps) == 1
    await desk.flush()
    digest = texts(desk.new(HEAD))
    assert "Ringkasan harian" in digest and reference in digest
    assert await alerts.digest(db, deps) == 0  # once a day, whichever instance asks
    clock.set(wib(28, 7, 0))  # Saturday: nobody works
    assert await alerts.digest(db, deps) == 0
    clock.set(wib(30, 7, 0))  # Monday: overdue now
    assert await alerts.digest(db, deps) == 1
    await desk.flush()
    assert "Terlambat (1)" in texts(desk.new(HEAD))


async def test_a_sweep_with_nothing_due_is_one_indexed_query(
    citizen: Callable[..., Dialog], desk: Desk, db: Database, deps: Deps
) -> None:
    from sqlalchemy import event

    for number in range(3):  # three tickets, far enough apart not to be offered "me too"
        warga = citizen(user_id=str(6000 + number))
        await warga.file_complaint(
            "Sampah menumpuk di pinggir jalan, sudah seminggu",
            at=(-6.2001 - number * 0.01, 106.8167),
            identity="Anonim",
        )
    async with db.sessions() as session:
        assert len((await session.exec(select(Ticket))).all()) == 3
    statements: list[tuple[str, Any]] = []

    def record(conn: object, cursor: object, statement: str, parameters: object, *args: object) -> None:
        statements.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        assert await alerts.sweep(db, deps) == 0
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    selects = [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and "next_alert_at" in selects[0][0]
    async with db.engine.connect() as connection:
        plan = (await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + selects[0][0], selects[0][1])).all()
    assert any("ix_tickets_next_alert" in str(row) for row in plan), plan  # not a scan of every ticket
