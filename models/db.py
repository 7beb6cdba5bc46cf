"""The database engine: SQLite (WAL) by default, PostgreSQL for production; migrations at start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# the newest migration (tests/test_migrations.py checks it is alembic's head): a database already there
# starts without loading alembic at all, about 12 MB less for the life of the process
HEAD = "0012"

SessionFactory = async_sessionmaker[AsyncSession]


def async_url(url: str) -> str:
    """Accept plain sqlite:// and postgresql:// URLs and pick the asyncio drivers."""
    parsed = make_url(url)
    driver = {
        "sqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
    }.get(parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An engine with the pragmas SQLite needs to serve a bot (WAL, busy timeout, foreign keys)."""
    url = async_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # SQLite's default page cache is 2 MB: with 100,000 messages in the outbox the sender's passes read
    # pages back from the OS. 16 MB at most per connection, taken only as it fills
    cursor.execute("PRAGMA cache_size=-16384")
    cursor.close()


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on error."""
    async with sessions() as session, session.begin():
        yield session


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", async_url(url))
    return config


MIGRATION_LOCK = 7_301_190_001  # a PostgreSQL advisory lock: one instance migrates at a time


async def migrate(engine: AsyncEngine, *, lock: bool = True) -> None:
    """Bring the schema to the newest migration (safe to call at every start).

    On PostgreSQL the upgrade holds an advisory lock for its transaction: instances started at once
    after an upgrade take turns, and the later ones find the schema at the newest already."""
    if await _at_head(engine):
        return
    async with engine.begin() as connection:
        if lock and connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await connection.run_sync(_upgrade)


async def _at_head(engine: AsyncEngine) -> bool:
    """Whether the schema is at HEAD already (alembic's version table says so)."""
    try:
        async with engine.connect() as connection:
            found = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    except Exception:  # no such table yet: a new database
        return False
    return [row[0] for row in found] == [HEAD]


def _upgrade(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class Database:
    """The engine and its sessions; on SQLite, write transactions take turns in this process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = async_url(url)
        self.engine = create_engine(self.url, echo=echo)
        self.sessions = session_factory(self.engine)
        self.is_sqlite = is_sqlite(self.url)
        # SQLite allows one writer; queueing here avoids "database is locked" between tasks.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success, roll back on error."""
        if self._write_lock is None:
            async with transaction(self.sessions) as session:
                yield session
            return
        async with self._write_lock, transaction(self.sessions) as session:
            yield session

    async def migrate(self) -> None:
        await migrate(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()
