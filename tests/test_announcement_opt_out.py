"""Citizens turn announcements off (the 🔕 button under one, /berhenti_pengumuman, /stop_announcements)
and on again (/pengumuman, /announcements, the button under the confirmation); opted-out citizens are
never counted nor sent one. Surveys' /stop is a different switch."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import select

from bot.broadcast_runner import BroadcastRunner
from handlers.context import Deps
from handlers.messages import OutText
from models import Citizen
from models.db import Database
from tests.dialog import Dialog
from workflows import broadcasts
from workflows.broadcasts import Segment
from workflows.city_config import CityConfig
from workflows.clock import FrozenClock


async def everyone(db: Database, city: CityConfig) -> dict[str, int]:
    async with db.sessions() as session:
        return await broadcasts.count_recipients(session=session, segment=Segment(kind="everyone"), city=city)


async def record(db: Database, user_id: str) -> Citizen:
    async with db.sessions() as session:
        return (await session.exec(select(Citizen).where(Citizen.external_id == user_id))).one()


async def test_the_bell_button_turns_announcements_off_and_pengumuman_on_again(
    citizen: Callable[..., Dialog], db: Database, city: CityConfig
) -> None:
    siti, budi = citizen(user_id="1001"), citizen(user_id="1002")
    await siti.say("/start")
    await budi.say("/start")
    assert await everyone(db, city) == {"telegram": 2, "whatsapp": 0}

    await siti.press_payload("an|off")  # the 🔕 under an announcement, however old
    assert "tidak akan menerima pengumuman lagi" in siti.text and "/pengumuman" in siti.text
    assert (await record(db, "1001")).announcements_off_at is not None
    assert await everyone(db, city) == {"telegram": 1, "whatsapp": 0}  # only Budi now

    await siti.press_payload("an|off")
    assert "sudah tidak menerima pengumuman" in siti.text

    await siti.say("/pengumuman")
    assert "akan menerima pengumuman lagi" in siti.text and "/berhenti_pengumuman" in siti.text
    assert await everyone(db, city) == {"telegram": 2, "whatsapp": 0}


async def test_english_commands_and_the_undo_button(
    citizen: Callable[..., Dialog], db: Database, city: CityConfig
) -> None:
    jane = citizen(user_id="1003")
    await jane.say("/start")
    await jane.press_payload("m|lang:en")
    await jane.say("/stop_announcements")
    assert "you will not receive announcements any more" in jane.text and "/announcements" in jane.text
    assert await everyone(db, city) == {"telegram": 0, "whatsapp": 0}
    await jane.press("Receive announcements again")  # the undo under the confirmation
    assert "you will receive announcements again" in jane.text and "/stop_announcements" in jane.text
    assert await everyone(db, city) == {"telegram": 1, "whatsapp": 0}
    await jane.say("/announcements")
    assert "You already receive announcements" in jane.text


async def test_an_opted_out_citizen_is_never_sent_one(
    citizen: Callable[..., Dialog], db: Database, deps: Deps, clock: FrozenClock
) -> None:
    siti, budi = citizen(user_id="1001"), citizen(user_id="1002")
    await siti.say("/start")
    await budi.say("/start")
    await siti.say("/berhenti_pengumuman")
    async with db.transaction() as session:
        draft = await broadcasts.create_broadcast(
            session=session,
            created_by="cli",
            texts={"id": "Pasar murah Sabtu ini di alun-alun."},
            photo=None,
            segment=Segment(kind="everyone"),
            send_at=None,
            now=clock.now(),
            report_to=None,
        )
        assert draft.id is not None
        await broadcasts.confirm_broadcast(
            session=session, broadcast_id=draft.id, city=deps.city, now=clock.now()
        )
    await BroadcastRunner(db, deps, {"telegram": 100.0, "whatsapp": 100.0}).run_once()

    await budi.say("/tiket")  # reads on: the announcement was queued before this reply
    got = [r for r in budi.history if isinstance(r, OutText) and "Pasar murah" in r.text]
    assert got and got[0].buttons[0][0].payload == "an|off"
    await siti.say("/tiket")
    assert not [r for r in siti.history if isinstance(r, OutText) and "Pasar murah" in r.text]


async def test_surveys_stop_and_announcements_are_separate_switches(
    citizen: Callable[..., Dialog], db: Database
) -> None:
    siti = citizen(user_id="1001")
    await siti.say("/start")
    await siti.say("/stop")
    assert "tidak akan menerima survei lagi" in siti.text
    stopped = await record(db, "1001")
    assert stopped.surveys_off_at is not None and stopped.announcements_off_at is None
    await siti.say("/berhenti_pengumuman")
    await siti.say("/survei")
    both = await record(db, "1001")
    assert both.surveys_off_at is None and both.announcements_off_at is not None


async def test_help_tells_how(citizen: Callable[..., Dialog]) -> None:
    siti = citizen(user_id="1001")
    await siti.say("/help")
    assert "/berhenti_pengumuman" in siti.text and "/pengumuman" in siti.text


async def test_turning_them_off_while_writing_a_complaint_goes_back_to_it(
    citizen: Callable[..., Dialog],
) -> None:
    siti = citizen(user_id="1001")
    await siti.say("/start")
    await siti.press("Buat pengaduan")
    asked = siti.text
    await siti.press_payload("an|off")
    assert "tidak akan menerima pengumuman lagi" in siti.text
    assert asked.splitlines()[0] in siti.text  # the complaint's question again
