"""The MQL inflow forecast against free capacity, pure and hand-computed."""

import datetime as dt

import pytest

from routing import capacity

TODAY = dt.date(2026, 12, 2)  # a Wednesday


def history(per_weekday):
    """56 past days with `per_weekday[weekday]` MQLs each."""
    return {TODAY - dt.timedelta(days=n): per_weekday[(TODAY - dt.timedelta(days=n)).weekday()] for n in range(1, 57)}


def test_the_forecast_follows_the_recent_level_and_the_weekday_pattern():
    daily = history([10, 5, 5, 5, 5, 0, 0])  # Mondays busy, weekends empty: 30 a week, 30/7 a day
    found = capacity.forecast(daily, today=TODAY, free_now=100, released={})
    level = 30 / 7
    assert found.level == pytest.approx(level)
    factors = capacity.weekday_factors(daily, today=TODAY)
    assert factors[0] == pytest.approx(10 / level) and factors[5] == 0
    monday = next(day for day in found.days if day.day.weekday() == 0)
    assert monday.expected == pytest.approx(10)
    assert found.days[-1].cumulative == pytest.approx(30)
    assert found.first_short is None


def test_it_warns_on_the_first_day_the_inflow_exceeds_the_free_places():
    daily = history([10, 10, 10, 10, 10, 10, 10])
    found = capacity.forecast(daily, today=TODAY, free_now=15, released={TODAY - dt.timedelta(days=1): 14})
    # 10 a day in, 1 a day released (14 over 14 days): day 1 needs 10 of 16, day 2 needs 20 of 17.
    assert found.release_rate == pytest.approx(1.0)
    assert found.first_short.day == TODAY + dt.timedelta(days=2)
    assert found.first_short.cumulative == pytest.approx(20) and found.first_short.available == pytest.approx(17)


def test_without_history_nothing_is_expected():
    found = capacity.forecast({}, today=TODAY, free_now=0, released={})
    assert all(day.expected == 0 for day in found.days) and found.first_short is None
