"""Reports of routing experiments, from the leads each arm routed (`Lead.experiment_arms`) and their history."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.vocabulary import Stage
from leads.models import Lead, LeadTransition
from routing import experiments
from routing.models import Experiment

PROPORTIONS = (Experiment.ACCEPTANCE, Experiment.SAL_TO_SQL, Experiment.SQL_WITHIN)
LOWER_IS_BETTER = (Experiment.SPEED_TO_LEAD,)
SQL_OR_LATER = (Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)


def _reached(stages):
    return Exists(LeadTransition.objects.filter(lead_id=OuterRef("pk"), target__in=list(stages)))


def report(experiment: Experiment, *, now: dt.datetime | None = None) -> dict:
    """Per arm: leads, the outcome (a rate with its 95 % interval, or a mean with its interval); each other arm
    against the first (z, p, significant at 5 %), the leads per arm still needed, and the best arm so far."""
    now = now or timezone.now()
    arms = experiments.parse_arms(experiment.arms)
    key = str(experiment.pk)
    leads = (Lead.objects.filter(experiment_arms__has_key=key)
             .annotate(reached_sal=_reached((Stage.SAL, *SQL_OR_LATER)), reached_sql=_reached(SQL_OR_LATER)))
    outcome, days = experiment.outcome, experiment.outcome_days
    rows = {arm.name: {"arm": arm.name, "method": arm.method, "share": arm.share, "leads": 0, "successes": 0,
                       "trials": 0, "values": []} for arm in arms}
    sql_at = {}
    if outcome == Experiment.SQL_WITHIN:
        sql_at = dict(LeadTransition.objects.filter(lead__in=leads.values("pk"), target__in=list(SQL_OR_LATER))
                      .order_by("lead_id", "-at").values_list("lead_id", "at"))  # the earliest wins (last set)
    for lead in leads.only("pk", "became_mql_at", "first_contact_at", "deal_value", "stage", "experiment_arms"):
        row = rows.get(lead.experiment_arms.get(key))  # read in Python: a digit key is an array index in SQL
        if row is None:
            continue
        row["leads"] += 1
        if outcome == Experiment.ACCEPTANCE:
            row["trials"] += 1
            row["successes"] += lead.reached_sal
        elif outcome == Experiment.SAL_TO_SQL and lead.reached_sal:
            row["trials"] += 1
            row["successes"] += lead.reached_sql
        elif outcome == Experiment.SQL_WITHIN and lead.became_mql_at and lead.became_mql_at <= now - dt.timedelta(days):
            row["trials"] += 1
            reached = sql_at.get(lead.pk)
            row["successes"] += bool(reached and reached <= lead.became_mql_at + dt.timedelta(days))
        elif outcome == Experiment.SPEED_TO_LEAD and lead.became_mql_at and lead.first_contact_at:
            row["values"].append((lead.first_contact_at - lead.became_mql_at).total_seconds() / 60)
        elif outcome == Experiment.WON_VALUE:
            row["values"].append(float(lead.deal_value or 0) if lead.stage == Stage.CUSTOMER else 0.0)
    result = []
    for row in rows.values():
        if outcome in PROPORTIONS:
            row["rate"] = row["successes"] / row["trials"] if row["trials"] else None
            row["interval"] = experiments.wilson(row["successes"], row["trials"])
        else:
            summary = experiments.summarise(row["values"])
            row.update(mean=summary.mean, interval=summary.interval, trials=summary.count, summary=summary)
        result.append(row)
    control = result[0]
    for row in result[1:]:
        row.update(_compare(control, row, outcome))
    scored = [r for r in result if r.get("rate" if outcome in PROPORTIONS else "mean") is not None]
    best = None
    if scored:
        value = (lambda r: r["rate"]) if outcome in PROPORTIONS else (lambda r: r["mean"])
        best = (min if outcome in LOWER_IS_BETTER else max)(scored, key=value)["arm"]
    for row in result:
        row.pop("values", None)
        row.pop("summary", None)
    return {"outcome": outcome, "arms": result, "best": best}


def _compare(control: dict, other: dict, outcome: str) -> dict:
    if outcome in PROPORTIONS:
        test = experiments.two_proportions(other["successes"], other["trials"], control["successes"],
                                           control["trials"])
        needed = None
        if control["rate"] is not None and other["rate"] is not None:
            needed = experiments.sample_size_per_arm(control["rate"], other["rate"])
    else:
        first, second = control["summary"], other["summary"]
        test = experiments.two_means(second, first)
        needed = None
        if first.variance is not None and second.variance is not None:
            needed = experiments.sample_size_for_means(first.variance, second.variance, second.mean - first.mean)
    z, p = test if test else (None, None)
    have = min(control["trials"], other["trials"])
    return {"z": z, "p": p, "significant": p is not None and p < 0.05, "needed_per_arm": needed,
            "still_needed": max(0, needed - have) if needed is not None else None}
