"""Leases: work one instance at a time does, taken over when its holder stops renewing (models/links.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_
from sqlmodel.ext.asyncio.session import AsyncSession

from models.links import Lease


async def take_lease(
    *, session: AsyncSession, name: str, holder: str, now: datetime, until: datetime
) -> bool:
    """Take the lease, or renew it, until `until`; False while someone else holds it.

    One conditional UPDATE (the holder's own, or one that ran out), so of two instances asking at once
    only one gets it; the first time, the row is inserted, and an insert that lost the race is a "no".
    """
    result = await session.exec(
        update(Lease)
        .where(col(Lease.name) == name, or_(col(Lease.holder) == holder, col(Lease.until) <= now))
        .values(holder=holder, until=until)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if await session.get(Lease, name) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(Lease(name=name, holder=holder, until=until))
    except IntegrityError:
        return False
    return True


async def give_up_lease(*, session: AsyncSession, name: str, holder: str, now: datetime) -> None:
    """Hand the lease back (shutting down): another instance may take it at once."""
    await session.exec(
        update(Lease)
        .where(col(Lease.name) == name, col(Lease.holder) == holder)
        .values(until=now)
        .execution_options(synchronize_session=False)
    )
