"""1. Capture throughput and latency through the real HTTP stack, against the same writes without the logic.

gunicorn (4 sync workers) serves the project on 127.0.0.1 with the bench settings; a bounded load
generator (8 threads, a fixed number of requests, a fresh connection per request) posts to
`POST /api/v1/capture/` with the benchmark form's `X-Form-Key`, an `Idempotency-Key` and a distinct client
address per request (so the real per-form-and-IP throttle runs and lets them through). Scoring and routing
are on: one capture in five is a demo request, which makes an MQL that the round-robin rule routes to
the bench team's four reps (notification enqueued on commit); one in ten repeats the e-mail of an
existing lead (merge); the rest create cold leads.

Reference, same run: the same stack serving `bench/same-writes/` (benchmarks/bench_urls.py): parse the JSON
body and replay, in ONE transaction, the writes a real capture of the same kind made (new cold lead, hot
lead routed with its notifications and their e-mail tasks, merge), recorded in this process just before
(`benchmarks.same_writes`): submission, lead, activity, consent event, score record, transitions, queue rows
and the submission's outcome, in the same tables with the same indexes. That is the limit for a capture on
this machine: no capture can write less and keep what it keeps. The per-form-and-IP throttle's counter (one
upsert in autocommit, before the capture) is not in it. Measured in the order reference, capture, capture,
reference (half the requests each time), so drift on a shared machine hits both alike. The one-row-insert
view (`bench/insert/`), the floor of any Django write, is measured once more and shown as a detail.
"""

from __future__ import annotations

import json
import uuid

from benchmarks import same_writes
from benchmarks.common import Context, Figure, Result, gunicorn, median, percentile, run_load

NAME = "capture"
TITLE = "Capture throughput and latency (HTTP)"
CONCURRENCY = 8
WORKERS = 4
KINDS = ("form_submit", "download", "page_view", "webinar_registered")


def _existing_emails(count: int) -> list[str]:
    from leads.models import Lead

    return list(Lead.objects.filter(stage="known").order_by("pk").values_list("email", flat=True)[:count])


