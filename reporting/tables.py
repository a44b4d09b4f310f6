"""Report tables: one description renders as an HTML table, a CSV download and an e-mail section.

A `Table` names its columns and their kind (count, percent, days, minutes, money, text); rows are the
dicts the selectors return. `flags` on a column names the row key that marks a cell (out of band, slow).
"""

import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.http import HttpResponse
from django.utils.text import slugify

from core import csv


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text, count, percent, days, minutes, money, band
    flag: str = ""  # row key whose non-empty value marks this cell
    link: str = ""  # row key holding the URL of the lead list behind this cell's count (pages only)


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[dict]
    note: str = ""
    empty: str = ""
    extra: dict = field(default_factory=dict)

    def cells(self) -> list[dict]:
        """Rows for templates: {"cells": [{value, kind, flag}], "is_total": bool}."""
        out = []
        for row in self.rows:
            out.append({"is_total": bool(row.get("is_total")), "cells": [
                {"value": _band(row, c) if c.kind == "band" else row.get(c.key), "kind": c.kind,
                 "flag": row.get(c.flag, "") if c.flag else "", "link": row.get(c.link, "") if c.link else ""}
                for c in self.columns
            ]})
        return out


def _band(row: dict, column: Column) -> str:
    low, high = row.get(f"{column.key}_min"), row.get(f"{column.key}_max")
    if low is None or high is None:
        return ""
    return f"{_plain(low)}–{_plain(high)}"


def _plain(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def csv_value(value, kind: str = "text"):
    """A cell of a report CSV: numbers formatted (and kept numbers), text neutralised by `core.csv`."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return csv.number_cell(value, f"{value:.2f}")
    if isinstance(value, float):
        return csv.number_cell(value, f"{value:.2f}".rstrip("0").rstrip(".") if kind != "money" else f"{value:.2f}")
    return value


def write_csv(out, table: Table, *, with_title: bool = False) -> None:
    writer = csv.writer(out)
    if with_title:
        writer.writerow([table.title])
    writer.writerow([str(c.label) for c in table.columns])
    for row in table.rows:
        writer.writerow([
            csv_value(_band(row, c) if c.kind == "band" else row.get(c.key), c.kind) for c in table.columns
        ])


def csv_text(tables: list[Table]) -> str:
    """Several tables in one CSV, each under its title and separated by an empty line."""
    out = io.StringIO()
    for position, table in enumerate(tables):
        if position:
            out.write("\r\n")
        write_csv(out, table, with_title=True)
    return out.getvalue()


def csv_response(table: Table, *, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(filename)}.csv"'
    response.write("\ufeff")  # spreadsheet programs read UTF-8 with a byte-order mark
    write_csv(response, table)
    return response
