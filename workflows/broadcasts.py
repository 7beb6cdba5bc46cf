"""Announcements to a segment: who receives them, composing and confirming, expanding them into the
outbox a little at a time, WhatsApp's tier, progress, cancelling, and citizens' opt-out.

Expansion writes the next recipients' outbox rows and moves the broadcast's cursor in the same
transaction (models/broadcast_queries.py claim_step), so a restart goes on where it left off with no
duplicate and no gap, and of two instances only one writes a given step. It trickles: only about ten
seconds of sending per channel is pending at a time, so a broadcast to 100,000 people never floods
the outbox, interactive replies stay quick, and a cancel withdraws little. Recipients are read again
at each step: whoever opted out or became unreachable since the confirmation is skipped.

WhatsApp limits business-initiated conversations per rolling 24 hours by the number's tier. A
recipient who wrote within their 24-hour window costs nothing; others take a place until the tier is
used up, and the rest are carried over to when places free again (the progress says how many, and
when).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from sqlalchemy import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.i18n import Safe, Translator
from handlers.messages import (
    Button,
    Channel,
    MediaRef,
    Outbound,
    OutMedia,
    OutText,
    TemplateCall,
    units,
)
from models import Broadcast, BroadcastStatus, Citizen, OutboxStatus
from models import broadcast_queries as q
from workflows.city_config import LANGUAGES, CityConfig, WhatsApp
from workflows.clock import as_utc
from workflows.outbox import Priority
from workflows.reply_window import plain

# where announcements go: the messaging platforms (the console is a local try-out channel)
ANNOUNCED_CHANNELS: tuple[str, ...] = (Channel.TELEGRAM.value, Channel.WHATSAPP.value)
STOP_PAYLOAD = "an|off"  # the 🔕 button under an announcement (handlers/announcements.py)
CANCEL_PREFIX = "bc|cancel|"  # the progress message's cancel button: "bc|cancel|<id>"
TEXT_LIMIT = 4096  # Telegram's limit for a text, and
CAPTION_LIMIT = 1024  # for a photo's caption
TIER_PERIOD = timedelta(hours=24)  # WhatsApp's tiers count unique people per rolling 24 hours
WINDOW_MARGIN = timedelta(hours=1)  # a window closing sooner than this is taken as closed
BACKLOG = timedelta(seconds=10)  # the trickle: this much sending per channel is queued at a time
STAFF_CURSOR = "staff"  # the cursor's key when the recipients are a unit's officers

SegmentKind = Literal["everyone", "channel", "language", "area", "category", "unit_officers"]


class BroadcastError(ValueError):
    """A broadcast cannot do what was asked; `code` says why (not_found, not_draft, finished,
    empty, language, too_long, photo, send_at, segment)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


