"""The quality figures of the dashboard: hand-built tickets with known times, exact figures.

The sample city works Mon–Thu 07:30–16:00 (8.5 h) and Fri 07:30–16:30 (9 h), Asia/Jakarta;
24 December 2026 is a day off and the 25th is Christmas; October and November 2026 have no
public holiday. `sampah` is the `standar` policy (respond in 8 working hours, resolve in 40),
`pungli` is `pengawasan` (24 and 80), `bencana` is `darurat` on the continuous calendar (1 h, 24 h).

November 2026, seen on Tuesday 1 December 09:00 WIB:

| ticket | unit / category      | what happened (WIB)                                 | working hours      |
|--------|----------------------|-----------------------------------------------------|--------------------|
| T1     | dlh / sampah         | filed Fri 20 Nov 15:00, accepted Mon 23 09:00,      | response 1.5+1.5=3 |
|        |                      | resolved Tue 24 10:00                               | resolution 12.5    |
| T2     | dlh / sampah         | filed Mon 2 Nov 08:00, accepted Wed 4 08:00 (late), | response 17        |
|        |                      | asked Wed 4 10:00, answered Mon 16 10:00, resolved  | resolution 105     |
|        |                      | Mon 16 12:00, reopened Tue 17 09:00, accepted 10:00,|                    |
|        |                      | resolved Wed 18 10:00 (clocks: 2+2 h, then 8.5 h)   |                    |
| T3     | dpupr / jalan        | filed Tue 3 Nov 09:00, never accepted               | missed Wed 4 08:30 |
| T4     | dlh / sampah         | filed Mon 30 Nov 15:00, waiting (due Dec 1 14:30)   | —                  |
| T5     | dlh / sampah         | filed Mon 26 Oct 09:00, accepted 10:00, resolved    | resolution 43      |
|        |                      | Mon 2 Nov 09:00 (its clock ran out Fri 30 Oct 16:00)|                    |
| T6     | inspektorat / pungli | filed Wed 11 Nov 10:00, accepted 11:00, still open  | response 1; missed |
|        | (confidential)       | (80 h ran out Tue 24 Nov 13:30)                     | resolution Nov 24  |
| T7     | bpbd / bencana 24/7  | filed Sat 14 Nov 22:00, accepted 22:30, resolved    | response 0.5       |
|        |                      | Sun 15 Nov 20:00                                    | resolution 22      |
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from models import Citizen, Identity, Survey, SurveyStatus, Ticket
from models.db import Database
from models.quality_queries import TicketFact
from tests.conftest import Invoke
from workflows.city_config import CityConfig
from workflows.drafts import Draft
from workflows.lifecycle import RULES, Action, Actor, apply
from workflows.quality import (
    TICKET_ROW_COLUMNS,
    Figures,
    Filter,
    as_dict,
    cell_of,
    hot_spots,
    percentile,
    quality_figures,
    steps,
    ticket_rows,
    ticket_timeline,
)
from workflows.routing import Route
from workflows.satisfaction import Period, satisfaction_report
from workflows.sla import Calendars
from workflows.tickets import submit

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=WIB).astimezone(UTC)
ADMIN = Actor("staff", None, "admin")
CITIZEN_ACTIONS = {Action.ANSWER, Action.REOPEN, Action.CLOSE}
SECRET = "Petugas kelurahan minta uang pelicin 500 ribu"
CITIZEN_NAME = "Siti Rahayu"
CITIZEN_PHONE = "6281234567890"
ADDRESS = "Jl. Melati No. 7 RT 03"


def wib(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB).astimezone(UTC)


class Office:
    """Files tickets and acts on them through the real workflows, at chosen moments."""

    def __init__(self, db: Database, city: CityConfig) -> None:
        self.db, self.city, self.calendars = db, city, Calendars(city)
        self.citizen_id: int | None = None

    async def file(
        self,
        at: datetime,
        category: str = "sampah",
        *,
        unit: str | None = None,
        area: str | None = None,
        identity: Identity = Identity.PUBLIC,
        lat: float | None = None,
        lon: float | None = None,
        description: str = "Sampah menumpuk di depan pasar sudah tiga hari",
    ) -> str:
        async with self.db.transaction() as session:
            if self.citizen_id is None:
                person = Citizen(
                    channel="whatsapp",
                    external_id=CITIZEN_PHONE,
                    chat_id=CITIZEN_PHONE,
                    display_name=CITIZEN_NAME,
                    created_at=at,
                    last_seen_at=at,
                )
                session.add(person)
                await session.flush()
                self.citizen_id = person.id
            citizen = await session.get(Citizen, self.citizen_id)
            assert citizen is not None
            draft = Draft(
                category=category,
                description=description,
                address=ADDRESS,
                latitude=lat,
                longitude=lon,
                identity=identity,
            )
            route = Route(unit=unit or self.city.categories[category].unit, area=area, reason="category")
            ticket = await submit(
                session=session,
                citizen=citizen,
                draft=draft,
                city=self.city,
                now=at,
                route=route,
                calendars=self.calendars,
            )
            return ticket.reference

    async def act(
        self,
        reference: str,
        action: Action,
        at: datetime,
        note: str | None = None,
        to_unit: str | None = None,
    ) -> None:
        note = note or ("Sudah ditangani" if RULES[action].note_required else None)
        async with self.db.transaction() as session:
            ticket = (await session.exec(select(Ticket).where(Ticket.reference == reference))).one()
            actor = Actor.citizen(ticket.citizen_id) if action in CITIZEN_ACTIONS else ADMIN
            await apply(
                session=session,
                ticket=ticket,
                action=action,
                actor=actor,
                city=self.city,
                calendars=self.calendars,
                now=at,
                note=note,
                to_unit=to_unit,
            )

    async def rate(self, reference: str, scores: tuple[int, int, int, int], at: datetime) -> None:
        async with self.db.transaction() as session:
            ticket = (await session.exec(select(Ticket).where(Ticket.reference == reference))).one()
            assert ticket.id is not None and ticket.resolved_at is not None
            session.add(
                Survey(
                    ticket_id=ticket.id,
                    citizen_id=ticket.citizen_id,
                    unit=ticket.unit,
                    category=ticket.category,
                    status=SurveyStatus.DONE,
                    resolved_at=ticket.resolved_at,
                    send_at=at,
                    fixed=True,
                    fixed_at=at,
                    ratings=dict(zip(self.city.surveys.rated, scores, strict=True)),
                    rated_at=at,
                    finished_at=at,
                    comment=f"Terima kasih, saya {CITIZEN_NAME}",
                )
            )

    async def figures(self, **selections: object) -> Figures:
        period = Period.parse(str(selections.pop("period", "2026-11")), self.city.city.timezone)
        now = selections.pop("now", NOW)
        assert isinstance(now, datetime)
        async with self.db.sessions() as session:
            return await quality_figures(
                session=session,
                city=self.city,
                calendars=self.calendars,
                filter=Filter.of(period, **selections),
                now=now,
            )


@pytest.fixture
def office(db: Database, city: CityConfig) -> Office:
    return Office(db, city)


async def november(office: Office) -> dict[str, str]:
    """The seven tickets of the module's table."""
    A = Action
    t = {}
    t["T1"] = await office.file(wib(11, 20, 15), lat=-6.2000, lon=106.8166, area="kota_barat")
    await office.act(t["T1"], A.ACCEPT, wib(11, 23, 9))
    await office.act(t["T1"], A.RESOLVE, wib(11, 24, 10))

    t["T2"] = await office.file(wib(11, 2, 8), lat=-6.2001, lon=106.8167, area="kota_barat")
    await office.act(t["T2"], A.ACCEPT, wib(11, 4, 8))
    await office.act(t["T2"], A.ASK, wib(11, 4, 10), note="Di sebelah mana tepatnya?")
    await office.act(t["T2"], A.ANSWER, wib(11, 16, 10), note="Depan gerbang pasar")
    await office.act(t["T2"], A.RESOLVE, wib(11, 16, 12))
    await office.act(t["T2"], A.REOPEN, wib(11, 17, 9))
    await office.act(t["T2"], A.ACCEPT, wib(11, 17, 10))
    await office.act(t["T2"], A.RESOLVE, wib(11, 18, 10))

    t["T3"] = await office.file(wib(11, 3, 9), "jalan", lat=-6.30, lon=106.90, area="kota_timur")
    t["T4"] = await office.file(wib(11, 30, 15), area="pesisir")

    t["T5"] = await office.file(wib(10, 26, 9), area="kota_barat")
    await office.act(t["T5"], A.ACCEPT, wib(10, 26, 10))
    await office.act(t["T5"], A.RESOLVE, wib(11, 2, 9))

    t["T6"] = await office.file(
        wib(11, 11, 10), "pungli", identity=Identity.CONFIDENTIAL, description=SECRET, lat=-6.25, lon=106.85
    )
    await office.act(t["T6"], A.ACCEPT, wib(11, 11, 11))

    t["T7"] = await office.file(wib(11, 14, 22), "bencana", lat=-6.2002, lon=106.8165)
    await office.act(t["T7"], A.ACCEPT, wib(11, 14, 22, 30))
    await office.act(t["T7"], A.RESOLVE, wib(11, 15, 20))
    return t


