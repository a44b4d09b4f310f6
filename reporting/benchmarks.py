"""Benchmark bands and stall thresholds: the defaults of the seed articles (DOMAIN.md), changeable in the admin.

Every number here is a default. A `reporting.StageBenchmark` row for a stage (admin: Reporting -> Stage
benchmarks) replaces the conversion band and typical days; stall thresholds come from
`routing.StallThreshold` (admin: Routing -> Stall thresholds), so reports and the queue flag the same leads.
`reporting.selectors.current_bands()` applies them once per report. Pure: no database.
"""

from dataclasses import dataclass

from core.vocabulary import Stage


@dataclass(frozen=True)
class Band:
    """What is normal for one stage: conversion to the next funnel stage, days in the stage, stall threshold."""

    stage: str
    conversion_min: float | None  # percent of leads in this stage that reach the next one
    conversion_max: float | None
    days_min: float | None  # typical days in the stage (seed 000)
    days_max: float | None
    stall_days: float | None  # in the stage longer than this: stalled

    def conversion_flag(self, rate: float | None) -> str:
        """"below" / "above" the band, "" inside it or without a band or a rate."""
        if rate is None or self.conversion_min is None or self.conversion_max is None:
            return ""
        if rate < self.conversion_min:
            return "below"
        if rate > self.conversion_max:
            return "above"
        return ""

    def days_flag(self, days: float | None) -> str:
        """"slow" when the typical time is exceeded, "" otherwise."""
        if days is None or self.days_max is None:
            return ""
        return "slow" if days > self.days_max else ""


# Seed 000: MQL->SAL 15-30 %, SAL->SQL 40-60 %, SQL->opportunity 30-50 %, won 20-40 %; typical times
# known 7-30 days, MQL 1-3 days, SAL 1-2 weeks, SQL 2-6 weeks, opportunity 30-180 days. A lead is stalled
# when it sits in a stage longer than the upper end of its typical time.
DEFAULTS: dict[str, Band] = {
    Stage.KNOWN: Band(Stage.KNOWN, None, None, 7, 30, 30),
    Stage.MQL: Band(Stage.MQL, 15, 30, 1, 3, 3),
    Stage.SAL: Band(Stage.SAL, 40, 60, 7, 14, 14),
    Stage.SQL: Band(Stage.SQL, 30, 50, 14, 42, 42),
    Stage.OPPORTUNITY: Band(Stage.OPPORTUNITY, 20, 40, 30, 180, 180),
}
STAGES = tuple(DEFAULTS)  # the stages reports measure time in, in funnel order

# Speed-to-lead: the 5-minute rule (seed 002); a share below 50 % is bad.
FIRST_TOUCH_SECONDS = 5 * 60
FIRST_TOUCH_SHARE_MIN = 50.0


def number_or(value, default):
    return float(value) if value is not None else default
