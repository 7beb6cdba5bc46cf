"""The satisfaction index (SKM) report: the arithmetic, the grades, the period, the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlmodel import select

from bot.reports import render
from handlers.i18n import Translator
from locales import load_catalogues
from models import Citizen, Survey, SurveyStatus, Ticket
from models.db import Database
from tests.conftest import Invoke
from workflows.city_config import CityConfig
from workflows.satisfaction import (
    Period,
    Report,
    Row,
    SurveyRow,
    compute_report,
    element_means,
    grade,
    satisfaction_report,
    skm_index,
)

ELEMENTS = ("waktu", "hasil", "perilaku", "pengaduan")  # the sample city's rated questions
NOV = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)  # 10 November, 10:00 in Jakarta
OCT = datetime(2026, 10, 15, 3, 0, tzinfo=UTC)


def rated(*scores: int) -> dict[str, int]:
    return dict(zip(ELEMENTS, scores, strict=True))


def survey(
    unit: str = "dlh",
    category: str = "sampah",
    *,
    ratings: dict[str, int] | None = None,
    rated_at: datetime | None = NOV,
    fixed: bool | None = True,
    fixed_at: datetime | None = NOV,
    status: str = SurveyStatus.DONE,
    finished_at: datetime | None = NOV,
) -> SurveyRow:
    return SurveyRow(
        unit=unit,
        category=category,
        status=status,
        fixed=fixed,
        fixed_at=fixed_at if fixed is not None else None,
        ratings=ratings or {},
        rated_at=rated_at,
        finished_at=finished_at,
    )


# The hand-worked fixture, November 2026 in Jakarta:
#
#   dlh / sampah   waktu hasil perilaku pengaduan   fixed?
#   R1               4     3      4        3         yes
#   R2               3     3      4        2         yes
#   R3               4     2      3        3         no
#   dpupr / jalan
#   R4               2     2      2        2         yes
#
# dlh: element means (NRR) waktu 11/3, hasil 8/3, perilaku 11/3, pengaduan 8/3
#      mean of the means = (11 + 8 + 11 + 8) / 3 / 4 = 38/12 = 3.1666…
#      index = 3.1666… × 25 = 79.1666… → 79.17 → B (76.61–88.30)
# total (R1–R4): waktu 13/4, hasil 10/4, perilaku 13/4, pengaduan 10/4
#      mean of the means = (13 + 10 + 13 + 10) / 4 / 4 = 46/16 = 2.875
#      index = 2.875 × 25 = 71.875 → 71.88 → C (65.00–76.60)
#
# Not responses: a partial answer (rated_at None; its "fixed: yes" in November still counts as
# fixed), a complete answer rated in October, and an expired survey (no feedback) of dishub.
# Fixed in dlh: R1, R2 and the partial one = 3; not fixed: R3 = 1; no feedback: 1.
HAND_WORKED = [
    survey(ratings=rated(4, 3, 4, 3)),
    survey(ratings=rated(3, 3, 4, 2)),
    survey(ratings=rated(4, 2, 3, 3), fixed=False),
    survey("dpupr", "jalan", ratings=rated(2, 2, 2, 2)),
    survey(ratings={"waktu": 1}, rated_at=None, status=SurveyStatus.OPEN, finished_at=None),
    survey(ratings=rated(1, 1, 1, 1), rated_at=OCT, fixed_at=OCT, finished_at=OCT),
    survey(status=SurveyStatus.EXPIRED, fixed=None, rated_at=None),
    survey("dishub", "parkir", status=SurveyStatus.EXPIRED, fixed=None, rated_at=None),
    survey("pdam", "air", ratings=rated(1, 1, 1, 1), rated_at=OCT, fixed_at=OCT, finished_at=OCT),
]


def november(city: CityConfig) -> Period:
    return Period.parse("2026-11", city.city.timezone)


def hand_worked_report(city: CityConfig, language: str = "id") -> Report:
    return compute_report(
        HAND_WORKED,
        period=november(city),
        elements=city.surveys.rated,
        unit_names={k: u.name.get(language) for k, u in city.units.items()},
        category_names={k: c.name.get(language) for k, c in city.categories.items()},
        language=language,
    )


def row(report: Report, scope: str, key: str) -> Row:
    return next(r for r in report.rows if (r.scope, r.key) == (scope, key))


def test_the_index_matches_the_hand_worked_example(city: CityConfig) -> None:
    assert tuple(city.surveys.rated) == ELEMENTS
    report = hand_worked_report(city)
    dlh = row(report, "unit", "dlh")
    assert (dlh.name, dlh.responses, dlh.index, dlh.grade) == ("Dinas Lingkungan Hidup", 3, 79.17, "B")
    assert dlh.means == {"waktu": 3.67, "hasil": 2.67, "perilaku": 3.67, "pengaduan": 2.67}
    assert (dlh.fixed, dlh.not_fixed, dlh.no_feedback) == (3, 1, 1)
    assert row(report, "category", "sampah").index == 79.17  # the same four surveys

    total = report.total
    assert (total.responses, total.index, total.grade) == (4, 71.88, "C")
    assert total.means == {"waktu": 3.25, "hasil": 2.5, "perilaku": 3.25, "pengaduan": 2.5}
    assert (total.fixed, total.not_fixed, total.no_feedback) == (4, 1, 2)

    dishub = row(report, "unit", "dishub")  # only "no feedback": listed, without an index
    assert (dishub.responses, dishub.index, dishub.grade, dishub.no_feedback) == (0, None, None, 1)
    assert row(report, "category", "parkir").name == "parkir"  # not (or no longer) in the city config
    assert all(r.key != "pdam" for r in report.rows)  # nothing in November: left out
    assert [r.scope for r in report.rows] == ["unit"] * 3 + ["category"] * 3 + ["total"]


def test_an_element_mean_counts_only_the_responses_that_rated_it() -> None:
    # an answer from before "pengaduan" was asked: waktu (4+2)/2 = 3, pengaduan 4/1 = 4
    means = element_means([{"waktu": 4}, {"waktu": 2, "pengaduan": 4, "hasil": 9}], ["waktu", "pengaduan"])
    assert means == {"waktu": Fraction(3), "pengaduan": Fraction(4)}
    assert skm_index(means) == Decimal("87.50")  # (3 + 4) / 2 × 25
    assert skm_index({"waktu": None}) is None and grade(None) is None


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (100, "A"),
        (88.31, "A"),
        (88.30, "B"),
        (88.305, "A"),  # rounds to 88.31
        (76.61, "B"),
        (76.60, "C"),
        (65.00, "C"),
        (64.99, "D"),
        (64.994, "D"),  # rounds to 64.99
        (25, "D"),
    ],
)
def test_grade_bands(index: float, expected: str) -> None:
    assert grade(index) == expected
    assert grade(Decimal(str(index))) == expected


def test_periods_are_months_quarters_and_years_of_the_city_calendar() -> None:
    month = Period.parse("2026-11", "Asia/Jakarta")  # UTC+7
    assert (month.label, month.start, month.end) == (
        "2026-11",
        datetime(2026, 10, 31, 17, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 17, 0, tzinfo=UTC),
    )
    quarter = Period.parse("2026-q4", "Asia/Jakarta")
    assert (quarter.label, quarter.start, quarter.end) == (
        "2026-Q4",
        datetime(2026, 9, 30, 17, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 17, 0, tzinfo=UTC),
    )
    year = Period.parse("2026", "Asia/Makassar")  # UTC+8
    assert (year.start, year.end) == (
        datetime(2025, 12, 31, 16, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
    )
    assert Period.parse("2026-12", "Asia/Jakarta").end == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    for wrong in ("2026-13", "2026-00", "2026-Q5", "26-11", "november", "2026-11-01", ""):
        with pytest.raises(ValueError, match="use YYYY-MM, YYYY-Qn or YYYY"):
            Period.parse(wrong)


def test_a_response_late_on_the_last_utc_day_belongs_to_the_next_local_month(city: CityConfig) -> None:
    late = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)  # 1 December 2026, 01:00 in Jakarta
    answer = survey(ratings=rated(4, 4, 4, 4), rated_at=late, fixed_at=late, finished_at=late)
    naive = replace(answer, rated_at=late.replace(tzinfo=None))  # as SQLite gives it back
    for stored in (answer, naive):
        nov = compute_report([stored], period=november(city), elements=ELEMENTS)
        dec = compute_report([stored], period=Period.parse("2026-12"), elements=ELEMENTS)
        assert nov.total.responses == 0 and nov.total.index is None
        assert (dec.total.responses, dec.total.index, dec.total.grade) == (1, 100.0, "A")


def test_renderings(city: CityConfig) -> None:
    texts = Translator(load_catalogues(), overrides=city.texts)
    table = render(hand_worked_report(city, "en"), "table", texts)
    assert "Public Satisfaction Index (SKM) · period 2026-11" in table
    assert "Environment Agency" in table and "79.17" in table and "B (Good)" in table
    assert "71.88" in table and "C (Fair)" in table and "Index = mean element score" in table
    empty = compute_report([], period=november(city), elements=ELEMENTS, language="en")
    assert "No survey was answered in full in this period." in render(empty, "table", texts)
    with pytest.raises(ValueError, match="table, csv, json"):
        render(empty, "pdf", texts)


# ---------------------------------------------------------------------------------------------
# end to end: rows in the database, the `civicbot report satisfaction` command

CITIZEN_NAME, CITIZEN_CHAT = "Siti Rahmawati", "987654321"


async def _fill(url: str) -> None:
    db = Database(url)
    await db.migrate()
    async with db.transaction() as session:
        citizen = Citizen(
            channel="telegram",
            external_id=CITIZEN_CHAT,
            chat_id=CITIZEN_CHAT,
            display_name=CITIZEN_NAME,
            username="siti_r",
            created_at=OCT,
            last_seen_at=NOV,
        )
        session.add(citizen)
        await session.flush()
        assert citizen.id is not None
        for number, facts in enumerate(HAND_WORKED, start=1):
            ticket = Ticket(
                reference=f"ADU-2611-{number:04d}",
                citizen_id=citizen.id,
                channel="telegram",
                category=facts.category,
                unit=facts.unit,
                description=f"keluhan {number} dari {CITIZEN_NAME}",
                status="closed",
                created_at=OCT,
                updated_at=NOV,
                response_target_seconds=3600,
            )
            session.add(ticket)
            await session.flush()
            assert ticket.id is not None
            session.add(
                Survey(
                    ticket_id=ticket.id,
                    citizen_id=citizen.id,
                    unit=facts.unit,
                    category=facts.category,
                    status=facts.status,
                    resolved_at=OCT,
                    send_at=OCT,
                    sent_at=OCT,
                    fixed=facts.fixed,
                    fixed_at=facts.fixed_at,
                    ratings=dict(facts.ratings),
                    rated_at=facts.rated_at,
                    comment=f"terima kasih, {CITIZEN_NAME}",
                    finished_at=facts.finished_at,
                )
            )
    await db.dispose()


def _identity_free(output: str) -> None:
    for secret in (CITIZEN_NAME, "Siti", CITIZEN_CHAT, "siti_r", "ADU-2611", "terima kasih"):
        assert secret not in output


def test_the_cli_reports_the_period_in_every_format(cli_run: Invoke, cli_db_url: str) -> None:
    asyncio.run(_fill(cli_db_url))
    code, table = cli_run("report", "satisfaction", "--period", "2026-11")
    assert code == 0, table
    assert "Indeks Kepuasan Masyarakat (SKM) · periode 2026-11" in table
    assert "Dinas Lingkungan Hidup" in table and "79.17" in table and "B (Baik)" in table
    assert "Semua" in table and "71.88" in table
    _identity_free(table)

    code, text = cli_run("report", "satisfaction", "--period", "2026-11", "--format", "csv", "--lang", "en")
    assert code == 0, text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "scope", "key", "name", "responses", "index", "grade", "fixed", "not_fixed", "no_feedback",
        "mean_waktu", "mean_hasil", "mean_perilaku", "mean_pengaduan",
    ]  # fmt: skip
    dlh = next(r for r in rows if (r["scope"], r["key"]) == ("unit", "dlh"))
    assert dlh["name"] == "Environment Agency"
    assert (dlh["responses"], dlh["index"], dlh["grade"], dlh["mean_waktu"]) == ("3", "79.17", "B", "3.67")
    assert (dlh["fixed"], dlh["not_fixed"], dlh["no_feedback"]) == ("3", "1", "1")
    total = rows[-1]
    assert (total["scope"], total["responses"], total["index"], total["grade"]) == (
        "total",
        "4",
        "71.88",
        "C",
    )
    _identity_free(text)

    code, text = cli_run("report", "satisfaction", "--period", "2026-11", "--format", "json")
    assert code == 0, text
    document = json.loads(text)
    assert document["period"] == "2026-11" and document["elements"] == list(ELEMENTS)
    assert document["start"] == "2026-10-31T17:00:00+00:00"
    by_key = {(r["scope"], r["key"]): r for r in document["rows"]}
    assert by_key[("unit", "dlh")]["index"] == 79.17 and by_key[("total", "total")]["index"] == 71.88
    assert by_key[("unit", "dishub")]["index"] is None and by_key[("unit", "dishub")]["grade"] is None
    assert ("unit", "pdam") not in by_key
    _identity_free(text)


def test_the_cli_refuses_a_bad_period_or_format(cli_run: Invoke) -> None:
    code, output = cli_run("report", "satisfaction", "--period", "2026-13")
    assert code == 2 and "use YYYY-MM, YYYY-Qn or YYYY" in output
    code, output = cli_run("report", "satisfaction", "--period", "2026-11", "--format", "pdf")
    assert code == 2 and "table, csv, json" in output
    code, output = cli_run("report", "satisfaction", "--period", "2026-11", "--lang", "fr")
    assert code == 2 and "id, en" in output


async def test_the_query_reads_the_period_in_the_city_time_zone(db: Database, city: CityConfig) -> None:
    await _fill(db.url)
    late = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)  # 1 December 01:00 in Jakarta
    async with db.transaction() as session:
        first = (await session.exec(select(Survey).limit(1))).first()
        assert first is not None
        session.add(
            Survey(
                ticket_id=first.ticket_id,
                round=1,
                citizen_id=first.citizen_id,
                unit="dlh",
                category="sampah",
                status=SurveyStatus.DONE,
                resolved_at=late,
                send_at=late,
                ratings=rated(4, 4, 4, 4),
                rated_at=late,
                finished_at=late,
            )
        )
    async with db.transaction() as session:
        nov = await satisfaction_report(session=session, city=city, period=november(city))
        dec = await satisfaction_report(session=session, city=city, period=Period.parse("2026-12"))
    assert (nov.total.responses, nov.total.index) == (4, 71.88)
    assert (dec.total.responses, dec.total.index, [r.key for r in dec.rows]) == (
        1,
        100.0,
        ["dlh", "sampah", "total"],
    )
