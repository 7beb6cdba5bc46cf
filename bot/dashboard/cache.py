"""Values kept for a while on the injected clock, computed once for everyone asking at once: the
public transparency page (a crawler cannot load the database) and the staff dashboard's figures
(a year of a big city takes seconds; the overview, the monthly report and the CSV of one selection
want the same figures)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from workflows.clock import Clock

T = TypeVar("T")


class Cache(Generic[T]):
    """Values kept for `lifetime` on the injected clock; one computation per key at a time."""

    def __init__(self, clock: Clock, lifetime: timedelta) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self._values: dict[Any, tuple[datetime, T]] = {}
        self._locks: dict[Any, asyncio.Lock] = {}
        self.computed = 0  # how many times a value was computed (for tests and curiosity)

    def _fresh(self, key: Any) -> T | None:
        kept = self._values.get(key)
        if kept is not None and self.clock.now() < kept[0] + self.lifetime:
            return kept[1]
        return None

    async def get(self, key: Any, compute: Callable[[], Awaitable[T]]) -> T:
        fresh = self._fresh(key)
        if fresh is not None:
            return fresh
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # requests arriving while it is computed wait for that one computation
            fresh = self._fresh(key)
            if fresh is not None:
                return fresh
            value = await compute()
            self.computed += 1
            now = self.clock.now()
            self._values = {k: v for k, v in self._values.items() if now < v[0] + self.lifetime}
            self._values[key] = (now, value)
            self._locks = {k: held for k, held in self._locks.items() if k in self._values or held.locked()}
            return value