# --- the totals -------------------------------------------------------------------------------------


async def test_the_totals_of_the_hand_worked_month(office: Office) -> None:
    await november(office)
    figures = await office.figures()

    assert figures.received == 6  # T5 was filed in October
    assert dict(figures.backlog_by_age) == {
        "lt1d": 1,  # T4, 18 hours old
        "1to3d": 0,
        "3to7d": 0,
        "7to30d": 2,  # T3 (28 days), T6 (20 days)
        "gt30d": 0,
        "total": 3,
    }
    # first accepted in November: T7 0.5, T6 1, T1 3, T2 17 working hours
    assert figures.response_hours.count == 4
    assert figures.response_hours.median == pytest.approx(2.0)
    assert figures.response_hours.p90 == pytest.approx(3 + 0.7 * 14)
    # resolved in November: T1 12.5, T7 22, T5 43, T2 105 (from filing, across its reopening)
    assert figures.total.resolved == 4
    assert figures.resolution_hours.count == 4
    assert figures.resolution_hours.median == pytest.approx(32.5)
    assert figures.resolution_hours.p90 == pytest.approx(43 + 0.7 * 62)
    # response decided in November: T1, T6, T7 met; T2 (accepted late), T3 (never) missed; T4 not yet
    assert (figures.response_sla.count, figures.response_sla.of) == (3, 5)
    # resolution decided in November: T1, T7, T2 (each clock within 40 h) met; T6 ran out on the 24th;
    # T5 ran out on 30 October (counted there, not here)
    assert (figures.resolution_sla.count, figures.resolution_sla.of) == (3, 4)
    assert figures.resolution_sla.share == pytest.approx(0.75)
    assert (figures.reopened.count, figures.reopened.of) == (1, 4)  # T2


