"""Telegram's flood limits and random server trouble, for the fake Bot API (benchmarks, sender tests).

Telegram documents its limits loosely: about 30 messages per second overall, one per second in a
private chat, 20 per minute in a group. Past them it answers 429 with ``retry_after``. Here each limit is
a sliding window over the sends it accepted; a send over any of them is refused with the seconds until
the window frees a slot (rounded up, at least 1, as Telegram's are whole seconds). ``fault_rate`` adds
random 429/500/502 answers to a share of the sends, with a seed so a run can be repeated.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fakes.telegram_updates import ApiError


@dataclass
class _Window:
    limit: int
    seconds: float
    stamps: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        """Seconds until one more send fits (0: it fits now)."""
        while self.stamps and self.stamps[0] <= now - self.seconds:
            self.stamps.popleft()
        if len(self.stamps) < self.limit:
            return 0.0
        return self.stamps[0] + self.seconds - now


class FloodLimits:
    """Sliding-window limits: overall, per private chat, per group; refused sends are not counted."""

    def __init__(
        self,
        *,
        per_second: int | None = 30,
        per_chat_per_second: int | None = 1,
        per_group_per_minute: int | None = 20,
        fault_rate: float = 0.0,
        fault_statuses: tuple[int, ...] = (429, 500, 502),
        seed: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.overall = _Window(per_second, 1.0) if per_second else None
        self.per_chat_per_second = per_chat_per_second
        self.per_group_per_minute = per_group_per_minute
        self.fault_rate = fault_rate
        self.fault_statuses = fault_statuses
        self._random = random.Random(seed)
        self._chats: dict[int, _Window] = {}
        self.clock = clock
        self.refused = 0  # 429 for going over a limit
        self.faults = 0  # injected trouble

    def _chat(self, chat_id: int) -> _Window | None:
        if chat_id not in self._chats:
            if chat_id < 0 and self.per_group_per_minute:
                self._chats[chat_id] = _Window(self.per_group_per_minute, 60.0)
            elif chat_id > 0 and self.per_chat_per_second:
                self._chats[chat_id] = _Window(self.per_chat_per_second, 1.0)
            else:
                return None
        return self._chats[chat_id]

    def admit(self, chat_id: int | None) -> None:
        """Let one send to chat_id through, or raise the ApiError Telegram would answer."""
        if self.fault_rate and self._random.random() < self.fault_rate:
            self.faults += 1
            status = self._random.choice(self.fault_statuses)
            if status == 429:
                raise ApiError(429, "Too Many Requests: retry after 1", 1)
            raise ApiError(status, "Internal Server Error" if status == 500 else "Bad Gateway")
        now = self.clock()
        windows = [w for w in (self.overall, self._chat(chat_id) if chat_id is not None else None) if w]
        wait = max((w.wait(now) for w in windows), default=0.0)
        if wait > 0:
            self.refused += 1
            retry_after = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        for window in windows:
            window.stamps.append(now)
