"""A country's public holidays from the `holidays` package, computed in a short-lived child process.

Importing `holidays` loads every country it knows (about 280 modules, with the lunar calendars'
tables): 12 MB more in the running bot (benchmarks/memory.py), for a few dozen dates a year. So the
dates are worked out by a child Python (about 0.15 s, during which the caller waits: at start-up,
when the city configuration is read, and then once per four years asked for) and only they are
kept, each country and year once per process. Should the child fail (no interpreter to spawn, say), the
package is imported here after all: the dates are right either way.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC, date, datetime
from threading import Lock
from typing import Literal

log = logging.getLogger(__name__)

YEARS_AROUND = (-1, 2)  # a lookup of one year fetches these years around it too (deadlines run ahead)

_CHILD = """
import json, sys
import holidays
country, years = sys.argv[1], [int(y) for y in sys.argv[2:]]
if country not in holidays.list_supported_countries():
    print(json.dumps(None))
else:
    dates = {y: sorted(d.isoformat() for d in holidays.country_holidays(country, years=y)) for y in years}
    print(json.dumps(dates))
"""

_known: dict[str, bool] = {}
_dates: dict[tuple[str, int], frozenset[date]] = {}
_lock = Lock()


def is_known_country(country: str) -> bool:
    """Whether the `holidays` package knows this country code (e.g. "ID")."""
    if country not in _known:
        # which years come along is only a guess at what is asked next (the real clock is fine here)
        _fetch(country, datetime.now(UTC).year)
    return _known[country]


def public_holidays(country: str, year: int) -> frozenset[date]:
    """The country's public holidays in `year` (empty for a code the package does not know)."""
    if (country, year) not in _dates:
        _fetch(country, year)
    return _dates.get((country, year), frozenset())


def _fetch(country: str, year: int) -> None:
    years = [year + step for step in range(YEARS_AROUND[0], YEARS_AROUND[1] + 1)]
    with _lock:
        if (country, year) in _dates or _known.get(country) is False:
            return
        found = _in_child(country, years)
        if found is None:
            found = _here(country, years)
        _known[country] = found is not False
        if found is not False:
            for each, days in found.items():
                _dates[(country, each)] = frozenset(date.fromisoformat(day) for day in days)


def _in_child(country: str, years: list[int]) -> dict[int, list[str]] | Literal[False] | None:
    """{year: dates} from a child Python; False for an unknown country; None if the child failed."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, country, *map(str, years)],
            capture_output=True, text=True, timeout=60, check=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        answer = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        log.warning(
            "public holidays for %s: the child process failed (%s); working them out here", country, error
        )
        return None
    if answer is None:
        return False
    return {int(each): days for each, days in answer.items()}


def _here(country: str, years: list[int]) -> dict[int, list[str]] | Literal[False]:
    import holidays

    if country not in holidays.list_supported_countries():
        return False
    return {y: [d.isoformat() for d in holidays.country_holidays(country, years=y)] for y in years}
