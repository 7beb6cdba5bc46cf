"""The conversation core on PostgreSQL: migrations, a whole complaint, dedupe, restarts, two instances.

Uses the PostgreSQL at 127.0.0.1:5432 (database `test`, trust authentication, user postgres or
root) when it answers, in a database of its own created for this module and dropped after it;
skipped with the reason when it does not answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel, col, select

import handlers.pipeline
from handlers import survey_sweep
from handlers.context import Deps
from handlers.messages import Channel, Inbound, text_fields
from handlers.pipeline import Pipeline
from models import Attachment, Conversation, OutboxMessage, Survey, TicketEvent
from models.db import Database, alembic_config
from tests.conftest import MONDAY_MORNING
from tests.desk import Desk
from tests.dialog import Dialog
from tests.postgres import HOST, PORT, USERS, connect_admin, fresh_database
from tests.test_intake_dialog import (
    file_rubbish_complaint,
    test_duplicate_delivery_is_handled_once,
    test_restart_in_the_middle_resumes_where_the_citizen_was,
    tickets_in,
)
from tests.test_migrations import schema_drift
from tests.test_sla_alerts import (
    test_one_reminder_per_threshold_then_escalations_each_once,
    test_waiting_for_the_citizen_pauses_the_clock,
)
from tests.test_survey_loop import resolve, wib
from tests.test_workflow_dialog import test_a_ticket_travels_from_citizen_to_group_and_back
from workflows.references import find_reference

# The same dialogs as on SQLite, collected here again so they run on this module's database.
__all__ = [
    "test_a_ticket_travels_from_citizen_to_group_and_back",
    "test_duplicate_delivery_is_handled_once",
    "test_one_reminder_per_threshold_then_escalations_each_once",
    "test_restart_in_the_middle_resumes_where_the_citizen_was",
    "test_waiting_for_the_citizen_pauses_the_clock",
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def postgres_user() -> str:
    """The user PostgreSQL lets in, or the whole module skipped with the reason."""
    try:
        admin, user = await connect_admin(USERS)
    except ConnectionError as error:
        pytest.skip(f"PostgreSQL at {HOST}:{PORT} is not answering: {error}")
    await admin.close()
    return user


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def postgres_url(postgres_user: str) -> AsyncIterator[str]:
    """The module's own database."""
    async with fresh_database(postgres_user) as url:
        yield url


@pytest_asyncio.fixture
async def db_url(postgres_url: str) -> str:
    """Overrides conftest's SQLite file: `db`, `pipeline` and `citizen` run on PostgreSQL.

    Every test starts from empty tables (the schema stays, migrated by the first test to need it).
    """
    connection = await asyncpg.connect(postgres_url)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{row["tablename"]}"' for row in tables)
            await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()
    return postgres_url


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def schema_of(url: str) -> tuple[set[str], list[str]]:
    """The tables of a database and its Alembic revisions."""
    connection = await asyncpg.connect(url)
    try:
        tables = {
            row["tablename"]
            for row in await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        revisions = (
            [row["version_num"] for row in await connection.fetch("SELECT version_num FROM alembic_version")]
            if "alembic_version" in tables
            else []
        )
    finally:
        await connection.close()
    return tables, revisions


async def outbox_payloads(db: Database, chat_id: str) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        rows = await session.exec(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat_id).order_by(col(OutboxMessage.id))
        )
        return [row.payload for row in rows]


def inbound(event_id: str, chat_id: str, text: str) -> Inbound:
    return Inbound(
        channel=Channel.TELEGRAM,
        event_id=event_id,
        chat_id=chat_id,
        user_id=chat_id,
        display_name="Siti Warga",
        **text_fields(text),  # type: ignore[arg-type]
    )


@asynccontextmanager
async def instances(url: str, deps: Deps, count: int = 2) -> AsyncIterator[list[Pipeline]]:
    """Pipelines as separate processes would have them: each with its own engine and pool."""
    databases = [Database(url) for _ in range(count)]
    try:
        yield [Pipeline(database, deps) for database in databases]
    finally:
        for database in databases:
            await database.dispose()


class DedupeRace:
    """Once armed, the next two events both reach their dedupe record at the same moment.

    This is the window two instances share when a platform delivers the same update to both:
    neither has committed yet, so neither can have seen the other's record.
    """

    def __init__(self) -> None:
        self.waiting = 0
        self._barrier = asyncio.Barrier(2)

    def arm(self) -> None:
        self.waiting = 2

    async def first_delivery(self, **kwargs: Any) -> bool:
        if self.waiting > 0:
            self.waiting -= 1
            await asyncio.wait_for(self._barrier.wait(), 10)
        return await REAL_FIRST_DELIVERY(**kwargs)


