"""Property: whatever staff, citizens, the system and the clock do to a ticket, it stays sound.

A hypothesis state machine files one ticket (a working-time category with a proof photo, or a
24/7 one; public, anonymous or confidential; with or without a citizen who joined it; the DLH group
linked or not; one or two admins), then mixes actions (any action by anyone, with or without a
note, a proof photo, a transfer target; or a step a real user would take, sometimes with one slip)
with time passing and SLA sweeps. After every step the database is compared with a small model
written from the table in workflows/lifecycle.py, the clock rules of workflows/sla.py and the
README (who is told what), never by asking lifecycle.check:

* the ticket's status, unit and holder are the model's; an action is accepted iff the model allows
  it (only the reporter speaks for the ticket: a citizen who joined is told, not asked), and a
  refusal leaves no trace although the caller commits afterwards (as the handlers do);
* the audit trail is a chain of statuses from "submitted", one event per accepted action;
* the SLA columns match the model's clock (deadline, pause, next alert, stages done);
* every step queued exactly the messages it should (counted by outbox role and chat), and each
  alert stage happened at most once per clock run.

Hypothesis drives a synchronous test; each example has its own event loop and its own SQLite file,
copied from a database migrated once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import sqlite3
from collections import Counter
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from handlers import alerts, ticket_actions
from handlers.context import Deps, Desk, Mail
from handlers.i18n import Translator
from handlers.messages import MediaRef
from handlers.officer import refusal
from handlers.pipeline import queue_mail
from models import Citizen, Identity, Role, Ticket, TicketFollower, TicketStatus
from models.db import Database
from tests.conftest import MONDAY_MORNING
from workflows import staff as staff_rules
from workflows import tickets
from workflows.calendar import WorkCalendar
from workflows.city_config import CityConfig
from workflows.classify import Classifier
from workflows.clock import FrozenClock
from workflows.drafts import Draft, DraftAttachment
from workflows.lifecycle import RULES, Action, Actor, Refused

S = TicketStatus
T = TypeVar("T")

# --- the specification, transcribed from the table in workflows/lifecycle.py -----------------------


@dataclass(frozen=True)
class Spec:
    sources: frozenset[str]
    target: str
    by: frozenset[str]
    note: bool = False


_WORKING = frozenset({S.SUBMITTED, S.IN_PROGRESS, S.WAITING_CITIZEN, S.REOPENED})
_STAFF, _CITIZEN = frozenset({"staff"}), frozenset({"citizen"})
SPEC: dict[Action, Spec] = {
    Action.ACCEPT: Spec(frozenset({S.SUBMITTED, S.REOPENED}), S.IN_PROGRESS, _STAFF),
    Action.ASK: Spec(frozenset({S.IN_PROGRESS}), S.WAITING_CITIZEN, _STAFF, note=True),
    Action.ANSWER: Spec(frozenset({S.WAITING_CITIZEN}), S.IN_PROGRESS, _CITIZEN, note=True),
    Action.TRANSFER: Spec(_WORKING, S.SUBMITTED, _STAFF, note=True),
    Action.RESOLVE: Spec(frozenset({S.IN_PROGRESS, S.WAITING_CITIZEN}), S.RESOLVED, _STAFF, note=True),
    Action.REJECT: Spec(_WORKING, S.REJECTED, _STAFF, note=True),
    Action.REOPEN: Spec(frozenset({S.RESOLVED}), S.REOPENED, frozenset({"citizen", "system"})),
    Action.CLOSE: Spec(frozenset({S.RESOLVED}), S.CLOSED, frozenset({"citizen", "system"})),
}
EVENT_NAME = {
    Action.ACCEPT: "accepted",
    Action.ASK: "question",
    Action.ANSWER: "answered",
    Action.TRANSFER: "transferred",
    Action.RESOLVE: "resolved",
    Action.REJECT: "rejected",
    Action.REOPEN: "reopened",
    Action.CLOSE: "closed",
}
CLOCK_OF: dict[str, str | None] = {
    S.SUBMITTED: "response",
    S.REOPENED: "response",
    S.IN_PROGRESS: "resolution",
    S.WAITING_CITIZEN: "resolution",
    S.RESOLVED: None,
    S.CLOSED: None,
    S.REJECTED: None,
}
CLOCK_STARTS = {
    "submitted": "response",
    "transferred": "response",
    "reopened": "response",
    "accepted": "resolution",
}
CLOCK_STOPS = {"resolved", "rejected", "closed"}


def test_the_model_follows_the_rules_table() -> None:
    """The model below is the documented table; if RULES changes, so must this test."""
    assert set(RULES) == set(SPEC)
    for action, rule_ in RULES.items():
        spec = SPEC[action]
        assert (set(rule_.sources), rule_.target, set(rule_.by), rule_.note_required) == (
            set(spec.sources),
            spec.target,
            set(spec.by),
            spec.note,
        ), action


# --- the cast --------------------------------------------------------------------------------------

GROUP = "-100700"  # the DLH unit's group (when linked); other units have none: their cards go to the admins
ADMIN, SECOND_ADMIN = "9001", "9002"
PAUSED_UNIT = "dishub"


@dataclass(frozen=True)
class Person:
    name: str
    kind: str  # staff, citizen, system
    user_id: str | None = None  # also their private chat
    role: Role | None = None
    unit: str | None = None


PEOPLE = {
    p.name: p
    for p in (
        Person("officer_dlh", "staff", "7001", Role.OFFICER, "dlh"),
        Person("head_dlh", "staff", "7002", Role.SUPERVISOR, "dlh"),
        Person("officer_dpupr", "staff", "8001", Role.OFFICER, "dpupr"),
        Person("officer_bpbd", "staff", "8002", Role.OFFICER, "bpbd"),
        Person("admin", "staff", ADMIN, Role.ADMIN),
        Person("reporter", "citizen", "1001"),
        Person("follower", "citizen", "1003"),  # joined the ticket ("me too") in some examples
        Person("other_citizen", "citizen", "1002"),
        Person("system", "system"),
    )
}
SUPERVISORS = {"dlh": ["7002"]}  # units with a supervisor; elsewhere the first escalation goes to the admins
TARGETS = ["dlh", "dpupr", "bpbd", "triase", PAUSED_UNIT, "atlantis", None]
NOTES = [None, "", "   ", "Sudah dicek ke lokasi", "  perlu foto dari dekat \n"]
DELAYS = st.one_of(
    st.integers(0, 900),
    st.integers(900, 2 * 3600),
    st.integers(2 * 3600, 24 * 3600),
    st.integers(24 * 3600, 5 * 24 * 3600),
)


@dataclass
class Env:
    """What every example shares: the city, the texts, a migrated database to copy."""

    city: CityConfig
    texts: Translator
    classifier: Classifier
    template: Path
    workdir: Path
    actors: dict[str, Actor]
    staff_ids: dict[str, int]
    counter: Any = field(default_factory=itertools.count)

    def fresh_database(self) -> Path:
        path = self.workdir / f"example-{next(self.counter)}.db"
        shutil.copyfile(self.template, path)
        return path


def moment(stored: str | None) -> datetime | None:
    """A datetime column as SQLite holds it (UTC, without its zone)."""
    return None if stored is None else datetime.fromisoformat(stored).replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoredTicket:
    raw: tuple[Any, ...]  # every column as stored: a refusal must leave them all as they were
    status: str
    unit: str
    holder_staff_id: int | None
    clock: str | None
    clock_target_seconds: int | None
    due_at: datetime | None
    paused_at: datetime | None
    next_alert_at: datetime | None
    alert_stage: int

    @classmethod
    def of(cls, row: sqlite3.Row) -> StoredTicket:
        return cls(
            raw=tuple(row),
            status=row["status"],
            unit=row["unit"],
            holder_staff_id=row["holder_staff_id"],
            clock=row["clock"],
            clock_target_seconds=row["clock_target_seconds"],
            due_at=moment(row["due_at"]),
            paused_at=moment(row["paused_at"]),
            next_alert_at=moment(row["next_alert_at"]),
            alert_stage=row["alert_stage"],
        )


@dataclass(frozen=True)
class StoredEvent:
    id: int
    action: str
    from_status: str | None
    to_status: str | None
    actor_kind: str
    note: str | None
    public: bool
    details: dict[str, Any]


@dataclass(frozen=True)
class Row:
    """An outbox row, as far as counting goes."""

    id: int
    role: str
    chat_id: str
    ticket_id: int | None


@dataclass
class Snapshot:
    ticket: StoredTicket
    events: list[StoredEvent]
    outbox: list[Row]
    attachments: int

    @property
    def last_outbox_id(self) -> int:
        return self.outbox[-1].id if self.outbox else 0

    def queued_since(self, before: Snapshot) -> Counter[tuple[str, str]]:
        return Counter((r.role, r.chat_id) for r in self.outbox if r.id > before.last_outbox_id)


@dataclass
class Model:
    """What the ticket should look like, from the specification alone."""

    category: str
    identity: str
    photos: int
    with_follower: bool
    linked: bool  # the DLH group is linked
    admins: list[str]
    calendar: WorkCalendar
    status: str = S.SUBMITTED
    unit: str = ""
    holder: str | None = None  # a person's name
    clock: str | None = None
    target: int | None = None
    due: datetime | None = None
    paused_at: datetime | None = None
    stage: int = 0
    run: int = 0  # clock runs started
    accepted: int = 0
    officer_photos: int = 0
    reopens: int = 0
    mail: Counter[tuple[str, str]] = field(default_factory=Counter)


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self, env: Env) -> None:
        super().__init__()
        self.env = env
        self.city = env.city
        self.runner = asyncio.Runner()
        self.path = env.fresh_database()
        self.clock = FrozenClock(MONDAY_MORNING)
        self.deps = Deps(city=env.city, texts=env.texts, clock=self.clock, classifier=env.classifier)
        self.db: Database | None = None
        self.reader: sqlite3.Connection | None = None  # reads what is stored, past the ORM
        self.actors, self.staff_ids = env.actors, env.staff_ids
        self.ticket_id = 0
        self.model: Model | None = None
        self.state: Snapshot | None = None
        self.seen_stage: tuple[int, int] = (0, 0)  # (clock run, alert_stage) last seen
        self.stages = [(f, "remind", "group") for f in self.city.sla_alerts.reminders] + [
            (1 + e.after, "escalate", e.to)
            for e in sorted(self.city.sla_alerts.escalations, key=lambda e: e.after)
        ]
        self.photo_ids = itertools.count(1)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    def teardown(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.db is not None:
            self.run(self.db.dispose())
        self.runner.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    # --- setting the scene -------------------------------------------------------------------------

    @initialize(
        category=st.sampled_from(["sampah", "bencana"]),  # working time + proof photo; 24/7, no proof
        identity=st.sampled_from([i.value for i in Identity]),
        photos=st.integers(0, 2),
        with_follower=st.booleans(),
        languages=st.tuples(st.sampled_from(["id", "en"]), st.sampled_from(["id", "en"])),
        linked=st.booleans(),
        two_admins=st.booleans(),
    )
    def file_ticket(
        self,
        category: str,
        identity: str,
        photos: int,
        with_follower: bool,
        languages: tuple[str, str],
        linked: bool,
        two_admins: bool,
    ) -> None:
        policy = self.city.sla_for(category)
        calendar = (
            WorkCalendar.continuous()
            if policy.calendar == "continuous"
            else WorkCalendar(self.city.city.timezone, self.city.working_time)
        )
        admins = [ADMIN, SECOND_ADMIN] if two_admins else [ADMIN]
        model = Model(category, identity, photos, with_follower, linked, admins, calendar)
        model.unit = self.city.categories[category].unit
        self.model = model
        self.run(self._file_ticket(model, languages))
        self._start_clock("response")
        for chat in self._card_chats(model.unit):
            model.mail["card", chat] += 1
            if identity != Identity.CONFIDENTIAL:
                model.mail["location", chat] += 1
                model.mail["photo", chat] += photos
        self.reader = sqlite3.connect(self.path)
        self.reader.row_factory = sqlite3.Row
        self.state = self._read()
        self._check(self.state)

    async def _file_ticket(self, model: Model, languages: tuple[str, str]) -> None:
        """The people are in the template database; here the variations, and the ticket."""
        self.db = Database(f"sqlite:///{self.path}")
        now = self.clock.now()
        async with self.db.transaction() as session:
            if SECOND_ADMIN in model.admins:
                await staff_rules.ensure_admins(
                    session=session, channel="telegram", user_ids=[SECOND_ADMIN], now=now
                )
            if model.linked:
                await staff_rules.link_group(
                    session=session,
                    unit="dlh",
                    channel="telegram",
                    chat_id=GROUP,
                    title="DLH",
                    by=ADMIN,
                    now=now,
                )
            citizens: dict[str, Citizen] = {}
            for name, language in (("reporter", languages[0]), ("follower", languages[1])):
                citizen = await session.get(Citizen, self.actors[name].id)
                assert citizen is not None
                citizen.language = language
                citizens[name] = citizen
            draft = Draft(
                category=model.category,
                description="Sampah menumpuk tiga hari di depan TPS, pohon tumbang menutup jalan",
                latitude=-6.2001,
                longitude=106.8167,
                identity=Identity(model.identity),
                attachments=[
                    DraftAttachment(file_id=f"photo-{i}", unique_id=f"u-{i}") for i in range(model.photos)
                ],
            )
            ticket = await tickets.submit(
                session=session,
                citizen=citizens["reporter"],
                draft=draft,
                city=self.city,
                now=now,
                calendars=self.deps.calendars,
            )
            assert ticket.id is not None
            self.ticket_id = ticket.id
            if model.with_follower:
                assert citizens["follower"].id is not None
                session.add(
                    TicketFollower(ticket_id=ticket.id, citizen_id=citizens["follower"].id, joined_at=now)
                )
                await session.flush()
            desk = Desk(session=session, deps=self.deps, mail=Mail(), now=now)
            await ticket_actions.new_ticket(desk, ticket)
            queue_mail(session, desk.mail, now)

    # --- the model's clock (workflows/sla.py, in the ticket's calendar) -----------------------------

    def _start_clock(self, clock: str) -> None:
        m = self._m()
        target = self.city.sla_for(m.category).target(clock, 0)
        m.clock, m.target = clock, int(target.total_seconds())
        m.due = m.calendar.add(self.clock.now(), target.total_seconds())
        m.paused_at, m.stage, m.run = None, 0, m.run + 1

    def _stop_clock(self) -> None:
        m = self._m()
        m.clock = m.target = m.due = m.paused_at = None

    def _stage_time(self, index: int) -> datetime:
        m = self._m()
        assert m.due is not None and m.target is not None
        return m.calendar.add(m.due, (self.stages[index][0] - 1) * m.target)

    def _next_alert(self) -> datetime | None:
        m = self._m()
        if m.clock is None or m.paused_at is not None or m.stage >= len(self.stages):
            return None
        return self._stage_time(m.stage)

    # --- who gets what ------------------------------------------------------------------------------

    def _m(self) -> Model:
        assert self.model is not None
        return self.model

    def _card_chats(self, unit: str) -> list[str]:
        m = self._m()
        return [GROUP] if unit == "dlh" and m.linked else m.admins

    def _citizen_chats(self) -> list[str]:
        return ["1001", "1003"] if self._m().with_follower else ["1001"]

    def _unit_thread(self) -> list[str]:
        """A citizen's words for the unit: the holder privately on a confidential ticket."""
        m = self._m()
        if m.identity == Identity.CONFIDENTIAL and m.holder is not None:
            return [self._chat(m.holder)]
        return self._card_chats(m.unit)

    @staticmethod
    def _chat(name: str) -> str:
        user_id = PEOPLE[name].user_id
        assert user_id is not None
        return user_id

    def _entitled(self, who: Person, action: Action) -> bool:
        """Who may take this action on the ticket as it is now (whatever its status)."""
        spec = SPEC[action]
        if who.kind not in spec.by:
            return False
        if who.kind == "staff":
            return who.role == Role.ADMIN or who.unit == self._m().unit
        return who.kind != "citizen" or who.name == "reporter"  # who joined follows; the reporter speaks

    def _allows(self, action: Action, who: Person, note: str | None, to_unit: str | None, proof: int) -> bool:
        m, spec = self._m(), SPEC[action]
        if not self._entitled(who, action) or m.status not in spec.sources:
            return False
        if spec.note and not (note and note.strip()):
            return False
        if action == Action.TRANSFER and (
            to_unit not in self.city.units or to_unit == m.unit or to_unit == PAUSED_UNIT
        ):
            return False
        return not (action == Action.RESOLVE and self.city.categories[m.category].proof_photo and not proof)

    def _apply(
        self, action: Action, who: Person, to_unit: str | None, proof: int
    ) -> Counter[tuple[str, str]]:
        """Move the model as the action should, and return the messages it should queue."""
        m = self._m()
        mail: Counter[tuple[str, str]] = Counter()
        from_unit = m.unit
        m.status = SPEC[action].target
        m.accepted += 1
        now = self.clock.now()
        if action == Action.ACCEPT:
            m.holder = who.name
            self._start_clock("resolution")
        elif action == Action.ASK:
            m.paused_at = now
        elif action == Action.ANSWER:
            assert m.due is not None and m.paused_at is not None
            left = m.calendar.between(m.paused_at, m.due)
            m.due, m.paused_at = m.calendar.add(now, left), None
        elif action == Action.TRANSFER:
            assert to_unit is not None
            m.unit, m.holder = to_unit, None
            self._start_clock("response")
        elif action == Action.REOPEN:
            self._start_clock("response")
        else:  # resolve, reject, close
            self._stop_clock()
        if action == Action.RESOLVE:
            m.officer_photos += proof

        if action == Action.TRANSFER:
            if from_unit == "dlh" and m.linked:
                mail["card", GROUP] += 1  # the old card says where it went
            for chat in self._card_chats(m.unit):
                mail["card", chat] += 1
                if m.identity != Identity.CONFIDENTIAL:
                    mail["location", chat] += 1
                    mail["photo", chat] += m.photos
        else:
            for chat in self._card_chats(m.unit):
                mail["card", chat] += 1  # edited in place
        citizens = self._citizen_chats()
        if action == Action.ACCEPT:
            mail.update(("notice", c) for c in citizens)
            if m.identity == Identity.CONFIDENTIAL:
                chat = self._chat(who.name)
                mail["details", chat] += 1
                mail["location", chat] += 1
                mail["photo", chat] += m.photos
        elif action == Action.ASK:
            mail["question", self._chat("reporter")] += 1  # the unit's questions: to the reporter only
        elif action == Action.ANSWER:
            mail.update(("thread", c) for c in self._unit_thread())
        elif action == Action.REOPEN:
            m.reopens += 1
            mail.update(("thread", c) for c in self._unit_thread())
            # everyone hears of it but the reporter who said "not fixed" (answered in their chat)
            mail.update(("notice", c) for c in citizens if not (who.name == "reporter" and c == "1001"))
            if m.reopens >= self.city.surveys.escalate_after_reopens:  # reopened too often
                mail.update(("alert", c) for c in SUPERVISORS.get(m.unit, m.admins))
        elif action == Action.CLOSE:
            mail.update(("notice", c) for c in citizens if not (who.name == "reporter" and c == "1001"))
        elif action == Action.RESOLVE:
            for chat in citizens:
                mail["notice", chat] += 1 + proof
        elif action in (Action.TRANSFER, Action.REJECT):
            mail.update(("notice", c) for c in citizens)
        m.mail.update(mail)
        return +mail

    # --- steps --------------------------------------------------------------------------------------

    @rule(
        action=st.sampled_from(list(Action)),
        who=st.sampled_from(sorted(PEOPLE)),
        note=st.sampled_from(NOTES),
        to_unit=st.sampled_from(TARGETS),
        proof=st.integers(0, 2),
    )
    def anything(self, action: Action, who: str, note: str | None, to_unit: str | None, proof: int) -> None:
        """Anyone tries anything (proof photos only come with resolving, as in the officers' dialog)."""
        self.act(action, PEOPLE[who], note, to_unit, proof if action == Action.RESOLVE else 0)

    @rule(data=st.data())
    def what_people_do(self, data: st.DataObject) -> None:
        """A step the rules allow now, by someone entitled to it; or, one time in three, that step
        with one slip that makes it wrong (a wrong state, a near-miss person, no note, no proof
        photo, a bad transfer target)."""
        m = self._m()
        allowed = [a for a, spec in SPEC.items() if m.status in spec.sources]
        slipping = data.draw(st.integers(0, 3), label="slipping") == 3  # 0, what it shrinks to: no slip
        if not allowed or (slipping and data.draw(st.booleans(), label="wrong state")):
            slip: str | None = "state"
            actions = [a for a in Action if a not in allowed]
        else:
            slip = None
            ending = data.draw(st.integers(0, 19), label="ending")  # mostly keep the ticket open
            ends = {Action.REJECT, Action.CLOSE} if ending < 15 else {Action.REJECT} if ending < 19 else set()
            actions = [a for a in allowed if a not in ends] or allowed
        action = data.draw(st.sampled_from(actions), label="action")
        spec = SPEC[action]
        if slipping and slip is None:
            slips = ["person"] + ["note"] * spec.note + ["unit"] * (action == Action.TRANSFER)
            if action == Action.RESOLVE and self.city.categories[m.category].proof_photo:
                slips.append("proof")
            slip = data.draw(st.sampled_from(slips), label="slip")
        entitled = [name for name, p in PEOPLE.items() if self._entitled(p, action)]
        if slip == "person":  # of the right kind, mostly (a follower, an officer of another unit)
            near = [n for n, p in PEOPLE.items() if n not in entitled and p.kind in spec.by]
            others = [n for n in PEOPLE if n not in entitled]
            near_miss = bool(near) and data.draw(st.booleans(), label="near miss")
            who = data.draw(st.sampled_from(near if near_miss else others), label="who")
        else:
            who = data.draw(st.sampled_from(entitled), label="who")
        note = "Mohon kirim foto dari sisi jalan" if spec.note else None
        units = [u for u in ("dlh", "dpupr", "bpbd", "triase") if u != m.unit]
        to_unit = data.draw(st.sampled_from(units), label="to_unit") if action == Action.TRANSFER else None
        proof = data.draw(st.integers(1, 2), label="proof") if action == Action.RESOLVE else 0
        if slip == "note":
            note = data.draw(st.sampled_from(["", " \n ", None]), label="no note")
        elif slip == "proof":
            proof = 0
        elif slip == "unit":
            to_unit = data.draw(st.sampled_from([m.unit, PAUSED_UNIT, "atlantis", None]), label="bad unit")
        self.act(action, PEOPLE[who], note, to_unit, proof)

    @rule(
        seconds=DELAYS,
        to_alert=st.booleans(),
        ahead=st.integers(0, 3),
        offset=st.one_of(st.just(0), st.integers(-120, 120)),
        sweep=st.booleans(),
    )
    def time_passes(self, seconds: int, to_alert: bool, ahead: int, offset: int, sweep: bool) -> None:
        """Time moves on by `seconds`, or to about when the model says an alert stage (the next one,
        or one further ahead) falls due; the scheduler sweeps, or was down meanwhile."""
        m = self._m()
        if to_alert and self._next_alert() is not None:
            moment = self._stage_time(min(m.stage + ahead, len(self.stages) - 1)) + timedelta(seconds=offset)
            self.clock.set(max(moment, self.clock.now()))
        else:
            self.clock.advance(timedelta(seconds=seconds))
        if sweep:
            self._sweep()
        self.state = self._read()
        self._check(self.state)

    def act(
        self, action: Action, who: Person, note: str | None, to_unit: str | None, proof: int
    ) -> str | None:
        """Try the action as a handler would; check the outcome against the model. The refusal, if any."""
        assert self.state is not None
        before = self.state
        allowed = self._allows(action, who, note, to_unit, proof)
        photos = tuple(
            MediaRef(kind="photo", file_id=f"proof-{n}", unique_id=f"proof-{n}")
            for n in itertools.islice(self.photo_ids, proof)
        )
        refused = self.run(self._perform(action, self.actors[who.name], note, to_unit, photos))
        after = self._read()
        step = f"{action} by {who.name} (note={note!r}, to_unit={to_unit!r}, proof={proof})"
        if refused is not None:
            assert not allowed, f"{step} was refused ({refused.reason}) but the rules allow it"
            assert refusal(self.deps.texts, "id", refused), refused.reason  # the refusal can be told
            assert after.ticket.raw == before.ticket.raw, f"{step}: refused but changed"
            assert len(after.events) == len(before.events), f"{step}: refused but recorded"
            assert len(after.outbox) == len(before.outbox), f"{step}: refused but sent messages"
            assert after.attachments == before.attachments, f"{step}: refused but stored photos"
        else:
            assert allowed, f"{step} was accepted though the rules forbid it (status {before.ticket.status})"
            expected = self._apply(action, who, to_unit, proof)
            new_events = after.events[len(before.events) :]
            escalations = [e for e in new_events[1:] if e.action == "escalated"]
            if action == Action.REOPEN and self._m().reopens >= self.city.surveys.escalate_after_reopens:
                assert len(escalations) == 1 and escalations[0].details["reason"] == "reopened"
                new_events = [e for e in new_events if e not in escalations]  # reopened too often
            assert len(new_events) == 1, f"{step}: {[e.action for e in new_events]}"
            event = new_events[0]
            actor_kind = who.role.value if who.role is not None else who.kind
            assert (event.action, event.from_status, event.to_status, event.actor_kind) == (
                EVENT_NAME[action],
                before.ticket.status,
                SPEC[action].target,
                actor_kind,
            )
            assert event.note == ((note or "").strip() or None)
            if action == Action.TRANSFER:
                assert (
                    event.details["to_unit"] == to_unit and event.details["from_unit"] == before.ticket.unit
                )
            queued = after.queued_since(before)
            assert queued == expected, f"{step}: queued {dict(queued)}, expected {dict(expected)}"
        self.state = after
        self._check(after)
        return refused.reason if refused is not None else None

    async def _perform(
        self, action: Action, actor: Actor, note: str | None, to_unit: str | None, proof: tuple[MediaRef, ...]
    ) -> Refused | None:
        """As a handler does: act, and on a refusal answer it and commit the transaction anyway."""
        assert self.db is not None
        now = self.clock.now()
        refused = None
        async with self.db.transaction() as session:
            ticket = await session.get(Ticket, self.ticket_id)
            assert ticket is not None
            desk = Desk(session=session, deps=self.deps, mail=Mail(), now=now)
            try:
                await ticket_actions.perform(
                    desk, ticket, action, actor, note=note, to_unit=to_unit, proof=proof
                )
            except Refused as error:
                refused = error
                assert not desk.mail.items, f"refused ({error.reason}) with messages queued"
            queue_mail(session, desk.mail, now)
        return refused

    def _sweep(self) -> None:
        """Run the scheduler's sweep; it sends exactly the stages the model says are due now."""
        m = self._m()
        assert self.db is not None and self.state is not None
        before = self.state
        now = self.clock.now()
        due = []
        if m.clock is not None and m.paused_at is None:
            while m.stage < len(self.stages) and self._stage_time(m.stage) <= now:
                due.append(self.stages[m.stage])
                m.stage += 1
        escalations = [s for s in due if s[1] == "escalate"]
        sent = escalations or due[-1:]  # of reminders only the latest, and none once past the deadline
        expected: Counter[tuple[str, str]] = Counter()
        for _, kind, to in sent:
            if kind == "remind":
                chats = self._card_chats(m.unit)
            elif to == "supervisors":
                chats = SUPERVISORS.get(m.unit, m.admins)
            else:
                chats = m.admins
            expected.update(("alert", c) for c in chats)
        if due:
            expected.update(("card", c) for c in self._card_chats(m.unit))  # the time left, refreshed
        m.mail.update(expected)

        count = self.run(alerts.sweep(self.db, self.deps))
        after = self._read()
        assert count == len(sent), f"sweep at {now}: sent {count}, expected {sent}"
        new_events = after.events[len(before.events) :]
        assert [(e.action, e.details["fraction"], e.details["clock"]) for e in new_events] == [
            ("reminder" if kind == "remind" else "escalated", fraction, m.clock) for fraction, kind, _ in sent
        ]
        queued = after.queued_since(before)
        assert queued == expected, f"sweep at {now}: queued {dict(queued)}, expected {dict(expected)}"

    # --- reading back and checking ------------------------------------------------------------------

    def _read(self) -> Snapshot:
        """The ticket as stored now; events and outbox rows are append-only, so read what is new."""
        assert self.reader is not None
        before = self.state
        last_event = before.events[-1].id if before and before.events else 0
        last_row = before.last_outbox_id if before else 0
        db, ticket_id = self.reader, self.ticket_id
        ticket = db.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        events = [
            StoredEvent(
                e["id"],
                e["action"],
                e["from_status"],
                e["to_status"],
                e["actor_kind"],
                e["note"],
                bool(e["public"]),
                json.loads(e["details"] or "{}"),
            )
            for e in db.execute(
                "SELECT * FROM ticket_events WHERE ticket_id = ? AND id > ? ORDER BY id",
                (ticket_id, last_event),
            )
        ]
        outbox = [
            Row(*r)
            for r in db.execute(
                "SELECT id, coalesce(role, ''), chat_id, ticket_id FROM outbox WHERE id > ? ORDER BY id",
                (last_row,),
            )
        ]
        (attachments,) = db.execute(
            "SELECT count(*) FROM attachments WHERE ticket_id = ?", (ticket_id,)
        ).fetchone()
        if before is not None:
            events, outbox = before.events + events, before.outbox + outbox
        return Snapshot(StoredTicket.of(ticket), events, outbox, attachments)

    def _check(self, state: Snapshot) -> None:
        m, ticket = self._m(), state.ticket

        # one status, the model's; the unit and the holder too
        assert ticket.status == m.status, (ticket.status, m.status)
        assert ticket.unit == m.unit
        assert ticket.holder_staff_id == (self.staff_ids[m.holder] if m.holder else None)

        # the audit trail: a chain of statuses from "submitted", one event per accepted action
        moves = [e for e in state.events if e.to_status]
        assert moves[0].action == "submitted" and moves[0].from_status is None
        assert moves[0].to_status == S.SUBMITTED
        for previous, event in itertools.pairwise(moves):
            assert event.from_status == previous.to_status, [(e.from_status, e.to_status) for e in moves]
        assert moves[-1].to_status == ticket.status
        assert len(moves) == 1 + m.accepted

        # the deadline columns agree with the status and with the model's clock
        assert ticket.clock == CLOCK_OF[ticket.status], (ticket.status, ticket.clock)
        assert (ticket.due_at is None) == (ticket.clock is None)
        assert (ticket.paused_at is not None) == (ticket.status == S.WAITING_CITIZEN)
        if ticket.clock is None or ticket.paused_at is not None:
            assert ticket.next_alert_at is None
        assert ticket.clock == m.clock
        if ticket.clock is not None:
            assert ticket.clock_target_seconds == m.target
            assert ticket.due_at is not None and ticket.due_at == m.due
            assert ticket.paused_at == m.paused_at
            assert ticket.alert_stage == m.stage
            next_alert = self._next_alert()
            assert ticket.next_alert_at == next_alert
            run, stage = self.seen_stage
            assert m.run != run or ticket.alert_stage >= stage, "alert_stage went back within a clock run"
            self.seen_stage = (m.run, ticket.alert_stage)

        # alerts: each stage at most once per clock run, in order, only while a clock runs
        running: str | None = None
        done: list[float] = []
        recipients = 0
        for event in state.events:
            if event.action in CLOCK_STARTS:
                running, done = CLOCK_STARTS[event.action], []
            elif event.action in CLOCK_STOPS:
                running = None
            elif event.action == "escalated" and event.details.get("reason") == "reopened":
                recipients += event.details["recipients"]  # reopened too often: not an SLA stage
                assert not event.public
            elif event.action in ("reminder", "escalated"):
                assert running is not None and event.details["clock"] == running, event.details
                assert not done or event.details["fraction"] > done[-1], (done, event.details)
                done.append(event.details["fraction"])
                recipients += event.details["recipients"]
                assert not event.public
        alerts_queued = sum(1 for r in state.outbox if r.role == "alert")
        assert alerts_queued == recipients

        # no message lost or doubled, all of them about this ticket; every photo kept
        queued = Counter((r.role, r.chat_id) for r in state.outbox)
        assert queued == +m.mail, f"outbox {dict(queued)} != expected {dict(+m.mail)}"
        assert {r.ticket_id for r in state.outbox} == {self.ticket_id}
        assert state.attachments == m.photos + m.officer_photos


