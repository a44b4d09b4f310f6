"""Business calendars and the one function that says when something is due. Pure: no database.

A `CalendarSpec` is a time zone, working hours per weekday (or "around the clock"), public holidays by
country and subdivision from the `holidays` package (DE, DE-BY, ...) and company closures (date ranges).
`due_at(start, duration, calendar)` adds a duration to a moment, counting only working time:

- `minutes` and `hours` count open time: 4 business hours from Friday 16:50 on 9-17 Mon-Fri is
  Monday 12:50 (Tuesday 12:50 when Monday is a holiday).
- `days` counts working days: the same time of day on the n-th working day after the start, the start
  first moved to the next open moment ("10 business days" from Monday 10:00 is Monday 10:00 two weeks
  later). When that time is not open on that day (a shorter Friday), the due is the close before it, or
  else the day's opening.

Windows are converted to absolute time day by day, so a day with a daylight-saving change has its real
length (a 00:00-24:00 day is 23 or 25 hours long) and every answer is an aware datetime in UTC. A window
edge at a wall time the change skips or repeats is taken at its first occurrence (`fold=0`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holiday_data

from routing.policy import WEEKDAYS, is_valid_time_zone, shift_windows

MINUTES = "minutes"
HOURS = "hours"
DAYS = "days"
UNITS = (MINUTES, HOURS, DAYS)

SEARCH_DAYS = 3 * 366  # a calendar closed for longer than this is treated as never open
DAY_MINUTES = 24 * 60
_ONE_DAY = dt.timedelta(days=1)


class CalendarNeverOpen(ValueError):
    """The calendar has no working time in the next three years (no hours, or everything closed)."""


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str = MINUTES

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"Unknown unit {self.unit!r}; use one of {', '.join(UNITS)}.")
        if self.amount < 0:
            raise ValueError("A duration cannot be negative.")

    def __str__(self) -> str:
        return f"{self.amount} {self.unit if self.amount != 1 else self.unit.rstrip('s')}"


@dataclass(frozen=True)
class CalendarSpec:
    """A calendar as the pure functions need it. Build it with `CalendarSpec.build(...)`.

    `windows[i]` are the open windows that start on weekday i (0 = Monday) as (start, end) minutes after
    local midnight; an end past 1440 runs into the next day.
    """

    time_zone: str = "UTC"
    windows: tuple[tuple[tuple[int, int], ...], ...] = ((),) * 7
    country: str = ""
    subdivision: str = ""
    closures: tuple[tuple[dt.date, dt.date], ...] = ()

    @classmethod
    def build(
        cls,
        *,
        time_zone: str = "UTC",
        working_hours: Mapping[str, Any] | None = None,
        always_open: bool = False,
        country: str = "",
        subdivision: str = "",
        closures: Iterable[tuple[dt.date, dt.date]] = (),
    ) -> CalendarSpec:
        if always_open:
            windows = tuple(((0, DAY_MINUTES),) for _day in WEEKDAYS)
        else:
            windows = tuple(_windows((working_hours or {}).get(day)) for day in WEEKDAYS)
        return cls(
            time_zone=time_zone,
            windows=windows,
            country=(country or "").upper(),
            subdivision=(subdivision or "").upper(),
            closures=tuple(sorted((start, end) for start, end in closures)),
        )

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.time_zone)


# --- the one function -----------------------------------------------------------------------------------


def due_at(start: dt.datetime, duration: Duration, calendar: CalendarSpec) -> dt.datetime:
    """When `duration` of working time after `start` ends (aware, UTC). Raises CalendarNeverOpen."""
    _require_aware(start)
    if duration.unit == DAYS:
        return add_working_days(start, duration.amount, calendar)
    minutes = duration.amount * (60 if duration.unit == HOURS else 1)
    return add_working_time(start, dt.timedelta(minutes=minutes), calendar)


def add_working_time(start: dt.datetime, amount: dt.timedelta, calendar: CalendarSpec) -> dt.datetime:
    """`start` plus `amount` of open time. Zero gives `start` itself; a due at a window's end is that end."""
    _require_aware(start)
    cursor = start.astimezone(dt.UTC)
    remaining = amount
    if remaining <= dt.timedelta(0):
        return cursor
    day = cursor.astimezone(calendar.zone).date() - _ONE_DAY  # yesterday's windows may run past midnight
    for _index in range(SEARCH_DAYS):
        for opens, closes in intervals(calendar, day):
            if closes <= cursor:
                continue
            begin = max(opens, cursor)
            available = closes - begin
            if available >= remaining:
                return begin + remaining
            remaining -= available
            cursor = closes
        day += _ONE_DAY
    raise CalendarNeverOpen("The calendar has no working time left.")


