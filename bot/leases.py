"""Work one instance at a time does, among several on one database: taken, renewed, handed back.

A lease (models/links.py Lease) is held for LEAD_FOR and renewed every RENEW_AFTER while its holder
asks for it; an instance that dies loses it when it runs out, one that stops hands it back at once.
Used for a channel's bulk sending (bot/sender.py) and for expanding announcements (bot/app.py), so
that a platform's pace and WhatsApp's tier are counted once, not once per instance.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import datetime, timedelta

from models.db import Database
from models.lease_queries import give_up_lease, take_lease
from workflows.clock import Clock

log = logging.getLogger(__name__)

LEAD_FOR = timedelta(seconds=10)  # a lease lasts this long unless renewed
RENEW_AFTER = timedelta(seconds=3)  # its holder renews it this often while it asks


def instance_name() -> str:
    """A name no other running instance has: host, process, a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Leases:
    def __init__(self, db: Database, clock: Clock, instance: str | None = None) -> None:
        self.db = db
        self.clock = clock
        self.instance = instance or instance_name()
        self._held: dict[str, datetime] = {}  # lease name → until when this instance holds it

    async def hold(self, name: str) -> bool:
        """Whether this instance holds the lease now, taking or renewing it as needed."""
        now = self.clock.now()
        until = self._held.get(name)
        if until is not None and until - now > LEAD_FOR - RENEW_AFTER:
            return True
        async with self.db.transaction() as session:
            won = await take_lease(
                session=session, name=name, holder=self.instance, now=now, until=now + LEAD_FOR
            )
        if won:
            if until is None:
                log.info("this instance (%s) now holds %s", self.instance, name)
            self._held[name] = now + LEAD_FOR
        else:
            self._held.pop(name, None)
        return won

    async def give_up(self) -> None:
        """Shutting down: hand every lease back, so another instance takes over at once."""
        if not self._held:
            return
        async with self.db.transaction() as session:
            for name in self._held:
                await give_up_lease(session=session, name=name, holder=self.instance, now=self.clock.now())
        self._held.clear()
