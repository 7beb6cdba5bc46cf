"""WhatsApp's 24-hour rule through the real `civicbot run`: a fake Graph API that refuses anything but
an approved template once the window has closed, and a clock the test moves (CIVICBOT_CLOCK_FILE).

Siti files on WhatsApp; the unit accepts at once (a plain message, inside the window). A day and an
hour later the unit resolves it: the notice goes as the approved survey template with Siti's
reference and the unit's name, the proof photo waits (no template can carry it), and nothing is
first tried as a plain message. Her tap on the template's "Sudah beres" closes the ticket, and the
photo that waited reaches her.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from models import Ticket
from models.db import Database
from tests.fakes.graph_api import FakeGraphAPI, GraphCall, template_button
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.test_cross_channel_media import (
    GROUP,
    JPEG,
    OFFICER,
    PROOF,
    WA_ID,
    file_on_whatsapp,
    link_unit,
    pressed,
    serving_both,
)
from tests.test_telegram_e2e import STEP, BotProcess
from tests.test_whatsapp_e2e import WhatsAppCitizen
from tests.test_workflow_e2e import set_clock

MONDAY_MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        fake.add_group(GROUP, "DLH Kota Contoh")
        yield fake


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    async with FakeGraphAPI() as fake:
        yield fake


@pytest.fixture
async def running(
    api: FakeTelegramAPI, graph: FakeGraphAPI, tmp_path: Path
) -> AsyncIterator[tuple[BotProcess, WhatsAppCitizen, Path]]:
    clock = tmp_path / "clock"
    set_clock(clock, MONDAY_MORNING)
    graph.approve_template("civicbot_survey", "id", parameters=2, quick_replies=3)
    graph.approve_template("civicbot_ticket_update", "id", parameters=3)
    async with serving_both(api, graph, tmp_path, CIVICBOT_CLOCK_FILE=str(clock)) as (process, siti):
        yield process, siti, clock


async def test_after_24_hours_the_resolution_goes_as_the_survey_template_and_its_button_closes(
    api: FakeTelegramAPI,
    graph: FakeGraphAPI,
    running: tuple[BotProcess, WhatsAppCitizen, Path],
    tmp_path: Path,
) -> None:
    _process, siti, clock = running
    await link_unit(api)
    reference = await file_on_whatsapp(siti, graph, JPEG)
    card = await api.wait_for_text(GROUP, reference, timeout=STEP)
    card_id = int(card.result["message_id"])
    pressed(api, card_id, "Terima")
    accepted = await graph.wait_for_text(WA_ID, "diterima oleh", timeout=STEP)
    assert accepted.type != "template"  # she wrote minutes ago: the message itself

    # a day and an hour pass without a word from her; Meta now takes templates only
    set_clock(clock, MONDAY_MORNING + timedelta(hours=25))
    graph.close_window(WA_ID)
    before = len(graph.sent_to(WA_ID, include_failed=True))
    await api.wait_for_call(
        lambda c: c.chat_id == GROUP and c.method.startswith("edit") and "Selesai" in str(c.params),
        timeout=STEP,
    )
    pressed(api, card_id, "Selesai")
    await api.wait_for_text(OFFICER, "catatan penyelesaian", timeout=STEP)
    api.push_text(OFFICER, "Sampah sudah diangkut, TPS dibersihkan", first_name="Budi")
    await api.wait_for_text(OFFICER, "foto hasil", timeout=STEP)
    api.set_file_content("AgACproofWINDOW", PROOF)
    api.push_photo(OFFICER, file_id="AgACproofWINDOW")
    await api.wait_for_text(OFFICER, "ditandai selesai", timeout=STEP)

    def survey_template(call: GraphCall) -> bool:
        return call.to == WA_ID and call.type == "template" and not call.failed

    sent = await graph.wait_for(survey_template, timeout=STEP)
    assert sent.template is not None
    name, language, parameters, payloads = sent.template
    assert (name, language) == ("civicbot_survey", "id")
    assert parameters == [reference, "Dinas Lingkungan Hidup"]
    assert len(payloads) == 3
    after = graph.sent_to(WA_ID, include_failed=True)[before:]
    assert not [c for c in after if c.failed], graph.dump()  # the bot chose the template itself
    assert not [c for c in after if c.type == "image"]  # the proof photo waits for her

    # she taps "Sudah beres": Meta opens the window; the photo that waited, then the rating question
    graph.open_window(WA_ID)
    status = await siti.post(template_button(WA_ID, payloads[0], "Sudah beres", context=sent.wamid or ""))
    assert status == 200
    await graph.wait_for_text(WA_ID, "penilaian", timeout=STEP)
    images = [c for c in graph.sent_to(WA_ID) if c.type == "image"]
    assert len(images) == 1
    [uploaded] = [u for u in graph.uploads() if u.media_id == images[0].body["image"]["id"]]
    assert uploaded.data == PROOF
    db = Database(f"sqlite:///{tmp_path}/bot.db")
    try:
        async with db.sessions() as session:
            ticket = (await session.exec(select(Ticket).where(Ticket.reference == reference))).one()
        assert ticket.status == "closed"
    finally:
        await db.dispose()
