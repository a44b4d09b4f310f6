"""Formatting of report cells: counts, percentages, days, minutes, money."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext as _

register = template.Library()

DECIMALS = {"count": 0, "percent": 1, "days": 1, "minutes": 1, "money": 2}
SUFFIX = {"percent": "\u00a0%"}


@register.filter
def cell(value, kind="text"):
    """A table cell as text: '–' for no value, numbers grouped by the active language, durations in minutes,
    hours or days as fits ("18 min", "4.5 h", "12.3 days"), money with its currency (the first of
    SALES_CURRENCIES; whole units from 1,000 on)."""
    if value is None or value == "":
        return "–" if kind in DECIMALS else ""
    if kind == "minutes" and isinstance(value, int | float | Decimal):
        return duration(value)
    if kind == "money" and isinstance(value, int | float | Decimal):
        # cents only where they matter (under 1,000): at a glance, and the ROI columns fit the page; CSV and API
        # keep the exact amounts
        cents = 2 if value != int(value) and abs(value) < 1000 else 0
        amount = Decimal(str(value)).quantize(Decimal(1) if cents == 0 else Decimal("0.01"), ROUND_HALF_UP)
        return f"{number_format(amount, cents, force_grouping=True)}\u00a0{currency()}"
    if kind in DECIMALS and isinstance(value, int | float | Decimal):
        return number_format(value, DECIMALS[kind], force_grouping=True) + SUFFIX.get(kind, "")
    return value


@register.filter
def money(value, currency_code=""):
    """An amount with its own currency ("12.500 CHF"); the first configured currency when none is given."""
    if value is None or value == "":
        return "–"
    amount = number_format(value, 0 if value == int(value) else 2, force_grouping=True)
    return f"{amount}\u00a0{currency_code or currency()}"


def currency() -> str:
    return (settings.SALES_CURRENCIES or ["EUR"])[0]


def duration(minutes) -> str:
    """Minutes in the unit that reads best: under an hour in minutes, under two days in hours, else days."""
    minutes = float(minutes)
    if minutes < 60:
        return _("%(count)s min") % {"count": number_format(round(minutes), 0)}
    if minutes < 48 * 60:
        return _("%(count)s h") % {"count": number_format(minutes / 60, 1)}
    return _("%(count)s days") % {"count": number_format(minutes / 1440, 1)}


@register.filter
def share_of(value, whole):
    """Width in percent of a bar for `value` of `whole` (e-mail bars)."""
    try:
        return max(1, min(100, round(100 * float(value or 0) / float(whole)))) if whole else 0
    except (TypeError, ValueError):
        return 0