def add_working_days(start: dt.datetime, days: int, calendar: CalendarSpec) -> dt.datetime:
    """The same time of day on the `days`-th working day after the start (see the module docstring)."""
    first = next_open_moment(start, calendar)
    local = first.astimezone(calendar.zone)
    day, time_of_day = local.date(), local.time().replace(tzinfo=None)
    for _count in range(days):
        day = _next_working_day(calendar, day)
    candidate = _at(day, time_of_day, calendar.zone)
    if is_open(candidate, calendar):
        return candidate
    windows = intervals(calendar, day)
    closes_before = [closes for _opens, closes in windows if closes <= candidate]
    if closes_before:
        return max(closes_before)
    return min(opens for opens, _closes in windows if opens >= candidate)


def working_time_between(start: dt.datetime, end: dt.datetime, calendar: CalendarSpec) -> dt.timedelta:
    """Open time from `start` to `end` (zero when end is not after start). Overlapping windows count once."""
    _require_aware(start)
    _require_aware(end)
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    total = dt.timedelta(0)
    cursor = start
    day = start.astimezone(calendar.zone).date() - _ONE_DAY
    last = end.astimezone(calendar.zone).date()
    while day <= last and cursor < end:
        for opens, closes in intervals(calendar, day):
            begin, finish = max(opens, cursor), min(closes, end)
            if finish > begin:
                total += finish - begin
                cursor = finish
        day += _ONE_DAY
    return total


# --- questions about moments and days -------------------------------------------------------------------


def is_open(moment: dt.datetime, calendar: CalendarSpec) -> bool:
    """Whether the calendar is open at `moment` (window starts included, ends excluded)."""
    _require_aware(moment)
    moment = moment.astimezone(dt.UTC)
    day = moment.astimezone(calendar.zone).date()
    return any(
        opens <= moment < closes
        for candidate_day in (day - _ONE_DAY, day)
        for opens, closes in intervals(calendar, candidate_day)
    )


def next_open_moment(moment: dt.datetime, calendar: CalendarSpec) -> dt.datetime:
    """`moment` when the calendar is open then, otherwise the next opening (aware, UTC)."""
    _require_aware(moment)
    moment = moment.astimezone(dt.UTC)
    day = moment.astimezone(calendar.zone).date() - _ONE_DAY
    for _index in range(SEARCH_DAYS):
        for opens, closes in intervals(calendar, day):
            if closes > moment:
                return max(opens, moment)
        day += _ONE_DAY
    raise CalendarNeverOpen("The calendar has no working time left.")


