"""Time as a dependency: every rule asks an injected clock, so tests move time instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:  # every clock answers in UTC: stored times compare as text on SQLite
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock for tests and demos that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)  # always UTC: SQLite compares stored times as text

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward by delta and return the new now."""
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to an aware moment."""
        if moment.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = moment.astimezone(UTC)


class FileClock:
    """A test or demo clock another process moves: the file holds the current ISO time.

    Set with CIVICBOT_CLOCK_FILE so an end-to-end test can move a running bot's time past a
    deadline without waiting. Read again only when the file changes; system time while it is absent
    or unreadable. Never set it in production.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: float | None = None
        self._now: datetime | None = None

    def now(self) -> datetime:
        try:
            stamp = self.path.stat().st_mtime_ns
            if stamp != self._stamp:
                self._now = datetime.fromisoformat(self.path.read_text().strip())
                self._stamp = stamp
        except (OSError, ValueError):
            return datetime.now(UTC)
        assert self._now is not None
        return as_utc(self._now)


def as_utc(moment: datetime) -> datetime:
    """Databases such as SQLite drop the zone: read stored datetimes back as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
