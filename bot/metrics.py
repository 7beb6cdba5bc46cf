"""Prometheus metrics of one running App, in its own registry, served at GET /metrics (bot/web.py).

- `civicbot_updates_total{channel, kind, outcome}`: inbound events through the pipeline; outcome
  `handled`, or `ignored` (a repeated delivery, or one that failed even to apologise);
- `civicbot_update_seconds{channel}` (histogram): from the adapter handing an event over to its
  replies being queued; `civicbot_updates_in_progress`: events being handled now;
- `civicbot_messages_total{outcome}`: the outbox sender's sends, `sent`, `failed` (for good),
  `retried`, `held` (WhatsApp's window); `civicbot_sender_events_total{event}`: `waiting_for_rate`,
  `paced`, `unreachable`, `refunded` (bot/sender.py);
- `civicbot_outbox_pending`: outbox rows waiting to be sent, and `civicbot_broadcasts_running`:
  announcements being sent, both counted in the database at scrape time (every instance's);
  `civicbot_database_up` says whether those counts answered within a second;
- `civicbot_sla_alerts_total{kind}`: what the SLA sweep queued, `reminder` (a deadline near) or
  `escalation` (one missed); `civicbot_sla_breaches_total`: tickets whose deadline was missed,
  counted when their first escalation goes out;
- `civicbot_webhook_refused_total{channel, reason}`: webhook requests refused (`secret`,
  `signature`, `malformed`, `too_large`).

Counters are this process's since it started (Prometheus' rate() handles restarts); the two gauges
read from the database are the same on every instance. The wrapper around the pipeline lives here,
at the edge: handlers/ knows nothing of metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from handlers.messages import Inbound
from models import Broadcast, BroadcastStatus, OutboxMessage, OutboxStatus
from models.db import Database

log = logging.getLogger(__name__)

Sink = Callable[[Inbound], Awaitable[bool]]
SLA_KINDS = {"remind": "reminder", "escalate": "escalation"}  # the sweep's stage kinds → label
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MESSAGE_OUTCOMES = ("sent", "failed", "retried", "held")
SENDER_EVENTS = ("waiting_for_rate", "paced", "unreachable", "refunded")
SCRAPE_TIMEOUT = 1.0  # seconds the database counts may take before the scrape goes on without them


class Metrics:
    """The registry and the instruments; `sender_counters` is the OutboxSender's running totals."""

    def __init__(self, db: Database, sender_counters: Mapping[str, int]) -> None:
        self.db = db
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "civicbot_updates",
            "Inbound events handled through the pipeline",
            ["channel", "kind", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "civicbot_update_seconds",
            "Time to handle an inbound event (stored, replies queued)",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "civicbot_updates_in_progress", "Inbound events being handled now", registry=self.registry
        )
        self.sla_alerts = Counter(
            "civicbot_sla_alerts",
            "Reminders and escalations the SLA sweep queued (deadlines near or missed)",
            ["kind"],
            registry=self.registry,
        )
        for kind in SLA_KINDS.values():
            self.sla_alerts.labels(kind=kind)  # both shown from the start, at 0
        self.sla_breaches = Counter(
            "civicbot_sla_breaches",
            "Tickets whose deadline was missed (counted at their first escalation)",
            registry=self.registry,
        )
        self.refused = Counter(
            "civicbot_webhook_refused",
            "Webhook requests refused",
            ["channel", "reason"],
            registry=self.registry,
        )
        self._database = _DatabaseCounts()
        self.registry.register(_SenderCollector(sender_counters))
        self.registry.register(self._database)

    def count_sla(self, counts: Mapping[str, int]) -> None:
        """What an SLA sweep sent (handlers/alerts.py's counts by kind)."""
        for kind, label in SLA_KINDS.items():
            if counts.get(kind):
                self.sla_alerts.labels(kind=label).inc(counts[kind])
        if counts.get("breach"):
            self.sla_breaches.inc(counts["breach"])

    def instrument(self, handle: Sink) -> Sink:
        """`handle`, counted by channel, kind and outcome, and timed."""

        async def measured(inbound: Inbound) -> bool:
            started = time.perf_counter()
            self.in_progress.inc()
            handled = False
            try:
                handled = await handle(inbound)
                return handled
            finally:
                self.in_progress.dec()
                channel = inbound.channel.value
                self.latency.labels(channel).observe(time.perf_counter() - started)
                outcome = "handled" if handled else "ignored"
                self.updates.labels(channel, inbound.kind.value, outcome).inc()

        return measured

    def refusal(self, channel: str) -> Callable[[str], None]:
        """A callback for a webhook endpoint: counts a refused request with its reason."""
        return lambda reason: self.refused.labels(channel, reason).inc()

    async def refresh(self) -> None:
        """Read the counts kept in the database (a scrape's; cheap, indexed counts)."""
        try:
            async with asyncio.timeout(SCRAPE_TIMEOUT), self.db.sessions() as session:
                pending = await session.exec(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(col(OutboxMessage.status) == OutboxStatus.PENDING)
                )
                running = await session.exec(
                    select(func.count())
                    .select_from(Broadcast)
                    .where(col(Broadcast.status) == BroadcastStatus.SENDING)
                )
                self._database.set(pending=int(pending.one()), broadcasts=int(running.one()))
        except Exception as error:
            log.warning("metrics: the database counts failed (%s)", type(error).__name__)
            self._database.down()

    async def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition (body, content type) in the format the scraper accepts."""
        await self.refresh()
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class _SenderCollector(Collector):
    """The OutboxSender's counters, as Prometheus counters (read at each scrape)."""

    def __init__(self, counters: Mapping[str, int]) -> None:
        self.counters = counters

    def collect(self) -> Iterable[Metric]:
        messages = CounterMetricFamily("civicbot_messages", "Outbox sends by outcome", labels=["outcome"])
        for outcome in MESSAGE_OUTCOMES:
            messages.add_metric([outcome], self.counters.get(outcome, 0))
        events = CounterMetricFamily(
            "civicbot_sender_events",
            "Outbox sender events (rate limits, unreachable people)",
            labels=["event"],
        )
        for event in SENDER_EVENTS:
            events.add_metric([event], self.counters.get(event, 0))
        return [messages, events]

    def describe(self) -> Iterable[Metric]:
        return []


class _DatabaseCounts(Collector):
    """The last counts read from the database; absent while it does not answer."""

    def __init__(self) -> None:
        self.pending: int | None = None
        self.broadcasts: int | None = None

    def set(self, *, pending: int, broadcasts: int) -> None:
        self.pending, self.broadcasts = pending, broadcasts

    def down(self) -> None:
        self.pending = self.broadcasts = None

    def collect(self) -> Iterable[Metric]:
        up = self.pending is not None
        yield GaugeMetricFamily(
            "civicbot_database_up", "Whether the database answered the scrape's counts", value=int(up)
        )
        if self.pending is not None:
            yield GaugeMetricFamily(
                "civicbot_outbox_pending", "Outbox rows waiting to be sent", value=self.pending
            )
        if self.broadcasts is not None:
            yield GaugeMetricFamily(
                "civicbot_broadcasts_running", "Announcements being sent", value=self.broadcasts
            )

    def describe(self) -> Iterable[Metric]:
        return []
