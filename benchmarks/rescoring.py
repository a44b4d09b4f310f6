"""4. Rescoring every lead after a scoring-model change: leads per second.

The change is made the way an admin makes it: a new draft of the active model with one rule's points
changed, activated (`scoring.versioning.activate`). Then the background task that activation enqueues,
`leads.tasks.rescore_all(model_id)` (batches of `leads.scores.BATCH`: read the leads' facts, read their
activities, score in Python with `scoring.policy.score`, write back with one UPDATE per batch, progress
on the model), runs here in the foreground and is timed over all leads.

References, same run: `UPDATE leads_lead SET score = score` over the same rows (what PostgreSQL needs to
rewrite every lead row once), and the pure-Python scoring rate on a sample whose facts are already in
memory. A breakdown on a sample (read, score, write) shows where the time goes.
"""

from __future__ import annotations

import time

from benchmarks.common import Context, Figure, Result

NAME = "rescoring"
TITLE = "Rescoring all leads after a model change"


def _new_version():
    from scoring import versioning
    from scoring.models import ScoringModel

    active = ScoringModel.objects.get(is_active=True)
    draft = versioning.new_draft_from(active, notes="benchmark: pricing page views weigh one point more or less")
    rule = draft.rules.filter(activity_kind="pricing_view").first() or draft.rules.order_by("position").first()
    rule.points = rule.points + (1 if rule.points % 2 == 0 else -1)
    rule.save(update_fields=["points"])
    return versioning.activate(draft)


def _breakdown(sample: int) -> dict[str, float]:
    """Seconds per phase of rescore_all's loop on the first `sample` leads (nothing written but the UPDATE)."""
    from django.utils import timezone

    from leads import scores
    from leads.models import Lead
    from scoring import policy

    spec = scores.active_spec()
    at = timezone.now()
    t0 = time.perf_counter()
    rows = list(Lead.objects.order_by("pk").values(*scores.FACT_FIELDS)[:sample])
    t1 = time.perf_counter()
    activities = scores._activities_of([row["id"] for row in rows])
    t2 = time.perf_counter()
    facts = [(row["id"], scores.facts_from(row, activities.get(row["id"], []))) for row in rows]
    t3 = time.perf_counter()
    results = [(lead_id, policy.score(f, spec, at=at)) for lead_id, f in facts]
    t4 = time.perf_counter()
    for start in range(0, len(results), scores.BATCH):
        scores._bulk_store(results[start:start + scores.BATCH], at)
    t5 = time.perf_counter()
    return {"read leads": t1 - t0, "read activities": t2 - t1, "build facts": t3 - t2, "score (policy)": t4 - t3,
            "write (UPDATE ... FROM VALUES)": t5 - t4, "leads": len(rows)}


def _vacuum() -> None:
    from django.db import connection

    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) leads_lead")


def run(ctx: Context) -> Result:
    from django.db import connection, transaction

    from leads import tasks
    from leads.models import Lead

    total = Lead.objects.count()
    model = _new_version()
    start = time.perf_counter()
    done = tasks.rescore_all(model.pk)
    seconds = time.perf_counter() - start
    rate = done / seconds if seconds else 0.0
    _vacuum()

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE leads_lead SET score = score")
        touched = cursor.rowcount
    update_seconds = time.perf_counter() - start
    update_rate = touched / update_seconds if update_seconds else 0.0
    _vacuum()

    parts = _breakdown(min(total, ctx.scaled(50_000, 10_000)))
    _vacuum()
    sample = parts.pop("leads")
    per_lead = {name: seconds_ / sample * 1e6 for name, seconds_ in parts.items()} if sample else {}
    policy_rate = sample / parts["score (policy)"] if sample and parts["score (policy)"] else None
    projected = 1_000_000 / rate if rate else None
    details = [
        Figure("leads rescored", done),
        Figure("wall time", seconds, "s"),
        Figure("projected for 1,000,000 leads", projected, "s"),
        Figure("reference: UPDATE leads_lead SET score = score", update_seconds, "s"),
        Figure("reference: pure-Python scoring (facts in memory)", policy_rate, "leads/s"),
    ] + [Figure(f"per lead, {name} (sample of {sample:,})", value, "µs") for name, value in per_lead.items()]
    return Result(
        name=NAME, title=TITLE,
        figure=Figure("rescore_all", rate, "leads/s"),
        reference=Figure("UPDATE ... SET score = score", update_rate, "rows/s"),
        ratio=rate / update_rate if update_rate else None,
        goal="1,000,000 leads in about a minute (~16,700 leads/s)",
        goal_met=projected is not None and projected <= 75,
        details=details,
        params={"leads": total, "batch": __import__("leads.scores", fromlist=["BATCH"]).BATCH,
                "model_version": model.version},
    )
