"""Group commit: many small units of work from concurrent tasks written in one transaction.

The outbox sender keeps several sends in flight; each claims its row before the send and records the
outcome after it: two tiny write transactions per message. At 100 messages a second that is 200
commits a second queued behind SQLite's one writer, and each waits its turn. Here a unit of work
asked for while a transaction is being written waits for the next one, which takes everything asked
for meanwhile: one commit for all of them, and no unit waits longer than about one transaction.

A unit is a coroutine function of the session; its result (or its error) goes back to whoever asked.
Should a shared transaction fail, each of its units is tried again alone, so that one bad unit does
not fail the others (a unit must therefore be safe to run again after a rollback: the sender's are
conditional UPDATEs and INSERTs of their own rows).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import Database

log = logging.getLogger(__name__)

T = TypeVar("T")
Unit = Callable[[AsyncSession], Awaitable[Any]]
MAX_UNITS = 200  # per transaction: a long queue is written in several, so none holds the writer long


class GroupCommit:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[tuple[Unit, asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.transactions = 0  # written so far (the benchmarks and tests read it)
        self.units = 0

    async def run(self, unit: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `unit` in the next transaction written; its result once that transaction is committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((unit, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await asyncio.shield(future)  # a caller that gives up does not undo what others share

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_UNITS], self._waiting[MAX_UNITS:]
            try:
                results = await self._together(batch)
            except Exception as error:
                if len(batch) == 1:
                    _fail(batch[0][1], error)
                    continue
                log.warning("a group of %s writes failed together; writing each alone", len(batch))
                for unit, future in batch:
                    try:
                        (result,) = await self._together([(unit, future)])
                    except Exception as alone:
                        _fail(future, alone)
                    else:
                        _settle(future, result)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                _settle(future, result)

    async def _together(self, batch: list[tuple[Unit, asyncio.Future[Any]]]) -> list[Any]:
        async with self.db.transaction() as session:
            results = [await unit(session) for unit, _ in batch]
        self.transactions += 1
        self.units += len(batch)
        return results


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