REAL_FIRST_DELIVERY = handlers.pipeline.first_delivery


@pytest.fixture
def race(monkeypatch: pytest.MonkeyPatch) -> DedupeRace:
    race = DedupeRace()
    monkeypatch.setattr(handlers.pipeline, "first_delivery", race.first_delivery)
    return race


async def test_migrations_create_every_table_and_run_again_harmlessly(postgres_user: str) -> None:
    async with fresh_database(postgres_user) as url:
        assert await schema_of(url) == (set(), [])
        first = Database(url)
        await first.migrate()
        tables, revisions = await schema_of(url)
        assert set(SQLModel.metadata.tables) <= tables
        assert revisions == [head_revision()]
        async with first.transaction() as session:
            session.add(
                Conversation(channel="telegram", chat_id="7", data={"kept": True}, updated_at=MONDAY_MORNING)
            )
        await first.migrate()  # again, on the same engine
        second = Database(url)
        await second.migrate()  # and as the next start of the bot would
        assert await schema_of(url) == (tables, revisions)
        async with second.sessions() as session:
            [kept] = (await session.exec(select(Conversation))).all()
        assert kept.data == {"kept": True}
        assert await schema_drift(second) == []  # and it is the schema the models describe
        await first.dispose()
        await second.dispose()


async def test_instances_started_at_once_on_an_empty_database_migrate_it_once(postgres_user: str) -> None:
    async with fresh_database(postgres_user) as url:
        starting = [Database(url) for _ in range(3)]  # three instances after an upgrade
        await asyncio.gather(*(db.migrate() for db in starting))  # none fails on another's tables
        tables, revisions = await schema_of(url)
        assert set(SQLModel.metadata.tables) <= tables and revisions == [head_revision()]
        for db in starting:
            await db.dispose()