async def prepare_template(template: Path) -> tuple[dict[str, Actor], dict[str, int]]:
    """A migrated database with the staff (one admin), the citizens and a paused unit."""
    database = Database(f"sqlite:///{template}")
    await database.migrate()
    now = MONDAY_MORNING
    actors: dict[str, Actor] = {"system": Actor.system()}
    staff_ids: dict[str, int] = {}
    async with database.transaction() as session:
        await staff_rules.ensure_admins(session=session, channel="telegram", user_ids=[ADMIN], now=now)
        for person in PEOPLE.values():
            assert person.kind == "system" or person.user_id is not None
            if person.kind == "staff" and person.user_id is not None:
                if person.role != Role.ADMIN:
                    assert person.role is not None
                    await staff_rules.add_staff(
                        session=session,
                        channel="telegram",
                        user_id=person.user_id,
                        role=person.role,
                        unit=person.unit,
                        now=now,
                        display_name=person.name,
                    )
                staff = await staff_rules.staff_by_user(
                    session=session, channel="telegram", user_id=person.user_id
                )
                assert staff is not None and staff.id is not None
                staff_ids[person.name] = staff.id
                actors[person.name] = Actor.of_staff(staff)
            elif person.kind == "citizen" and person.user_id is not None:
                citizen = Citizen(
                    channel="telegram",
                    external_id=person.user_id,
                    chat_id=person.user_id,
                    created_at=now,
                    last_seen_at=now,
                )
                session.add(citizen)
                await session.flush()
                assert citizen.id is not None
                actors[person.name] = Actor.citizen(citizen.id)
        await staff_rules.set_paused(session=session, unit=PAUSED_UNIT, paused=True, by=ADMIN, now=now)
    await database.dispose()
    return actors, staff_ids


