"""One ticket judged for the quality figures: its times, and whether its SLA targets were met.

Two different things are measured, on purpose:

* **times** are the citizen's waits, from filing: the *response time* runs from filing to the first
  acceptance, the *resolution time* from filing to a resolution. A transfer or a reopening does
  not restart them: the citizen waited all along.
* **compliance** is the SLA clocks' (workflows/sla.py), as the reminders and escalations saw them:

  - *response*: a response clock runs from filing, and again from each transfer, until the first
    acceptance; its target is the one promised on the ticket (`response_target_seconds`; the
    category's policy when a ticket has none stored). The response is **missed** as soon as one
    of those clocks runs past its target (decided at that deadline, also when the ticket is
    transferred, rejected or still waiting afterwards), and **met** at the first acceptance
    otherwise. A ticket rejected before its deadline, or still waiting within it, has no
    response outcome. Only the first acceptance is judged: the response clock that a reopening
    (or a transfer after acceptance) starts again is not.
  - *resolution*: a resolution clock runs from each acceptance until the resolution, paused while
    the ticket waits for the citizen's answer; a transfer or reopening stops it and the next
    acceptance starts a new one, as the SLA engine does. The target is the category policy's
    resolution target for the ticket's priority (`high` when many citizens reported it). The
    resolution is **missed** as soon as one of those clocks runs past its target (decided at that
    moment), and **met** at the ticket's final resolution otherwise (a ticket resolved in time
    and reopened is undecided again until it is resolved again). A ticket rejected or still
    being handled within its target has no resolution outcome.

Working time is the ticket's own calendar (`sla_calendar`: the city's working hours, or clock time
for `continuous` categories). A clock is past its target when the moment it ended lies after its
deadline (as the SLA sweep escalates at the deadline); so a deadline at 16:00 and an acceptance
at 17:00 the same day is missed, though no working time passed in between.

Events are read from the ticket's audit trail; where the trail lacks an acceptance or a resolution
that the ticket's columns record (tickets imported from elsewhere), the column stands in for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from models import OPEN_STATUSES, TicketStatus
from models.quality_queries import EventFact, TicketFact
from workflows.calendar import WorkCalendar
from workflows.city_config import CityConfig, SlaPolicy
from workflows.sla import Calendars

HOUR = 3600.0
RESOLVED = frozenset({TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value})


@dataclass(frozen=True)
class Outcome:
    """Whether a target was met, and when that was decided: the acceptance or the final resolution
    when met, the deadline that passed when missed."""

    met: bool
    at: datetime


@dataclass(frozen=True)
class Resolution:
    at: datetime
    hours: float  # working hours from filing


@dataclass(frozen=True)
class Assessment:
    filed: datetime
    calendar: WorkCalendar  # the ticket's
    first_accepted: datetime | None
    resolutions: tuple[datetime, ...]  # every resolution, oldest first
    resolved_now: bool  # resolved or closed now (not reopened since)
    response: Outcome | None
    resolution: Outcome | None

    def hours_to(self, moment: datetime) -> float:
        """Working hours from filing to the moment (computed only for what a figure needs)."""
        return self.calendar.between(self.filed, moment) / HOUR

    @property
    def response_hours(self) -> float | None:
        """Working hours from filing to the first acceptance."""
        return self.hours_to(self.first_accepted) if self.first_accepted else None

    def last_resolution(self, start: datetime, end: datetime) -> Resolution | None:
        """The latest resolution in [start, end), if any."""
        inside = [at for at in self.resolutions if start <= at < end]
        return Resolution(inside[-1], self.hours_to(inside[-1])) if inside else None

    def final_resolution(self) -> Resolution | None:
        """The resolution that stands, while the ticket is resolved or closed."""
        if not self.resolved_now:
            return None
        return Resolution(self.resolutions[-1], self.hours_to(self.resolutions[-1]))


def targets(ticket: TicketFact, city: CityConfig) -> tuple[float, float]:
    """The response target (stored on the ticket) and the resolution target (the policy's, for the
    ticket's priority), in seconds of the ticket's calendar."""
    policy = city.sla_for(ticket.category)
    response = float(ticket.response_target_seconds)
    if response <= 0:
        response = _target(policy, "response", ticket.priority > 0)
    return response, _target(policy, "resolution", ticket.priority > 0)


@lru_cache(maxsize=256)
def _target(policy: SlaPolicy, clock: str, high: bool) -> float:
    return policy.target(clock, int(high)).total_seconds()


def assess(ticket: TicketFact, *, city: CityConfig, calendars: Calendars, now: datetime) -> Assessment:
    """The ticket's times and outcomes, as of now."""
    calendar = calendars(ticket.sla_calendar)
    response_target, resolution_target = targets(ticket, city)
    clocks = _Clocks(calendar, response_target, resolution_target, ticket.created_at)
    for event in trail(ticket):
        clocks.step(event.action, event.at)
    if ticket.status in OPEN_STATUSES:
        clocks.finish(now)
    resolved = ticket.status in RESOLVED and bool(clocks.resolutions)
    response: Outcome | None = None
    if clocks.response_missed is not None:
        response = Outcome(False, clocks.response_missed)
    elif clocks.first_accepted is not None:
        response = Outcome(True, clocks.first_accepted)
    resolution: Outcome | None = None
    if clocks.resolution_missed is not None:
        resolution = Outcome(False, clocks.resolution_missed)
    elif resolved:
        resolution = Outcome(True, clocks.resolutions[-1])
    return Assessment(
        filed=ticket.created_at,
        calendar=calendar,
        first_accepted=ticket.accepted_at or clocks.first_accepted,
        resolutions=tuple(clocks.resolutions),
        resolved_now=resolved,
        response=response,
        resolution=resolution,
    )


def trail(ticket: TicketFact) -> list[EventFact]:
    """The clock events, with the columns standing in for an acceptance or resolution not on record."""
    events = list(ticket.events)
    actions = {event.action for event in events}
    if ticket.accepted_at is not None and "accepted" not in actions:
        events.append(EventFact(ticket.accepted_at, "accepted"))
    if ticket.resolved_at is not None and "resolved" not in actions:
        events.append(EventFact(ticket.resolved_at, "resolved"))
    return sorted(events, key=lambda event: event.at)  # stable: the trail's order on equal times


class _Clocks:
    """The response and resolution clocks replayed from the audit trail."""

    def __init__(self, calendar: WorkCalendar, response: float, resolution: float, filed: datetime) -> None:
        self.calendar = calendar
        self.response_target = response
        self.resolution_target = resolution
        self.phase = "response"  # response, resolution, stopped
        self.since = filed  # when the running response clock started
        self.running: datetime | None = None  # the resolution clock counts since then (None: paused)
        self.used = 0.0  # working seconds the resolution clock counted before `running`
        self.first_accepted: datetime | None = None
        self.response_missed: datetime | None = None
        self.resolution_missed: datetime | None = None
        self.resolutions: list[datetime] = []

    def step(self, action: str, at: datetime) -> None:
        if action == "accepted":
            self._end_response(at)
            self.first_accepted = self.first_accepted or at
            self.phase, self.running, self.used = "resolution", at, 0.0
        elif action == "question":
            self._spend(at, pausing=True)
            self.running = None
        elif action == "answered":
            if self.phase == "resolution" and self.running is None:
                self.running = at
        elif action in ("transferred", "reopened"):
            self._end_response(at)
            self._spend(at)
            self.phase, self.since, self.running = "response", at, None
        elif action in ("resolved", "rejected", "closed"):
            self._end_response(at)
            self._spend(at)
            if action == "resolved":
                self.resolutions.append(at)
            self.phase, self.running = "stopped", None

    def finish(self, now: datetime) -> None:
        """The ticket is still open: a running clock may have passed its deadline by now."""
        self._end_response(now)
        self._spend(now)

    def _end_response(self, at: datetime) -> None:
        """A response clock before the first acceptance runs until `at`: past its deadline?"""
        if self.phase != "response" or self.first_accepted is not None or self.response_missed:
            return
        if (at - self.since).total_seconds() <= self.response_target:
            return  # working time never exceeds the time that passed: no need to count it
        deadline = self.calendar.add(self.since, self.response_target)
        if at > deadline:
            self.response_missed = deadline

    def _spend(self, at: datetime, *, pausing: bool = False) -> None:
        """The running resolution clock counts until `at` (and stops, or pauses): past its deadline?"""
        if self.phase != "resolution" or self.running is None:
            return
        if self.resolution_missed is None:
            left = self.resolution_target - self.used
            # working time never exceeds the time that passed: count it only when it might
            if (at - self.running).total_seconds() > left and at > (
                deadline := self.calendar.add(self.running, left)
            ):
                self.resolution_missed = deadline
            elif pausing:  # what was used counts after the answer; the walk is within the target
                self.used += self.calendar.between(self.running, at)
        self.running = at
