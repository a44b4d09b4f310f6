"""Forecast arithmetic on constructed rows (no database)."""

import datetime as dt
from decimal import Decimal

from sales import forecast

TODAY = dt.date(2026, 6, 15)


def row(
    outcome,
    value,
    probability=50,
    *,
    stage="demo",
    owner="ae1",
    close=dt.date(2026, 7, 1),
    first=None,
    created=dt.date(2026, 1, 1),
    closed=None,
    source="web_form",
):
    return forecast.Row(
        outcome=outcome,
        value=Decimal(value),
        probability=probability,
        stage=stage,
        owner=owner,
        close_date=close,
        first_close_date=first or close,
        created=created,
        closed=closed,
        groups={"source": source, "campaign": "", "team": "Closing", "rep": owner},
    )


ROWS = [
    row("open", 1000, 10, stage="discovery", close=dt.date(2026, 7, 3)),
    row("open", 3000, 60, stage="proposal", owner="ae2", close=dt.date(2026, 7, 20), first=dt.date(2026, 7, 1)),
    row("open", 2000, 80, stage="negotiation", close=dt.date(2026, 6, 1)),
    row("won", 4000, created=dt.date(2026, 1, 1), closed=dt.date(2026, 1, 31)),
    row("won", 2000, created=dt.date(2026, 2, 1), closed=dt.date(2026, 3, 3), source="event"),
    row("lost", 9000, closed=dt.date(2026, 3, 1)),
]


def test_weighted_forecast_by_close_month_next_to_unweighted():
    result = forecast.summary(ROWS, today=TODAY)
    assert result["forecast"] == [
        {"month": "2026-06", "unweighted": Decimal("2000.00"), "weighted": Decimal("1600.00")},
        {"month": "2026-07", "unweighted": Decimal("4000.00"), "weighted": Decimal("1900.00")},
    ]


def test_open_pipeline_by_stage_and_owner():
    result = forecast.summary(ROWS, today=TODAY)
    assert result["open"] == {"count": 3, "value": Decimal("6000.00")}
    assert result["by_stage"]["proposal"] == {"count": 1, "value": Decimal("3000.00")}
    assert result["by_owner"] == {
        "ae1": {"count": 2, "value": Decimal("3000.00")},
        "ae2": {"count": 1, "value": Decimal("3000.00")},
    }


def test_win_rate_average_deal_cycle_slipped_and_overdue():
    result = forecast.summary(ROWS, today=TODAY)
    assert result["win_rate"] == round(2 / 3, 4)
    assert result["average_deal"] == Decimal("3000.00")
    assert result["cycle_days"] == 30.0  # 30 and 30 days
    assert result["slipped"] == 1
    assert result["overdue"] == 1


def test_velocity_is_open_times_average_times_win_rate_over_cycle():
    # 3 open x 3000 average x 2/3 win rate / 30 days = 200 a day
    assert forecast.velocity_of(ROWS) == Decimal("200.00")
    by_source = forecast.velocity(ROWS, "source")
    assert by_source["event"] == Decimal("0.00")  # no open deals from events
    assert by_source["web_form"] > 0


def test_no_closed_deals_gives_zero_not_a_division_error():
    result = forecast.summary([row("open", 100)], today=TODAY)
    assert result["win_rate"] == 0.0 and result["average_deal"] == Decimal("0.00")
    assert forecast.velocity_of([row("open", 100)]) == Decimal("0.00")
