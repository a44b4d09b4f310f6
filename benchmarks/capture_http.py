"""1. Capture throughput and latency through the real HTTP stack, against a one-row-insert ceiling.

gunicorn (4 sync workers) serves the project on 127.0.0.1 with the bench settings; a bounded load
generator (8 threads, a fixed number of requests, a fresh connection per request) posts to
`POST /api/v1/capture/` with the benchmark form's `X-Form-Key`, an `Idempotency-Key` and a distinct client
address per request (so the real per-form-and-IP throttle runs and lets them through). Scoring and routing
are on: one capture in five is a demo request, which makes an MQL that the round-robin rule routes to
the bench team's four reps (notification enqueued on commit); one in ten repeats the e-mail of an
existing lead (merge); the rest create cold leads.

The ceiling is the same stack serving `bench/insert/` (benchmarks/bench_urls.py): parse the JSON body,
insert one row, answer 201. Both are measured in the same run, in the order ceiling, capture, capture,
ceiling (half the requests each time), so drift on a shared machine hits both alike.
"""

from __future__ import annotations

import json
import uuid

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
            return body, {}, tag
        return make

    rounds = {"capture": [], "ceiling": []}
    with gunicorn(ctx.database_url, workers=WORKERS) as port:
        for path, make in (("/bench/insert/", ceiling_at(10_000_000)), ("/api/v1/capture/", capture_at(5_000_000))):
            run_load(port=port, path=path, total=warmup, concurrency=CONCURRENCY, make=make)
        plan = [("ceiling", "/bench/insert/", ceiling_at(0)), ("capture", "/api/v1/capture/", capture_at(0)),
                ("capture", "/api/v1/capture/", capture_at(half)), ("ceiling", "/bench/insert/", ceiling_at(half))]
        for name, path, make in plan:
            rounds[name].append(run_load(port=port, path=path, total=half, concurrency=CONCURRENCY, make=make))

    def combined(name):
        replies = [r for replies, _s in rounds[name] for r in replies]
        seconds = sum(s for _r, s in rounds[name])
        return replies, seconds

    cap_replies, cap_seconds = combined("capture")
    ceil_replies, ceil_seconds = combined("ceiling")
    cap, ceil = summarize(cap_replies, cap_seconds), summarize(ceil_replies, ceil_seconds)
    hot = summarize([r for r in cap_replies if r.tag == "hot"], cap_seconds)
    ratio = cap["rps"] / ceil["rps"] if ceil["rps"] else None
    routed = _routed_share(run_id)
    queries = queries_per_capture(form_key, run_id, existing)

    details = [
        Figure("capture p50 latency", cap["p50"], "ms"),
        Figure("capture p99 latency", cap["p99"], "ms"),
        Figure("capture p99 latency, demo requests (routed MQLs)", hot["p99"], "ms"),
        Figure("ceiling p50 latency", ceil["p50"], "ms"),
        Figure("ceiling p99 latency", ceil["p99"], "ms"),
        Figure("capture answers 2xx", f"{cap['ok']} of {cap['requests']}"),
        Figure("capture statuses seen", ", ".join(str(s) for s in cap["statuses"])),
        Figure("demo requests routed to a rep", routed),
    ] + [Figure(f"SQL statements per capture: {tag}", count) for tag, count in queries.items()]
    return Result(
        name=NAME, title=TITLE,
        figure=Figure("capture throughput", cap["rps"], "req/s"),
        reference=Figure("one-row-insert view, same stack", ceil["rps"], "req/s"),
        ratio=ratio, goal="capture >= 70% of the ceiling", goal_met=(ratio is not None and ratio >= 0.7),
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