async def test_working_hours_skip_the_weekend_the_night_and_holidays(office: Office) -> None:
    friday = await office.file(wib(11, 20, 15))  # Friday 15:00, accepted Monday 09:00
    await office.act(friday, Action.ACCEPT, wib(11, 23, 9))
    night = await office.file(wib(11, 24, 18))  # Tuesday 18:00, accepted Wednesday 08:00
    await office.act(night, Action.ACCEPT, wib(11, 25, 8))
    figures = await office.figures()
    # 15:00–16:30 on Friday and 07:30–09:00 on Monday; 07:30–08:00 on Wednesday
    assert [row.figures.response_hours.median for row in figures.rows_of("unit")] == [pytest.approx(1.75)]
    assert figures.response_hours.count == 2
    assert (figures.response_hours.median, figures.response_hours.p90) == (
        pytest.approx(1.75),
        pytest.approx(0.5 + 0.9 * 2.5),
    )

    christmas = await office.file(wib(12, 23, 15))  # Wednesday; the 24th is off, the 25th Christmas
    await office.act(christmas, Action.ACCEPT, wib(12, 28, 8, 30))
    storm = await office.file(wib(12, 23, 15), "bencana")  # a 24/7 category: clock hours
    await office.act(storm, Action.ACCEPT, wib(12, 28, 8, 30))
    december = await office.figures(period="2026-12", now=wib(12, 31, 12))
    hours = {row.key: row.figures.response_hours.median for row in december.rows_of("category")}
    assert hours == {"sampah": pytest.approx(2.0), "bencana": pytest.approx(113.5)}


