"""Formatting of report cells: counts, percentages, days, minutes, money."""

from decimal import Decimal

from django import template
from django.utils.formats import number_format

register = template.Library()

DECIMALS = {"count": 0, "percent": 1, "days": 1, "minutes": 1, "money": 2}
SUFFIX = {"percent": "\u00a0%"}


@register.filter
def cell(value, kind="text"):
    """A table cell as text: '–' for no value, numbers grouped by the active language."""
    if value is None or value == "":
        return "–" if kind in DECIMALS else ""
    if kind in DECIMALS and isinstance(value, int | float | Decimal):
        return number_format(value, DECIMALS[kind], force_grouping=True) + SUFFIX.get(kind, "")
    return value


@register.filter
def share_of(value, whole):
    """Width in percent of a bar for `value` of `whole` (e-mail bars)."""
    try:
        return max(1, min(100, round(100 * float(value or 0) / float(whole)))) if whole else 0
    except (TypeError, ValueError):
        return 0
