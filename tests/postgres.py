"""The CI machines' PostgreSQL (127.0.0.1:5432, trust auth, database `test`) for tests that need it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

HOST, PORT, ADMIN_DATABASE = "127.0.0.1", 5432, "test"
USERS = ("postgres", "root")
CONNECT_TIMEOUT = 3.0


async def connect_admin(users: tuple[str, ...]) -> tuple[asyncpg.Connection, str]:
    """A connection to the `test` database and the first of users it worked with."""
    errors: list[str] = []
    for user in users:
        try:
            connection = await asyncpg.connect(
                host=HOST, port=PORT, user=user, database=ADMIN_DATABASE, timeout=CONNECT_TIMEOUT
            )
        except Exception as error:  # refused, timed out, no such role, password wanted...
            errors.append(f"{user}: {error!r}")
        else:
            return connection, user
    raise ConnectionError("; ".join(errors))


@asynccontextmanager
async def fresh_database(user: str, prefix: str = "civicbot_test") -> AsyncIterator[str]:
    """An empty database of its own (its URL), dropped afterwards whoever is still connected to it."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin, _ = await connect_admin((user,))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')  # outside a transaction, as it must be
    finally:
        await admin.close()
    try:
        yield f"postgresql://{user}@{HOST}:{PORT}/{name}"
    finally:
        admin, _ = await connect_admin((user,))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def database_or_skip(prefix: str) -> AsyncIterator[str]:
    """A fresh database's URL, or the test skipped with the reason when PostgreSQL does not answer."""
    import pytest

    try:
        admin, user = await connect_admin(USERS)
    except ConnectionError as error:
        pytest.skip(f"PostgreSQL at {HOST}:{PORT} is not answering: {error}")
    await admin.close()
    async with fresh_database(user, prefix=prefix) as url:
        yield url
