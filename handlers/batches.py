"""The scheduler's sweeps: due rows worked in batches, each batch one transaction with its mail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.context import Deps, Desk, Mail
from handlers.pipeline import queue_mail
from models.db import Database

Row = TypeVar("Row")


async def in_batches(
    db: Database,
    deps: Deps,
    due: Callable[[AsyncSession, datetime, int], Awaitable[Sequence[Row]]],
    work: Callable[[Desk, Row], Awaitable[int]],
    *,
    batch: int = 200,
) -> int:
    """Work every due row; the sum of what `work` counted.

    A batch's changes and the messages they cause commit together, so a crash before the commit
    leaves the rows due and a commit records them done: nothing is sent twice. `due` should lock
    its rows (FOR UPDATE SKIP LOCKED) so that another instance takes other ones.
    """
    done = 0
    while True:
        async with db.transaction() as session:
            now = deps.clock.now()
            rows = await due(session, now, batch)
            if not rows:
                return done
            desk = Desk(session=session, deps=deps, mail=Mail(), now=now)
            for row in rows:
                done += await work(desk, row)
            queue_mail(session, desk.mail, now)
        if len(rows) < batch:
            return done
