"""The programme report: enrolments and what the messages did, by step and variant, and the A/B result of
each split step: a two-proportion z-test on the click rate (clicks per sent message) of variant B against A,
with a winner declared only when the two-sided p-value is below 1 - the chosen confidence. Pure statistics
in `two_proportion`; the counts are aggregated in the database (`selectors.programme_figures`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import Count, Q

from engagement import selectors
from engagement.models import Enrolment, Programme


@dataclass(frozen=True)
class Test:
    rate_a: float
    rate_b: float
    z: float
    p_value: float
    winner: str  # "a", "b" or "" (no significant difference at the chosen confidence)


def two_proportion(successes_a: int, n_a: int, successes_b: int, n_b: int, *, confidence: float) -> Test | None:
    """Two-sided two-proportion z-test with the pooled proportion; None when either arm has no trials or the
    pooled rate is 0 or 1 (no variance: nothing to compare)."""
    if n_a <= 0 or n_b <= 0:
        return None
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    if pooled in (0, 1):
        return None
    z = (rate_b - rate_a) / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    p_value = math.erfc(abs(z) / math.sqrt(2))
    winner = ("b" if z > 0 else "a") if p_value < 1 - confidence else ""
    return Test(rate_a=rate_a, rate_b=rate_b, z=round(z, 4), p_value=round(p_value, 6), winner=winner)


def programme_report(programme: Programme, *, confidence: float = 0.95) -> dict:
    enrolments = Enrolment.objects.filter(programme=programme).aggregate(
        enrolled=Count("id"),
        active=Count("id", filter=Q(status=Enrolment.Status.ACTIVE)),
        completed=Count("id", filter=Q(status=Enrolment.Status.COMPLETED)),
        exited=Count("id", filter=Q(status=Enrolment.Status.EXITED)),
        unsubscribed=Count("id", filter=Q(exit_reason="unsubscribed")),
        reached_exit_stage=Count("id", filter=Q(exit_reason__startswith="reached")),
    )
    rows = selectors.programme_figures(programme)
    steps: dict[int, dict] = {}
    for row in rows:
        steps.setdefault(row["step__position"], {})[row["variant"]] = row
    tests = []
    for position, variants in sorted(steps.items()):
        if "a" in variants and "b" in variants:
            a, b = variants["a"], variants["b"]
            result = two_proportion(a["clicked"], a["sent"], b["clicked"], b["sent"], confidence=confidence)
            tests.append({"step": position, "metric": "click rate", "confidence": confidence,
                          **(result.__dict__ if result else {"winner": "", "p_value": None})})
    return {
        "programme": programme.slug,
        **enrolments,
        "steps": [{"step": row["step__position"], **{k: v for k, v in row.items() if k != "step__position"}}
                  for row in rows],
        "ab_tests": tests,
    }
