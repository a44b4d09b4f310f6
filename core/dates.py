"""The window of dates the product accepts, everywhere (capture, tracking, activities, transitions, list
and report filters): from 1900-01-01 to 2200-12-31.

Why: PostgreSQL stores dates far outside what Python's `datetime` can read back (a timestamp before year
1 in UTC is stored as "1 BC" and every later read of the row fails), date arithmetic at the ends of the
calendar overflows (`9999-12-31 + 1 day`), and before 1893 the site's time zone renders with local mean
time offsets (`+00:53:28`) that are no RFC 3339 date-time. Nothing a lead management tool records lies
outside this window. Times of events additionally may not lie in the future (`MAX_CLOCK_SKEW`).
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2200, 12, 31)
EARLIEST_AT = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST_AT = dt.datetime(2201, 1, 1, tzinfo=dt.UTC)
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)


def out_of_window() -> str:
    return _("Enter a date between %(earliest)s and %(latest)s.") % {
        "earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat(),
    }


def in_window(value: dt.date | dt.datetime) -> bool:
    if isinstance(value, dt.datetime):
        aware = value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)
        return EARLIEST_AT <= aware < LATEST_AT
    return EARLIEST <= value <= LATEST


def validate_in_window(value) -> None:
    """A form/filter field validator for `EARLIEST`..`LATEST`."""
    if value is not None and not in_window(value):
        raise ValidationError(out_of_window(), code="out_of_window")


def parse_day(value) -> dt.date | None:
    """A date from a date object or a YYYY-MM-DD string; None when it is neither (or does not exist)."""
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    try:
        return parse_date(value.strip())
    except ValueError:  # well-formed but impossible: 2026-02-30
        return None


def parse_moment(value) -> dt.datetime | None:
    """An aware datetime from an ISO 8601 string (naive means UTC); None when it is none or impossible
    (2026-02-30, hour 25, offset +25:00)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value.strip())
    except (ValueError, OverflowError):
        return None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None
    return parsed
