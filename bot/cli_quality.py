"""`civicbot report quality`: the quality figures of a period (workflows/quality.py) for a terminal
(an aligned table in the chosen language), a spreadsheet (CSV) or a program (JSON).

CSV and JSON use stable English machine keys, like `civicbot report satisfaction`; CSV has one row
per unit, category and area, and the total last.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from handlers.i18n import Translator
    from workflows.city_config import CityConfig
    from workflows.quality import Block, Figures, Share

FORMATS = ("table", "csv", "json")
CSV_COLUMNS = (
    *("scope", "key", "name", "received", "resolved", "open"),
    *("open_lt1d", "open_1to3d", "open_3to7d", "open_7to30d", "open_gt30d"),
    *("response_count", "response_median_hours", "response_p90_hours"),
    *("resolution_count", "resolution_median_hours", "resolution_p90_hours"),
    *("response_met", "response_decided", "resolution_met", "resolution_decided"),
    *("reopened", "reopened_of", "skm_index", "skm_grade", "skm_responses"),
)
_NONE = "-"


def report_quality(
    period: Annotated[str, typer.Option(help="a month 2026-11, a quarter 2026-Q4 or a year 2026")],
    unit: Annotated[str | None, typer.Option(help="only this unit (its key)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    lang: Annotated[str, typer.Option(help="the language of names and headers: id or en")] = "id",
) -> None:
    """Received, open, response and resolution times, SLA compliance, reopened tickets and the
    satisfaction index of a period, in total and per unit, category and area; no identities."""
    from bot.cli import _unit, _with_db, check_report_options
    from handlers.i18n import Translator
    from locales import load_catalogues
    from workflows.quality import Filter, quality_figures
    from workflows.satisfaction import Period
    from workflows.sla import Calendars

    check_report_options(period=period, fmt=fmt, formats=FORMATS, lang=lang)

    async def work(session: AsyncSession, city: CityConfig, now: datetime) -> str:
        chosen = _unit(city, unit) if unit is not None else None
        span = Period.parse(period, city.city.timezone)
        figures = await quality_figures(
            session=session,
            city=city,
            calendars=Calendars(city),
            filter=Filter.of(span, unit=chosen),
            now=now,
        )
        if fmt == "json":
            return render_json(figures)
        names = _namer(city, lang)
        if fmt == "csv":
            return render_csv(figures, names)
        texts = Translator(load_catalogues(), overrides=city.texts)
        return render_table(figures, texts, lang, names, city.city.timezone)

    typer.echo(_with_db(work))


Names = Callable[[str, str], str]  # (scope, key) → a name in the report's language


def _namer(city: CityConfig, lang: str) -> Names:
    def name(scope: str, key: str) -> str:
        if scope == "unit" and key in city.units:
            return city.units[key].name.get(lang)
        if scope == "category" and key in city.categories:
            return city.categories[key].name.get(lang)
        if scope == "area" and key in city.areas:
            return city.areas[key].name
        return key

    return name


def render_json(figures: Figures) -> str:
    from workflows.quality import as_dict

    return json.dumps(as_dict(figures), ensure_ascii=False, indent=2)


def render_csv(figures: Figures, names: Names) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in figures.rows:
        writer.writerow(_csv_cells(row.scope, row.key, names(row.scope, row.key), row.figures))
    writer.writerow(_csv_cells("total", "total", "", figures.total))
    return buffer.getvalue()


def _csv_cells(scope: str, key: str, name: str, block: Block) -> list[object]:
    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    backlog = block.backlog
    return [
        *(scope, key, name, block.received, block.resolved, backlog["total"]),
        *(backlog["lt1d"], backlog["1to3d"], backlog["3to7d"], backlog["7to30d"], backlog["gt30d"]),
        *(block.response_hours.count, number(block.response_hours.median), number(block.response_hours.p90)),
        block.resolution_hours.count,
        *(number(block.resolution_hours.median), number(block.resolution_hours.p90)),
        *(
            block.response_sla.count,
            block.response_sla.of,
            block.resolution_sla.count,
            block.resolution_sla.of,
        ),
        *(block.reopened.count, block.reopened.of),
        *(number(block.satisfaction.index), block.satisfaction.grade or "", block.satisfaction.responses),
    ]


def render_table(figures: Figures, texts: Translator, lang: str, names: Names, timezone: str) -> str:
    def t(key: str, **params: object) -> str:
        return texts.plain(key, lang, **params)

    def hours(median: float | None, p90: float | None) -> str:
        return _NONE if median is None or p90 is None else f"{median:.1f} / {p90:.1f}"

    def share(part: Share) -> str:
        return _NONE if part.share is None else f"{part.count}/{part.of} {part.share:.0%}"

    def cells(scope: str, name: str, block: Block) -> list[str]:
        skm = block.satisfaction
        return [
            t(f"quality.scope.{scope}"),
            name,
            str(block.received),
            str(block.resolved),
            str(block.backlog["total"]),
            hours(block.response_hours.median, block.response_hours.p90),
            hours(block.resolution_hours.median, block.resolution_hours.p90),
            share(block.response_sla),
            share(block.resolution_sla),
            share(block.reopened),
            _NONE if skm.index is None else f"{skm.index:.2f} {skm.grade}",
        ]

    headers = [
        t(f"quality.column.{key}")
        for key in (
            *("scope", "name", "received", "resolved", "open", "response", "resolution"),
            *("response_sla", "resolution_sla", "reopened", "index"),
        )
    ]
    lines = [cells("total", "", figures.total)]
    scopes = ["total"]
    for row in figures.rows:
        name = names(row.scope, row.key) if row.key else t("quality.no_area")
        lines.append(cells(row.scope, name, row.figures))
        scopes.append(row.scope)
    widths = [max(len(cells[i]) for cells in [headers, *lines]) for i in range(len(headers))]
    left = {0, 1}

    def aligned(cells: list[str]) -> str:
        parts = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    local = figures.now.astimezone(ZoneInfo(timezone))
    out = [
        t("quality.title", period=figures.filter.label),
        t("quality.as_of", now=f"{local:%Y-%m-%d %H:%M %Z}"),
        "",
    ]
    out += [aligned(headers), rule]
    for index, line in enumerate(lines):
        if index and scopes[index] != scopes[index - 1]:
            out.append(rule)
        out.append(aligned(line))
    backlog = figures.backlog_by_age
    out += [
        "",
        t(
            "quality.backlog",
            lt1d=backlog["lt1d"],
            d1to3=backlog["1to3d"],
            d3to7=backlog["3to7d"],
            d7to30=backlog["7to30d"],
            gt30d=backlog["gt30d"],
            total=backlog["total"],
        ),
    ]
    if not figures.rows:
        out.append(t("quality.nothing"))
    out.append(t("quality.footnote"))
    return "\n".join(out)