@pytest.fixture
def env(sample_city: CityConfig, catalogues: dict[str, dict[str, str]], tmp_path: Path) -> Env:
    template = tmp_path / "template.db"
    actors, staff_ids = asyncio.run(prepare_template(template))
    return Env(
        city=sample_city,
        texts=Translator(catalogues, overrides=sample_city.texts),
        classifier=Classifier(sample_city),
        template=template,
        workdir=tmp_path,
        actors=actors,
        staff_ids=staff_ids,
    )


def test_lifecycle_under_random_work(env: Env) -> None:
    class Machine(LifecycleMachine):
        def __init__(self) -> None:
            super().__init__(env)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=50,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )


# --- the same machine and checks, along paths chosen by hand (cheap, and never left to chance) ------


@contextmanager
def ticket_filed(env: Env, **variation: Any) -> Iterator[LifecycleMachine]:
    machine = LifecycleMachine(env)
    setup: dict[str, Any] = {
        "category": "sampah",
        "identity": "public",
        "photos": 1,
        "with_follower": False,
        "languages": ("id", "en"),
        "linked": True,
        "two_admins": False,
    }
    try:
        machine.file_ticket(**(setup | variation))
        yield machine
    finally:
        machine.teardown()


def alerts_sent(machine: LifecycleMachine) -> list[tuple[str, float]]:
    assert machine.state is not None
    return [
        (e.details["clock"], e.details["fraction"])
        for e in machine.state.events
        if e.action in ("reminder", "escalated") and e.details.get("reason") != "reopened"
    ]