async def test_a_whole_complaint_is_stored_with_its_photo_and_event(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    assert not db.is_sqlite
    warga = citizen()
    reference = await file_rubbish_complaint(warga)
    assert "1 hari kerja" in warga.text
    [ticket] = await tickets_in(db)
    assert ticket.reference == reference
    assert (ticket.category, ticket.unit, ticket.identity) == ("sampah", "dlh", "public")
    assert (ticket.latitude, ticket.longitude) == (-6.2001, 106.8167)
    assert ticket.created_at == MONDAY_MORNING  # timestamptz round trip, still aware
    async with db.sessions() as session:
        photos = (await session.exec(select(Attachment))).all()
        events = (await session.exec(select(TicketEvent))).all()
    assert [(p.ticket_id, p.file_id) for p in photos] == [(ticket.id, "photo-A")]
    assert [(e.ticket_id, e.action, e.actor_kind, e.to_status) for e in events] == [
        (ticket.id, "submitted", "citizen", "submitted")
    ]


async def single_delivery_replies(db: Database, pipeline: Pipeline, text: str) -> list[dict[str, Any]]:
    """What one delivery of text to a new chat puts in the outbox: the expected set of replies."""
    assert await pipeline.handle(inbound("control-1", "9000", text))
    return await outbox_payloads(db, "9000")


@pytest.mark.parametrize("forced", [False, True], ids=["gathered", "forced-race"])
async def test_two_instances_given_the_same_event_answer_it_once(
    db: Database, db_url: str, deps: Deps, race: DedupeRace, forced: bool
) -> None:
    expected = await single_delivery_replies(db, Pipeline(db, deps), "/start")
    assert expected
    if forced:
        race.arm()
    async with instances(db_url, deps) as (one, two):
        event = inbound("update-7", "1001", "/start")
        handled = await asyncio.gather(one.handle(event), two.handle(event))
    assert sorted(handled) == [False, True]
    assert await outbox_payloads(db, "1001") == expected


async def test_two_instances_given_the_same_event_mid_complaint_answer_it_once(
    citizen: Callable[..., Dialog], db: Database, db_url: str, deps: Deps, race: DedupeRace
) -> None:
    warga = citizen()
    await warga.press_payload("m|new")
    await warga.press("Sampah")
    before = await outbox_payloads(db, warga.chat_id)
    race.arm()
    async with instances(db_url, deps) as (one, two):
        event = inbound("update-8", warga.chat_id, "Sampah menumpuk di depan gang, sudah seminggu")
        handled = await asyncio.gather(one.handle(event), two.handle(event))
    assert sorted(handled) == [False, True]
    new = (await outbox_payloads(db, warga.chat_id))[len(before) :]
    assert len(new) == 1 and new[0]["request_location"], new  # asked for the location, once
    async with db.sessions() as session:
        conversation = (await session.exec(select(Conversation))).one()
    assert conversation.data["draft"]["description"].startswith("Sampah menumpuk")


async def test_two_instances_with_different_first_events_of_a_new_chat_both_answer(
    db: Database, db_url: str, deps: Deps, race: DedupeRace
) -> None:
    """Both create the citizen and the conversation; the loser's retry finds them and goes on."""
    race.arm()
    async with instances(db_url, deps) as (one, two):
        handled = await asyncio.gather(
            one.handle(inbound("update-9", "1002", "/help")),
            two.handle(inbound("update-10", "1002", "/help")),
        )
    assert handled == [True, True]
    payloads = await outbox_payloads(db, "1002")
    assert len(payloads) >= 2
    assert all("Cara menggunakan" in p.get("text", "") for p in payloads if p["kind"] == "text")


async def test_two_instances_sweeping_at_once_send_each_alert_once(
    db: Database, deps: Deps, citizen: Callable[..., Dialog], postgres_url: str
) -> None:
    """Row locks with SKIP LOCKED: two sweeps over the same due tickets never double an alert."""
    from datetime import timedelta

    from sqlmodel import func

    from handlers import alerts

    for number in range(6):  # six places far enough apart not to be offered "me too"
        warga = citizen(user_id=str(7100 + number))
        await warga.file_complaint(
            "Sampah menumpuk di pinggir jalan, sudah seminggu",
            at=(-6.2001 - number * 0.01, 106.8167),
            identity="Anonim",
        )
    deps.clock.advance(timedelta(hours=4))  # type: ignore[attr-defined]  # every ticket reaches 50%
    other = Database(postgres_url)
    try:
        sent = await asyncio.gather(alerts.sweep(db, deps), alerts.sweep(other, deps))
    finally:
        await other.dispose()
    assert sum(sent) == 6
    async with db.sessions() as session:
        reminders = (
            await session.exec(
                select(func.count()).select_from(TicketEvent).where(TicketEvent.action == "reminder")
            )
        ).one()
    assert reminders == 6


async def test_two_instances_sweeping_surveys_at_once_send_each_once(
    db: Database, deps: Deps, desk: Desk, citizen: Callable[..., Dialog], postgres_url: str
) -> None:
    """The survey sweep's row locks: two instances over the same due surveys never ask twice."""
    count = 5
    for number in range(count):  # five places far enough apart not to be offered "me too"
        warga = citizen(user_id=str(7200 + number))
        replies = await warga.file_complaint(
            "Sampah menumpuk di pinggir jalan, sudah seminggu",
            at=(-6.2001 - number * 0.01, 106.8167),
            identity="Anonim",
        )
        reference = find_reference(warga.text)
        assert reference, replies
        await resolve(desk, reference, "Sampah sudah diangkut", f"proof-{number}")  # Monday 09:00
    deps.clock.set(wib(24, 8, 30))  # type: ignore[attr-defined]  # Tuesday 08:30: one working day later
    other = Database(postgres_url)
    try:
        done = await asyncio.gather(survey_sweep.sweep(db, deps), survey_sweep.sweep(other, deps))
    finally:
        await other.dispose()
    assert sum(done) == count
    async with db.sessions() as session:
        queued = list(await session.exec(select(OutboxMessage).where(OutboxMessage.role == "survey")))
        surveys = list(await session.exec(select(Survey)))
    assert sorted(row.chat_id for row in queued) == [str(7200 + n) for n in range(count)]
    assert all("benar-benar sudah beres" in row.payload["text"] for row in queued)
    assert len(surveys) == count and all(s.status == "open" for s in surveys)
    assert await survey_sweep.sweep(db, deps) == 0  # nothing left due until the reminders


def rows_read(plan: dict[str, Any]) -> int:
    """The rows a plan node and those under it produced or threw away (EXPLAIN ANALYZE's counts)."""
    own = plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1)
    own += plan.get("Rows Removed by Join Filter", 0) + plan.get("Rows Removed by Filter", 0)
    return int(own + sum(rows_read(child) for child in plan.get("Plans", [])))


