"""Pipeline and forecast arithmetic: pure functions over plain rows, so they test without a database.

velocity = open opportunities x average won value x win rate / average cycle length (days): the value the
pipeline is expected to close per day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
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


GROUPS = ("source", "campaign", "team", "rep")


@dataclass
class Counts:
    """What the figures of one set of opportunities are made of: sums and counts, so SQL can give them too."""

    open: int = 0
    open_value: Decimal = ZERO
    won: int = 0
    won_value: Decimal = ZERO
    closed: int = 0  # won or lost
    cycle_days: int = 0  # sum over the won ones (with a close time) of closed - created, in days


@dataclass
class Aggregates:
    """Everything `summary_of` needs. Built from rows here (`aggregate`, the reference) or by SQL aggregates
    (`sales.selectors.pipeline_aggregates`); a test compares the two."""

    totals: Counts = field(default_factory=Counts)
    slipped: int = 0
    overdue: int = 0
    by_stage: dict = field(default_factory=dict)  # stage -> [count, value] of open ones
    by_owner: dict = field(default_factory=dict)  # owner -> [count, value] of open ones
    months: dict = field(default_factory=dict)  # "YYYY-MM" -> [unweighted, weighted] of open ones
    groups: dict = field(default_factory=lambda: {g: {} for g in GROUPS})  # group -> key -> Counts


def add(counts: Counts, r: Row) -> None:
    value = r.value or ZERO
    if r.outcome == "open":
        counts.open += 1
        counts.open_value += value
    elif r.outcome in ("won", "lost"):
        counts.closed += 1
        if r.outcome == "won":
            counts.won += 1
            counts.won_value += value
            if r.closed:
                counts.cycle_days += (r.closed - r.created).days


def aggregate(rows: list[Row], *, today: dt.date) -> Aggregates:
    result = Aggregates()
    for r in rows:
        add(result.totals, r)
        for group in GROUPS:
            add(result.groups[group].setdefault(str(r.groups.get(group) or "-"), Counts()), r)
        if r.outcome != "open":
            continue
        value = r.value or ZERO
        for table, key in ((result.by_stage, r.stage), (result.by_owner, r.owner)):
            entry = table.setdefault(key, [0, ZERO])
            entry[0] += 1
            entry[1] += value
        if r.close_date:
            month = result.months.setdefault(r.close_date.strftime("%Y-%m"), [ZERO, ZERO])
            month[0] += value
            month[1] += value * r.probability / 100
            result.overdue += r.close_date < today
            result.slipped += bool(r.first_close_date and r.close_date > r.first_close_date)
    return result


def summary(rows: list[Row], *, today: dt.date) -> dict:
    """The pipeline report of plain rows (the reference for the SQL path)."""
    return summary_of(aggregate(rows, today=today))


def summary_of(data: Aggregates) -> dict:
    totals = data.totals
    win_rate = totals.won / totals.closed if totals.closed else 0.0
    average_deal = totals.won_value / totals.won if totals.won else ZERO
    cycle = totals.cycle_days / totals.won if totals.won else 0.0
    return {
        "open": {"count": totals.open, "value": _money(totals.open_value)},
        "by_stage": {k: {"count": c, "value": _money(v)} for k, (c, v) in data.by_stage.items()},
        "by_owner": {k: {"count": c, "value": _money(v)} for k, (c, v) in sorted(data.by_owner.items())},
        "forecast": [
            {"month": m, "unweighted": _money(u), "weighted": _money(w)} for m, (u, w) in sorted(data.months.items())
        ],
        "win_rate": round(win_rate, 4),
        "average_deal": _money(average_deal),
        "cycle_days": round(cycle, 1),
        "velocity": {
            group: {key: counts_velocity(c) for key, c in sorted(data.groups[group].items())} for group in GROUPS
        },
        "slipped": data.slipped,
        "overdue": data.overdue,
    }


def counts_velocity(c: Counts) -> Decimal:
    if not c.won or not c.closed:
        return ZERO
    average = c.won_value / c.won
    cycle = c.cycle_days / c.won
    return _money(Decimal(c.open) * average * Decimal(c.won) / Decimal(c.closed) / Decimal(max(cycle, 1)))


def velocity_of(rows: list[Row]) -> Decimal:
    counts = Counts()
    for r in rows:
        add(counts, r)
    return counts_velocity(counts)


def velocity(rows: list[Row], group: str) -> dict[str, Decimal]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        grouped[str(r.groups.get(group) or "-")].append(r)
    return {key: velocity_of(members) for key, members in sorted(grouped.items())}
