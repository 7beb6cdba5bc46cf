"""Shared fixtures: a migrated SQLite database per test, a frozen clock, the sample city, no network."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from handlers.context import Deps
from handlers.i18n import Translator
from handlers.messages import Channel
from handlers.pipeline import Pipeline
from locales import load_catalogues
from models.db import Database
from tests.desk import Desk, staffed_desk
from tests.dialog import Dialog
from workflows.city_config import CityConfig, load_city_config, sample_config_path
from workflows.classify import Classifier
from workflows.clock import FrozenClock
from workflows.reply_window import WINDOWED_CHANNELS

# Monday 23 November 2026, 09:00 in Jakarta (02:00 UTC): a working day.
MONDAY_MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None:
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise RuntimeError(f"tests must not reach the network ({host})")
        except ValueError:
            if host != "localhost":
                raise RuntimeError(f"tests must not reach the network ({host})") from None
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the suite may talk to Telegram, Meta or anything beyond this machine."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(scope="session")
def sample_city() -> CityConfig:
    return load_city_config(sample_config_path())


@pytest.fixture(scope="session")
def catalogues() -> dict[str, dict[str, str]]:
    return load_catalogues()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(MONDAY_MORNING)


@pytest.fixture
def city(sample_city: CityConfig) -> CityConfig:
    return sample_city


@pytest.fixture
def db_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path}/civicbot.db"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await database.migrate()
    yield database
    await database.dispose()


@pytest.fixture
def deps(city: CityConfig, clock: FrozenClock, catalogues: dict[str, dict[str, str]]) -> Deps:
    return Deps(
        city=city,
        texts=Translator(catalogues, overrides=city.texts),
        clock=clock,
        classifier=Classifier(city),
    )


@pytest.fixture
def pipeline(db: Database, deps: Deps) -> Pipeline:
    return Pipeline(db, deps, held_channels=WINDOWED_CHANNELS)  # as bot/app.py builds it


@pytest.fixture
def citizen(pipeline: Pipeline) -> Callable[..., Dialog]:
    """Make a citizen who talks to the bot: citizen(), citizen(user_id="2002")."""

    def make(user_id: str = "1001", channel: Channel = Channel.TELEGRAM) -> Dialog:
        return Dialog(pipeline, user_id=user_id, channel=channel)

    return make


@pytest.fixture
async def desk(pipeline: Pipeline, db: Database, clock: FrozenClock) -> Desk:
    """Officers and admins of the sample city, with the DLH group linked (tests/desk.py)."""
    return await staffed_desk(pipeline, db, clock)


Invoke = Callable[..., tuple[int, str]]


@pytest.fixture
def cli_db_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path}/cli.db"


@pytest.fixture
def cli_run(cli_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run `civicbot ARGS…` in-process on a database of its own: (exit code, output)."""
    from typer.testing import CliRunner

    from bot.cli import cli

    monkeypatch.setenv("CIVICBOT_DATABASE_URL", cli_db_url)
    monkeypatch.delenv("CIVICBOT_CONFIG", raising=False)
    monkeypatch.delenv("CIVICBOT_CLOCK_FILE", raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, list(args))
        return result.exit_code, result.output

    return invoke
