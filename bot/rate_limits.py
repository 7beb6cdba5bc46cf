"""The platforms' rate limits as a ledger: when may this chat, this channel, send next.

Nothing here sleeps or reads a clock: the outbox sender passes the time in and decides what to do
with the answer (skip a chat that is not free yet, sleep for the channel's pace). Each limit is a
sliding window over the sends recorded under one key: at most `count` sends in any `seconds`-long
stretch. A pace of n per second is `Rate(1, 1/n)`: evenly spaced, no burst to earn a 429 with.

Telegram (core.telegram.org/bots/faq): about 30 messages a second overall, one a second in a private
chat ("we may allow short bursts": a reply of up to three messages goes at once, then one a second on
average, `TELEGRAM_PER_CHAT_BURST`), 20 a minute in a group (a chat id starting with "-"); a bulk
message sent with `allow_paid_broadcast` ignores the overall limit, up to 1000 a second, for a fee
in Stars. WhatsApp's Cloud API: 80 messages a second per business number by default, nothing per
chat worth pacing for (its pair rate limit answers 131056 with a wait, which the sender honours like
any 429).

The ledger lives in one process: two instances on one database pace themselves separately, and a
restart forgets the recent sends (the first second after it may send a chat one message early).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

FORGET_EVERY = timedelta(minutes=1)  # how often the windows of chats gone quiet are dropped
# the overall paces aim this much under the configured limit: sends are spaced exactly, but they reach
# the platform a few milliseconds early or late, and a second holding one send too many earns a 429
HEADROOM = 0.98
# a send the platform answered with a server error did not count against its limits: its slot goes to
# the next message, but only so many: each send earns REFUND_SHARE of a slot, at most REFUND_CAP kept,
# so a platform failing every send is not tried faster than the pace
REFUND_SHARE = 0.05
REFUND_CAP = 3.0


@dataclass(frozen=True)
class Rate:
    """At most `count` sends in any `seconds`-long window."""

    count: int
    seconds: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.seconds <= 0:
            raise ValueError(f"not a rate: {self.count} per {self.seconds} s")

    @classmethod
    def per_second(cls, messages: float) -> Rate:
        """An even pace: one send every 1/messages seconds."""
        return cls(1, 1.0 / messages)

    @classmethod
    def burst(cls, burst: int, per_second: float) -> Rate:
        """`per_second` on average, with up to `burst` at once (a reply of two or three messages)."""
        return cls(burst, burst / per_second)

    @classmethod
    def per_minute(cls, messages: int) -> Rate:
        """Up to `messages` at once, then none until the first of them is a minute old."""
        return cls(messages, 60.0)

    @property
    def window(self) -> timedelta:
        # rounded up to whole microseconds: a window never ends a moment early
        return timedelta(microseconds=math.ceil(self.seconds * 1_000_000))


class _Window:
    """The last `rate.count` sends under one key: enough to tell when the next may go."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.sends: deque[datetime] = deque(maxlen=rate.count)

    def free_at(self, now: datetime) -> datetime:
        if len(self.sends) < self.rate.count:
            return now
        return max(now, self.sends[0] + self.rate.window)

    def take(self, now: datetime) -> datetime:
        """Record a send at the first free moment from now on (the caller waited for it); that moment."""
        at = self.free_at(now)
        self.sends.append(at)
        return at

    def quiet(self, now: datetime) -> bool:
        return not self.sends or self.sends[-1] + self.rate.window <= now


@dataclass(frozen=True)
class ChannelLimits:
    """One channel's limits. `paid`: the overall rate of bulk messages sent as paid broadcasts (None: off)."""

    overall: Rate
    private_chat: Rate | None = None
    group_chat: Rate | None = None
    paid: Rate | None = None

    def chat_rate(self, chat_id: str) -> Rate | None:
        return self.group_chat if is_group_chat(chat_id) else self.private_chat


def is_group_chat(chat_id: str) -> bool:
    """A Telegram group or channel (negative id); private chats and WhatsApp numbers are not."""
    return chat_id.startswith("-")


