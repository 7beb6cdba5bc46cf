"""`civicbot admin …`: units, officers, invites, pauses, admins, one ticket, the ticket export."""

from __future__ import annotations

import asyncio
import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from models import Citizen, Role, Ticket, TicketEvent
from models.db import Database
from tests.conftest import Invoke
from workflows.staff import add_staff, ensure_admins, link_group

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta
NOW = MONDAY + timedelta(days=2)  # Wednesday 09:00 in Jakarta: what the CLI's clock says


@pytest.fixture(autouse=True)
def wide_terminal(cli_run: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tables as wide as they need (rich reads COLUMNS), and the CLI's clock on NOW (set after
    `cli_run` clears it)."""
    monkeypatch.setenv("COLUMNS", "250")
    clock = tmp_path / "clock.txt"
    clock.write_text(NOW.isoformat())
    monkeypatch.setenv("CIVICBOT_CLOCK_FILE", str(clock))


def run(cli_db_url: str, work: Any) -> None:
    """Put something in the CLI's database beforehand (sync tests: the CLI runs its own loop)."""

    async def _run() -> None:
        db = Database(cli_db_url)
        await db.migrate()
        try:
            async with db.transaction() as session:
                await work(session)
        finally:
            await db.dispose()

    asyncio.run(_run())


