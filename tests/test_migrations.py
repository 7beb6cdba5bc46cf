"""The migrations build exactly the schema the models describe: a column or index added to a model
without its migration (or the other way round) would fail here, before a city's upgrade does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import models  # noqa: F401 (every table registered)
from models.db import HEAD, Database, alembic_config


async def schema_drift(db: Database) -> list[Any]:
    """What differs between the migrated database and the models (empty: nothing)."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
        )


async def test_the_migrated_sqlite_schema_is_the_models(db: Database) -> None:
    assert await schema_drift(db) == []


def test_head_names_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_a_database_at_the_newest_schema_starts_without_loading_alembic(tmp_path: Path) -> None:
    """A new database is migrated (alembic loaded); the next start finds it current and leaves
    alembic unloaded (about 12 MB of the idle process)."""
    probe = (
        "import asyncio, sys\n"
        "from models.db import Database\n"
        f"db = Database('sqlite:///{tmp_path}/bot.db')\n"
        "asyncio.run(db.migrate())\n"
        "print('alembic' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parent.parent
    runs = [
        subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert [run.stdout.strip() for run in runs] == ["True", "False"]


async def test_the_newest_migration_can_be_undone_and_done_again(tmp_path: Path) -> None:
    """A city rolling back the last upgrade (`alembic downgrade -1`) gets the schema before it, and
    upgrading again gives the models' schema, rows kept."""
    from alembic import command
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path}/bot.db")
    await db.migrate()
    async with db.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO outbox (channel, chat_id, payload, priority, status, attempts, created_at, "
                "next_attempt_at, template_only, parts_sent) VALUES ('telegram', '7', '{}', 1, 'pending', "
                "0, '2026-12-01 00:00:00', '2026-12-01 00:00:00', 0, 0)"
            )
        )

    def step(connection: Any, move: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "-1") if move == "down" else command.upgrade(config, "head")

    async with db.engine.begin() as connection:
        await connection.run_sync(step, "down")
    assert await schema_drift(db) != []  # the schema before the newest migration, not the models'
    async with db.engine.begin() as connection:
        await connection.run_sync(step, "up")
    assert await schema_drift(db) == []
    async with db.engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM outbox"))).scalar() == 1
    await db.dispose()
