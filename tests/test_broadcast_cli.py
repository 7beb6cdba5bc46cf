"""`civicbot broadcast`: send with the count and a confirmation, list, status (also --follow), cancel."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlmodel import select

from bot.broadcast_runner import BroadcastRunner
from bot.sender import OutboxSender
from handlers.context import Deps
from models import Broadcast, Citizen
from models.db import Database
from tests.conftest import MONDAY_MORNING, Invoke
from tests.desk import RecordingChannel
from workflows.clock import FrozenClock


@pytest.fixture
def cli(cli_run: Invoke, cli_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """The CLI at Monday 23 November 2026, 09:00 in Jakarta, on a database with three citizens."""
    clock_file = tmp_path / "clock"
    clock_file.write_text(MONDAY_MORNING.isoformat())
    monkeypatch.setenv("CIVICBOT_CLOCK_FILE", str(clock_file))
    monkeypatch.setenv("CIVICBOT_MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("COLUMNS", "200")  # tables on one line each

    async def seed() -> None:
        db = Database(cli_db_url)
        await db.migrate()
        async with db.transaction() as session:
            for channel, n, language in [("telegram", 1, "id"), ("telegram", 2, "en"), ("whatsapp", 3, "id")]:
                session.add(
                    Citizen(
                        channel=channel,
                        external_id=str(n),
                        chat_id=str(n),
                        language=language,
                        created_at=MONDAY_MORNING,
                        last_seen_at=MONDAY_MORNING,
                    )
                )
        await db.dispose()

    asyncio.run(seed())
    return cli_run


def stored(url: str) -> list[Broadcast]:
    async def read() -> list[Broadcast]:
        db = Database(url)
        async with db.sessions() as session:
            found = list(await session.exec(select(Broadcast)))
        await db.dispose()
        return found

    return asyncio.run(read())


def test_send_shows_the_count_and_asks_first(cli: Invoke, cli_db_url: str, cli_run: Invoke) -> None:
    from typer.testing import CliRunner

    from bot.cli import cli as app

    runner = CliRunner()
    args = [
        "broadcast",
        "send",
        "--text-id",
        "Air mati <besok>",
        "--text-en",
        "No water",
        "--segment",
        "everyone",
    ]
    declined = runner.invoke(app, args, input="n\n")
    assert declined.exit_code == 1 and "Recipients: 3 (telegram 2, whatsapp 1)" in declined.output
    assert "Nothing was sent." in declined.output and stored(cli_db_url) == []
    assert cli("broadcast", "list") == (0, "No broadcasts yet.\n")

    accepted = runner.invoke(app, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "broadcast 1 queued for 3 recipients" in accepted.output
    (broadcast,) = stored(cli_db_url)
    assert broadcast.status == "sending" and broadcast.created_by == "cli"
    assert broadcast.texts == {"id": "Air mati &lt;besok&gt;", "en": "No water"}  # plain text, escaped
    assert broadcast.segment == {"kind": "everyone", "value": None}


def test_a_scheduled_broadcast_is_listed_and_can_be_cancelled(cli: Invoke, cli_db_url: str) -> None:
    code, output = cli(
        "broadcast", "send", "--text-id", "Kerja bakti", "--segment", "channel:telegram",
        "--at", "2026-11-24 08:00", "--yes",
    )  # fmt: skip
    assert code == 0 and "broadcast 1 scheduled for 2026-11-24 08:00 WIB (2 recipients now)" in output
    code, output = cli("broadcast", "send", "--text-id", "Rapat", "--segment", "language:en", "--yes")
    assert code == 0 and "broadcast 2 queued for 1 recipient;" in output
    code, listing = cli("broadcast", "list")
    assert code == 0
    assert re.search(
        r"1\s+│\s+scheduled\s+│\s+Citizens on Telegram\s+│\s+2026-11-24 08:00 WIB\s+│\s+2", listing
    )
    assert re.search(r"2\s+│\s+sending\s+│\s+Citizens who use English", listing)
    code, output = cli("broadcast", "status", "1")
    assert code == 0 and "broadcast 1: scheduled — Citizens on Telegram" in output
    assert "starts 2026-11-24 08:00 WIB" in output
    assert cli("broadcast", "cancel", "1") == (0, "broadcast 1 cancelled: 0 sent, 2 not sent\n")
    code, output = cli("broadcast", "cancel", "1")
    assert code == 1 and "cancelled already" in output
    assert cli("broadcast", "status", "9")[0] == 1


def test_status_follows_a_broadcast_the_bot_sends(cli: Invoke, cli_db_url: str, deps: Deps) -> None:
    assert cli("broadcast", "send", "--text-id", "Info", "--segment", "everyone", "--yes")[0] == 0
    code, output = cli("broadcast", "status", "1")
    assert code == 0 and "total 3, sent 0, failed 0, remaining 3" in output

    async def the_bot_sends() -> int:  # the running bot: its runner and sender on the same database
        db = Database(cli_db_url)
        channel = RecordingChannel()
        clock = FrozenClock(MONDAY_MORNING)
        sender = OutboxSender(
            db, {"telegram": channel, "whatsapp": RecordingChannel()}, clock, per_second=1e6
        )
        runner = BroadcastRunner(db, deps, {"telegram": 30.0, "whatsapp": 80.0})
        for _ in range(2):
            await runner.run_once()
            while await sender.send_due():
                pass
        await db.dispose()
        return len(channel.sent)

    assert asyncio.run(the_bot_sends()) == 2
    code, output = cli("broadcast", "status", "1", "--follow", "--every", "0.01")
    assert code == 0 and "3/3" in output  # the bar, full
    assert "broadcast 1: done — Everyone" in output and "total 3, sent 3, failed 0, remaining 0" in output


def test_mistakes_are_refused_with_what_to_do(cli: Invoke, cli_db_url: str, tmp_path: Path) -> None:
    def send(*extra: str) -> tuple[int, str]:
        return cli("broadcast", "send", "--text-id", "Info", "--yes", *extra)

    code, output = send("--segment", "kota:barat")
    assert code == 2 and "not a segment" in output
    code, output = send("--segment", "area:atlantis")
    assert code == 2 and "use one of" in output and "kota_barat" in output
    code, output = send("--segment", "channel")
    assert code == 2 and "channel needs a value" in output
    code, output = send("--segment", "everyone", "--at", "2026-11-23 08:00")
    assert code == 2 and "has passed" in output
    code, output = send("--segment", "everyone", "--at", "besok")
    assert code == 2 and "2026-12-05 09:00" in output
    code, output = send("--segment", "everyone", "--photo", str(tmp_path / "missing.jpg"))
    assert code == 2 and "is not a file" in output
    assert stored(cli_db_url) == []

    picture = tmp_path / "poster.jpg"
    picture.write_bytes(b"\xff\xd8\xff jpeg")
    code, output = send("--segment", "everyone", "--photo", str(picture))
    assert code == 0, output
    (broadcast,) = stored(cli_db_url)
    assert broadcast.photo is not None and broadcast.photo["channel"] == "console"
    kept = list((tmp_path / "media" / "console").glob(f"{broadcast.photo['file_id']}.jpg"))
    assert len(kept) == 1 and kept[0].read_bytes() == picture.read_bytes()  # the channels upload it
