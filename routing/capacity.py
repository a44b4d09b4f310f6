"""Proactive capacity, pure: the MQL inflow of the coming days against the team's free capacity.

The forecast for a day is the recent level (mean MQLs a day over the last `level_days`) times that weekday's
factor (its mean over the last `pattern_days` against the mean of all days then), so a team that gets most MQLs on
Mondays sees Mondays coming. Capacity: the free places now (capacity minus open MQL + SAL of the reps who take
leads) plus the places the team frees (leads leaving MQL/SAL at the recent daily rate). The warning names the first
day on which the expected inflow so far exceeds what will be free by then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

LEVEL_DAYS = 14
PATTERN_DAYS = 56
DAYS_AHEAD = 7


@dataclass(frozen=True)
class Day:
    day: dt.date
    expected: float  # MQLs expected that day
    cumulative: float  # expected from tomorrow up to and including that day
    available: float  # free places by the end of that day (free now + released meanwhile)

    @property
    def is_short(self) -> bool:
        return self.cumulative > self.available


@dataclass(frozen=True)
class Forecast:
    days: tuple[Day, ...]
    level: float
    release_rate: float
    free_now: int

    @property
    def first_short(self) -> Day | None:
        return next((day for day in self.days if day.is_short), None)


def weekday_factors(daily: Mapping[dt.date, int], *, today: dt.date, pattern_days: int = PATTERN_DAYS) -> list[float]:
    """Monday..Sunday: each weekday's mean inflow over the last `pattern_days` against the mean of all days."""
    days = [today - dt.timedelta(days=offset) for offset in range(1, pattern_days + 1)]
    overall = sum(daily.get(day, 0) for day in days) / len(days)
    if overall == 0:
        return [1.0] * 7
    factors = []
    for weekday in range(7):
        same = [daily.get(day, 0) for day in days if day.weekday() == weekday]
        factors.append((sum(same) / len(same)) / overall if same else 1.0)
    return factors


def forecast(daily: Mapping[dt.date, int], *, today: dt.date, free_now: int, released: Mapping[dt.date, int],
             days_ahead: int = DAYS_AHEAD, level_days: int = LEVEL_DAYS, pattern_days: int = PATTERN_DAYS) -> Forecast:
    """`daily`: MQLs per day (past days, today excluded); `released`: leads that left MQL/SAL per day."""
    recent = [today - dt.timedelta(days=offset) for offset in range(1, level_days + 1)]
    level = sum(daily.get(day, 0) for day in recent) / level_days
    release_rate = sum(released.get(day, 0) for day in recent) / level_days
    factors = weekday_factors(daily, today=today, pattern_days=pattern_days)
    days, cumulative = [], 0.0
    for offset in range(1, days_ahead + 1):
        day = today + dt.timedelta(days=offset)
        expected = level * factors[day.weekday()]
        cumulative += expected
        days.append(Day(day=day, expected=expected, cumulative=cumulative,
                        available=free_now + release_rate * offset))
    return Forecast(days=tuple(days), level=level, release_rate=release_rate, free_now=free_now)
