"""Two `civicbot run` instances on one PostgreSQL behind a load balancer, one killed midway.

The fake Bot API posts every update to the webhook URL, which is a small balancer in this test: it
hands each request to the instances in turn, and to the other one when an instance does not answer
(as a load balancer with health checks would). Telegram delivers an update again until it gets a
200, and so does the pump here. Citizens file complaints while instance A is killed (SIGKILL); then
the clock moves past half the working day. Every complaint is one ticket, every citizen hears
"Pengaduan terkirim" once, the group gets each card once and each 50% reminder once, and every
outbox row is sent. Skipped when PostgreSQL does not answer at 127.0.0.1:5432.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlmodel import col, func, select

from models import Ticket
from models.db import Database
from models.outbox import OutboxMessage, OutboxStatus
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.postgres import database_or_skip
from tests.test_telegram_e2e import STEP, TOKEN, BotProcess, TelegramCitizen, bot_environment
from tests.test_whatsapp_e2e import free_port
from tests.test_workflow_e2e import ADMIN, GROUP, WIB, file_complaint, set_clock, set_up_unit

PATH = "/tg/hook"
SECRET = "rahasia-bersama"
CITIZENS = [6100 + n for n in range(6)]


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with database_or_skip("civicbot_instances") as url:
        yield url


class Balancer:
    """Round robin over the instances' web servers; the next one when an instance does not answer."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.turn = 0
        self.served: dict[int, int] = dict.fromkeys(ports, 0)
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        assert self._session is not None
        for _ in range(len(self.ports)):
            port = self.ports[self.turn % len(self.ports)]
            self.turn += 1
            try:
                async with self._session.post(
                    f"http://127.0.0.1:{port}{request.path}", data=body, headers=dict(request.headers)
                ) as answer:
                    self.served[port] += 1
                    return web.Response(status=answer.status, body=await answer.read())
            except aiohttp.ClientError:
                continue  # that instance is down: the next one
        return web.Response(status=502)

    async def __aenter__(self) -> Balancer:
        app = web.Application()
        app.router.add_post(PATH, self.forward)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=STEP))
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._runner is not None and self._session is not None
        await self._runner.cleanup()
        await self._session.close()


async def pump(api: FakeTelegramAPI) -> None:
    """Telegram's side: post every queued update to the webhook until it is answered 200."""
    answered: set[int] = set()
    while True:
        for queued in list(api._queue):  # the fake's queue: what Telegram holds for the bot
            update_id = int(queued.update["update_id"])
            if update_id in answered or not api.webhook_url:
                continue
            with contextlib.suppress(aiohttp.ClientError):
                status, _ = await api.post_webhook(queued.update)
                if status == 200:
                    answered.add(update_id)
        await asyncio.sleep(0.05)


def place(n: int) -> tuple[float, float]:
    """Each complaint kilometres from the others: none is offered as another's duplicate."""
    return -6.2 - 0.004 * n, 106.8


async def ready(port: int, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Wait for an instance's /readyz (two starting at once on a busy machine take a while)."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/readyz") as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise AssertionError(f"the instance on port {port} never became ready")


def sent_to(api: FakeTelegramAPI, chat_id: int, contains: str) -> list[str]:
    """New messages (not edits) that arrived in the chat with these words."""
    return [
        c.text
        for c in api.sent(chat_id)
        if c.method in ("sendMessage", "sendPhoto") and c.text is not None and contains in c.text
    ]


async def test_two_instances_share_the_work_and_one_dying_loses_and_doubles_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    set_clock(clock_file, datetime(2026, 11, 23, 9, 0, tzinfo=WIB))  # Monday, a working morning
    db = Database(pg_url)
    await db.migrate()  # before both start: neither races the other to create the schema
    ports = [free_port(), free_port()]
    async with FakeTelegramAPI(token=TOKEN) as api, Balancer(ports) as balancer:
        api.add_group(GROUP, "DLH Kota Contoh")
        instances = []
        for name, port in zip("ab", ports, strict=True):
            env = bot_environment(
                api,
                tmp_path,
                CIVICBOT_DATABASE_URL=pg_url,
                CIVICBOT_INSTANCE=name,
                CIVICBOT_ADMIN_IDS=str(ADMIN),
                CIVICBOT_CLOCK_FILE=str(clock_file),
                CIVICBOT_SLA_SWEEP_SECONDS="0.3",
                TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{balancer.port}{PATH}",
                TELEGRAM_WEBHOOK_SECRET=SECRET,
                CIVICBOT_WEBHOOK_HOST="127.0.0.1",
                CIVICBOT_WEBHOOK_PORT=str(port),
            )
            instances.append(BotProcess(env, tmp_path / f"bot-{name}.log"))
        first = instances[0]
        for process in instances:
            await process.start()
        posting = asyncio.create_task(pump(api))
        try:
            for port in ports:
                await ready(port)
            await set_up_unit(api)
            citizens = [TelegramCitizen(api, user_id) for user_id in CITIZENS]
            filing = [
                asyncio.create_task(file_complaint(c, api, f"Sampah menumpuk di gang {n}", *place(n)))
                for n, c in enumerate(citizens)
            ]
            await asyncio.wait(filing, return_when=asyncio.FIRST_COMPLETED)  # one filed, the rest halfway
            await first.stop(signal.SIGKILL)
            references = await asyncio.gather(*filing)
            assert balancer.served[ports[0]] and balancer.served[ports[1]]  # both took updates

            set_clock(clock_file, datetime(2026, 11, 23, 13, 0, tzinfo=WIB))  # half the working day
            for reference in references:
                await api.wait_for_text(GROUP, f"{reference}: 50% waktu layanan", timeout=STEP)
            await api.wait_idle(quiet=1.5, timeout=STEP)  # sweeps pass again: nothing more comes
        finally:
            posting.cancel()
            for process in instances:
                with contextlib.suppress(ProcessLookupError):
                    await process.stop(signal.SIGKILL)
            for process in instances:
                print(process.log.read_text(errors="replace")[-3000:])

    async with db.sessions() as session:
        tickets = (await session.exec(select(func.count()).select_from(Ticket))).one()
        statuses = set((await session.exec(select(OutboxMessage.status))).all())
        retried = list(
            (await session.exec(select(OutboxMessage).where(col(OutboxMessage.attempts) > 1))).all()
        )
    await db.dispose()
    assert tickets == len(CITIZENS) and len(set(references)) == len(CITIZENS)
    assert statuses == {OutboxStatus.SENT}  # nothing lost, nothing left
    # a message A was sending when it died may have gone twice: its row says it took two attempts
    again = [
        (row.chat_id, str(row.payload.get("text") or row.payload.get("caption") or "")) for row in retried
    ]
    assert len(retried) <= 8  # at most A's sends in flight (CIVICBOT_OUTBOX_CONCURRENCY)

    def once(chat_id: int, texts: list[str], *words: str) -> None:
        """One message, or two where its row records the second attempt."""
        twice = any(chat == str(chat_id) and all(w in text for w in words) for chat, text in again)
        assert len(texts) == 1 or (len(texts) == 2 and twice), (chat_id, texts)

    for user_id, reference in zip(CITIZENS, references, strict=True):
        once(user_id, sent_to(api, user_id, "Pengaduan terkirim"), "Pengaduan terkirim", reference)
    for reference in references:
        card = [t for t in sent_to(api, GROUP, reference) if "Status:" in t]  # not its photo, not reminders
        once(GROUP, card, reference)
        once(GROUP, sent_to(api, GROUP, f"{reference}: 50% waktu layanan"), reference, "waktu layanan")