def make_payloads(run_id: str, existing: list[str]):
    """make(i) -> (body, headers, tag) for request i of the capture mix."""

    def capture(i: int):
        if i % 5 == 0:
            tag, kind = "hot", "demo_request"
        elif i % 10 == 3 and existing:
            tag, kind = "merge", KINDS[i % len(KINDS)]
        else:
            tag, kind = "new", KINDS[i % len(KINDS)]
        email = existing[i % len(existing)] if tag == "merge" else f"cap.{run_id}.{i}@firma{i % 997}.example"
        body = {
            "email": email, "first_name": "Bench", "last_name": f"Lead {i}", "company": f"Firma {i % 997} GmbH",
            "job_title": "Head of Marketing" if i % 3 == 0 else "Marketing Manager", "country": "DE",
            "company_size": 120, "industry": "Software", "consent": True, "utm_source": "bench",
            "activity": {"kind": kind, "url": "https://www.example.com/demo"},
        }
        headers = {"Idempotency-Key": f"bench-{run_id}-{i}",
                   "X-Forwarded-For": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"}
        return json.dumps(body).encode(), headers, tag

    return capture


def summarize(replies, seconds: float) -> dict:
    ok = [r for r in replies if 200 <= r.status < 300]
    latencies = [r.seconds * 1000 for r in ok]
    return {
        "requests": len(replies), "ok": len(ok), "rps": len(ok) / seconds if seconds else 0.0,
        "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "median": median(latencies),
        "statuses": sorted({r.status for r in replies}),
    }


def queries_per_capture(form_key: str, run_id: str, existing: list[str]) -> dict[str, int]:
    """SQL statements one capture runs inside `capture.submit` (HTTP, auth and throttle not counted), in a
    process that has captured before (as every server process soon has: per-process caches are warm)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from capture import submissions as capture
    from leads.models import CaptureForm

    form = CaptureForm.objects.select_related("campaign").get(key=form_key)
    for kind in ("form_submit", "demo_request"):
        capture.submit(channel="api", form=form, payload={"email": f"q.{run_id}.warm.{kind}@firma4.example",
                                                           "activity": {"kind": kind}})
    counts = {}
    for tag, kind, email in (
        ("new cold lead", "form_submit", f"q.{run_id}.cold@firma1.example"),
        ("hot lead (MQL, routed)", "demo_request", f"q.{run_id}.hot@firma2.example"),
        ("merge into existing lead", "page_view", existing[0] if existing else f"q.{run_id}.m@firma3.example"),
    ):
        payload = {"email": email, "first_name": "Q", "company": "Firma GmbH", "country": "DE",
                   "company_size": 120, "industry": "Software", "consent": True, "activity": {"kind": kind}}
        with CaptureQueriesContext(connection) as queries:
            capture.submit(channel="api", payload=payload, form=form, idempotency_key=f"q-{run_id}-{tag}",
                           ip_address="10.9.9.9")
        counts[tag] = len(queries)
    return counts


def record_captures(form_key: str, run_id: str, existing: list[str]) -> dict[str, same_writes.Recording]:
    """One real capture of each kind, recorded (after warm-up captures, as in a running server), saved for
    the gunicorn workers of the reference view."""
    from capture import submissions as capture
    from leads.models import CaptureForm

    form = CaptureForm.objects.select_related("campaign").get(key=form_key)
    # Every rep of the round robin has been assigned before (its rotation row exists), as in a running server.
    for i, kind in enumerate(("form_submit", "demo_request", "demo_request", "demo_request", "demo_request",
                              "demo_request")):
        capture.submit(channel="api", form=form, payload={"email": f"sw.{run_id}.warm.{i}@firma4.example",
                                                           "activity": {"kind": kind}})
    recordings = {}
    for tag, kind in (("new", "form_submit"), ("hot", "demo_request"), ("merge", "page_view")):
        token = f"swt{run_id}{tag}"
        email = existing[1] if tag == "merge" and len(existing) > 1 else f"{token}@firma5.example"
        payload = {"email": email, "first_name": "Bench", "last_name": "Lead", "company": "Firma 5 GmbH",
                   "job_title": "Head of Marketing", "country": "DE", "company_size": 120, "industry": "Software",
                   "consent": True, "utm_source": "bench", "activity": {"kind": kind, "url": "https://www.example.com/demo"}}
        result, recording = same_writes.record(
            lambda payload=payload, token=token: capture.submit(channel="api", payload=payload, form=form,
                                                                 idempotency_key=f"{token}-key", ip_address="10.9.9.8"),
            token=token)
        if result.status not in (200, 201, 202):
            raise RuntimeError(f"recording capture answered {result.status}: {result.body}")
        recording.save(same_writes.SAME_WRITES_DIR / f"capture-{tag}.pickle")
        recordings[tag] = recording
    return recordings


def run(ctx: Context) -> Result:
    from django.db import connection

    from benchmarks.bench_urls import CREATE_CEILING_TABLE

    total = ctx.scaled(3000, 600)
    half = total // 2
    warmup = ctx.scaled(200, 80)
    run_id = uuid.uuid4().hex[:8]
    form_key = ctx.meta["form_key"]
    existing = _existing_emails(500)
    with connection.cursor() as cursor:
        cursor.execute(CREATE_CEILING_TABLE)
    recordings = record_captures(form_key, run_id, existing)
    connection.close()  # nothing held open while the server works

    capture_make = make_payloads(run_id, existing)

    def capture_at(offset):
        def make(i):
            body, headers, tag = capture_make(offset + i)
            return body, {"X-Form-Key": form_key, **headers}, tag
        return make

    def ceiling_at(offset):
        def make(i):
            body, _headers, tag = capture_make(offset + i)
            return body, {"X-Bench-Kind": tag}, tag
        return make

    rounds = {"capture": [], "same": [], "ceiling": []}
    with gunicorn(ctx.database_url, workers=WORKERS) as port:
        for path, make in (("/bench/insert/", ceiling_at(10_000_000)), ("/bench/same-writes/", ceiling_at(0)),
                           ("/api/v1/capture/", capture_at(5_000_000))):
            run_load(port=port, path=path, total=warmup, concurrency=CONCURRENCY, make=make)
        plan = [("same", "/bench/same-writes/", ceiling_at(0)), ("capture", "/api/v1/capture/", capture_at(0)),
                ("capture", "/api/v1/capture/", capture_at(half)), ("same", "/bench/same-writes/", ceiling_at(half)),
                ("ceiling", "/bench/insert/", ceiling_at(0))]
        for name, path, make in plan:
            rounds[name].append(run_load(port=port, path=path, total=half, concurrency=CONCURRENCY, make=make))

    def combined(name):
        replies = [r for replies, _s in rounds[name] for r in replies]
        seconds = sum(s for _r, s in rounds[name])
        return replies, seconds

    cap_replies, cap_seconds = combined("capture")
    ceil_replies, ceil_seconds = combined("ceiling")
    same_replies, same_seconds = combined("same")
    cap, ceil = summarize(cap_replies, cap_seconds), summarize(ceil_replies, ceil_seconds)
    same = summarize(same_replies, same_seconds)
    hot = summarize([r for r in cap_replies if r.tag == "hot"], cap_seconds)
    ratio = cap["rps"] / same["rps"] if same["rps"] else None
    routed = _routed_share(run_id)
    queries = queries_per_capture(form_key, run_id, existing)

    details = [
        Figure("capture p50 latency", cap["p50"], "ms"),
        Figure("capture p99 latency", cap["p99"], "ms"),
        Figure("capture p99 latency, demo requests (routed MQLs)", hot["p99"], "ms"),
        Figure("same-writes reference p50 latency", same["p50"], "ms"),
        Figure("same-writes reference p99 latency", same["p99"], "ms"),
        Figure("same-writes reference answers 2xx", f"{same['ok']} of {same['requests']}"),
        Figure("one-row-insert view (floor of any write), throughput", ceil["rps"], "req/s"),
        Figure("one-row-insert view p50 latency", ceil["p50"], "ms"),
        Figure("capture / one-row-insert view", cap["rps"] / ceil["rps"] if ceil["rps"] else None),
        Figure("capture answers 2xx", f"{cap['ok']} of {cap['requests']}"),
        Figure("capture statuses seen", ", ".join(str(s) for s in cap["statuses"])),
        Figure("demo requests routed to a rep", routed),
    ] + [Figure(f"SQL statements per capture: {tag}", count) for tag, count in queries.items()] + [
        Figure(f"writes replayed by the reference: {tag}", f"{len(rec.writes())} statements into "
               f"{', '.join(rec.tables_written())}") for tag, rec in recordings.items()]
    return Result(
        name=NAME, title=TITLE,
        figure=Figure("capture throughput", cap["rps"], "req/s"),
        reference=Figure("same writes in one transaction, same stack", same["rps"], "req/s"),
        ratio=ratio, goal="capture >= 60% of the same-writes reference", goal_met=(ratio is not None and ratio >= 0.6),
        details=details,
        params={"requests": half * 2, "warmup": warmup, "concurrency": CONCURRENCY, "gunicorn_workers": WORKERS,
                "mix": "20% demo_request (MQL, routed), 10% merge, 70% new cold lead"},
    )


def _routed_share(run_id: str) -> str:
    from leads.models import Lead

    hot = Lead.objects.filter(email_normalized__startswith=f"cap.{run_id}.", stage="mql")
    total = hot.count()
    routed = hot.filter(owner__isnull=False).count()
    return f"{routed} of {total}"