OFFICER, OTHER_OFFICER = PEOPLE["officer_dlh"], PEOPLE["officer_dpupr"]
REPORTER, FOLLOWER, SYSTEM = PEOPLE["reporter"], PEOPLE["follower"], PEOPLE["system"]


def test_a_citizen_who_joined_is_told_but_neither_asked_nor_heard_for_the_ticket(env: Env) -> None:
    with ticket_filed(env, with_follower=True) as ticket:
        assert ticket.act(Action.ACCEPT, OFFICER, None, None, 0) is None  # both citizens are told
        assert (
            ticket.act(Action.ASK, OFFICER, "Di depan rumah nomor berapa?", None, 0) is None
        )  # the reporter
        assert ticket.act(Action.ANSWER, FOLLOWER, "Nomor 12", None, 0) == "refused.not_yours"
        assert ticket.act(Action.ANSWER, REPORTER, "Nomor 12, dekat pos ronda", None, 0) is None
        assert ticket.act(Action.RESOLVE, OFFICER, "Sudah diangkut", None, 2) is None  # both told, photos too
        assert ticket.act(Action.CLOSE, FOLLOWER, None, None, 0) == "refused.not_yours"
        assert ticket.act(Action.REOPEN, SYSTEM, None, None, 0) is None
        assert ticket.state is not None and ticket.state.ticket.status == S.REOPENED