async def test_a_transfer_restarts_the_response_clock_but_not_the_citizens_wait(office: Office) -> None:
    # filed Monday 09:00 to the triage desk, transferred Tuesday 10:00 (past its 8 h), accepted 11:00
    reference = await office.file(wib(11, 9, 9), "lainnya")
    await office.act(reference, Action.TRANSFER, wib(11, 10, 10), to_unit="dlh")
    await office.act(reference, Action.ACCEPT, wib(11, 10, 11))
    # filed Monday 09:00, transferred 10:00 (in time), accepted Tuesday 11:00: 9.5 h from the transfer
    late = await office.file(wib(11, 9, 9), "lainnya")
    await office.act(late, Action.TRANSFER, wib(11, 9, 10), to_unit="dlh")
    await office.act(late, Action.ACCEPT, wib(11, 10, 11))
    # filed Monday 09:00, transferred 10:00, accepted 12:00: met
    quick = await office.file(wib(11, 9, 9), "lainnya")
    await office.act(quick, Action.TRANSFER, wib(11, 9, 10), to_unit="dlh")
    await office.act(quick, Action.ACCEPT, wib(11, 9, 12))
    figures = await office.figures()
    [unit] = figures.rows_of("unit")
    assert unit.key == "dlh"  # the unit that holds them now
    assert (figures.response_sla.count, figures.response_sla.of) == (1, 3)
    # the citizen's wait is from filing: 7 + 3.5, 7 + 3.5, 3 working hours
    assert figures.response_hours.median == pytest.approx(10.5)


async def test_the_trend_adds_up_to_the_totals(office: Office) -> None:
    await november(office)
    figures = await office.figures()
    assert figures.granularity == "day"
    assert len(figures.trend) == 30
    assert figures.trend[0].label == "2026-11-01" and figures.trend[-1].label == "2026-11-30"
    assert sum(p.received for p in figures.trend) == figures.received
    assert sum(p.resolved for p in figures.trend) == figures.total.resolved
    assert sum(p.response_sla.of for p in figures.trend) == figures.response_sla.of
    assert sum(p.resolution_sla.count for p in figures.trend) == figures.resolution_sla.count
    by_day = {p.label: p for p in figures.trend}
    assert by_day["2026-11-24"].resolved == 1
    assert by_day["2026-11-24"].median_resolution_hours == pytest.approx(12.5)  # T1
    assert (by_day["2026-11-24"].resolution_sla.count, by_day["2026-11-24"].resolution_sla.of) == (
        1,
        2,
    )  # T1, T6
    assert by_day["2026-11-02"].response_sla.of == 1 and by_day["2026-11-02"].response_sla.count == 0  # T2


def test_trend_steps_by_day_week_and_month(city: CityConfig) -> None:
    zone = city.city.timezone
    quarter = steps(Filter.of(Period.parse("2026-Q4", zone)), zone)
    assert quarter[0][0] == "2026-W40" and quarter[-1][0] == "2026-W53"
    assert quarter[0][1] == wib(10, 1, 0) and quarter[0][2] == wib(10, 5, 0)  # Thursday to Monday
    assert all(end == following[1] for (_, _, end), following in pairwise(quarter))
    year = steps(Filter.of(Period.parse("2026", zone)), zone)
    assert [label for label, _, _ in year] == [f"2026-{m:02d}" for m in range(1, 13)]
    assert year[-1][2] == wib(12, 31, 0) + timedelta(days=1)


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([float(v) for v in range(1, 11)], 0.9) == pytest.approx(9.1)


# --- satisfaction, rows and scoping -------------------------------------------------------------


async def test_satisfaction_is_the_skm_of_workflows_satisfaction(office: Office, db: Database) -> None:
    t = await november(office)
    await office.rate(t["T1"], (4, 3, 4, 3), wib(11, 25, 10))
    await office.rate(t["T2"], (3, 3, 4, 2), wib(11, 19, 10))
    await office.rate(t["T7"], (2, 2, 2, 2), wib(11, 16, 10))
    await office.rate(t["T5"], (1, 1, 1, 1), wib(10, 30, 10))  # answered in October
    period = Period.parse("2026-11", office.city.city.timezone)
    async with db.sessions() as session:
        report = await satisfaction_report(session=session, city=office.city, period=period)
    figures = await office.figures()
    assert figures.satisfaction.responses == report.total.responses == 3
    assert figures.satisfaction.index == report.total.index
    assert figures.satisfaction.grade == report.total.grade
    dlh = next(r for r in report.rows if (r.scope, r.key) == ("unit", "dlh"))
    scoped = await office.figures(units=frozenset({"dlh"}))
    assert (scoped.satisfaction.index, scoped.satisfaction.grade, scoped.satisfaction.responses) == (
        dlh.index,
        dlh.grade,
        2,
    )
    [row] = [r for r in figures.rows_of("area") if r.key == "kota_barat"]
    assert row.figures.satisfaction.index == dlh.index  # T1 and T2 are both in Kota Barat


