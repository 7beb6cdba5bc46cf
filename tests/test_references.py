"""Ticket references: readable aloud, typable on a phone, forgiving of the usual slips."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from workflows.references import find_reference, new_reference, normalise_reference

PATTERN = re.compile(r"^ADU-\d{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def test_new_reference_has_the_documented_pattern_and_local_month() -> None:
    # 31 Dec 2026 20:00 UTC is already January 2027 in Jakarta
    reference = new_reference("ADU", datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
    assert PATTERN.match(reference), reference
    assert reference.startswith("ADU-2701-")
    assert not set(reference[-4:]) & set("ILOU")


def test_references_are_spread_out() -> None:
    moment = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert len({new_reference("ADU", moment) for _ in range(2000)}) > 1990


def test_what_people_type_finds_the_reference() -> None:
    assert normalise_reference("adu-2611-7kq4") == "ADU-2611-7KQ4"
    assert normalise_reference(" ADU 2611 7KQ4 ") == "ADU-2611-7KQ4"
    assert normalise_reference("ADU26117KQ4") == "ADU-2611-7KQ4"
    assert normalise_reference("ADU-2611-7KQO") == "ADU-2611-7KQ0"  # O typed for zero
    assert normalise_reference("ADU-2611-I1L4") == "ADU-2611-1114"
    assert normalise_reference("hello") is None
    assert normalise_reference("ADU-26-7KQ4") is None


def test_a_reference_inside_a_sentence() -> None:
    assert find_reference("tolong cek adu-2611-7kq4 ya pak") == "ADU-2611-7KQ4"
    assert find_reference("tiket saya mana") is None
