"""Pipeline and forecast arithmetic: pure functions over plain rows, so they test without a database.

velocity = open opportunities x average won value x win rate / average cycle length (days): the value the
pipeline is expected to close per day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Row:
    outcome: str  # open / won / lost
    value: Decimal | None
    probability: int  # the stage's win probability, percent
    stage: str
    owner: str
    close_date: dt.date | None
    first_close_date: dt.date | None
    created: dt.date
    closed: dt.date | None
    groups: dict  # {"source": ..., "campaign": ..., "team": ..., "rep": ...}


def _money(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def summary(rows: list[Row], *, today: dt.date) -> dict:
    open_rows = [r for r in rows if r.outcome == "open"]
    won = [r for r in rows if r.outcome == "won"]
    closed = [r for r in rows if r.outcome in ("won", "lost")]
    by_stage: dict[str, dict] = defaultdict(lambda: {"count": 0, "value": ZERO})
    by_owner: dict[str, dict] = defaultdict(lambda: {"count": 0, "value": ZERO})
    months: dict[str, dict] = defaultdict(lambda: {"unweighted": ZERO, "weighted": ZERO})
    for r in open_rows:
        value = r.value or ZERO
        by_stage[r.stage]["count"] += 1
        by_stage[r.stage]["value"] += value
        by_owner[r.owner]["count"] += 1
        by_owner[r.owner]["value"] += value
        if r.close_date:
            month = r.close_date.strftime("%Y-%m")
            months[month]["unweighted"] += value
            months[month]["weighted"] += value * r.probability / 100
    win_rate = len(won) / len(closed) if closed else 0.0
    average_deal = sum((r.value or ZERO for r in won), ZERO) / len(won) if won else ZERO
    cycle = sum((r.closed - r.created).days for r in won if r.closed) / len(won) if won else 0.0
    return {
        "open": {"count": len(open_rows), "value": _money(sum((r.value or ZERO for r in open_rows), ZERO))},
        "by_stage": {k: {"count": v["count"], "value": _money(v["value"])} for k, v in by_stage.items()},
        "by_owner": {k: {"count": v["count"], "value": _money(v["value"])} for k, v in sorted(by_owner.items())},
        "forecast": [
            {"month": m, "unweighted": _money(v["unweighted"]), "weighted": _money(v["weighted"])}
            for m, v in sorted(months.items())
        ],
        "win_rate": round(win_rate, 4),
        "average_deal": _money(average_deal),
        "cycle_days": round(cycle, 1),
        "velocity": {group: velocity(rows, group) for group in ("source", "campaign", "team", "rep")},
        "slipped": sum(
            1 for r in open_rows if r.first_close_date and r.close_date and r.close_date > r.first_close_date
        ),
        "overdue": sum(1 for r in open_rows if r.close_date and r.close_date < today),
    }


def velocity_of(rows: list[Row]) -> Decimal:
    open_count = sum(1 for r in rows if r.outcome == "open")
    won = [r for r in rows if r.outcome == "won"]
    closed = sum(1 for r in rows if r.outcome in ("won", "lost"))
    if not won or not closed:
        return ZERO
    average = sum((r.value or ZERO for r in won), ZERO) / len(won)
    cycle = sum((r.closed - r.created).days for r in won if r.closed) / len(won)
    return _money(Decimal(open_count) * average * Decimal(len(won)) / Decimal(closed) / Decimal(max(cycle, 1)))


def velocity(rows: list[Row], group: str) -> dict[str, Decimal]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        grouped[str(r.groups.get(group) or "-")].append(r)
    return {key: velocity_of(members) for key, members in sorted(grouped.items())}