class RateLimits:
    """Per channel an overall pace and per chat a rate, answered from the sends recorded so far."""

    def __init__(
        self, channels: Mapping[str, ChannelLimits], *, default: ChannelLimits | None = None
    ) -> None:
        self.channels = dict(channels)
        self.default = default  # for a channel not named (None: no limit there)
        self._overall: dict[tuple[str, bool], _Window] = {}  # (channel, paid) → its window
        self._chats: dict[tuple[str, str], _Window] = {}  # (channel, chat id) → its window
        self._earned: dict[tuple[str, bool], float] = {}  # (channel, paid) → slots it may give back
        self._refunds: dict[tuple[str, bool], int] = {}  # (channel, paid) → slots given back, unused
        self._forget_after: datetime | None = None

    @classmethod
    def flat(cls, per_second: float) -> RateLimits:
        """One pace for every channel and no limit per chat (tests, a console)."""
        return cls({}, default=ChannelLimits(overall=Rate.per_second(per_second)))

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        paid = settings.telegram_paid_broadcast_per_second
        telegram = ChannelLimits(
            overall=Rate.per_second(settings.telegram_per_second * HEADROOM),
            private_chat=Rate.burst(settings.telegram_per_chat_burst, settings.telegram_per_chat_per_second),
            group_chat=Rate.per_minute(settings.telegram_group_per_minute),
            paid=Rate.per_second(paid * HEADROOM) if paid > 0 else None,
        )
        whatsapp = ChannelLimits(overall=Rate.per_second(settings.whatsapp_per_second * HEADROOM))
        return cls({"telegram": telegram, "whatsapp": whatsapp})

    def limits(self, channel: str) -> ChannelLimits | None:
        return self.channels.get(channel, self.default)

    def paid_broadcast(self, channel: str) -> bool:
        """Whether bulk messages on this channel go as paid broadcasts (their own, higher pace)."""
        limits = self.limits(channel)
        return limits is not None and limits.paid is not None

    def chat_free_at(self, channel: str, chat_id: str, now: datetime) -> datetime:
        """The first moment the chat may be sent to (`now` if it may now)."""
        window = self._chat(channel, chat_id)
        return now if window is None else window.free_at(now)

    def channel_free_at(self, channel: str, now: datetime, *, paid: bool = False) -> datetime:
        """The first moment the channel's overall pace (or its paid broadcast pace) allows a send."""
        window = self._channel(channel, paid)
        if window is None or self._refunds.get(self._key(channel, paid)):
            return now
        return window.free_at(now)

    def refund(self, channel: str, *, paid: bool = False) -> bool:
        """The platform did not take a send (a server error): the next one may go at once, if earned."""
        key = self._key(channel, paid)
        if self._earned.get(key, 0.0) < 1.0:
            return False
        self._earned[key] -= 1.0
        self._refunds[key] = self._refunds.get(key, 0) + 1
        return True

    def record(self, channel: str, chat_id: str, now: datetime, *, paid: bool = False) -> None:
        """A send to the chat is going out now (at the channel's next free moment if the caller's clock
        stood still while it waited): it counts against the chat's rate and the channel's pace."""
        self._forget_quiet(now)
        key = self._key(channel, paid)
        self._earned[key] = min(self._earned.get(key, 0.0) + REFUND_SHARE, REFUND_CAP)
        overall = self._channel(channel, paid)
        if self._refunds.get(key):  # the slot a failed send gave back
            self._refunds[key] -= 1
            overall = None
        for window in (overall, self._chat(channel, chat_id)):
            if window is not None:
                window.take(now)

    def _key(self, channel: str, paid: bool) -> tuple[str, bool]:
        limits = self.limits(channel)
        return (channel, paid and limits is not None and limits.paid is not None)

    def _channel(self, channel: str, paid: bool) -> _Window | None:
        limits = self.limits(channel)
        if limits is None:
            return None
        rate = limits.paid if paid and limits.paid is not None else limits.overall
        key = self._key(channel, paid)
        if key not in self._overall:
            self._overall[key] = _Window(rate)
        return self._overall[key]

    def _chat(self, channel: str, chat_id: str) -> _Window | None:
        window = self._chats.get((channel, chat_id))
        if window is None:
            limits = self.limits(channel)
            rate = limits.chat_rate(chat_id) if limits is not None else None
            if rate is None:
                return None
            window = self._chats[(channel, chat_id)] = _Window(rate)
        return window

    def _forget_quiet(self, now: datetime) -> None:
        """Drop the windows of chats with no send inside their window: a broadcast leaves thousands."""
        if self._forget_after is not None and now < self._forget_after:
            return
        self._forget_after = now + FORGET_EVERY
        for key in [key for key, window in self._chats.items() if window.quiet(now)]:
            del self._chats[key]


class SteadyClock:
    """Wall time that never jumps (NTP, a demo's FileClock): what the platforms count limits in."""

    def __init__(self) -> None:
        self._start = datetime.now(UTC)
        self._ticks = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._ticks)
