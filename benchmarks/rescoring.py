"""4. Rescoring every lead after a scoring-model change: leads per second.

The change is made the way an admin makes it: a new draft of the active model with one rule's points
changed, activated (`scoring.versioning.activate`). Activation enqueues `leads.tasks.rescore_all(model_id)`
on commit; a real django-q2 cluster (`manage.py qcluster`, two workers, the ORM broker, started before the
clock starts and stopped after) runs it: the task cuts the id span into ranges and enqueues one
`rescore_range` task per range, the two workers take them, and the task that finishes the last range runs the
final step and marks the run finished. Timed from just before the activation to the moment the run shows
as finished in the admin (`rescore_finished_at`, polled every 100 ms), so queue latency counts. Each batch is
read with raw SQL, scored in Python (`scoring.policy.score`), and written with one COPY, one UPDATE of the lead
rows whose score changed, and one upsert of the narrow `leads_leadscore` rows.

Where no server may be started (`ctx.database_url` empty: the smoke test, inside its transaction) the same
tasks run inline in this process instead (django-q's sync mode), so the figure then measures one worker.

Two cases, one after the other, on the same cluster: "all changed" (every stored score is first moved by
+1,000, as after generating a data set or a model change that moves everyone: every lead row is rewritten)
and "few changed" (the rule change alone, from scores the previous run made consistent: ~2 % change).

References, same run, per case: the bare UPDATE of exactly the lead rows the run changed, setting the same
four score columns (to the values before the run, from a snapshot; the run's values are put back untimed
afterwards), committed: what PostgreSQL needs for the writes the run made to the lead table. And once
`UPDATE leads_lead SET score = score` (every lead row rewritten once). Goals (issue 21): all changed at
least 90 % of the bare UPDATE of the changed rows (rows/s); few changed at least 5x the bare UPDATE of all
rows (leads/s against rows/s). Also the pure-Python scoring rate on a sample whose facts are already in
memory. A breakdown on a sample (read, score, write) shows where the time goes; how many lead rows the run
changed is counted, because that is what the run's cost depends on most.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator

from benchmarks.common import RESULTS_DIR, Context, Figure, Result

WORKERS = 2  # django-q2 workers of the benchmark's cluster (one per core here, as Q_WORKERS defaults)

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
        rows, activities = scores._read(scores.LEADS_AFTER_SQL, "span",
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


SCORE_COLUMNS = ("score", "fit_score", "engagement_score", "temperature")


def _changed_rows_reference() -> tuple[int, float]:
    """Lead rows the run changed, and the seconds of the bare UPDATE of exactly those rows (their four score
    columns set to the values before the run, committed); the run's values are restored afterwards."""
    from django.db import connection, transaction

    cols = ", ".join(f"l.{c}" for c in SCORE_COLUMNS)
    before = ", ".join(f"b.{c}" for c in SCORE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_scores_after")
        cursor.execute(f"CREATE UNLOGGED TABLE bench_scores_after AS SELECT l.id, {cols} FROM leads_lead l "
                       f"JOIN bench_scores_before b ON b.id = l.id WHERE ({cols}) IS DISTINCT FROM ({before})")
        changed = cursor.rowcount
        cursor.execute("ALTER TABLE bench_scores_after ADD PRIMARY KEY (id)")
        cursor.execute("ANALYZE bench_scores_after")
    _vacuum()
    sets = ", ".join(f"{c} = b.{c}" for c in SCORE_COLUMNS)
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE leads_lead l SET {sets} FROM bench_scores_before b "
                       "WHERE b.id = l.id AND l.id IN (SELECT id FROM bench_scores_after)")
    seconds = time.perf_counter() - start
    restore = ", ".join(f"{c} = a.{c}" for c in SCORE_COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE leads_lead l SET {restore} FROM bench_scores_after a WHERE a.id = l.id")
        cursor.execute("DROP TABLE bench_scores_after")
        cursor.execute("DROP TABLE bench_scores_before")
    _vacuum()
    return changed, seconds


def _move_every_score() -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE leads_lead SET score = score + 1000")
    _vacuum()


def _vacuum() -> None:
    from django.db import connection

    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) leads_lead, leads_leadscore")


@contextlib.contextmanager
def qcluster(database_url: str, *, workers: int = WORKERS) -> Iterator[subprocess.Popen]:
    """A real `manage.py qcluster` on the bench database (bench settings: no scheduler), ready when yielded
    (a probe task has come back); stopped, with its worker processes, on the way out."""
    from django_q.tasks import async_task, result

    from benchmarks import db

    env = {**os.environ, **db.bench_environment(), "DATABASE_URL": database_url, "Q_WORKERS": str(workers)}
    log = open(RESULTS_DIR.parent / ".qcluster.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen([db.python(), "manage.py", "qcluster"], cwd=db.BASE_DIR, env=env, stdout=log,
                               stderr=log, start_new_session=True)
    try:
        probe = async_task("math.floor", 1.5)
        if result(probe, wait=60_000) != 1:
            raise RuntimeError("qcluster did not run a probe task within a minute; see benchmarks/.qcluster.log")
        yield process
    finally:
        process.terminate()  # django-q stops its workers after the task in hand
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: the cluster and its workers only
            process.wait()
        log.close()


