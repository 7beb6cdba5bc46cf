"""Public holidays come from the `holidays` package, worked out in a child process so the bot does not
carry the package (about 12 MB) while it runs; the dates are the package's either way."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date

import holidays
import pytest

from workflows import public_holidays


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(public_holidays, "_known", {})
    monkeypatch.setattr(public_holidays, "_dates", {})
    yield


def test_the_dates_are_the_packages(fresh_cache: None) -> None:
    for year in (2026, 2027):
        expected = frozenset(holidays.country_holidays("ID", years=year))
        assert public_holidays.public_holidays("ID", year) == expected
    assert date(2026, 8, 17) in public_holidays.public_holidays("ID", 2026)  # Hari Kemerdekaan


def test_without_a_child_process_the_dates_are_worked_out_here(
    fresh_cache: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(public_holidays.sys, "executable", "/nonexistent/python")
    expected = frozenset(holidays.country_holidays("ID", years=2026))
    assert public_holidays.public_holidays("ID", 2026) == expected
    assert "child process failed" in caplog.text


def test_an_unknown_country_has_no_holidays_and_is_refused_in_the_configuration(fresh_cache: None) -> None:
    from workflows.calendar import WorkingTime

    assert public_holidays.is_known_country("ID")
    assert not public_holidays.is_known_country("XX")
    assert public_holidays.public_holidays("XX", 2026) == frozenset()
    with pytest.raises(ValueError, match="not a country code known to the holidays package"):
        WorkingTime(holidays="XX")


def test_a_process_using_the_calendar_does_not_load_the_package() -> None:
    """The deadline skips Independence Day, and the `holidays` package never entered the bot's process."""
    code = textwrap.dedent(
        """
        import sys
        from datetime import datetime
        from zoneinfo import ZoneInfo
        from workflows.calendar import WorkCalendar, WorkingTime
        calendar = WorkCalendar("Asia/Jakarta", WorkingTime(holidays="ID"))
        # Friday 14 August 2026 at 15:00 plus two working hours: Monday 17 August is a holiday
        due = calendar.add(datetime(2026, 8, 14, 15, tzinfo=ZoneInfo("Asia/Jakarta")), 2 * 3600)
        print(due.astimezone(ZoneInfo("Asia/Jakarta")).isoformat())
        print(sorted(name for name in sys.modules if name.split(".")[0] == "holidays"))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    due, modules = done.stdout.split("\n")[:2]
    assert due.startswith("2026-08-18T08:")  # Tuesday morning: the holiday is not worked
    assert modules == "[]"