def intervals(calendar: CalendarSpec, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """The open windows that start on local date `day`, as (opens, closes) in UTC, in order."""
    if is_closed_day(calendar, day):
        return []
    zone = calendar.zone
    found = []
    for start, end in calendar.windows[day.weekday()]:
        opens = _at_minutes(day, start, zone)
        closes = _at_minutes(day, end, zone)
        if closes > opens:
            found.append((opens, closes))
    return found


def is_working_day(calendar: CalendarSpec, day: dt.date) -> bool:
    return bool(calendar.windows[day.weekday()]) and not is_closed_day(calendar, day)


def is_closed_day(calendar: CalendarSpec, day: dt.date) -> bool:
    """A public holiday of the calendar's country (and subdivision) or a company closure."""
    if any(first <= day <= last for first, last in calendar.closures):
        return True
    return bool(calendar.country) and day in holiday_dates(calendar.country, calendar.subdivision, day.year)


def holiday_name(calendar: CalendarSpec, day: dt.date) -> str:
    if not calendar.country:
        return ""
    return holiday_data.country_holidays(
        calendar.country, subdiv=calendar.subdivision or None, years=day.year
    ).get(day, "")


@functools.lru_cache(maxsize=512)
def holiday_dates(country: str, subdivision: str, year: int) -> frozenset[dt.date]:
    return frozenset(holiday_data.country_holidays(country, subdiv=subdivision or None, years=year))


def holiday_problem(country: str, subdivision: str) -> str | None:
    """Why `holidays` cannot give public holidays for this country and subdivision, or None when it can."""
    if not country:
        return "Choose a country for the subdivision's holidays." if subdivision else None
    supported = holiday_data.list_supported_countries()
    country, subdivision = country.upper(), (subdivision or "").upper()
    if country not in supported:
        return f"No public holidays are known for the country code {country}."
    if subdivision and subdivision not in supported[country]:
        choices = ", ".join(supported[country]) or "none"
        return f"{subdivision} is not a subdivision of {country} with known holidays (choose from: {choices})."
    return None


def calendar_problem(
    *, time_zone: str, working_hours: Mapping[str, Any] | None, always_open: bool
) -> dict[str, str]:
    """Field -> sentence for what makes a calendar unusable (empty when it is fine)."""
    problems = {}
    if not is_valid_time_zone(time_zone):
        problems["time_zone"] = "Enter a time zone such as Europe/Berlin."
    if not always_open and not any(_windows((working_hours or {}).get(day)) for day in WEEKDAYS):
        problems["working_hours"] = "Enter working hours, or open the calendar around the clock."
    return problems


# --- helpers --------------------------------------------------------------------------------------------


def _next_working_day(calendar: CalendarSpec, day: dt.date) -> dt.date:
    for _index in range(SEARCH_DAYS):
        day += _ONE_DAY
        if is_working_day(calendar, day):
            return day
    raise CalendarNeverOpen("The calendar has no working day left.")


def _windows(value: Any) -> tuple[tuple[int, int], ...]:
    windows = []
    for window in shift_windows(value):
        if len(window) != 2:
            continue
        try:
            start, end = _minutes(window[0]), _minutes(window[1])
        except (TypeError, ValueError):
            continue
        if start >= DAY_MINUTES or start == end:
            continue
        windows.append((start, end if end > start else end + DAY_MINUTES))
    return tuple(sorted(windows))


def _minutes(value: str) -> int:
    hours, minutes = str(value).split(":")
    total = int(hours) * 60 + int(minutes)
    if not 0 <= total <= DAY_MINUTES or not 0 <= int(minutes) < 60:
        raise ValueError(value)
    return total


def _at_minutes(day: dt.date, minutes: int, zone: ZoneInfo) -> dt.datetime:
    extra_days, minutes = divmod(minutes, DAY_MINUTES)
    return _at(day + dt.timedelta(days=extra_days), dt.time(minutes // 60, minutes % 60), zone)


def _at(day: dt.date, time_of_day: dt.time, zone: ZoneInfo) -> dt.datetime:
    """Local wall time on a day -> UTC; a skipped or repeated wall time resolves with fold=0."""
    return dt.datetime.combine(day, time_of_day, tzinfo=zone).astimezone(dt.UTC)


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _require_aware(moment: dt.datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Give an aware datetime (with a time zone).")


def describe(windows: Sequence[tuple[int, int]]) -> str:
    """((540, 1020),) -> "09:00-17:00" (for the admin)."""
    return ", ".join(f"{_hhmm(start)}-{_hhmm(end)}" for start, end in windows)


def _hhmm(minutes: int) -> str:
    if minutes == DAY_MINUTES:
        return "24:00"
    minutes %= DAY_MINUTES
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