def row(output: str, first: str) -> list[str]:
    """The cells of the table row starting with `first`."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in\n{output}")


# --- units, officers, invites, pauses -------------------------------------------------------------


def test_units_table_shows_group_pause_officers_and_open_tickets(cli_run: Invoke, cli_db_url: str) -> None:
    async def work(session: Any) -> None:
        for user_id, unit in (("7001", "dlh"), ("7002", "dlh"), ("8001", "dpupr")):
            await add_staff(
                session=session, channel="telegram", user_id=user_id, role=Role.OFFICER, unit=unit, now=MONDAY
            )
        await link_group(
            session=session,
            unit="dlh",
            channel="telegram",
            chat_id="-100700",
            title="Tim DLH",
            by="1",
            now=MONDAY,
        )
        citizen = await _citizen(session)
        _ticket(session, citizen, "ADU-2611-AAA1", status="submitted")
        _ticket(session, citizen, "ADU-2611-AAA2", status="closed")

    run(cli_db_url, work)
    assert cli_run("admin", "pause", "dpupr", "--reason", "banjir")[0] == 0
    code, output = cli_run("admin", "units")
    assert code == 0
    assert row(output, "dlh")[1:] == ["DLH", "Tim DLH", "no", "2", "1"]
    dpupr = row(output, "dpupr")
    assert (
        dpupr[2] == "(no group)"
        and dpupr[3] == "since 2026-11-25 09:00 WIB: banjir"
        and dpupr[4:] == ["1", "0"]
    )
    assert cli_run("admin", "resume", "dpupr") == (0, "dpupr active again\n")
    assert row(cli_run("admin", "units")[1], "dpupr")[3] == "no"
    # the older command shows the same state
    assert re.search(r"^dpupr\s+active", cli_run("units", "list")[1], re.MULTILINE)


def test_pause_until_a_day_lasts_through_that_day_then_ends_by_itself(
    cli_run: Invoke, tmp_path: Path
) -> None:
    code, output = cli_run("admin", "pause", "dlh", "--until", "2026-12-01", "--reason", "cuti bersama")
    assert code == 0 and "dlh paused; new tickets go to triase" in output
    assert "until the end of 2026-12-01: it resumes by itself at 2026-12-02 00:00 WIB" in output
    assert (
        row(cli_run("admin", "units")[1], "dlh")[3]
        == "since 2026-11-25 09:00 WIB until 2026-12-02 00:00 WIB: cuti bersama"
    )
    assert cli_run("admin", "pause", "dlh", "--until", "2026-11-24")[0] == 2  # yesterday
    assert cli_run("admin", "pause", "dlh", "--until", "besok")[0] == 2
    # the older command takes --until as well; today means through tonight
    code, output = cli_run("units", "pause", "dpupr", "--until", "2026-11-25")
    assert code == 0 and "it resumes by itself at 2026-11-26 00:00 WIB" in output
    assert re.search(r"^dpupr\s+PAUSED", cli_run("units", "list")[1], re.MULTILINE)
    # past midnight the pause no longer counts, whether or not the bot's sweep has run yet
    (tmp_path / "clock.txt").write_text((NOW + timedelta(hours=15)).isoformat())  # Thursday 00:00 WIB
    assert row(cli_run("admin", "units")[1], "dpupr")[3] == "no"
    assert re.search(r"^dpupr\s+active", cli_run("units", "list")[1], re.MULTILINE)
    assert row(cli_run("admin", "units")[1], "dlh")[3].startswith("since 2026-11-25 09:00 WIB until")


def test_officers_table_lists_staff_and_open_invite_counts_without_codes(cli_run: Invoke) -> None:
    assert cli_run("staff", "add", "7001", "--unit", "dlh", "--name", "Pak Budi")[0] == 0
    assert cli_run("admin", "add-admin", "9001", "--name", "Bu Admin")[0] == 0
    codes = [cli_run("admin", "invite", "dlh")[1].split()[0] for _ in range(2)]
    assert all(re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", code) for code in codes)

    code, output = cli_run("admin", "officers")
    assert code == 0
    assert row(output, "dlh")[:4] == ["dlh", "officer", "7001", "Pak Budi"]
    assert row(output, "(all: admin)")[1:4] == ["admin", "9001", "Bu Admin"]
    invites = output[output.index("Invite codes") :]
    assert row(invites, "dlh")[1:] == ["2", "2026-12-02 09:00 WIB", "2026-12-02 09:00 WIB"]
    assert row(invites, "dpupr")[1:] == ["0", "—", "—"]
    assert all(code not in output and code.replace("-", "") not in output for code in codes)

    only = cli_run("admin", "officers", "--unit", "dpupr")[1]
    assert "7001" not in only and "9001" not in only and row(only, "dpupr")[1] == "0"
    code, output = cli_run("admin", "officers", "--unit", "dinas_x")
    assert code == 2 and "use one of" in output


# --- admins ---------------------------------------------------------------------------------------


def test_admins_are_added_and_removed_but_not_the_settings_ones_or_the_last(
    cli_run: Invoke, cli_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def from_settings(session: Any) -> None:
        await ensure_admins(session=session, channel="telegram", user_ids=["9001"], now=MONDAY)

    run(cli_db_url, from_settings)
    monkeypatch.setenv("CIVICBOT_ADMIN_IDS", "9001")
    assert cli_run("admin", "add-admin", "9002") == (0, "9002 is now an admin\n")
    assert cli_run("admin", "add-admin", "9002") == (0, "9002 is already an admin\n")
    code, output = cli_run("admin", "remove-admin", "9001")
    assert code == 1 and "CIVICBOT_ADMIN_IDS" in output
    assert cli_run("admin", "remove-admin", "9002") == (0, "9002 is no longer an admin\n")
    assert cli_run("admin", "remove-admin", "9002")[0] == 1  # not an admin any more

    monkeypatch.setenv("CIVICBOT_ADMIN_IDS", "")  # the setting no longer names 9001: the last admin
    code, output = cli_run("admin", "remove-admin", "9001")
    assert code == 1 and "last admin" in output
    assert "9001" in cli_run("admin", "officers")[1]
    assert cli_run("admin", "add-admin", "@budi")[0] == 2


# --- one ticket -----------------------------------------------------------------------------------


def test_a_ticket_shows_its_summary_and_timeline_without_the_reporter(
    cli_run: Invoke, cli_db_url: str
) -> None:
    async def work(session: Any) -> None:
        officer = await add_staff(
            session=session,
            channel="telegram",
            user_id="7001",
            role=Role.OFFICER,
            unit="dlh",
            now=MONDAY,
            display_name="Pak Budi",
        )
        citizen = await _citizen(session)
        ticket = _ticket(session, citizen, "ADU-2611-TTT1", status="in_progress", holder=officer.id)
        ticket.clock, ticket.due_at = "resolution", NOW - timedelta(hours=1)
        await session.flush()
        _event(session, ticket, MONDAY, "citizen", "submitted", note="nomor saya 081234567890")
        _event(session, ticket, MONDAY + timedelta(hours=1), "officer", "accepted", actor_id=str(officer.id))
        _event(
            session,
            ticket,
            MONDAY + timedelta(hours=2),
            "officer",
            "question",
            actor_id=str(officer.id),
            note="Di depan nomor berapa?",
        )
        _event(session, ticket, MONDAY + timedelta(hours=3), "citizen", "answered", note="Nomor 5, Bu Siti")

    run(cli_db_url, work)
    code, output = cli_run("admin", "ticket", "adu-2611-ttt1")
    assert code == 0
    assert row(output, "unit")[1] == "dlh (DLH)" and row(output, "status")[1] == "in_progress"
    assert row(output, "holder")[1] == "Pak Budi (officer)"
    assert row(output, "deadline")[1] == "resolution: 2026-11-25 08:00 WIB (OVERDUE)"
    timeline = output[output.index("Timeline") :]
    assert row(timeline, "2026-11-23 10:00 WIB")[1:3] == ["Pak Budi (officer)", "accepted"]
    assert row(timeline, "2026-11-23 11:00 WIB")[-1] == "Di depan nomor berapa?"  # staff notes shown
    assert row(timeline, "2026-11-23 12:00 WIB")[1:] == ["citizen", "answered"]  # the citizen's words not
    assert row(output, "description")[1].startswith("Sampah menumpuk")  # as on the unit's card
    for personal in ("Siti Warga", "sitiwarga", "Nomor 5", "Jl. Melati", "-6.2"):  # reporter, place, words
        assert personal not in output, personal
    code, output = cli_run("admin", "ticket", "ADU-2611-ZZZZ")
    assert code == 1 and "no ticket ADU-2611-ZZZZ" in output


# --- the export -----------------------------------------------------------------------------------


def test_export_writes_every_ticket_without_personal_data(
    cli_run: Invoke, cli_db_url: str, tmp_path: Path
) -> None:
    async def work(session: Any) -> None:
        citizen = await _citizen(session)
        early = _ticket(
            session, citizen, "ADU-2611-EEE0", status="closed", created=MONDAY - timedelta(days=3)
        )
        kept = _ticket(session, citizen, "ADU-2611-AAAA", status="closed", area="sukamaju")
        kept.resolved_at = MONDAY + timedelta(days=1)
        late = _ticket(session, citizen, "ADU-2611-BBBB", status="resolved", category="jalan", unit="dpupr")
        late.resolved_at = MONDAY + timedelta(days=1, hours=3)
        overdue = _ticket(session, citizen, "ADU-2611-CCCC", status="in_progress")
        overdue.clock, overdue.due_at = "resolution", NOW - timedelta(minutes=1)
        waiting = _ticket(session, citizen, "ADU-2611-DDDD", status="submitted")
        waiting.clock, waiting.due_at = "response", NOW + timedelta(hours=5)
        reopened = _ticket(session, citizen, "ADU-2611-FFFF", status="closed")
        await session.flush()
        _event(session, kept, MONDAY + timedelta(hours=1), "officer", "accepted", actor_id="1")
        _event(session, kept, MONDAY + timedelta(hours=4), "officer", "resolved", actor_id="1")
        _event(session, late, MONDAY + timedelta(hours=2), "supervisor", "question", actor_id="2")
        _event(session, late, MONDAY + timedelta(days=1), "system", "escalated", details={"fraction": 1.0})
        _event(session, overdue, MONDAY + timedelta(hours=3), "officer", "accepted", actor_id="1")
        _event(session, waiting, MONDAY, "citizen", "citizen_message", note="hubungi 081234567890")
        _event(session, reopened, MONDAY, "system", "escalated", details={"reason": "reopened"})
        for ticket in (early, kept, late, overdue, waiting, reopened):
            _event(session, ticket, ticket.created_at, "citizen", "submitted")

    run(cli_db_url, work)
    target = tmp_path / "tickets.csv"
    code, output = cli_run("admin", "export-tickets", str(target), "--since", "2026-11-23", "--batch", "2")
    assert code == 0 and "5 tickets written" in output
    assert not list(tmp_path.glob("*.partial"))
    content = target.read_text(encoding="utf-8")
    rows = list(csv.DictReader(content.splitlines()))
    assert [r["reference"] for r in rows] == [
        "ADU-2611-AAAA",
        "ADU-2611-BBBB",
        "ADU-2611-CCCC",
        "ADU-2611-DDDD",
        "ADU-2611-FFFF",
    ]
    assert rows[0] == {
        "reference": "ADU-2611-AAAA",
        "category": "sampah",
        "unit": "dlh",
        "area": "sukamaju",
        "status": "closed",
        "created": "2026-11-23T09:00:00+07:00",
        "first_response": "2026-11-23T10:00:00+07:00",
        "resolved": "2026-11-24T09:00:00+07:00",
        "sla_met": "yes",
    }
    assert (rows[1]["unit"], rows[1]["first_response"], rows[1]["sla_met"]) == (
        "dpupr",
        "2026-11-23T11:00:00+07:00",
        "no",  # escalated at its deadline
    )
    assert [r["sla_met"] for r in rows[2:]] == ["no", "", "yes"]  # overdue now; open in time; closed
    assert rows[3]["first_response"] == ""  # a citizen's message is no response
    for personal in ("Siti", "081234567890", "Melati", "-6.2", "106.8"):
        assert personal not in content, personal

    everything = tmp_path / "all.csv"
    assert cli_run("admin", "export-tickets", str(everything))[0] == 0
    assert "ADU-2611-EEE0" in everything.read_text(encoding="utf-8")
    assert cli_run("admin", "export-tickets", str(everything), "--since", "23-11-2026")[0] == 2


# --- test data ------------------------------------------------------------------------------------


async def _citizen(session: Any) -> Citizen:
    citizen = Citizen(
        channel="telegram",
        external_id="1001",
        chat_id="1001",
        display_name="Siti Warga",
        username="sitiwarga",
        created_at=MONDAY,
        last_seen_at=MONDAY,
    )
    session.add(citizen)
    await session.flush()
    return citizen


def _ticket(
    session: Any,
    citizen: Citizen,
    reference: str,
    *,
    status: str,
    category: str = "sampah",
    unit: str = "dlh",
    area: str | None = None,
    created: datetime = MONDAY,
    holder: int | None = None,
) -> Ticket:
    assert citizen.id is not None
    ticket = Ticket(
        reference=reference,
        citizen_id=citizen.id,
        channel="telegram",
        category=category,
        unit=unit,
        area=area,
        description="Sampah menumpuk di depan rumah Bu Siti, hubungi 081234567890",
        address="Jl. Melati 5",
        latitude=-6.2001,
        longitude=106.8167,
        status=status,
        created_at=created,
        updated_at=created,
        response_target_seconds=8 * 3600,
        holder_staff_id=holder,
    )
    session.add(ticket)
    return ticket


def _event(
    session: Any,
    ticket: Ticket,
    at: datetime,
    actor_kind: str,
    action: str,
    *,
    actor_id: str | None = None,
    note: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    assert ticket.id is not None
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=at,
            actor_kind=actor_kind,
            actor_id=actor_id,
            action=action,
            note=note,
            details=details or {},
        )
    )
