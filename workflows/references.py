"""Ticket references that are easy to read aloud and type on a phone.

Pattern: PREFIX-YYMM-XXXX, e.g. ADU-2611-7KQ4. YYMM is the month filed (Asia/Jakarta);
XXXX are four characters of Crockford's base 32 (digits and letters without I, L, O, U), so
nothing is ambiguous when read out, and typing O for 0 or I/L for 1 still finds the ticket.
Lower case, spaces and missing dashes are accepted. Four characters give 1,048,576
references a month; a collision is simply drawn again.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SHAPE = re.compile(r"^([A-Z]{2,5})-?(\d{4})-?([0-9A-Z]{4})$")


def new_reference(prefix: str, moment: datetime, timezone: str = "Asia/Jakarta") -> str:
    """A fresh random reference for a ticket filed at moment."""
    month = moment.astimezone(ZoneInfo(timezone)).strftime("%y%m")
    code = "".join(secrets.choice(ALPHABET) for _ in range(4))
    return f"{prefix}-{month}-{code}"


def normalise_reference(text: str) -> str | None:
    """What a person typed, as a stored reference; None when it cannot be one."""
    compact = re.sub(r"[\s\-_.#/]", "", text.strip().upper())
    match = _SHAPE.match(compact)
    if not match:
        return None
    prefix, month, code = match.groups()
    return f"{prefix}-{month}-{code.translate(_CONFUSABLE)}"


def find_reference(text: str) -> str | None:
    """A reference somewhere in a sentence ("status ADU-2611-7KQ4 dong")."""
    for token in re.findall(r"[A-Za-z]{2,5}[\s\-]?\d{4}[\s\-]?[0-9A-Za-z]{4}", text):
        reference = normalise_reference(token)
        if reference:
            return reference
    return None