def test_a_transfer_needs_a_reason_and_another_unit_that_is_open(env: Env) -> None:
    with ticket_filed(env, identity="confidential") as ticket:
        assert ticket.act(Action.ACCEPT, PEOPLE["head_dlh"], None, None, 0) is None  # details to the head
        refusals = {
            to_unit: ticket.act(Action.TRANSFER, OFFICER, "Bukan wewenang kami", to_unit, 0)
            for to_unit in (PAUSED_UNIT, "atlantis", "dlh", None)
        }
        assert refusals == {
            PAUSED_UNIT: "refused.unit_paused",
            "atlantis": "refused.no_such_unit",
            "dlh": "refused.same_unit",
            None: "refused.no_such_unit",
        }
        assert ticket.act(Action.TRANSFER, OFFICER, "  ", "dpupr", 0) == "refused.note_required"
        assert ticket.act(Action.TRANSFER, OFFICER, "Saluran air: wewenang PU", "dpupr", 0) is None
        assert ticket.act(Action.ACCEPT, OFFICER, None, None, 0) == "refused.other_unit"
        assert ticket.act(Action.ACCEPT, OTHER_OFFICER, None, None, 0) is None
        assert (
            ticket.act(Action.RESOLVE, OTHER_OFFICER, "Sudah diperbaiki", None, 0) == "refused.proof_required"
        )
        assert ticket.act(Action.RESOLVE, OTHER_OFFICER, "Sudah diperbaiki", None, 1) is None


