"""Announcements: who is in a segment, what each recipient gets, the trickle into the outbox, a restart
midway, cancelling, WhatsApp's tier, and the admin's progress message edited in place."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.broadcast_runner import BroadcastRunner
from bot.channels.base import DeliveryError
from bot.sender import OutboxSender
from handlers.context import Deps
from handlers.messages import Channel, MediaRef, Outbound, OutEdit, OutMedia, OutText
from models import (
    Broadcast,
    BroadcastStatus,
    Citizen,
    OutboxMessage,
    OutboxStatus,
    Role,
    Ticket,
    TicketFollower,
)
from models.broadcast_queries import in_progress
from models.db import Database
from tests.desk import RecordingChannel
from workflows.broadcasts import (
    STOP_PAYLOAD,
    BroadcastError,
    Segment,
    broadcast_progress,
    cancel_broadcast,
    confirm_broadcast,
    count_recipients,
    create_broadcast,
    set_announcements,
)
from workflows.city_config import CityConfig
from workflows.clock import FrozenClock
from workflows.reply_window import ReplyWindow
from workflows.staff import add_staff

ADMIN = "9001"
LONG_AGO = timedelta(days=3)


async def add_citizens(
    db: Database,
    now: datetime,
    count: int,
    *,
    channel: str = "telegram",
    language: str = "id",
    first: int = 1,
    seen: timedelta = LONG_AGO,
    **fields: Any,
) -> list[Citizen]:
    """Citizens who talked to the bot `seen` ago; their chat ids are "<channel letter><n>"."""
    async with db.transaction() as session:
        people = [
            Citizen(
                channel=channel,
                external_id=f"{channel[0]}{n}",
                chat_id=f"{channel[0]}{n}",
                language=language,
                created_at=now - seen,
                last_seen_at=now - seen,
                **fields,
            )
            for n in range(first, first + count)
        ]
        session.add_all(people)
    return people


async def ticket_for(
    db: Database, now: datetime, citizen: Citizen, *, category: str, area: str | None
) -> int:
    async with db.transaction() as session:
        ticket = Ticket(
            reference=f"ADU-{citizen.chat_id}-{category}",
            citizen_id=citizen.id or 0,
            channel=citizen.channel,
            category=category,
            unit="dlh",
            area=area,
            description="sampah menumpuk",
            created_at=now,
            updated_at=now,
            response_target_seconds=3600,
        )
        session.add(ticket)
        await session.flush()
        return ticket.id or 0


@dataclass
class World:
    """The database, a runner and a sender delivering to recording Telegram and WhatsApp channels."""

    db: Database
    deps: Deps
    clock: FrozenClock
    telegram: RecordingChannel
    whatsapp: RecordingChannel
    sender: OutboxSender
    runner: BroadcastRunner

    def new_runner(self, db: Database | None = None, **rates: float) -> BroadcastRunner:
        return BroadcastRunner(db or self.db, self.deps, rates or self.runner.rates, tier=self.runner.tier)

    async def flush(self) -> None:
        for _ in range(500):
            if not await self.sender.send_due():
                return

    async def round(self, *, flush: bool = True) -> None:
        await self.runner.run_once()
        if flush:
            await self.flush()

    async def broadcast(
        self,
        segment: Segment,
        texts: dict[str, str] | None = None,
        *,
        photo: MediaRef | None = None,
        report: bool = False,
        send_at: datetime | None = None,
    ) -> int:
        now = self.clock.now()
        async with self.db.transaction() as session:
            draft = await create_broadcast(
                session=session,
                created_by=ADMIN,
                texts=texts
                or {"id": "Pengumuman: TPS tutup besok.", "en": "Notice: the depot is closed tomorrow."},
                photo=photo,
                segment=segment,
                send_at=send_at,
                now=now,
                report_to=("telegram", ADMIN) if report else None,
            )
            assert draft.id is not None
            await confirm_broadcast(session=session, broadcast_id=draft.id, city=self.deps.city, now=now)
            return draft.id

    async def get(self, broadcast_id: int) -> Broadcast:
        async with self.db.sessions() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            return broadcast

    async def rows(self, broadcast_id: int) -> list[OutboxMessage]:
        async with self.db.sessions() as session:
            query = select(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast_id)
            return list(await session.exec(query.order_by(col(OutboxMessage.id))))

    async def progress(self, broadcast_id: int) -> Any:
        async with self.db.sessions() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            return await broadcast_progress(
                session=session,
                broadcast=broadcast,
                now=self.clock.now(),
                rate=10,
                city=self.deps.city,
                whatsapp=self.runner.whatsapp,
            )


@pytest.fixture
def world(db: Database, deps: Deps, clock: FrozenClock, city: CityConfig) -> World:
    telegram, whatsapp = RecordingChannel(), RecordingChannel(channel=Channel.WHATSAPP)
    sender = OutboxSender(
        db,
        {"telegram": telegram, "whatsapp": whatsapp},
        clock,
        per_second=1e6,
        windows={"whatsapp": ReplyWindow.from_config(city.whatsapp)},
    )
    runner = BroadcastRunner(db, deps, {"telegram": 100.0, "whatsapp": 100.0}, tier=250)
    return World(db, deps, clock, telegram, whatsapp, sender, runner)


def per_chat(channel: RecordingChannel) -> Counter[str]:
    """How many announcements each chat received (not the admin's progress messages)."""
    return Counter(s.chat_id for s in channel.sent if s.chat_id != ADMIN)


async def test_segments_count_their_citizens_without_the_opted_out_and_unreachable(
    world: World, db: Database, city: CityConfig, clock: FrozenClock
) -> None:
    now = clock.now()
    indonesian = await add_citizens(db, now, 3)
    english = await add_citizens(db, now, 2, language="en", first=10)
    wa = await add_citizens(db, now, 4, channel="whatsapp")
    await add_citizens(db, now, 1, first=20, announcements_off_at=now)  # opted out
    await add_citizens(db, now, 1, first=21, unreachable_at=now, unreachable_reason="blocked")
    await add_citizens(db, now, 1, channel="console")  # a local try-out: never announced to
    # complaints: two in Sukamaju (a kelurahan of Kota Barat), one in Pesisir; one joined with "me too"
    sampah = await ticket_for(db, now, indonesian[0], category="sampah", area="sukamaju")
    await ticket_for(db, now, wa[0], category="jalan", area="kota_barat")
    await ticket_for(db, now, english[0], category="jalan", area="pesisir")
    async with db.transaction() as session:
        session.add(TicketFollower(ticket_id=sampah, citizen_id=wa[1].id or 0, joined_at=now))
        for user_id, role, unit in [
            ("701", Role.OFFICER, "dlh"),
            ("702", Role.SUPERVISOR, "dlh"),
            ("703", Role.OFFICER, "dpupr"),
            ("704", Role.ADMIN, None),
        ]:
            await add_staff(
                session=session, channel="telegram", user_id=user_id, role=role, unit=unit, now=now
            )
        gone = await add_staff(
            session=session, channel="telegram", user_id="705", role=Role.OFFICER, unit="dlh", now=now
        )
        gone.active = False

    async def count(text: str) -> dict[str, int]:
        async with db.sessions() as session:
            return await count_recipients(session=session, segment=Segment.parse(text), city=city)

    assert await count("everyone") == {"telegram": 5, "whatsapp": 4}
    assert await count("channel:whatsapp") == {"whatsapp": 4}
    assert await count("language:en") == {"telegram": 2, "whatsapp": 0}
    assert await count("area:kota_barat") == {"telegram": 1, "whatsapp": 2}  # its kelurahan too
    assert await count("area:pesisir") == {"telegram": 1, "whatsapp": 0}
    assert await count("category:sampah") == {"telegram": 1, "whatsapp": 1}  # reporter and joiner
    assert await count("unit:dlh") == {"telegram": 2}  # active officers and the unit head

    async with db.transaction() as session:  # opting back in counts again; out again does not
        back = await session.get(Citizen, indonesian[1].id)
        assert back is not None
        await set_announcements(session=session, citizen=back, on=False, now=now)
    assert await count("everyone") == {"telegram": 4, "whatsapp": 4}
    async with db.transaction() as session:
        back = await session.get(Citizen, indonesian[1].id)
        assert back is not None
        await set_announcements(session=session, citizen=back, on=True, now=now)
    assert await count("everyone") == {"telegram": 5, "whatsapp": 4}


def test_segments_are_written_and_described_as_an_admin_reads_them(deps: Deps, city: CityConfig) -> None:
    texts = deps.texts
    assert Segment.parse("channel:telegram").describe(texts, "id", city) == "Warga di Telegram"
    assert Segment.parse("unit:dlh").describe(texts, "en", city) == "Officers of Environment Agency"
    assert (
        Segment.parse("area:sukamaju").describe(texts, "id", city)
        == "Warga yang melapor di Kelurahan Sukamaju"
    )
    assert Segment.parse("everyone") == Segment(kind="everyone")
    with pytest.raises(ValueError, match="not a segment"):
        Segment.parse("kota:barat")
    with pytest.raises(ValueError):
        Segment.parse("area")  # an area needs its key
    with pytest.raises(BroadcastError, match="use one of"):
        Segment.parse("area:atlantis").check(city)


async def test_each_citizen_gets_their_language_the_photo_and_a_way_to_stop(
    world: World, db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    await add_citizens(db, now, 2)
    await add_citizens(db, now, 1, language="en", first=5)
    await add_citizens(db, now, 1, channel="whatsapp", language="en", seen=timedelta(hours=1))
    texts = {"id": "<b>Pengumuman</b>: air mati besok.", "en": "<b>Notice</b>: no water tomorrow."}
    first = await world.broadcast(Segment(kind="everyone"), texts)
    await world.round()
    await world.round()
    sent = {s.chat_id: s.action for s in world.telegram.sent + world.whatsapp.sent}
    assert set(sent) == {"t1", "t2", "t5", "w1"}
    assert isinstance(sent["t1"], OutText) and sent["t1"].text == texts["id"]
    assert isinstance(sent["t5"], OutText) and sent["t5"].text == texts["en"]
    assert isinstance(sent["w1"], OutText) and sent["w1"].text == texts["en"]
    assert sent["t1"].buttons[0][0].payload == STOP_PAYLOAD
    assert sent["t1"].buttons[0][0].label == "🔕 Berhenti terima pengumuman"
    assert sent["t5"].buttons[0][0].label == "🔕 Stop announcements"
    assert (await world.get(first)).status == BroadcastStatus.DONE
    # the WhatsApp copy carries the approved template that stands in outside the 24-hour window
    wa_row = next(r for r in await world.rows(first) if r.channel == "whatsapp")
    assert wa_row.priority == 50 and wa_row.template is not None
    assert wa_row.template["kind"] == "broadcast" and wa_row.template["params"] == {
        "text": "Notice: no water tomorrow."
    }

    # only one language written: everyone gets it; with a photo, the text is its caption and the
    # 🔕 button sits under the photo as under a text (no line about how to stop in the caption)
    photo = MediaRef(kind="photo", file_id="AgPhoto1", channel=Channel.TELEGRAM)
    second = await world.broadcast(Segment(kind="everyone"), {"id": "Kerja bakti Minggu."}, photo=photo)
    world.telegram.sent.clear()
    world.whatsapp.sent.clear()
    await world.round()
    sent = {s.chat_id: s.action for s in world.telegram.sent + world.whatsapp.sent}
    assert set(sent) == {"t1", "t2", "t5", "w1"}
    for chat_id, action in sent.items():
        assert isinstance(action, OutMedia) and action.media == photo
        assert action.caption == "Kerja bakti Minggu."
        [[bell]] = action.buttons
        assert bell.payload == STOP_PAYLOAD
        assert bell.label == ("🔕 Stop pengumuman" if chat_id == "w1" else "🔕 Berhenti terima pengumuman")
    # outside the 24-hour window the same template stands in, its quick reply the same 🔕
    wa_row = next(r for r in await world.rows(second) if r.channel == "whatsapp")
    assert wa_row.template == {
        "kind": "broadcast",
        "language": "id",
        "params": {"text": "Kerja bakti Minggu."},
        "quick_replies": [STOP_PAYLOAD],
    }


async def test_officers_of_a_unit_get_it_in_their_private_chats(
    world: World, db: Database, clock: FrozenClock
) -> None:
    async with db.transaction() as session:
        for user_id, unit in [("701", "dlh"), ("702", "dlh"), ("703", "dpupr")]:
            await add_staff(
                session=session,
                channel="telegram",
                user_id=user_id,
                role=Role.OFFICER,
                unit=unit,
                now=clock.now(),
            )
    await add_citizens(db, clock.now(), 3)
    await world.broadcast(Segment(kind="unit_officers", value="dlh"), {"id": "Rapat pukul 10."})
    await world.round()
    assert sorted(per_chat(world.telegram)) == ["701", "702"]
    assert all(isinstance(s.action, OutText) and not s.action.buttons for s in world.telegram.sent)


async def test_someone_who_opts_out_after_the_confirmation_is_skipped(
    world: World, db: Database, clock: FrozenClock
) -> None:
    people = await add_citizens(db, clock.now(), 3)
    broadcast_id = await world.broadcast(Segment(kind="everyone"))
    async with db.transaction() as session:
        late = await session.get(Citizen, people[1].id)
        assert late is not None
        await set_announcements(session=session, citizen=late, on=False, now=clock.now())
    await world.round()
    await world.round()
    assert sorted(per_chat(world.telegram)) == ["t1", "t3"]
    progress = await world.progress(broadcast_id)
    assert (progress.total, progress.sent, progress.skipped) == (3, 2, 1)
    assert (await world.get(broadcast_id)).status == BroadcastStatus.DONE


async def test_the_outbox_holds_only_a_few_seconds_of_a_big_broadcast(
    world: World, db: Database, clock: FrozenClock
) -> None:
    await add_citizens(db, clock.now(), 120)
    world.runner = world.new_runner(telegram=3.0)  # 3 a second: 30 rows queued at a time
    broadcast_id = await world.broadcast(Segment(kind="everyone"))
    for _ in range(3):
        await world.round(flush=False)
        rows = await world.rows(broadcast_id)
        pending = [r for r in rows if r.status == OutboxStatus.PENDING]
        assert len(pending) == 30
        await world.flush()
    assert len(per_chat(world.telegram)) == 90
    for _ in range(3):
        await world.round()
    assert sorted(per_chat(world.telegram).values()) == [1] * 120
    assert (await world.get(broadcast_id)).status == BroadcastStatus.DONE


async def test_a_restart_midway_goes_on_without_duplicates_or_gaps(
    world: World, db: Database, db_url: str, clock: FrozenClock
) -> None:
    await add_citizens(db, clock.now(), 150)
    world.runner = world.new_runner(telegram=2.0)  # 20 rows at a time
    broadcast_id = await world.broadcast(Segment(kind="everyone"))
    await world.round()
    await world.runner.run_once()  # the next 20 are queued, then the process is killed
    assert (await world.get(broadcast_id)).queued == 40
    # a new process on the same database, and a second instance beside it
    instances = [Database(db_url), Database(db_url)]
    try:
        world.runner = world.new_runner(instances[0])
        other = world.new_runner(instances[1])
        for _ in range(12):
            await asyncio.gather(world.runner.run_once(), other.run_once())
            await world.flush()
        chats = per_chat(world.telegram)
        assert len(chats) == 150 and set(chats.values()) == {1}
        assert (await world.get(broadcast_id)).status == BroadcastStatus.DONE
        assert len(await world.rows(broadcast_id)) == 150
    finally:
        for instance in instances:
            await instance.dispose()


async def test_a_cancel_withdraws_what_is_queued_and_the_report_says_so(
    world: World, db: Database, clock: FrozenClock
) -> None:
    await add_citizens(db, clock.now(), 100)
    world.runner = world.new_runner(telegram=2.0)
    broadcast_id = await world.broadcast(Segment(kind="everyone"), report=True)
    await world.round()  # 20 sent
    clock.advance(timedelta(seconds=10))
    await world.round(flush=False)  # 20 more queued
    async with db.transaction() as session:
        cancelled = await cancel_broadcast(
            session=session, broadcast_id=broadcast_id, by=ADMIN, now=clock.now()
        )
    assert cancelled.status == BroadcastStatus.CANCELLED
    statuses = Counter(r.status for r in await world.rows(broadcast_id))
    assert statuses == {OutboxStatus.SENT: 20, OutboxStatus.CANCELLED: 20}
    await world.round()
    await world.round()
    assert len(per_chat(world.telegram)) == 20  # nothing more went out
    assert len(await world.rows(broadcast_id)) == 40
    report = world.telegram.to(ADMIN)[-1].action
    assert isinstance(report, OutText)
    assert "dibatalkan" in report.text and "Terkirim 20 dari 100" in report.text
    assert "80 tidak jadi dikirim" in report.text
    async with db.transaction() as session:
        with pytest.raises(BroadcastError) as twice:
            await cancel_broadcast(session=session, broadcast_id=broadcast_id, by=ADMIN, now=clock.now())
    assert twice.value.code == "finished"


async def test_a_window_about_to_close_takes_a_place_in_the_tier(
    world: World, db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    await add_citizens(db, now, 1, channel="whatsapp", first=1)  # wrote days ago
    await add_citizens(db, now, 1, channel="whatsapp", first=2, seen=timedelta(hours=23, minutes=30))
    await add_citizens(db, now, 1, channel="whatsapp", first=3, seen=timedelta(hours=2))
    world.runner = BroadcastRunner(db, world.deps, {"telegram": 100.0, "whatsapp": 100.0}, tier=1)
    await world.broadcast(Segment(kind="channel", value="whatsapp"))
    await world.round()
    # w2's window closes in half an hour, so its copy may well go as a template: it needs a place
    # like w1, and the one place went to w1 (first in line); w3, open for hours yet, costs nothing
    assert set(per_chat(world.whatsapp)) == {"w1", "w3"}


async def test_a_copy_on_its_way_when_the_broadcast_is_cancelled_counts_as_sent(
    world: World, db: Database, clock: FrozenClock
) -> None:
    await add_citizens(db, clock.now(), 5)
    broadcast_id = await world.broadcast(Segment(kind="everyone"), report=True)
    delivered = world.telegram.deliver
    cancelled: list[bool] = []

    async def cancel_meanwhile(
        chat_id: str, action: Outbound, *, skip: int = 0, paid: bool = False
    ) -> str | None:
        if not cancelled and chat_id != ADMIN:  # the admin presses stop while the first copy travels
            cancelled.append(True)
            async with db.transaction() as session:
                await cancel_broadcast(session=session, broadcast_id=broadcast_id, by=ADMIN, now=clock.now())
        return await delivered(chat_id, action, skip=skip, paid=paid)

    world.telegram.deliver = cancel_meanwhile  # type: ignore[method-assign]
    await world.round()
    await world.round()
    received = per_chat(world.telegram)
    assert len(received) == 1  # that one arrived; the other four were withdrawn
    statuses = Counter(r.status for r in await world.rows(broadcast_id))
    assert statuses == {OutboxStatus.SENT: 1, OutboxStatus.CANCELLED: 4}  # the record says what happened
    report = world.telegram.to(ADMIN)[-1].action
    assert isinstance(report, OutText) and "Terkirim 1 dari 5" in report.text


async def test_whatsapp_keeps_to_its_tier_and_carries_the_rest_to_the_next_window(
    world: World, db: Database, clock: FrozenClock
) -> None:
    now = clock.now()
    await add_citizens(db, now, 350, channel="whatsapp")  # last wrote days ago: each opens a conversation
    await add_citizens(db, now, 50, channel="whatsapp", first=351, seen=timedelta(hours=2))  # window open
    broadcast_id = await world.broadcast(Segment(kind="channel", value="whatsapp"), report=True)
    await world.round()
    await world.round()
    chats = per_chat(world.whatsapp)
    assert len(chats) == 300 and set(chats.values()) == {1}
    assert all(f"w{n}" in chats for n in range(351, 401))  # everyone whose window was open
    as_template = [r for r in await world.rows(broadcast_id) if r.sent_as == "template"]
    assert len(as_template) == 250

    progress = await world.progress(broadcast_id)
    assert (progress.sent, progress.carried_over, progress.remaining) == (300, 100, 100)
    assert progress.carried_until == now + timedelta(hours=24)
    report = world.telegram.current
    shown = [text for (chat, _), text in report.items() if chat == ADMIN]
    assert len(shown) == 1
    assert "100 penerima menunggu kuota harian" in shown[0].text and "24/11/2026 09:00 WIB" in shown[0].text

    clock.advance(timedelta(hours=23))  # not yet: the places free 24 hours after they were taken
    await world.round()
    assert len(per_chat(world.whatsapp)) == 300
    clock.advance(timedelta(hours=1))
    await world.round()
    await world.round()
    chats = per_chat(world.whatsapp)
    assert len(chats) == 400 and set(chats.values()) == {1}
    assert (await world.get(broadcast_id)).status == BroadcastStatus.DONE
    final = world.telegram.to(ADMIN)[-1].action
    assert isinstance(final, OutText) and "selesai" in final.text
    assert "100 penerima menerimanya pada jendela 24 jam berikutnya" in final.text


async def test_an_admin_who_cannot_be_reached_does_not_keep_the_broadcast_open(
    world: World, db: Database, clock: FrozenClock
) -> None:
    await add_citizens(db, clock.now(), 3)
    broadcast_id = await world.broadcast(Segment(kind="everyone"), report=True)
    world.telegram.deliver = refusing_admin(world.telegram.deliver)  # type: ignore[method-assign]
    for _ in range(3):
        await world.round()
    assert len(per_chat(world.telegram)) == 3  # the citizens got it all the same
    assert (await world.get(broadcast_id)).status == BroadcastStatus.DONE
    async with db.sessions() as session:
        assert await in_progress(session=session) == []  # nothing left to recount every round


def refusing_admin(deliver: Any) -> Any:
    async def refuse(chat_id: str, action: Outbound, *, skip: int = 0, paid: bool = False) -> str | None:
        if chat_id == ADMIN:
            raise DeliveryError("Forbidden: bot was blocked by the user", permanent=True)
        return str(await deliver(chat_id, action, skip=skip, paid=paid))

    return refuse


async def test_the_progress_is_in_the_admins_language(world: World, db: Database, clock: FrozenClock) -> None:
    now = clock.now()
    async with db.transaction() as session:  # the admin chats with the bot in English
        session.add(
            Citizen(
                channel="telegram",
                external_id=ADMIN,
                chat_id=ADMIN,
                language="en",
                created_at=now,
                last_seen_at=now,
            )
        )
    await add_citizens(db, now, 3)
    await world.broadcast(Segment(kind="everyone"), report=True)
    await world.round()
    await world.round()
    texts = [s.action.text for s in world.telegram.to(ADMIN) if isinstance(s.action, OutText | OutEdit)]
    progress = [text for text in texts if "#" in text]  # (the admin, a citizen too, got the notice itself)
    assert progress and all("Broadcast #" in text for text in progress)
    assert "Sent 4 of 4" in progress[-1] and "Siaran" not in " ".join(progress)


async def test_the_progress_is_one_message_edited_then_a_final_report(
    world: World, db: Database, clock: FrozenClock
) -> None:
    await add_citizens(db, clock.now(), 50)
    world.runner = world.new_runner(telegram=2.0)
    broadcast_id = await world.broadcast(Segment(kind="everyone"), report=True)
    for _ in range(4):
        await world.round()
        clock.advance(timedelta(seconds=5))
    to_admin = world.telegram.to(ADMIN)
    first = to_admin[0]
    assert isinstance(first.action, OutText) and "Siaran #" in first.action.text
    assert first.action.buttons[0][0].payload == f"bc|cancel|{broadcast_id}"
    edits = [s for s in to_admin[1:] if isinstance(s.action, OutEdit)]
    assert len(edits) >= 2 and {e.action.message_id for e in edits} == {first.message_id}  # type: ignore[union-attr]
    final = world.telegram.current[(ADMIN, first.message_id)]
    assert "selesai" in final.text and "Terkirim 50 dari 50" in final.text and not final.buttons
    assert isinstance(to_admin[-1].action, OutText) and to_admin[-1].action.text == final.text  # the report
    assert (await world.get(broadcast_id)).report_row_id is not None
    rounds_before = len(to_admin)
    await world.round()
    assert len(world.telegram.to(ADMIN)) == rounds_before  # nothing more once reported


async def test_a_scheduled_broadcast_waits_for_its_time(
    world: World, db: Database, clock: FrozenClock
) -> None:
    await add_citizens(db, clock.now(), 5)
    at = (clock.now() + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Jakarta"))  # 11:00 WIB
    broadcast_id = await world.broadcast(Segment(kind="everyone"), send_at=at)
    assert (await world.get(broadcast_id)).status == BroadcastStatus.SCHEDULED
    clock.advance(timedelta(minutes=119))
    await world.round()
    assert per_chat(world.telegram) == {}
    await add_citizens(db, clock.now(), 2, first=6)  # joined before the time came: included
    clock.advance(timedelta(minutes=1))
    await world.round()
    await world.round()
    assert len(per_chat(world.telegram)) == 7
    broadcast = await world.get(broadcast_id)
    assert broadcast.status == BroadcastStatus.DONE and broadcast.total == 7


async def test_what_cannot_be_sent_is_refused(world: World, db: Database, clock: FrozenClock) -> None:
    photo = MediaRef(kind="photo", file_id="p")
    async with db.transaction() as session:
        for texts, media, code in [
            ({}, None, "empty"),
            ({"fr": "Bonjour"}, None, "language"),
            ({"id": "x" * 1025}, photo, "too_long"),
            ({"id": "📢" * 513}, photo, "too_long"),  # 513 emoji are 1,026 units as Telegram counts
            ({"id": "x" * 4097}, None, "too_long"),
            ({"id": "Rekaman"}, MediaRef(kind="voice", file_id="v"), "photo"),
        ]:
            with pytest.raises(BroadcastError) as refused:
                await create_broadcast(
                    session=session,
                    created_by=ADMIN,
                    texts=texts,
                    photo=media,
                    segment=Segment(kind="everyone"),
                    send_at=None,
                    now=clock.now(),
                    report_to=None,
                )
            assert refused.value.code == code


async def test_the_expected_end_is_the_slowest_channels(
    world: World, db: Database, clock: FrozenClock
) -> None:
    await add_citizens(db, clock.now(), 100)
    await add_citizens(db, clock.now(), 30, channel="whatsapp", seen=timedelta(hours=1))
    broadcast_id = await world.broadcast(Segment(kind="everyone"))
    world.runner = world.new_runner(telegram=10.0, whatsapp=1.0)
    await world.runner.run_once()  # 100 Telegram rows queued, 10 WhatsApp (ten seconds of each)
    async with db.sessions() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        progress = await broadcast_progress(
            session=session,
            broadcast=broadcast,
            now=clock.now(),
            rate=11.0,
            city=world.deps.city,
            rates={"telegram": 10.0, "whatsapp": 1.0},
        )
    assert progress.remaining == 130
    assert progress.expected_end == clock.now() + timedelta(seconds=30)  # WhatsApp's 30 at 1 a second
