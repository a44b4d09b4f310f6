"""2. Speed-to-lead: a hot lead (demo request) from arrival to owner assigned and notification enqueued.

Measured inside the process, around the one capture service every channel uses (`capture.submit`): the
submission is recorded, the lead created, scored, marked MQL, routed round-robin to one of the bench
team's four reps, the assignment logged and the rep's notification e-mail enqueued for django-q2 on
commit. `submit` returns after that commit, so its duration is the server-side speed-to-lead. The
database's own clock is read too: `Lead.assigned_at - Submission.received_at` for every lead.

Reference, same run: the same writes as a hot capture in ONE transaction, from the same process: a real
hot capture is recorded (`benchmarks.same_writes`) and its INSERT / UPDATE statements (submission, lead,
activity, consent, score, transitions, assignment, notifications and their queue rows, the outcome) are
replayed with fresh e-mail, keys and ids, without any of the logic. Its p99 is the limit for this path.
One committed one-row INSERT (the floor of any write) is shown as a detail.
"""

from __future__ import annotations

import time
import uuid

from benchmarks import same_writes
from benchmarks.common import Context, Figure, Result, median, percentile

NAME = "speed_to_lead"
TITLE = "Speed-to-lead (server side)"


def _payload(prefix: str, i: int, kind: str) -> dict:
    return {
        "email": f"{prefix}.{i}@firma{i % 991}.example", "first_name": "Hot", "last_name": f"Lead {i}",
        "company": f"Firma {i % 991} GmbH", "job_title": "Head of Sales", "country": "DE", "company_size": 250,
        "industry": "SaaS", "consent": True, "activity": {"kind": kind, "url": "https://www.example.com/demo"},
    }


def _one_row_inserts(count: int) -> list[float]:
    from django.db import connection, transaction

    from benchmarks.bench_urls import CREATE_CEILING_TABLE

    with connection.cursor() as cursor:
        cursor.execute(CREATE_CEILING_TABLE)
    timings = []
    for i in range(count):
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_ceiling (body) VALUES (%s) RETURNING id", [f'{{"i": {i}}}'])
            cursor.fetchone()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def _same_writes(recording: same_writes.Recording, count: int) -> list[float]:
    from django.db import connection, transaction

    timings = []
    for _ in range(count):
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            recording.replay(cursor)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def run(ctx: Context) -> Result:
    from django_q.models import OrmQ

    from capture import submissions as capture
    from leads.models import CaptureForm, Lead, Notification, Submission

    count = ctx.scaled(300, 60)
    warmup = 20
    run_id = uuid.uuid4().hex[:8]
    form = CaptureForm.objects.select_related("campaign").get(pk=ctx.meta["form_id"])
    queued_before = OrmQ.objects.count()

    def submit(i: int, kind: str, prefix: str = "stl") -> float:
        start = time.perf_counter()
        result = capture.submit(channel="api", payload=_payload(f"{prefix}.{run_id}", i, kind), form=form,
                                idempotency_key=f"{prefix}-{run_id}-{i}", ip_address="10.1.2.3")
        elapsed = (time.perf_counter() - start) * 1000
        if result.status != 201:
            raise RuntimeError(f"capture answered {result.status}: {result.body}")
        return elapsed

    for i in range(warmup):
        submit(i, "demo_request", prefix="warm")
    hot = [submit(i, "demo_request") for i in range(count)]
    cold = [submit(2_000_000 + i, "form_submit") for i in range(count // 2)]
    inserts = _one_row_inserts(count)
    token = f"swstl{run_id}"
    _result, recording = same_writes.record(
        lambda: capture.submit(channel="api", payload=_payload(token, 0, "demo_request"), form=form,
                               idempotency_key=f"{token}-key", ip_address="10.1.2.3"), token=token)
    reference = _same_writes(recording, count)

    leads = Lead.objects.filter(email_normalized__startswith=f"stl.{run_id}.", stage="mql")
    rows = list(leads.values_list("pk", "owner_id", "assigned_at"))
    received = dict(Submission.objects.filter(lead_id__in=[pk for pk, _o, _a in rows], outcome="created")
                    .values_list("lead_id", "received_at"))
    db_ms = [(assigned - received[pk]).total_seconds() * 1000 for pk, owner, assigned in rows
             if owner and assigned and pk in received]
    routed = sum(1 for _pk, owner, _a in rows if owner)
    notified = Notification.objects.filter(lead_id__in=[pk for pk, _o, _a in rows], kind="assignment").count()
    queued = OrmQ.objects.count() - queued_before
    p99 = percentile(hot, 99)
    reference_p99 = percentile(reference, 99)
    ratio = p99 / reference_p99 if p99 and reference_p99 else None
    return Result(
        name=NAME, title=TITLE,
        figure=Figure("hot lead to owner + notification, p99", p99, "ms"),
        reference=Figure("same writes in one transaction, p99", reference_p99, "ms"),
        ratio=ratio, goal="p99 <= 2x the same-writes reference's p99", goal_met=ratio is not None and ratio <= 2,
        details=[
            Figure("hot lead, p50 (capture.submit)", median(hot), "ms"),
            Figure("hot lead, p99 (capture.submit)", p99, "ms"),
            Figure("database clock: assigned_at - received_at, p50", percentile(db_ms, 50), "ms"),
            Figure("database clock: assigned_at - received_at, p99", percentile(db_ms, 99), "ms"),
            Figure("cold lead (scored, not routed), p50", median(cold), "ms"),
            Figure("cold lead (scored, not routed), p99", percentile(cold, 99), "ms"),
            Figure("same writes in one transaction, p50", median(reference), "ms"),
            Figure("writes replayed", f"{len(recording.writes())} statements into "
                   f"{', '.join(recording.tables_written())}"),
            Figure("one-row INSERT + commit, p50", median(inserts), "ms"),
            Figure("one-row INSERT + commit, p99", percentile(inserts, 99), "ms"),
            Figure("hot leads routed to a rep", f"{routed} of {count}"),
            Figure("assignment notifications written", notified),
            Figure("e-mail tasks enqueued (django-q2 ORM broker)", queued),
        ],
        params={"hot_leads": count, "cold_leads": count // 2, "warmup": warmup, "routing": "round-robin, 4 reps"},
    )