def _wait_until_finished(model_id: int, *, timeout: float = 3600) -> None:
    from scoring.models import ScoringModel

    deadline = time.monotonic() + timeout
    while not ScoringModel.objects.filter(pk=model_id, rescore_finished_at__isnull=False).exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the rescoring run did not finish within {timeout:.0f} s")
        time.sleep(0.1)


def _inline(activate):
    """Activation and every task it leads to, in this process (django-q's sync mode; on-commit callbacks
    run as the transaction of the caller never commits)."""
    from django.test import TestCase
    from django_q.conf import Conf

    sync = Conf.SYNC
    Conf.SYNC = True
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            return activate()
    finally:
        Conf.SYNC = sync


def _case(ctx: Context, in_cluster: bool) -> dict:
    """One activation, rescored to the end; the changed rows and their bare UPDATE."""
    from django_q.models import Task

    _snapshot()
    Task.objects.filter(func="leads.tasks.rescore_range").delete()
    start = time.perf_counter()
    if in_cluster:
        model = _new_version()
        _wait_until_finished(model.pk)
    else:
        model = _inline(_new_version)
    seconds = time.perf_counter() - start
    model.refresh_from_db()
    range_tasks = list(Task.objects.filter(func="leads.tasks.rescore_range").values_list("args", "started",
                                                                                        "stopped"))
    changed, update_seconds = _changed_rows_reference()
    return {"seconds": seconds, "model": model, "done": model.rescore_done, "range_tasks": range_tasks,
            "changed": changed, "update_seconds": update_seconds}


def run(ctx: Context) -> Result:
    from django.db import connection, transaction

    from leads.models import Lead, LeadFieldEvent

    total = Lead.objects.count()
    history_before = LeadFieldEvent.objects.count()
    in_cluster = bool(ctx.database_url) and not connection.in_atomic_block
    cases = {}
    with qcluster(ctx.database_url) if in_cluster else contextlib.nullcontext():
        _move_every_score()
        cases["all"] = _case(ctx, in_cluster)
        cases["few"] = _case(ctx, in_cluster)
    # The field history tracks only the editable fields: rescoring (score columns) must write none of it.
    history_rows = LeadFieldEvent.objects.count() - history_before
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

    def rate(case):
        return case["done"] / case["seconds"] if case["seconds"] else 0.0

    def changed_rate(case):
        return case["changed"] / case["update_seconds"] if case["update_seconds"] else 0.0

    every, few = cases["all"], cases["few"]
    all_ratio = rate(every) / changed_rate(every) if changed_rate(every) else None
    few_ratio = rate(few) / update_rate if update_rate else None
    ran_on = f"qcluster, {WORKERS} workers (ORM broker)" if in_cluster else "this process (sync mode)"
    details = [Figure("ran on", ran_on), Figure("field history rows the rescoring wrote (goal 0)", history_rows)]
    for name, case in (("all changed", every), ("few changed", few)):
        model = case["model"]
        ranges = len({args[4] for args, _started, _stopped in case["range_tasks"]})
        ended = sorted((stopped - model.rescore_started_at).total_seconds()
                       for _args, _started, stopped in case["range_tasks"] if stopped)
        details += [
            Figure(f"{name}: rescore_all", rate(case), "leads/s"),
            Figure(f"{name}: leads rescored", case["done"]),
            Figure(f"{name}: lead rows whose score changed (written)", case["changed"]),
            Figure(f"{name}: wall time", case["seconds"], "s"),
            Figure(f"{name}: id ranges (tasks with continuations)", f"{ranges} ({len(case['range_tasks'])})"),
            Figure(f"{name}: range tasks ended, seconds into the run", " ".join(f"{e:.1f}" for e in ended) or None),
            Figure(f"{name}: reference: bare UPDATE of the changed rows", changed_rate(case), "rows/s"),
            Figure(f"{name}: reference wall time", case["update_seconds"], "s"),
        ]
    details += [
        Figure("few changed / UPDATE of all rows (goal >= 5x)", few_ratio),
        Figure("reference: UPDATE leads_lead SET score = score (all rows)", update_rate, "rows/s"),
        Figure("reference: UPDATE of all rows, wall time", update_seconds, "s"),
        Figure("reference: Python scoring (facts from rows in memory)", policy_rate, "leads/s"),
    ] + [Figure(f"per lead, {name} (sample of {sample:,})", value, "µs") for name, value in per_lead.items()]
    goal_met = (all_ratio is not None and all_ratio >= 0.9 and few_ratio is not None and few_ratio >= 5
                and history_rows == 0)
    return Result(
        name=NAME, title=TITLE,
        figure=Figure("all changed: rescore_all", rate(every), "leads/s"),
        reference=Figure("bare UPDATE of the changed rows", changed_rate(every), "rows/s"),
        ratio=all_ratio,
        goal="all changed >= 90% of the bare UPDATE of the changed rows; few changed >= 5x the UPDATE of all rows",
        goal_met=goal_met,
        details=details,
        notes=[f"few changed: {rate(few):,.0f} leads/s = {few_ratio or 0:.2f}x the UPDATE of all rows"],
        params={"leads": total, "batch": __import__("leads.scores", fromlist=["BATCH"]).BATCH,
                "workers": WORKERS if in_cluster else 1, "model_version": few["model"].version},
    )
