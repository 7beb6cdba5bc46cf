"""Rendering reports for a terminal or another program: an aligned table, CSV or JSON.

The table speaks the report's language (the `report.*` catalogue texts); CSV and JSON use stable
English machine keys so that spreadsheets and scripts do not break when a text is reworded.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from handlers.i18n import Translator
from workflows.satisfaction import Report, Row

FORMATS = ("table", "csv", "json")
CSV_COLUMNS = ("scope", "key", "name", "responses", "index", "grade", "fixed", "not_fixed", "no_feedback")
_NONE = "-"


def render(report: Report, fmt: str, texts: Translator | None = None) -> str:
    """The report in one of FORMATS (ValueError for another); the table needs the texts."""
    if fmt == "table":
        if texts is None:
            raise ValueError("the table needs the catalogue texts")
        return render_table(report, texts)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    raise ValueError(f"format {fmt!r} is not known; use one of: {', '.join(FORMATS)}")


def render_table(report: Report, texts: Translator) -> str:
    lang = report.language

    def t(key: str, **params: Any) -> str:
        return texts.plain(key, lang, **params)

    def number(value: float | None) -> str:
        return _NONE if value is None else f"{value:.2f}"

    headers = [
        t("report.column.scope"),
        t("report.column.name"),
        t("report.column.responses"),
        t("report.column.index"),
        t("report.column.grade"),
        *(f"{report.codes.get(key) or ''} {key}".strip() for key in report.elements),
        t("report.column.fixed"),
        t("report.column.not_fixed"),
        t("report.column.no_feedback"),
    ]
    numeric = [False, False, True, True, False, *(True for _ in report.elements), True, True, True]
    lines = [
        [
            t(f"report.scope.{row.scope}"),
            row.name,
            str(row.responses),
            number(row.index),
            t(f"report.grade.{row.grade}") if row.grade else _NONE,
            *(number(row.means.get(key)) for key in report.elements),
            str(row.fixed),
            str(row.not_fixed),
            str(row.no_feedback),
        ]
        for row in report.rows
    ]
    widths = [max(len(cells[i]) for cells in [headers, *lines]) for i in range(len(headers))]

    def aligned(cells: list[str]) -> str:
        parts = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [t("report.title", period=report.period.label), ""]
    out.append(aligned(headers))
    out.append("  ".join("-" * width for width in widths))
    for index, cells in enumerate(lines):
        if report.rows[index].scope == "total" and index:
            out.append("  ".join("-" * width for width in widths))
        out.append(aligned(cells))
    out.append("")
    if report.total.responses == 0:
        out.append(t("report.no_responses"))
    out.append(t("report.footnote"))
    return "\n".join(out)


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *(f"mean_{key}" for key in report.elements)])
    for row in report.rows:
        writer.writerow(
            [
                row.scope,
                row.key,
                row.name,
                row.responses,
                _csv_number(row.index),
                row.grade or "",
                row.fixed,
                row.not_fixed,
                row.no_feedback,
                *(_csv_number(row.means.get(key)) for key in report.elements),
            ]
        )
    return buffer.getvalue()


def _csv_number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "scope": row.scope,
        "key": row.key,
        "name": row.name,
        "responses": row.responses,
        "index": row.index,
        "grade": row.grade,
        "means": dict(row.means),
        "fixed": row.fixed,
        "not_fixed": row.not_fixed,
        "no_feedback": row.no_feedback,
    }


def render_json(report: Report) -> str:
    period = report.period
    document = {
        "period": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "timezone": period.timezone,
        "language": report.language,
        "elements": list(report.elements),
        "rows": [_row_json(row) for row in report.rows],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)