async def test_a_backlog_on_a_new_database_is_read_by_lookups_not_by_rereading_it(
    postgres_user: str,
) -> None:
    """2,000 messages waiting for 1,000 chats, before PostgreSQL has statistics of the table: the
    sender's read still looks up each candidate's chat. (The earlier form was planned as a read of
    every pending row for each pending row: 2 million rows and 0.8 s per read; the sender fell behind.)"""
    from datetime import timedelta

    from sqlalchemy import text

    from models.broadcast_queries import insert_rows
    from models.queries import _CLAIM, claim_outbox, due_outbox_query, pending_outbox

    async with fresh_database(postgres_user) as url:
        db = Database(url)
        await db.migrate()
        rows: list[dict[str, object]] = [
            {
                "channel": "telegram",
                "chat_id": str(5000 + n % 1000),  # each chat twice: its second row waits for the first
                "payload": {"kind": "text", "text": f"message {n}"},
                "priority": 1,
                "status": "pending",
                "attempts": 0,
                "created_at": MONDAY_MORNING,
                "next_attempt_at": MONDAY_MORNING,
                "template_only": False,
                "parts_sent": 0,
            }
            for n in range(2000)
        ]
        async with db.transaction() as session:
            await insert_rows(session=session, rows=rows)
        now = MONDAY_MORNING + timedelta(seconds=1)
        async with db.sessions() as session:
            due = await pending_outbox(session=session, now=now, limit=50, channels=["telegram"])
            assert [row.chat_id for row in due] == [str(5000 + n) for n in range(50)]  # each chat's first
            assert all(row.payload["text"] == f"message {n}" for n, row in enumerate(due))
            connection = await session.connection()
            assert (
                await connection.execute(
                    text(
                        "SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables "
                        "WHERE relname = 'outbox'"
                    )
                )
            ).one() == (None, None)  # no statistics yet
            query = str(
                due_outbox_query(now=now, limit=50, channels=["telegram"]).compile(
                    dialect=connection.dialect, compile_kwargs={"literal_binds": True}
                )
            )
            [[plan]] = (await connection.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}"))).one()
        assert rows_read(plan["Plan"]) < 10 * len(rows), plan
        async with db.transaction() as session:  # the claim of a chat's second row: refused, it waits
            second = due[0].id + 1000  # type: ignore[operator]
            assert not await claim_outbox(
                session=session, row_id=second, attempts=0, now=now, lease_until=now
            )
            assert await claim_outbox(
                session=session, row_id=due[0].id or 0, attempts=0, now=now, lease_until=now
            )
        async with db.sessions() as session:  # and a claim looks up its one chat, whatever is pending
            connection = await session.connection()
            compiled = _CLAIM.compile(dialect=connection.dialect)
            values = {"row_id": due[1].id, "seen_attempts": 0, "now": now, "new_attempts": 1}
            bound = compiled.construct_params(values | {"lease_until": now})
            [[plan]] = (
                await connection.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}",
                    tuple(bound[name] for name in compiled.positiontup or ()),
                )
            ).one()
            await session.rollback()
        assert rows_read(plan["Plan"]) < 20, plan
        await db.dispose()


async def test_two_instances_given_the_same_open311_request_at_once_file_one_ticket(
    db: Database, db_url: str, deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client retrying through the load balancer reaches two instances at the same moment: the
    second waits for the first (an advisory lock per key), finds its ticket, and answers 200 with it."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bot.open311 import Open311Api
    from models import Ticket
    from tests.test_open311 import IN_KOTA_TIMUR, KEYS, post
    from workflows import open311

    checked = asyncio.Barrier(2)
    real_repeated = open311.repeated

    async def repeated_together(**kwargs: Any) -> Ticket | None:
        """Both look for an earlier ticket before either files (without the lock both find none)."""
        found = await real_repeated(**kwargs)
        try:
            await asyncio.wait_for(checked.wait(), 1.0)
        except TimeoutError:
            pass  # the other is waiting for this one's turn to end: go on alone
        return found

    monkeypatch.setattr(open311, "repeated", repeated_together)
    databases = [Database(db_url) for _ in range(2)]
    clients = []
    for database in databases:
        app = web.Application()
        Open311Api(database, deps, KEYS).add_routes(app)
        clients.append(TestClient(TestServer(app)))
    try:
        for client in clients:
            await client.start_server()
        answers = await asyncio.gather(*(post(client, **IN_KOTA_TIMUR) for client in clients))
        statuses = sorted(answer.status for answer in answers)
        references = {(await answer.json())[0]["service_request_id"] for answer in answers}
    finally:
        for client in clients:
            await client.close()
        for database in databases:
            await database.dispose()
    assert statuses == [200, 201] and len(references) == 1
    async with db.sessions() as session:
        assert len((await session.exec(select(Ticket))).all()) == 1
