"""How the dashboard pages write figures, names, times and periods in the page's language.

Plain strings (the templates escape them): "12,5 jam kerja" / "12.5 working hours", "75%" with
"3 dari 4" beside it, "81,25 (B)", "—" for no data. Indonesian writes a decimal comma and a thousands
dot. Names come from the city's configuration; a key the city no longer knows is shown as it is.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.i18n import Translator
from workflows.city_config import CityConfig
from workflows.quality import NO_AREA, Satisfaction, Share
from workflows.satisfaction import Period

NONE = "—"  # no data: the page says why beside it
ROMAN = ("I", "II", "III", "IV")


class Present:
    """The formatting of one page: its language, the city, the catalogue."""

    def __init__(self, texts: Translator, lang: str, city: CityConfig) -> None:
        self.texts, self.lang, self.city = texts, lang, city
        self.zone = ZoneInfo(city.city.timezone)
        self._months = self.text("dashboard_pages.months").split(",")
        self._short = self.text("dashboard_pages.months_short").split(",")

    def text(self, key: str, **params: object) -> str:
        return self.texts.plain(key, self.lang, **params)

    # --- numbers --------------------------------------------------------------------------------

    def number(self, value: float, digits: int = 1) -> str:
        written = f"{value:,.{digits}f}"
        if self.lang == "id":
            written = written.translate(str.maketrans(",.", ".,"))
        return written

    def count(self, value: int) -> str:
        return self.number(value, 0)

    def hours(self, value: float | None) -> str:
        """Working hours with their unit: "12,5 jam kerja"."""
        if value is None:
            return NONE
        return self.text("dashboard_pages.hours", hours=self.number(value))

    def percent(self, share: Share) -> str:
        """A share as a percentage, one decimal only when it is not whole: "75%", "83,3%"."""
        if share.share is None:
            return NONE
        value = share.share * 100
        return f"{self.number(value, 0 if value == round(value) else 1)}%"

    def fraction(self, share: Share) -> str:
        """What the percentage is of: "3 dari 4"."""
        return self.text("dashboard_pages.of", count=self.count(share.count), of=self.count(share.of))

    def skm(self, satisfaction: Satisfaction) -> str:
        """The SKM index (2 decimals, as the survey's rules write it) with its grade: "81,25 (B)"."""
        if satisfaction.index is None:
            return NONE
        return f"{self.number(satisfaction.index, 2)} ({satisfaction.grade})"

    def answers(self, satisfaction: Satisfaction) -> str:
        return self.text("dashboard_pages.answers", count=self.count(satisfaction.responses))

    # --- names ----------------------------------------------------------------------------------

    def unit(self, key: str) -> str:
        unit = self.city.units.get(key)
        return unit.name.get(self.lang) if unit else key

    def category(self, key: str) -> str:
        category = self.city.categories.get(key)
        return category.name.get(self.lang) if category else key

    def area(self, key: str | None) -> str:
        if not key or key == NO_AREA:
            return self.text("dashboard_pages.no_area")
        area = self.city.areas.get(key)
        return area.name if area else key

    def name(self, scope: str, key: str) -> str:
        """The name of a row of the figures (scope unit, category or area)."""
        return {"unit": self.unit, "category": self.category, "area": self.area}[scope](key)

    def label(self, group: str, key: str) -> str:
        """A catalogue word of a group (status, event, actor, identity, age), or the key itself."""
        name = f"dashboard_pages.{group}.{key}"
        return self.text(name) if self.texts.has(name) else key

    def status(self, status: str) -> str:
        return self.label("status", status)

    # --- time -----------------------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def date(self, moment: datetime | None) -> str:
        if moment is None:
            return NONE
        day = self.local(moment)
        return f"{day.day} {self._short[day.month - 1]} {day.year}"

    def moment(self, moment: datetime | None) -> str:
        """A stored time in the city's zone: "20 Nov 2026 15:00"."""
        if moment is None:
            return NONE
        return f"{self.date(moment)} {self.local(moment):%H:%M}"

    def age(self, since: datetime, now: datetime) -> str:
        """How long ago, in calendar time: "18 jam", "12 hari"."""
        hours = int(max((now - since).total_seconds(), 0) // 3600)
        if hours < 24:
            return self.text("dashboard_pages.age_hours", hours=self.count(hours))
        return self.text("dashboard_pages.age_days", days=self.count(hours // 24))

    def step(self, label: str, granularity: str) -> str:
        """A trend step's label for a chart's axis: "5 Nov", "W45", "Nov 2026"."""
        if granularity == "day":
            _, month, day = label.split("-")
            return f"{int(day)} {self._short[int(month) - 1]}"
        if granularity == "week":
            return label.split("-", 1)[1]
        year, month = label.split("-")
        return f"{self._short[int(month) - 1]} {year}"

    def period(self, label: str) -> str:
        """A period's name: "November 2026", "Triwulan IV 2026", "Tahun 2026"."""
        if "-Q" in label:
            year, quarter = label.split("-Q")
            return self.text("dashboard_pages.quarter", quarter=ROMAN[int(quarter) - 1], year=year)
        if "-" in label:
            year, month = label.split("-")
            return f"{self._months[int(month) - 1]} {year}"
        return self.text("dashboard_pages.year", year=label)

    def period_of(self, period: Period) -> str:
        return self.period(period.label)
