"""A unit paused until a day: its new tickets go to the fallback through that day, come back to it as
soon as the day is over (before any sweep), and the sweep resumes it once and tells its group.

The `desk` fixture (tests/conftest.py): ADMIN, the DLH group (GROUP) linked, a DLH officer. The
clock starts on Monday 23 November 2026, 09:00 in Jakarta (WIB, UTC+7).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from handlers import unit_resume
from handlers.context import Deps
from models import Ticket, UnitState
from models.db import Database
from tests.desk import ADMIN, GROUP, Desk, texts
from tests.dialog import Dialog
from tests.test_intake_dialog import file_rubbish_complaint
from workflows.clock import FrozenClock

WEDNESDAY_LATE = datetime(2026, 11, 25, 16, 59, tzinfo=UTC)  # 23:59 WIB, the last minute of the pause
THURSDAY = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # 00:00 WIB: the pause is over
RESUMED = (
    "▶️ Dinas Lingkungan Hidup aktif kembali otomatis: jeda sampai 25 Nov 2026 telah berakhir. "
    "Tiket baru kembali masuk ke unit ini."
)


async def unit_of(db: Database, reference: str) -> str:
    async with db.sessions() as session:
        return (await session.exec(select(Ticket).where(Ticket.reference == reference))).one().unit


async def state_of(db: Database, unit: str) -> UnitState:
    async with db.sessions() as session:
        state = await session.get(UnitState, unit)
    assert state is not None
    return state


async def dlh_line(desk: Desk) -> str:
    """DLH's line in the admin's /unit list."""
    listing = texts(await desk.say(ADMIN, ADMIN, "/unit"))
    return next(line for line in listing.splitlines() if "<code>dlh</code>" in line)


async def test_a_unit_paused_until_a_day_gets_its_tickets_again_once_the_day_is_over(
    desk: Desk, citizen: Callable[..., Dialog], db: Database, clock: FrozenClock
) -> None:
    paused = texts(await desk.say(ADMIN, ADMIN, "/jeda dlh 2026-11-25 cuti bersama"))
    assert "Dinas Lingkungan Hidup dijeda" in paused and "Pengelola Pengaduan (Triase)" in paused
    assert "Jeda berakhir otomatis setelah 25 Nov 2026" in paused
    assert "⏸ dijeda sampai 25 Nov 2026" in await dlh_line(desk)
    assert (await state_of(db, "dlh")).paused_reason == "cuti bersama"  # the day is not the reason

    warga = citizen()
    clock.set(WEDNESDAY_LATE)
    during = await file_rubbish_complaint(warga)
    assert "Diteruskan ke: Pengelola Pengaduan (Triase)" in warga.text
    assert await unit_of(db, during) == "triase"
    await desk.flush()
    assert during not in texts(desk.new(GROUP))

    clock.set(THURSDAY)  # no sweep has run: the pause has ended all the same
    after = await file_rubbish_complaint(warga)  # the same citizen: not offered to join their own ticket
    assert "Diteruskan ke: Dinas Lingkungan Hidup" in warga.text
    assert await unit_of(db, after) == "dlh"
    await desk.flush()
    assert after in texts(desk.new(GROUP))
    assert "dijeda" not in await dlh_line(desk)
    assert await unit_of(db, during) == "triase"  # what was filed meanwhile stays where it went


async def test_the_sweep_resumes_the_unit_once_and_tells_its_group(
    desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    await desk.say(ADMIN, ADMIN, "/jeda dlh 25-11-2026")
    desk.new(GROUP)
    clock.set(WEDNESDAY_LATE)
    assert await unit_resume.sweep(db, deps) == 0  # not yet
    await desk.flush()
    assert not desk.new(GROUP)
    assert (await state_of(db, "dlh")).paused

    clock.set(THURSDAY + timedelta(minutes=1))
    assert await unit_resume.sweep(db, deps) == 1
    assert await unit_resume.sweep(db, deps) == 0  # a second run finds nothing to resume
    await desk.flush()
    told = desk.new(GROUP)
    assert [texts([sent]) for sent in told] == [RESUMED]
    state = await state_of(db, "dlh")
    assert (state.paused, state.paused_by, state.paused_until) == (False, "schedule", None)


async def test_a_pause_without_a_day_or_resumed_by_hand_is_left_to_the_admin(
    desk: Desk, db: Database, deps: Deps, clock: FrozenClock
) -> None:
    await desk.say(ADMIN, ADMIN, "/jeda dpupr banjir")
    await desk.say(ADMIN, ADMIN, "/jeda dlh 2026-11-25")
    assert "aktif kembali" in texts(await desk.say(ADMIN, ADMIN, "/lanjut dlh"))  # before the day ends
    clock.set(THURSDAY + timedelta(days=30))
    assert await unit_resume.sweep(db, deps) == 0
    await desk.flush()
    assert not desk.new(GROUP)
    assert (await state_of(db, "dpupr")).paused  # paused without a day: until someone resumes it
    assert not (await state_of(db, "dlh")).paused


async def test_a_day_already_past_is_refused(desk: Desk, db: Database) -> None:
    refused = texts(await desk.say(ADMIN, ADMIN, "/jeda dlh 2026-11-22 libur"))
    assert "22 Nov 2026 sudah lewat" in refused
    assert "dijeda" not in await dlh_line(desk)
    usage = texts(await desk.say(ADMIN, ADMIN, "/jeda"))
    assert "Tulis /jeda KODE_UNIT [TANGGAL] [alasan]" in usage