async def test_rows_per_unit_category_and_area(office: Office) -> None:
    await november(office)
    figures = await office.figures()
    units = {row.key: row.figures for row in figures.rows_of("unit")}
    assert list(units) == ["dlh", "dpupr", "bpbd", "inspektorat"]  # the city's order
    assert (units["dlh"].received, units["dlh"].resolved, units["dlh"].backlog["total"]) == (3, 3, 1)
    assert (units["dlh"].response_sla.count, units["dlh"].response_sla.of) == (1, 2)
    assert (units["inspektorat"].resolution_sla.count, units["inspektorat"].resolution_sla.of) == (0, 1)
    areas = {row.key: row.figures.received for row in figures.rows_of("area")}
    assert areas == {"kota_barat": 2, "kota_timur": 1, "pesisir": 1, "": 2}
    assert sum(row.figures.received for row in figures.rows_of("category")) == figures.received


async def test_a_unit_filter_never_shows_another_units_tickets(office: Office, db: Database) -> None:
    t = await november(office)
    figures = await office.figures(units=frozenset({"dpupr"}))
    assert figures.received == 1
    assert figures.backlog_by_age["total"] == 1
    assert figures.total.resolved == 0 and figures.response_hours.count == 0
    assert {row.key for row in figures.rows_of("unit")} == {"dpupr"}
    assert {row.key for row in figures.rows_of("category")} == {"jalan"}
    assert [p.reference for p in figures.points] == [t["T3"]]
    assert sum(spot.count for spot in figures.hot_spots) == 1
    # a unit chosen outside the units one may see selects nothing
    nothing = await office.figures(units=frozenset({"dpupr"}), unit="dlh")
    assert nothing.received == 0 and nothing.rows == () and nothing.points == ()
    async with db.sessions() as session:
        assert await ticket_timeline(session=session, reference=t["T1"], units=frozenset({"dpupr"})) is None
        assert await ticket_timeline(session=session, reference=t["T3"], units=frozenset({"dpupr"}))
        rows = [
            row
            async for row in ticket_rows(
                session=session,
                city=office.city,
                calendars=office.calendars,
                filter=Filter.of(Period.parse("2026-11"), units=frozenset({"dpupr"})),
                now=NOW,
            )
        ]
    assert [row.reference for row in rows] == [t["T3"]]


async def test_category_and_area_selections(office: Office) -> None:
    await november(office)
    rubbish = await office.figures(category="sampah")
    assert rubbish.received == 3 and {row.key for row in rubbish.rows_of("category")} == {"sampah"}
    west = await office.figures(area="kota_barat")
    assert west.received == 2 and west.total.resolved == 3  # T1, T2, and T5 from October


# --- the map --------------------------------------------------------------------------------------


def fact(number: int, lat: float, lon: float, category: str = "sampah", **extra: object) -> TicketFact:
    values: dict[str, object] = {
        "id": number,
        "reference": f"ADU-{number:04d}",
        "category": category,
        "unit": "dlh",
        "area": None,
        "status": "submitted",
        "identity": "public",
        "created_at": wib(11, 2, 9) + timedelta(hours=number),
        "accepted_at": None,
        "resolved_at": None,
        "closed_at": None,
        "response_target_seconds": 8 * 3600,
        "sla_calendar": "working",
        "priority": 0,
        "reopen_count": 0,
        "latitude": lat,
        "longitude": lon,
    }
    values.update(extra)
    return TicketFact(**values)  # type: ignore[arg-type]