class Segment(BaseModel):
    """Who receives a broadcast; stored as `Broadcast.segment`.

    `value`: the channel (telegram, whatsapp), language code, area key, category key or unit key;
    none for everyone."""

    model_config = ConfigDict(frozen=True)

    kind: SegmentKind
    value: str | None = None

    @model_validator(mode="after")
    def _value(self) -> Segment:
        if (self.kind == "everyone") != (self.value is None):
            raise ValueError(
                "everyone takes no value" if self.kind == "everyone" else f"{self.kind} needs a value"
            )
        return self

    @classmethod
    def parse(cls, text: str) -> Segment:
        """From the CLI's form: everyone, channel:telegram, language:en, area:KEY, category:KEY, unit:KEY."""
        kind, _, value = text.strip().partition(":")
        kind = {"unit": "unit_officers"}.get(kind, kind)
        if kind not in SEGMENT_KINDS:
            raise ValueError(
                f"{text!r} is not a segment; use everyone, channel:telegram, language:en, "
                "area:KEY, category:KEY or unit:KEY"
            )
        try:
            return cls.model_validate({"kind": kind, "value": value or None})
        except ValidationError as error:
            problem = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise ValueError(f"{text!r}: {problem}") from None

    def check(self, city: CityConfig) -> None:
        """The value names something the city has; BroadcastError("segment") with the choices if not."""
        known: Sequence[str] = {
            "everyone": (),
            "channel": ANNOUNCED_CHANNELS,
            "language": LANGUAGES,
            "area": tuple(city.areas),
            "category": tuple(city.categories),
            "unit_officers": tuple(city.units),
        }[self.kind]
        if self.value is not None and self.value not in known:
            raise BroadcastError(
                "segment", f"{self.value!r} is not a {self.kind}; use one of: {', '.join(known)}"
            )

    @property
    def officers(self) -> bool:
        return self.kind == "unit_officers"

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels its recipients are on."""
        if self.officers:
            return (Channel.TELEGRAM.value,)
        if self.kind == "channel" and self.value is not None:
            return (self.value,)
        return ANNOUNCED_CHANNELS

    def describe(self, texts: Translator, lang: str, city: CityConfig) -> str:
        """In words, for the admin (markup, names escaped): "Warga di Telegram", "Petugas DLH"."""
        key = f"broadcast.segment.{self.kind}"
        value = self.value or ""
        if self.kind == "everyone":
            return texts(key, lang)
        if self.kind in ("channel", "language"):
            return texts(key, lang, name=texts.plain(f"broadcast.{self.kind}.{value}", lang))
        if self.kind == "area":
            area = city.areas.get(value)
            return texts(key, lang, name=area.name if area else value)
        if self.kind == "category":
            category = city.categories.get(value)
            return texts(key, lang, name=category.name.get(lang) if category else value)
        unit = city.units.get(value)
        return texts(key, lang, name=unit.name.get(lang) if unit else value)

    def citizens(self, city: CityConfig) -> list[ColumnElement[bool]]:
        """The SQL conditions of its citizens (not for a unit's officers)."""
        areas: list[str] = []
        if self.kind == "area" and self.value is not None:
            areas = [self.value, *(key for key, area in city.areas.items() if area.parent == self.value)]
        return q.citizen_filter(kind=self.kind, value=self.value, channels=self.channels, areas=areas)


SEGMENT_KINDS: tuple[str, ...] = ("everyone", "channel", "language", "area", "category", "unit_officers")


def segment_of(broadcast: Broadcast) -> Segment:
    return Segment.model_validate(broadcast.segment)


# --- counting, composing, confirming, cancelling ------------------------------------------------------


async def count_recipients(*, session: AsyncSession, segment: Segment, city: CityConfig) -> dict[str, int]:
    """Recipients by channel, e.g. {"telegram": 812, "whatsapp": 301}, every channel of the segment
    listed; opted-out and unreachable citizens are not counted. A unit's officers: its active
    officers and unit heads, in their private Telegram chats."""
    if segment.officers:
        assert segment.value is not None
        return {Channel.TELEGRAM.value: await q.count_officers(session=session, unit=segment.value)}
    counts = await q.count_citizens(session=session, where=segment.citizens(city))
    return {channel: counts.get(channel, 0) for channel in segment.channels}


async def create_broadcast(
    *,
    session: AsyncSession,
    created_by: str,
    texts: dict[str, str],
    photo: MediaRef | None,
    segment: Segment,
    send_at: datetime | None,
    now: datetime,
    report_to: tuple[str, str] | None,
) -> Broadcast:
    """A draft, waiting for confirmation. `texts`: language → text in our HTML subset (user text
    escaped), the first the fallback for other languages; `report_to`: (channel, chat id) where the
    progress is shown live, or None (the CLI follows it in the database)."""
    if not texts or not all(t.strip() for t in texts.values()):
        raise BroadcastError("empty", "an announcement needs a text")
    for language, text in texts.items():
        if language not in LANGUAGES:
            raise BroadcastError("language", f"{language!r} is not served; use one of {', '.join(LANGUAGES)}")
        limit = CAPTION_LIMIT if photo is not None else TEXT_LIMIT
        if units(plain(text)) > limit:  # as Telegram counts: an emoji is two
            raise BroadcastError(
                "too_long", f"the {language} text has {units(plain(text))} characters; at most {limit}"
            )
    if photo is not None and photo.kind != "photo":
        raise BroadcastError("photo", "only a photo can go with an announcement")
    if send_at is not None and send_at.tzinfo is None:
        raise BroadcastError("send_at", "the send time needs a time zone")
    broadcast = Broadcast(
        created_by=created_by,
        created_at=now,
        texts=dict(texts),
        photo=photo.model_dump(mode="json") if photo is not None else None,
        segment=segment.model_dump(mode="json"),
        send_at=as_utc(send_at) if send_at is not None else None,  # stored times compare as text
        report_channel=report_to[0] if report_to else None,
        report_chat_id=report_to[1] if report_to else None,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def _get(session: AsyncSession, broadcast_id: int) -> Broadcast:
    broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
    if broadcast is None:
        raise BroadcastError("not_found", f"there is no broadcast {broadcast_id}")
    return broadcast


async def confirm_broadcast(
    *, session: AsyncSession, broadcast_id: int, city: CityConfig, now: datetime
) -> Broadcast:
    """Confirmed: its recipients counted, SCHEDULED if its send time is still to come, else SENDING
    (the runner picks it up from the database)."""
    broadcast = await _get(session, broadcast_id)
    if broadcast.status != BroadcastStatus.DRAFT:
        raise BroadcastError("not_draft", f"broadcast {broadcast_id} is {broadcast.status}")
    segment = segment_of(broadcast)
    segment.check(city)
    broadcast.total = sum((await count_recipients(session=session, segment=segment, city=city)).values())
    if broadcast.send_at is not None and as_utc(broadcast.send_at) > now:
        broadcast.status = BroadcastStatus.SCHEDULED
    else:
        broadcast.status, broadcast.started_at = BroadcastStatus.SENDING, now
    session.add(broadcast)
    await session.flush()
    return broadcast


async def start_broadcast(
    *, session: AsyncSession, broadcast_id: int, city: CityConfig, now: datetime
) -> bool:
    """A scheduled broadcast whose time has come starts, counted again (people joined or left since);
    False if another instance started it first or it was cancelled."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        return False
    counts = await count_recipients(session=session, segment=segment_of(broadcast), city=city)
    return await q.set_status(
        session=session,
        broadcast_id=broadcast_id,
        old=(BroadcastStatus.SCHEDULED.value,),
        values={"status": BroadcastStatus.SENDING, "started_at": now, "total": sum(counts.values())},
    )


async def cancel_broadcast(*, session: AsyncSession, broadcast_id: int, by: str, now: datetime) -> Broadcast:
    """Stopped: copies not sent yet are withdrawn (outbox CANCELLED), nobody else is expanded; what
    was sent stays sent. The runner edits the progress message into the final report."""
    broadcast = await _get(session, broadcast_id)
    if broadcast.status in q.FINAL:
        raise BroadcastError("finished", f"broadcast {broadcast_id} is {broadcast.status} already")
    await q.withdraw_rows(session=session, broadcast_id=broadcast_id)
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.cancelled_by, broadcast.finished_at = by, now
    broadcast.reported_at = None  # the final report is still to be made
    session.add(broadcast)
    await session.flush()
    return broadcast


async def set_announcements(*, session: AsyncSession, citizen: Citizen, on: bool, now: datetime) -> None:
    """Opt in again (on) or out of announcements; opting out twice keeps the first moment."""
    if on:
        citizen.announcements_off_at = None
    elif citizen.announcements_off_at is None:
        citizen.announcements_off_at = now
    session.add(citizen)


# --- what a recipient gets -------------------------------------------------------------------------


def language_for(broadcast: Broadcast, language: str | None) -> str:
    """The recipient's language when the broadcast has a text in it, else its first."""
    return language if language in broadcast.texts else next(iter(broadcast.texts))


def message_for(
    broadcast: Broadcast, texts: Translator, lang: str, *, channel: str, citizen: bool
) -> Outbound:
    """The announcement as the recipient sees it: the text, or the photo with the text as its caption,
    with the 🔕 button under it (citizens only)."""
    text = broadcast.texts[lang]
    buttons: tuple[tuple[Button, ...], ...] = ()
    if citizen:
        variant = f"broadcast.stop_button@{channel}"
        key = variant if texts.has(variant) else "broadcast.stop_button"
        buttons = ((Button(label=texts.plain(key, lang), payload=STOP_PAYLOAD),),)
    if broadcast.photo is not None:
        return OutMedia(media=MediaRef.model_validate(broadcast.photo), caption=text, buttons=buttons)
    return OutText(text=text, buttons=buttons, language=lang)


def _template(action: Outbound, lang: str) -> TemplateCall:
    """On WhatsApp, the approved "broadcast" template stands in outside the 24-hour window."""
    text = (
        action.text if isinstance(action, OutText) else action.caption if isinstance(action, OutMedia) else ""
    )
    buttons = action.buttons if isinstance(action, OutText | OutMedia) else ()
    return TemplateCall(
        kind="broadcast",
        language=lang,
        params={"text": plain(text)},
        quick_replies=tuple(b.payload for row in buttons for b in row),
    )


def _copy(
    broadcast: Broadcast, action: Outbound, *, channel: str, lang: str, now: datetime
) -> dict[str, Any]:
    """A recipient's outbox row but for its chat and role: the same for everyone of a language."""
    template = _template(action, lang) if channel == Channel.WHATSAPP.value else None
    return {
        "channel": channel,
        "payload": action.model_dump(mode="json"),
        "priority": int(Priority.BULK),
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "template": template.model_dump(mode="json") if template is not None else None,
        "template_only": False,
        "parts_sent": 0,
        "broadcast_id": broadcast.id,
    }


# --- expansion ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatsAppLimits:
    """What bounds WhatsApp announcements: the tier (unique business-initiated conversations per
    rolling 24 h), the 24-hour window, and whether an approved "broadcast" template exists (without
    one nothing is business-initiated: copies outside the window wait until the person writes)."""

    tier: int = 250
    window: timedelta = timedelta(hours=24)
    template: bool = True

    @classmethod
    def of(cls, config: WhatsApp, tier: int) -> WhatsAppLimits:
        return cls(tier=tier, window=config.window_length, template="broadcast" in config.templates)


def backlog(rates: Mapping[str, float], ahead: timedelta = BACKLOG) -> dict[str, int]:
    """The trickle's bound per channel: `ahead` of sending at its rate (at least one row)."""
    return {channel: max(1, math.ceil(rate * ahead.total_seconds())) for channel, rate in rates.items()}


def parse_cursor(cursor: str | None) -> dict[str, int]:
    """ "telegram:812,whatsapp:301" → the last recipient id expanded per channel (or "staff")."""
    if not cursor:
        return {}
    return {key: int(value) for key, _, value in (part.partition(":") for part in cursor.split(","))}


def format_cursor(positions: Mapping[str, int]) -> str | None:
    return ",".join(f"{key}:{value}" for key, value in sorted(positions.items())) or None


@dataclass(frozen=True)
class Step:
    """What one expansion step did: rows written, and whether anyone is left to expand."""

    written: int
    exhausted: bool  # nobody left after the cursors (for now)
    claimed: bool = True  # False: another instance recorded a step first; nothing was written


async def expand_step(
    *,
    session: AsyncSession,
    broadcast: Broadcast,
    city: CityConfig,
    texts: Translator,
    now: datetime,
    caps: Mapping[str, int],
    whatsapp: WhatsAppLimits,
) -> Step:
    """Write the next recipients' rows, up to each channel's trickle bound (`caps`, from backlog()),
    and move the cursor with them, in the caller's transaction. Commit it as one."""
    assert broadcast.id is not None
    segment = segment_of(broadcast)
    positions = parse_cursor(broadcast.cursor)
    pending = await q.pending_by_channel(session=session, broadcast_id=broadcast.id)
    rows: list[dict[str, Any]] = []
    exhausted = True
    if segment.officers:
        channel = Channel.TELEGRAM.value
        room = caps.get(channel, 1) - pending.get(channel, 0)
        if room > 0:
            assert segment.value is not None
            after = positions.get(STAFF_CURSOR, 0)
            officers = await q.next_officers(session=session, unit=segment.value, after=after, limit=room)
            lang = language_for(broadcast, texts.default_language)
            action = message_for(broadcast, texts, lang, channel=channel, citizen=False)
            copy = _copy(broadcast, action, channel=channel, lang=lang, now=now)
            for officer in officers:
                rows.append({**copy, "chat_id": officer.user_id, "role": q.ROW_ROLE})
                positions[STAFF_CURSOR] = officer.id or 0
            exhausted = len(officers) < room
        else:
            exhausted = False
    else:
        where = segment.citizens(city)
        for channel in segment.channels:
            room = caps.get(channel, 1) - pending.get(channel, 0)
            if room <= 0:
                exhausted = False
                continue
            lane = _Lane(broadcast, texts, channel, positions.get(channel, 0), now)
            if channel == Channel.WHATSAPP.value and whatsapp.template:
                done = await _expand_whatsapp(session, lane, where, room, whatsapp)
            else:
                done = await _expand_plain(session, lane, where, room)
            rows.extend(lane.rows)
            if lane.after:
                positions[channel] = lane.after
            exhausted = exhausted and done
    new_cursor = format_cursor(positions)
    if not rows and new_cursor == broadcast.cursor:
        return Step(written=0, exhausted=exhausted)
    claimed = await q.claim_step(
        session=session,
        broadcast_id=broadcast.id,
        cursor=broadcast.cursor,
        queued=broadcast.queued,
        new_cursor=new_cursor,
        new_queued=broadcast.queued + len(rows),
    )
    if not claimed:
        return Step(written=0, exhausted=False, claimed=False)
    await q.insert_rows(session=session, rows=rows)
    broadcast.cursor, broadcast.queued = new_cursor, broadcast.queued + len(rows)
    return Step(written=len(rows), exhausted=exhausted)


@dataclass
class _Lane:
    """One channel's part of a step: its cursor and the rows written."""

    broadcast: Broadcast
    texts: Translator
    channel: str
    after: int
    now: datetime

    def __post_init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._copies: dict[str, dict[str, Any]] = {}  # language → the row but for chat and role

    def add(self, citizen: Citizen, role: str = q.ROW_ROLE) -> None:
        lang = language_for(self.broadcast, citizen.language)
        copy = self._copies.get(lang)
        if copy is None:
            action = message_for(self.broadcast, self.texts, lang, channel=self.channel, citizen=True)
            copy = _copy(self.broadcast, action, channel=self.channel, lang=lang, now=self.now)
            self._copies[lang] = copy
        self.rows.append({**copy, "chat_id": citizen.chat_id, "role": role})


async def _expand_plain(
    session: AsyncSession, lane: _Lane, where: Sequence[ColumnElement[bool]], room: int
) -> bool:
    """The next `room` recipients of the channel; True when nobody is left after them."""
    channel_where = [*where, q.on_channel(lane.channel)]
    citizens = await q.next_citizens(session=session, where=channel_where, after=lane.after, limit=room)
    for citizen in citizens:
        lane.add(citizen)
        lane.after = citizen.id or lane.after
    return len(citizens) < room


async def _expand_whatsapp(
    session: AsyncSession,
    lane: _Lane,
    where: Sequence[ColumnElement[bool]],
    room: int,
    limits: WhatsAppLimits,
) -> bool:
    """WhatsApp within the tier. In id order: someone whose window is open, or already counted in
    the last 24 h, costs nothing; anyone else takes a free place. At the first who finds none, the
    cursor stops (they are carried over); those after it whose window is open still get theirs now."""
    assert lane.broadcast.id is not None
    since = lane.now - TIER_PERIOD
    free = limits.tier - await q.tier_used(session=session, since=since)
    # open for at least another hour: a window closing while the copy waits in the outbox or for a
    # retry would make it a template, a conversation the tier did not make room for
    opened_after = lane.now - limits.window + WINDOW_MARGIN
    channel_where = [*where, q.on_channel(lane.channel), q.no_row_yet(lane.broadcast.id)]
    citizens = await q.next_citizens(session=session, where=channel_where, after=lane.after, limit=room)
    counted = await q.tier_chats_among(session=session, since=since, chat_ids=[c.chat_id for c in citizens])
    blocked = False
    for citizen in citizens:
        if as_utc(citizen.last_seen_at) > opened_after or citizen.chat_id in counted:
            lane.add(citizen)
        elif free > 0:
            lane.add(citizen, role=q.TIER_ROLE)
            free -= 1
            counted.add(citizen.chat_id)
        else:
            blocked = True
            break
        lane.after = citizen.id or lane.after
    if not blocked:
        return len(citizens) < room
    # carried over: meanwhile the ones whose window is open, wherever they are after the cursor
    room -= len(lane.rows)
    if room > 0:
        open_where = [*channel_where, q.wrote_after(opened_after)]
        for citizen in await q.next_citizens(session=session, where=open_where, after=lane.after, limit=room):
            lane.add(citizen)
    return False


# --- progress ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A broadcast's numbers: from its outbox rows and the recipients not expanded yet.

    `remaining`: still to be sent (queued or not expanded yet), carried-over ones included;
    `carried_over`: WhatsApp recipients waiting for the tier's places to free, from `carried_until`;
    `waiting`: WhatsApp copies held until the person writes (outside the window, no template);
    `withdrawn`: copies not sent because the broadcast was cancelled; `skipped`: recipients counted at
    the confirmation who opted out or became unreachable before their turn."""

    total: int
    sent: int
    failed: int
    remaining: int
    carried_over: int = 0
    carried_until: datetime | None = None
    expected_end: datetime | None = None
    waiting: int = 0
    withdrawn: int = 0
    skipped: int = 0
    carried_later: int = 0  # finished: WhatsApp copies that went a tier window (24 h) or more after the start


async def broadcast_progress(
    *,
    session: AsyncSession,
    broadcast: Broadcast,
    now: datetime,
    rate: float,
    city: CityConfig | None = None,
    whatsapp: WhatsAppLimits | None = None,
    rates: Mapping[str, float] | None = None,
) -> Progress:
    """Where a broadcast stands. `rate`: messages per second it is sent at (for the expected end), or
    `rates` per channel (the channels send side by side: the slowest to finish decides). Recipients
    not expanded yet are counted only with `city`; WhatsApp's carry-over with `whatsapp` too (the
    runner passes all of them)."""
    assert broadcast.id is not None
    rows = await q.rows_by_status(session=session, broadcast_id=broadcast.id)
    sent, failed = rows.get(OutboxStatus.SENT, 0), rows.get(OutboxStatus.FAILED, 0)
    pending, held = rows.get(OutboxStatus.PENDING, 0), rows.get(OutboxStatus.HELD, 0)
    cancelled = rows.get(OutboxStatus.CANCELLED, 0)
    active = broadcast.status not in q.FINAL
    later: dict[str, int] = {}
    carried, carried_until = 0, None
    if active and city is not None:
        later = await _not_expanded(session, broadcast, city)
        if whatsapp is not None and whatsapp.template and later.get(Channel.WHATSAPP.value):
            carried, carried_until = await _carried(session, broadcast, city, whatsapp, now)
    remaining = pending + sum(later.values())
    queued_total = sent + failed + held + remaining
    total = max(broadcast.total, queued_total + cancelled)
    if broadcast.status == BroadcastStatus.CANCELLED:
        withdrawn, skipped = max(0, total - sent - failed - held), 0
    else:
        withdrawn, skipped = 0, max(0, total - queued_total)
    expected_end = None
    if remaining and active and rate > 0:
        seconds = (remaining - carried) / rate
        if rates:
            queued = await q.pending_by_channel(session=session, broadcast_id=broadcast.id)
            left = {c: queued.get(c, 0) + later.get(c, 0) for c in set(queued) | set(later)}
            left[Channel.WHATSAPP.value] = left.get(Channel.WHATSAPP.value, 0) - carried
            seconds = max(n / rates.get(c, rate) for c, n in left.items())
        expected_end = now + timedelta(seconds=seconds)
        if carried and carried_until is not None:
            wa_rate = (rates or {}).get(Channel.WHATSAPP.value, rate)
            expected_end = max(expected_end, carried_until + timedelta(seconds=carried / wa_rate))
    carried_later = 0
    if not active and whatsapp is not None and broadcast.started_at is not None:
        later_on = as_utc(broadcast.started_at) + TIER_PERIOD
        carried_later = await q.rows_since(
            session=session, broadcast_id=broadcast.id, channel=Channel.WHATSAPP.value, since=later_on
        )
    return Progress(
        carried_later=carried_later,
        total=total,
        sent=sent,
        failed=failed,
        remaining=remaining if active else 0,
        carried_over=carried,
        carried_until=carried_until,
        expected_end=expected_end,
        waiting=held,
        withdrawn=withdrawn,
        skipped=skipped,
    )


async def _not_expanded(session: AsyncSession, broadcast: Broadcast, city: CityConfig) -> dict[str, int]:
    """Recipients after the cursors, per channel (WhatsApp: without a copy from the window-open lane)."""
    assert broadcast.id is not None
    segment = segment_of(broadcast)
    positions = parse_cursor(broadcast.cursor)
    if segment.officers:
        assert segment.value is not None
        after = positions.get(STAFF_CURSOR, 0)
        return {
            Channel.TELEGRAM.value: await q.count_officers(session=session, unit=segment.value, after=after)
        }
    where = segment.citizens(city)
    counts = {}
    for channel in segment.channels:
        channel_where = [*where, q.on_channel(channel)]
        if channel == Channel.WHATSAPP.value:
            channel_where.append(q.no_row_yet(broadcast.id))
        counts[channel] = await q.count_after(
            session=session, where=channel_where, after=positions.get(channel, 0)
        )
    return counts


async def _carried(
    session: AsyncSession, broadcast: Broadcast, city: CityConfig, limits: WhatsAppLimits, now: datetime
) -> tuple[int, datetime | None]:
    """WhatsApp recipients not expanded yet who need a place the tier does not have now, and when the
    first place frees (24 h after the oldest conversation counted)."""
    assert broadcast.id is not None
    since = now - TIER_PERIOD
    free = max(0, limits.tier - await q.tier_used(session=session, since=since))
    where = [
        *segment_of(broadcast).citizens(city),
        q.on_channel(Channel.WHATSAPP.value),
        q.no_row_yet(broadcast.id),
        ~q.wrote_after(now - limits.window),
    ]
    after = parse_cursor(broadcast.cursor).get(Channel.WHATSAPP.value, 0)
    carried = max(0, await q.count_after(session=session, where=where, after=after) - free)
    if not carried:
        return 0, None
    oldest = await q.tier_oldest(session=session, since=since)
    return carried, (as_utc(oldest) if oldest is not None else now) + TIER_PERIOD


# --- what the admin reads ----------------------------------------------------------------------------


def local_time(city: CityConfig, moment: datetime) -> str:
    """A moment as the city's local time: 23/11/2026 09:05 WIB."""
    local = as_utc(moment).astimezone(ZoneInfo(city.city.timezone))
    return f"{local:%d/%m/%Y %H:%M} {local.tzname()}"


def progress_text(
    broadcast: Broadcast, progress: Progress, *, texts: Translator, lang: str, city: CityConfig, tier: int
) -> str:
    """The live progress message, or the final report once it is done or cancelled."""
    segment = Safe(segment_of(broadcast).describe(texts, lang, city))
    numbers = {
        "id": broadcast.id,
        "segment": segment,
        "total": progress.total,
        "sent": progress.sent,
        "failed": progress.failed,
    }
    if broadcast.status == BroadcastStatus.CANCELLED:
        lines = [texts("broadcast.cancelled", lang, withdrawn=progress.withdrawn, **numbers)]
    elif broadcast.status == BroadcastStatus.DONE:
        lines = [texts("broadcast.done", lang, **numbers)]
    else:
        lines = [texts("broadcast.progress", lang, remaining=progress.remaining, **numbers)]
        if progress.expected_end is not None:
            lines.append(texts("broadcast.expected_end", lang, at=local_time(city, progress.expected_end)))
    if progress.carried_over and progress.carried_until is not None:
        until = local_time(city, progress.carried_until)
        lines.append(texts("broadcast.carried_over", lang, count=progress.carried_over, tier=tier, at=until))
    if progress.carried_later:
        lines.append(texts("broadcast.carried_later", lang, count=progress.carried_later, tier=tier))
    if progress.waiting:
        lines.append(texts("broadcast.waiting", lang, count=progress.waiting))
    if progress.skipped and broadcast.status != BroadcastStatus.SENDING:
        lines.append(texts("broadcast.skipped", lang, count=progress.skipped))
    return "\n".join(lines)


def cancel_button(broadcast: Broadcast, texts: Translator, lang: str) -> Button:
    return Button(
        label=texts.plain("broadcast.cancel_button", lang), payload=f"{CANCEL_PREFIX}{broadcast.id}"
    )
