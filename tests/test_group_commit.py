"""Group commit (models/group_commit.py): concurrent small writes share transactions, each gets its own
result, and one bad write does not undo the others."""

from __future__ import annotations

import asyncio

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.messages import Channel, Envelope, OutText
from models import OutboxMessage, OutboxStatus
from models.db import Database
from models.group_commit import GroupCommit
from workflows.clock import FrozenClock
from workflows.outbox import Priority, enqueue


async def _queued(db: Database, clock: FrozenClock, count: int) -> list[int]:
    async with db.transaction() as session:
        rows = [
            enqueue(
                session=session,
                envelope=Envelope(channel=Channel.TELEGRAM, chat_id=str(100 + n), action=OutText(text="x")),
                now=clock.now(),
                priority=Priority.BULK,
            )
            for n in range(count)
        ]
        await session.flush()
        return [row.id for row in rows if row.id is not None]


def _mark(row_id: int, status: OutboxStatus):  # type: ignore[no-untyped-def]
    async def unit(session: AsyncSession) -> int:
        row = await session.get(OutboxMessage, row_id)
        if row is None:
            raise LookupError(row_id)
        row.status = status
        session.add(row)
        await session.flush()
        return row_id

    return unit


async def _statuses(db: Database) -> dict[int, str]:
    async with db.sessions() as session:
        found = await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return {row.id or 0: row.status for row in found}


async def test_writes_asked_for_at_once_share_few_transactions_and_all_land(
    db: Database, clock: FrozenClock
) -> None:
    ids = await _queued(db, clock, 40)
    commits = GroupCommit(db)
    results = await asyncio.gather(*(commits.run(_mark(row_id, OutboxStatus.SENT)) for row_id in ids))
    assert results == ids  # each asker gets its own unit's result
    assert set((await _statuses(db)).values()) == {OutboxStatus.SENT}
    assert commits.units == 40
    assert commits.transactions <= 2  # the first alone at most, then the rest together


async def test_one_failing_write_fails_only_its_asker(db: Database, clock: FrozenClock) -> None:
    ids = await _queued(db, clock, 5)
    commits = GroupCommit(db)
    asked = [commits.run(_mark(row_id, OutboxStatus.SENT)) for row_id in ids]
    asked.insert(2, commits.run(_mark(999_999, OutboxStatus.SENT)))  # no such row
    outcomes = await asyncio.gather(*asked, return_exceptions=True)
    assert isinstance(outcomes[2], LookupError)
    assert [o for o in outcomes if not isinstance(o, BaseException)] == ids
    assert set((await _statuses(db)).values()) == {OutboxStatus.SENT}


async def test_a_write_asked_for_later_still_lands(db: Database, clock: FrozenClock) -> None:
    ids = await _queued(db, clock, 2)
    commits = GroupCommit(db)
    assert await commits.run(_mark(ids[0], OutboxStatus.FAILED)) == ids[0]
    assert await commits.run(_mark(ids[1], OutboxStatus.SENT)) == ids[1]
    assert await _statuses(db) == {ids[0]: OutboxStatus.FAILED, ids[1]: OutboxStatus.SENT}
    assert commits.transactions == 2