def test_hot_spots_count_nearby_tickets_in_one_cell(city: CityConfig) -> None:
    _, _, lat, lon = cell_of(-6.2, 106.8166)  # a cell's centre, and points within 50 m of it
    metre = 1 / 111_320
    near = [
        fact(1, lat + 30 * metre, lon),
        fact(2, lat - 40 * metre, lon + 20 * metre),
        fact(3, lat, lon - 45 * metre, "jalan"),
    ]
    far = [fact(4, lat + 2000 * metre, lon, "jalan")]
    spots = hot_spots([*near, *far], city)
    assert [(s.count, s.top_category) for s in spots] == [(3, "sampah"), (1, "jalan")]
    assert (spots[0].latitude, spots[0].longitude) == (pytest.approx(lat), pytest.approx(lon))
    # about 300 m: a point 400 m north is in another cell, one 100 m away in the same
    assert cell_of(lat + 400 * metre, lon)[:2] != cell_of(lat, lon)[:2]
    assert cell_of(lat + 100 * metre, lon)[:2] == cell_of(lat, lon)[:2]


async def test_map_points_carry_no_citizen_data_and_no_confidential_ticket(office: Office) -> None:
    t = await november(office)
    figures = await office.figures()
    assert {p.reference for p in figures.points} == {t["T1"], t["T2"], t["T3"], t["T7"]}  # T6: confidential
    assert figures.located == 5
    assert sum(spot.count for spot in figures.hot_spots) == 5
    # T1, T2 and T7 lie within 30 m of each other
    assert (figures.hot_spots[0].count, figures.hot_spots[0].top_category) == (3, "sampah")
    text = json.dumps(as_dict(figures), ensure_ascii=False)
    for secret in (SECRET, CITIZEN_NAME, CITIZEN_PHONE, ADDRESS, "Sampah menumpuk"):
        assert secret not in text
    assert set(as_dict(figures.points[0])) == {"reference", "category", "status", "latitude", "longitude"}


async def test_the_newest_points_are_kept_when_there_are_too_many() -> None:
    from workflows.quality import map_points

    many = [fact(n, -6.2, 106.8) for n in range(1, 8)]
    kept = map_points(many, limit=3)
    assert [p.reference for p in kept] == ["ADU-0007", "ADU-0006", "ADU-0005"]
    assert map_points([replace(many[0], identity="confidential")]) == ()


# --- drill-down and export ------------------------------------------------------------------------


async def test_the_timeline_hides_a_confidential_tickets_content(office: Office, db: Database) -> None:
    t = await november(office)
    await office.act(t["T6"], Action.ASK, wib(11, 12, 9), note="Siapa nama petugas yang meminta uang?")
    await office.act(t["T6"], Action.ANSWER, wib(11, 12, 10), note=SECRET)
    async with db.sessions() as session:
        secret = await ticket_timeline(session=session, reference=t["T6"], units=None)
        public = await ticket_timeline(session=session, reference=t["T2"], units=None)
    assert secret is not None and public is not None
    assert secret.content_hidden and secret.description is None
    assert [e.action for e in secret.events] == ["submitted", "accepted", "question", "answered"]
    assert all(e.note is None for e in secret.events)
    assert [e.note_hidden for e in secret.events] == [False, False, True, True]
    assert SECRET not in repr(secret) and "Siapa nama" not in repr(secret)
    assert secret.clock == "resolution" and secret.paused is False and secret.due_at is not None

    assert (
        not public.content_hidden and public.description == "Sampah menumpuk di depan pasar sudah tiga hari"
    )
    assert [(e.action, e.from_status, e.to_status) for e in public.events][:3] == [
        ("submitted", None, "submitted"),
        ("accepted", "submitted", "in_progress"),
        ("question", "in_progress", "waiting_citizen"),
    ]
    assert public.events[3].note == "Depan gerbang pasar"  # the citizen's answer, not confidential
    assert public.events[3].actor_kind == "citizen" and public.events[3].actor_id is None
    assert all(e.actor_id is None for e in public.events if e.actor_kind == "citizen")
    for text in (CITIZEN_NAME, CITIZEN_PHONE, ADDRESS):
        assert text not in repr(public)


async def test_a_transfer_shows_its_units_in_the_timeline(office: Office, db: Database) -> None:
    reference = await office.file(wib(11, 9, 9), "lainnya")
    await office.act(reference, Action.TRANSFER, wib(11, 9, 10), to_unit="dlh", note="Urusan sampah")
    async with db.sessions() as session:
        timeline = await ticket_timeline(session=session, reference=reference, units=frozenset({"dlh"}))
        missing = await ticket_timeline(session=session, reference="ADU-XXXX-00", units=None)
    assert missing is None
    assert timeline is not None and timeline.unit == "dlh"
    moved = timeline.events[-1]
    assert (moved.action, moved.from_unit, moved.to_unit, moved.note) == (
        "transferred",
        "triase",
        "dlh",
        "Urusan sampah",
    )