def test_after_an_outage_only_the_latest_reminder_then_each_escalation_once(env: Env) -> None:
    with ticket_filed(env, category="bencana") as ticket:  # 24/7: respond within the hour
        ticket.time_passes(0, to_alert=True, ahead=1, offset=60, sweep=True)  # 0.5 and 0.9 both due
        ticket.time_passes(0, to_alert=True, ahead=3, offset=0, sweep=True)  # exactly at 1.5: 1.0 and 1.5
        ticket.time_passes(3 * 24 * 3600, to_alert=False, ahead=0, offset=0, sweep=True)  # nothing left
        assert alerts_sent(ticket) == [("response", 0.9), ("response", 1.0), ("response", 1.5)]


def test_waiting_for_the_citizen_keeps_the_stages_done_and_sends_nothing(env: Env) -> None:
    with ticket_filed(env) as ticket:
        assert ticket.act(Action.ACCEPT, OFFICER, None, None, 0) is None
        ticket.time_passes(0, to_alert=True, ahead=0, offset=0, sweep=True)  # 50% of the resolution time
        assert ticket.act(Action.ASK, OFFICER, "Bisa kirim foto lagi?", None, 0) is None
        ticket.time_passes(6 * 24 * 3600, to_alert=False, ahead=0, offset=0, sweep=True)  # paused: nothing
        assert ticket.act(Action.ANSWER, REPORTER, "Sudah saya kirim", None, 0) is None
        ticket.time_passes(0, to_alert=True, ahead=0, offset=-1, sweep=True)  # a second early: nothing
        ticket.time_passes(1, to_alert=False, ahead=0, offset=0, sweep=True)  # 90%
        assert alerts_sent(ticket) == [("resolution", 0.5), ("resolution", 0.9)]
