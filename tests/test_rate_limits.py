"""The rate-limit ledger: when each chat and each channel may send next, by the time it is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.rate_limits import HEADROOM, ChannelLimits, Rate, RateLimits, is_group_chat
from bot.settings import Settings

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def telegram(*, overall: float = 30.0, paid: float | None = None) -> RateLimits:
    return RateLimits(
        {
            "telegram": ChannelLimits(
                overall=Rate.per_second(overall),
                private_chat=Rate.per_second(1),
                group_chat=Rate.per_minute(20),
                paid=Rate.per_second(paid) if paid else None,
            )
        }
    )


def test_a_private_chat_may_have_one_message_a_second() -> None:
    limits = telegram()
    assert limits.chat_free_at("telegram", "1001", T0) == T0
    limits.record("telegram", "1001", T0)
    assert limits.chat_free_at("telegram", "1001", T0 + 0.999 * SECOND) == T0 + SECOND
    assert limits.chat_free_at("telegram", "1001", T0 + SECOND) == T0 + SECOND
    assert limits.chat_free_at("telegram", "2002", T0) == T0  # another chat is not held up


def test_a_group_may_have_twenty_a_minute_at_once_then_as_the_first_ones_age() -> None:
    limits = telegram()
    at = T0
    for _ in range(20):
        assert limits.chat_free_at("telegram", "-100500", at) == at
        limits.record("telegram", "-100500", at)
        at += SECOND
    # the 21st waits for the first to be a minute old, the 22nd for the second
    assert limits.chat_free_at("telegram", "-100500", at) == T0 + 60 * SECOND
    limits.record("telegram", "-100500", T0 + 60 * SECOND)
    assert limits.chat_free_at("telegram", "-100500", T0 + 60 * SECOND) == T0 + 61 * SECOND


def test_the_channel_pace_spaces_sends_evenly_and_reserves_the_slot_of_a_caller_who_waited() -> None:
    limits = telegram(overall=10)
    limits.record("telegram", "1", T0)
    assert limits.channel_free_at("telegram", T0) == T0 + SECOND / 10
    # the caller slept for the slot, but its clock did not move (a frozen test clock): the send is booked
    # at the slot, so the next one is a further tenth of a second on
    limits.record("telegram", "2", T0)
    assert limits.channel_free_at("telegram", T0) == T0 + 2 * SECOND / 10


def test_paid_broadcasts_have_their_own_pace_only_when_configured() -> None:
    limits = telegram(overall=30, paid=1000)
    assert limits.paid_broadcast("telegram")
    limits.record("telegram", "1", T0, paid=True)
    assert limits.channel_free_at("telegram", T0, paid=True) == T0 + timedelta(milliseconds=1)
    assert limits.channel_free_at("telegram", T0) == T0  # the free pace is untouched by paid sends
    assert not telegram().paid_broadcast("telegram")
    assert not telegram().paid_broadcast("whatsapp")


def test_a_channel_without_limits_is_never_held() -> None:
    limits = telegram()
    for _ in range(5):
        limits.record("console", "console", T0)
    assert limits.chat_free_at("console", "console", T0) == T0
    assert limits.channel_free_at("console", T0) == T0


def test_flat_limits_pace_every_channel_and_no_chat() -> None:
    limits = RateLimits.flat(2)
    limits.record("whatsapp", "628111", T0)
    assert limits.chat_free_at("whatsapp", "628111", T0) == T0
    assert limits.channel_free_at("whatsapp", T0) == T0 + SECOND / 2


def test_chats_gone_quiet_are_forgotten() -> None:
    limits = telegram()
    for n in range(100):
        limits.record("telegram", str(n), T0)
    limits.record("telegram", "-100500", T0)
    limits.record("telegram", "x", T0 + 2 * SECOND)  # a minute has not passed: nothing forgotten yet
    assert len(limits._chats) == 102
    limits.record("telegram", "y", T0 + 61 * SECOND)
    assert set(limits._chats) == {("telegram", "y")}  # the group's minute is over too


def test_settings_name_every_limit() -> None:
    settings = Settings.model_validate(
        {
            "TELEGRAM_MESSAGES_PER_SECOND": "25",
            "TELEGRAM_PER_CHAT_PER_SECOND": "0.5",
            "TELEGRAM_PER_CHAT_BURST": "2",
            "TELEGRAM_GROUP_PER_MINUTE": "10",
            "TELEGRAM_PAID_BROADCAST_PER_SECOND": "500",
            "WHATSAPP_MESSAGES_PER_SECOND": "40",
        }
    )
    limits = RateLimits.from_settings(settings)
    tg = limits.limits("telegram")
    assert tg == ChannelLimits(
        overall=Rate.per_second(25 * HEADROOM),
        private_chat=Rate(2, 4.0),
        group_chat=Rate(10, 60.0),
        paid=Rate.per_second(500 * HEADROOM),
    )
    assert limits.limits("whatsapp") == ChannelLimits(overall=Rate.per_second(40 * HEADROOM))
    assert 0.95 < HEADROOM < 1  # a little under the limit, never over it
    defaults = RateLimits.from_settings(Settings.model_validate({}))
    assert not defaults.paid_broadcast("telegram")
    assert defaults.limits("telegram") == ChannelLimits(
        overall=Rate.per_second(30 * HEADROOM), private_chat=Rate(3, 3.0), group_chat=Rate(20, 60.0)
    )  # a reply of three messages goes at once, then one a second on average


def test_paid_broadcast_is_capped_at_telegrams_thousand_a_second() -> None:
    with pytest.raises(ValueError, match="1000"):
        Settings.model_validate({"TELEGRAM_PAID_BROADCAST_PER_SECOND": "5000"})


def test_group_chats_are_the_negative_ids() -> None:
    assert is_group_chat("-1001234567890") and is_group_chat("-4001")
    assert not is_group_chat("4242") and not is_group_chat("6281234567890")


def test_a_send_telegram_failed_with_a_server_error_gives_its_slot_to_the_next() -> None:
    limits = telegram(overall=10)
    at = T0
    for n in range(40):  # a broadcast under way earns the right to a few refunds
        at = limits.channel_free_at("telegram", at)
        limits.record("telegram", str(n), at)
    failed_at = at
    assert limits.channel_free_at("telegram", at) == at + SECOND / 10
    assert limits.refund("telegram")  # Telegram answered 500: that message did not go
    assert limits.channel_free_at("telegram", at) == at  # the next one goes at once, in its place
    limits.record("telegram", "next", at)
    assert limits.channel_free_at("telegram", at) == failed_at + SECOND / 10  # then the pace as before


def test_a_platform_failing_every_send_is_not_tried_faster_than_the_pace() -> None:
    limits = telegram(overall=10)
    at = T0
    refunded = 0
    for n in range(100):
        at = limits.channel_free_at("telegram", at)
        limits.record("telegram", str(n), at)
        refunded += limits.refund("telegram")  # every one of them failed
    assert refunded <= 100 * 0.05 + 1  # a few slots given back, then none
    assert at >= T0 + (100 - refunded - 1) * SECOND / 10