async def test_csv_rows_carry_no_personal_data(office: Office, db: Database) -> None:
    t = await november(office)
    await office.rate(t["T1"], (4, 4, 4, 4), wib(11, 25, 10))
    async with db.sessions() as session:
        rows = [
            row
            async for row in ticket_rows(
                session=session,
                city=office.city,
                calendars=office.calendars,
                filter=Filter.of(Period.parse("2026-11")),
                now=NOW,
                batch=2,  # several pages
            )
        ]
    # in filing order (by id: T1 was entered first although filed on the 20th)
    assert [row.reference for row in rows] == [t[name] for name in ("T1", "T2", "T3", "T4", "T6", "T7")]
    by_reference = {row.reference: row for row in rows}
    first = by_reference[t["T1"]]
    assert (first.response_hours, first.resolution_hours) == (pytest.approx(3.0), pytest.approx(12.5))
    assert (first.response_met, first.resolution_met, first.satisfaction) == (True, True, 100.0)
    assert by_reference[t["T2"]].reopen_count == 1 and by_reference[t["T2"]].response_met is False
    assert by_reference[t["T4"]].response_met is None  # still within its deadline
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TICKET_ROW_COLUMNS)
    writer.writerows(row.cells("Asia/Jakarta") for row in rows)
    text = out.getvalue()
    assert f"{t['T1']},2026-11-20T15:00+07:00,sampah,dlh,kota_barat,resolved," in text
    assert ",3.00,12.50,yes,yes,0,100.00" in text
    for secret in (SECRET, CITIZEN_NAME, CITIZEN_PHONE, ADDRESS, "Sampah menumpuk"):
        assert secret not in text
    async with db.sessions() as session:
        limited = [
            row
            async for row in ticket_rows(
                session=session,
                city=office.city,
                calendars=office.calendars,
                filter=Filter.of(Period.parse("2026-11")),
                now=NOW,
                limit=4,
                batch=3,
            )
        ]
    assert [r.reference for r in limited] == [r.reference for r in rows[:4]]


def test_a_filter_needs_an_aware_range() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Filter(start=datetime(2026, 11, 1), end=datetime(2026, 12, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="after its start"):
        Filter(start=NOW, end=NOW)


# --- the command ----------------------------------------------------------------------------------


async def _seed_cli(db_url: str, city: CityConfig) -> dict[str, str]:
    database = Database(db_url)
    await database.migrate()
    try:
        return await november(Office(database, city))
    finally:
        await database.dispose()


def test_report_quality_command(
    cli_run: Invoke, cli_db_url: str, city: CityConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    import asyncio

    clock_file = f"{tmp_path}/clock"
    with open(clock_file, "w") as out:
        out.write(NOW.isoformat())
    monkeypatch.setenv("CIVICBOT_CLOCK_FILE", clock_file)
    asyncio.run(_seed_cli(cli_db_url, city))

    code, output = cli_run("report", "quality", "--period", "2026-11", "--format", "json")
    assert code == 0, output
    document = json.loads(output)
    assert document["total"]["received"] == 6
    assert document["total"]["response_sla"] == {"count": 3, "of": 5, "share": 0.6}

    code, output = cli_run("report", "quality", "--period", "2026-11", "--unit", "dlh", "--format", "csv")
    assert code == 0, output
    table = list(csv.DictReader(io.StringIO(output)))
    assert {row["key"] for row in table if row["scope"] == "unit"} == {"dlh"}
    assert next(row for row in table if row["scope"] == "total")["received"] == "3"

    code, output = cli_run("report", "quality", "--period", "2026-11", "--lang", "en")
    assert code == 0, output
    assert "Service quality" in output and "Environment Agency" in output
    code, output = cli_run("report", "quality", "--period", "2026-11")
    assert code == 0 and "Kualitas layanan" in output

    code, output = cli_run("report", "quality", "--period", "November")
    assert code == 2 and "YYYY-MM" in output
    code, output = cli_run("report", "quality", "--period", "2026-11", "--unit", "nope")
    assert code == 2 and "not a unit" in output
