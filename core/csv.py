"""The one CSV writer of the product: every CSV a person may open in a spreadsheet goes through it.

Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` (and, in some of them, a tab or a
carriage return before one) as a formula: `=HYPERLINK(...)` from a public web form would become a link
in a marketing user's spreadsheet (CSV injection). `safe_cell` prefixes such text cells with an
apostrophe, which spreadsheets show as text. Numbers stay numbers (a negative ROI is `-12.5`, not
`'-12.5`); E.164 phone numbers (`+4989...`) get the prefix, which is the accepted trade-off.

Used by the data-subject exports (`privacy.rights.as_csv`), the report CSVs and the report e-mail's
attachment (`reporting.tables`); any later CSV output must use `writer()` too.
"""

import csv as _csv
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Number(str):
    """A cell that is a formatted number (`number_cell`): written as it is, never prefixed."""


def number_cell(value, text: str) -> str:
    """`text` (how `value` is shown) marked as a number when `value` is one, so `-12.5` stays a number."""
    return Number(text) if isinstance(value, int | float | Decimal) and not isinstance(value, bool) else text


def safe_cell(value):
    """The cell as written: text that a spreadsheet would run as a formula is prefixed with `'`."""
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` whose rows are neutralised cell by cell; ints, floats and Decimals pass as numbers."""

    def __init__(self, out, **options):
        self._writer = _csv.writer(out, **options)

    def writerow(self, row):
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def writer(out, **options) -> SafeWriter:
    return SafeWriter(out, **options)


def read_cell(value: str) -> str:
    """A cell read back from a CSV this writer wrote: the apostrophe `safe_cell` put before a formula start
    goes again (a fixed file of rejected rows is uploaded as it was downloaded)."""
    if value.startswith("'") and value[1:2] and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value
