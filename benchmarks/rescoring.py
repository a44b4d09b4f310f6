"""4. Rescoring every lead after a scoring-model change: leads per second.

The change is made the way an admin makes it: a new draft of the active model with one rule's points
changed, activated (`scoring.versioning.activate`). Then the background task that activation enqueues,
`leads.tasks.rescore_all(model_id)`, runs here in the foreground (django-q in sync mode, so the task's
continuations run inline as a cluster would run them) and is timed over all leads. The task splits the
id range over two processes (`leads.scores.rescore_ranges`); each batch is read with raw SQL, scored in
Python (`scoring.policy.score`), and written with one COPY, one UPDATE of the lead rows whose score
changed, and one upsert of the narrow `leads_leadscore` rows.

References, same run: `UPDATE leads_lead SET score = score` over the same rows (what PostgreSQL needs to
rewrite every lead row once), and the pure-Python scoring rate on a sample whose facts are already in
memory. A breakdown on a sample (read, score, write) shows where the time goes; how many lead rows the run
changed is counted, because that is what the run's cost depends on most.
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
    """Seconds per phase of a rescoring batch on the first `sample` leads, one process (the write stores the
    same results again: it measures the score-row upsert, no lead row changes)."""
    from django.utils import timezone

    from leads import scores

    spec = scores.active_spec()
    at = timezone.now()
    read = score = write = 0.0
    after, count, domains = 0, 0, {}
    while count < sample:
        t0 = time.perf_counter()
        rows, activities = scores._read(
            "WHERE l.id > %(after)s ORDER BY l.id LIMIT %(batch)s", "a.lead_id >= %(first)s AND a.lead_id <= %(last)s",
            {"after": after, "batch": min(scores.BATCH, sample - count)}, spec, at)
        t1 = time.perf_counter()
        if not rows:
            break
        scored = scores._score_rows(rows, activities, spec, at, domains)
        t2 = time.perf_counter()
        scores._store(scored, spec, at)
        t3 = time.perf_counter()
        read, score, write = read + t1 - t0, score + t2 - t1, write + t3 - t2
        after, count = rows[-1][0], count + len(rows)
    return {"read leads and activities (raw SQL)": read, "score (facts + policy)": score,
            "write (COPY + UPDATE changed + upsert lead scores)": write, "leads": count}


def _snapshot() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_scores_before")
        # Not a temporary table: the task closes the connection (django-q does after each task).
        cursor.execute("CREATE UNLOGGED TABLE bench_scores_before AS "
                       "SELECT id, score, fit_score, engagement_score, temperature FROM leads_lead")


def _changed_rows() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM leads_lead l JOIN bench_scores_before b ON b.id = l.id "
            "WHERE (l.score, l.fit_score, l.engagement_score, l.temperature) "
            "IS DISTINCT FROM (b.score, b.fit_score, b.engagement_score, b.temperature)")
        changed = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_scores_before")
    return changed


def _vacuum() -> None:
    from django.db import connection

    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) leads_lead, leads_leadscore")


def run(ctx: Context) -> Result:
    from django.db import connection, transaction
    from django_q.conf import Conf

    from leads import tasks
    from leads.models import Lead

    total = Lead.objects.count()
    model = _new_version()
    _snapshot()
    sync = Conf.SYNC
    Conf.SYNC = True  # the task's continuations (one per 40 s of work) run inline, as a cluster would run them
    try:
        start = time.perf_counter()
        tasks.rescore_all(model.pk)
        seconds = time.perf_counter() - start
    finally:
        Conf.SYNC = sync
    model.refresh_from_db()
    done = model.rescore_done  # over all continuations of the task
    rate = done / seconds if seconds else 0.0
    changed = _changed_rows()
    _vacuum()

    # The sample before the reference: a million-row UPDATE leaves PostgreSQL writing for a while after.
    parts = _breakdown(min(total, ctx.scaled(50_000, 10_000)))

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE leads_lead SET score = score")
        touched = cursor.rowcount
    update_seconds = time.perf_counter() - start
    update_rate = touched / update_seconds if update_seconds else 0.0
    _vacuum()
    sample = parts.pop("leads")
    per_lead = {name: seconds_ / sample * 1e6 for name, seconds_ in parts.items()} if sample else {}
    policy_rate = sample / parts["score (facts + policy)"] if sample and parts["score (facts + policy)"] else None
    projected = 1_000_000 / rate if rate else None
    details = [
        Figure("leads rescored", done),
        Figure("lead rows whose score changed (written)", changed),
        Figure("progress shown in the admin", f"{model.rescore_done:,} of {model.rescore_total or 0:,}"),
        Figure("wall time", seconds, "s"),
        Figure("projected for 1,000,000 leads", projected, "s"),
        Figure("reference: UPDATE leads_lead SET score = score", update_seconds, "s"),
        Figure("reference: Python scoring (facts from rows in memory)", policy_rate, "leads/s"),
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
                "workers": __import__("leads.scores", fromlist=["WORKERS"]).WORKERS,
                "model_version": model.version},
    )
