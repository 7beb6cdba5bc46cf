"""The public satisfaction index (SKM, Permenpan RB 14/2017) of a period, per unit and per category.

| step                   | rule                                                                      |
|------------------------|---------------------------------------------------------------------------|
| a response             | a survey whose ratings are complete (`rated_at`) inside the period        |
| an element's mean (NRR)| the mean score (1–4) over the responses that rated that element           |
| the index (IKM)        | the mean of the element means (equal weights) × 25, rounded to 2 decimals |
| the grade              | A 88.31–100, B 76.61–88.30, C 65.00–76.60, D 25.00–64.99                  |
| fixed / not fixed      | "fixed?" answered yes / no (`fixed_at`) inside the period                 |
| no feedback            | expired surveys (never answered) that ended (`finished_at`) in the period |

The period is a month, a quarter or a year of the city's calendar (its time zone). The report is
identity-free: it is built from unit, category, status, dates and scores only; no citizen id, ticket
or comment goes into it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Survey, SurveyStatus
from workflows.city_config import CityConfig
from workflows.clock import as_utc

SCALE = range(1, 5)  # SKM scores: 1 not good … 4 very good
CONVERSION = 25  # index = mean score × 25: the 25–100 scale
TOTAL_KEY = "total"
SCOPES = ("unit", "category", "total")

# the lowest rounded index of each grade (Permenpan RB 14/2017, table of the conversion)
GRADE_BANDS: tuple[tuple[Decimal, str], ...] = (
    (Decimal("88.31"), "A"),
    (Decimal("76.61"), "B"),
    (Decimal("65.00"), "C"),
    (Decimal("25.00"), "D"),
)

PERIOD_HINT = "use YYYY-MM, YYYY-Qn or YYYY (for example 2026-11, 2026-Q4 or 2026)"
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")
_YEAR = re.compile(r"(\d{4})")


@dataclass(frozen=True)
class Period:
    """A month, quarter or year of the city's calendar: [start, end) in UTC."""

    label: str  # as written back: 2026-11, 2026-Q4, 2026
    start: datetime
    end: datetime  # exclusive
    timezone: str

    @classmethod
    def parse(cls, text: str, timezone: str = "Asia/Jakarta") -> Period:
        """'2026-11', '2026-Q4' or '2026' in the zone; ValueError saying what to write otherwise."""
        value = text.strip()
        try:
            if match := _MONTH.fullmatch(value):
                year, month = int(match.group(1)), int(match.group(2))
                if not 1 <= month <= 12:
                    raise ValueError(f"month {month} does not exist")
                label, first, months = f"{year:04d}-{month:02d}", month, 1
            elif match := _QUARTER.fullmatch(value):
                year, quarter = int(match.group(1)), int(match.group(2))
                label, first, months = f"{year:04d}-Q{quarter}", 3 * quarter - 2, 3
            elif match := _YEAR.fullmatch(value):
                year = int(match.group(1))
                label, first, months = f"{year:04d}", 1, 12
            else:
                raise ValueError("not a month, quarter or year")
            zone = ZoneInfo(timezone)
            start = datetime(year, first, 1, tzinfo=zone)
            after = first + months  # the month after the period, maybe in the next year
            end = datetime(year + (after - 1) // 12, (after - 1) % 12 + 1, 1, tzinfo=zone)
        except (ValueError, OverflowError) as error:
            raise ValueError(f"period {text!r} is not understood ({error}); {PERIOD_HINT}") from None
        return cls(label=label, start=start.astimezone(UTC), end=end.astimezone(UTC), timezone=timezone)

    def __contains__(self, moment: object) -> bool:
        """Whether a stored time (naive = UTC, as SQLite gives it back) falls in the period."""
        if not isinstance(moment, datetime):
            return False
        return self.start <= as_utc(moment) < self.end

    def where(self, column: datetime | None) -> ColumnElement[bool]:
        """The same test in SQL on a model's column (Survey.rated_at): stored times are UTC."""
        stored = col(column)
        return and_(stored >= self.start, stored < self.end)


class SurveyFacts(Protocol):
    """What the report reads of a survey; a Survey row has it, and so does SurveyRow."""

    @property
    def unit(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def fixed(self) -> bool | None: ...
    @property
    def fixed_at(self) -> datetime | None: ...
    @property
    def ratings(self) -> Mapping[str, int]: ...
    @property
    def rated_at(self) -> datetime | None: ...
    @property
    def finished_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class SurveyRow:
    """The identity-free columns of a survey, as read for the report."""

    unit: str
    category: str
    status: str
    fixed: bool | None
    fixed_at: datetime | None
    ratings: Mapping[str, int]
    rated_at: datetime | None
    finished_at: datetime | None


# ---------------------------------------------------------------------------------------------
# the index


def element_means(
    responses: Iterable[Mapping[str, int]], elements: Sequence[str]
) -> dict[str, Fraction | None]:
    """Each element's mean score (NRR) over the responses that rated it; None when none did.

    Scores outside 1–4 (or not whole numbers) are not scores and are left out."""
    totals = {key: [0, 0] for key in elements}  # sum, count
    for ratings in responses:
        for key in elements:
            score = ratings.get(key)
            if isinstance(score, int) and not isinstance(score, bool) and score in SCALE:
                totals[key][0] += score
                totals[key][1] += 1
    return {key: Fraction(total, count) if count else None for key, (total, count) in totals.items()}


def skm_index(means: Mapping[str, Fraction | None]) -> Decimal | None:
    """The mean of the element means (equal weights) × 25, rounded half up to 2 decimals."""
    rated = [mean for mean in means.values() if mean is not None]
    if not rated:
        return None
    exact = sum(rated, Fraction(0)) / len(rated) * CONVERSION
    return _round(exact)


def grade(index: Decimal | float | None) -> str | None:
    """A, B, C or D for an index, judged on its value rounded to 2 decimals."""
    if index is None:
        return None
    value = _round(Decimal(str(index)))
    for lowest, letter in GRADE_BANDS:
        if value >= lowest:
            return letter
    return "D"  # below the scale (cannot happen with scores 1–4)


def _round(value: Fraction | Decimal) -> Decimal:
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------
# the report


@dataclass(frozen=True)
class Row:
    """One group of the report: a unit, a category, or the total. No identities in it."""

    scope: str  # unit, category, total
    key: str  # the unit or category key; "total" for the total
    name: str  # in the report's language; the key when the city no longer knows it; "" for the total
    responses: int
    index: float | None
    grade: str | None
    means: dict[str, float | None]  # element key → mean score rounded to 2 decimals
    fixed: int
    not_fixed: int
    no_feedback: int


@dataclass(frozen=True)
class Report:
    period: Period
    elements: tuple[str, ...]  # the rated elements (question keys), in the configured order
    rows: tuple[Row, ...]
    language: str = "id"
    codes: Mapping[str, str | None] = field(default_factory=dict)  # element → SKM code (U1–U9)

    @property
    def total(self) -> Row:
        return next(row for row in self.rows if row.scope == "total")


@dataclass
class _Group:
    responses: list[Mapping[str, int]] = field(default_factory=list)
    fixed: int = 0
    not_fixed: int = 0
    no_feedback: int = 0


def compute_report(
    surveys: Iterable[SurveyFacts],
    *,
    period: Period,
    elements: Sequence[str],
    unit_names: Mapping[str, str] | None = None,
    category_names: Mapping[str, str] | None = None,
    language: str = "id",
    codes: Mapping[str, str | None] | None = None,
) -> Report:
    """The report of the period from survey rows (pure: no database, no clock).

    Rows come in the order of the names given (the city's order), then unknown keys sorted; a unit
    or category with nothing in the period is left out; the total is always there, last."""
    unit_names = unit_names or {}
    category_names = category_names or {}
    groups: dict[tuple[str, str], _Group] = {}
    total = _Group()
    for survey in surveys:
        response = survey.rated_at in period
        fixed = survey.fixed if survey.fixed is not None and survey.fixed_at in period else None
        expired = survey.status == SurveyStatus.EXPIRED and survey.finished_at in period
        if not (response or fixed is not None or expired):
            continue
        for group in (
            groups.setdefault(("unit", survey.unit), _Group()),
            groups.setdefault(("category", survey.category), _Group()),
            total,
        ):
            if response:
                group.responses.append(dict(survey.ratings))
            if fixed is True:
                group.fixed += 1
            elif fixed is False:
                group.not_fixed += 1
            if expired:
                group.no_feedback += 1

    def row(scope: str, key: str, name: str, group: _Group) -> Row:
        means = element_means(group.responses, elements)
        index = skm_index(means)
        return Row(
            scope=scope,
            key=key,
            name=name,
            responses=len(group.responses),
            index=float(index) if index is not None else None,
            grade=grade(index),
            means={k: float(_round(m)) if m is not None else None for k, m in means.items()},
            fixed=group.fixed,
            not_fixed=group.not_fixed,
            no_feedback=group.no_feedback,
        )

    rows: list[Row] = []
    for scope, names in (("unit", unit_names), ("category", category_names)):
        keys = [k for k in names if (scope, k) in groups]
        keys += sorted(k for s, k in groups if s == scope and k not in names)
        rows += [row(scope, k, names.get(k, k), groups[(scope, k)]) for k in keys]
    rows.append(row("total", TOTAL_KEY, "", total))
    return Report(
        period=period, elements=tuple(elements), rows=tuple(rows), language=language, codes=dict(codes or {})
    )


async def satisfaction_report(
    *, session: AsyncSession, city: CityConfig, period: Period, language: str = "id"
) -> Report:
    """Read the surveys with something in the period and compute the report (names in language)."""
    statement = select(Survey).where(
        or_(
            period.where(Survey.rated_at),
            period.where(Survey.fixed_at),
            and_(col(Survey.status) == SurveyStatus.EXPIRED.value, period.where(Survey.finished_at)),
        )
    )
    surveys = (await session.exec(statement)).all()  # only unit, category, status, dates, scores are read
    questions = city.surveys.questions
    return compute_report(
        surveys,
        period=period,
        elements=[q.key for q in questions],
        unit_names={key: unit.name.get(language) for key, unit in city.units.items()},
        category_names={key: category.name.get(language) for key, category in city.categories.items()},
        language=language,
        codes={q.key: q.skm for q in questions},
    )
