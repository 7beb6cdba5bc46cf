"""The migrations build exactly the schema the models describe: a column or index added to a model
without its migration (or the other way round) would fail here, before a city's upgrade does."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import models  # noqa: F401 (every table registered)
from models.db import Database


async def schema_drift(db: Database) -> list[Any]:
    """What differs between the migrated database and the models (empty: nothing)."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
        )


async def test_the_migrated_sqlite_schema_is_the_models(db: Database) -> None:
    assert await schema_drift(db) == []
