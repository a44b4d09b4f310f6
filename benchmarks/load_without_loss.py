"""Load without loss: `python -m benchmarks.load_without_loss --requests 100000 [--concurrency 8] [--web 2]`.

Sends a bounded number of capture requests (`POST /api/v1/capture/` through gunicorn on 127.0.0.1,
one new person each, one in five a demo request that is routed) and retries every request that gets no
2xx answer (connection refused or reset, 5xx, 409 "still in progress", 429) with the same
`Idempotency-Key` and body, backing off up to 2 s, for at most two minutes per request. While the load
runs, PostgreSQL is restarted twice (at a third and at two thirds of the requests; fast shutdown, so
open connections and transactions are cut). The servers run with `IDEMPOTENCY_STALE_SECONDS=10`, so a
retry takes over a submission whose first processing died.

Afterwards `leads.capture.recover_stale()` finishes what is left (as the minute job would), and the
database is counted: leads created equals distinct acknowledged keys (plus any the recovery finished
for keys the client gave up on), no e-mail twice, one touchpoint per lead (a retry never adds a second),
no submission left in outcome "received". It stops by itself and targets loopback only. It runs on its
own database (`leadwerk_bench_load`), never on dev data.

`--web 2` (several web processes, as on two machines): two gunicorn instances on different ports share one
PostgreSQL and one Redis (REDIS_URL for rate limits, cache and broker: `BENCH_REDIS_URL`, or a redis-server
of its own on loopback), and the client goes round robin over them, a retry to the next instance. At a
third of the answers one web instance is killed (SIGKILL to its master and workers, requests in flight are
cut) and started again on its port; at two thirds PostgreSQL is restarted. The same counts must hold.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
import uuid

from benchmarks.common import Context, Figure, Gunicorn, Result, percentile, print_result, run_load, write_result

NAME = "load_without_loss"
TITLE = "Load without loss (2 PostgreSQL restarts)"
NAME_WEB = "load_without_loss_web"
TITLE_WEB = "Load without loss, {web} web instances round robin on Redis (1 web kill, 1 PostgreSQL restart)"
DATABASE_LEADS = 1000  # a small data set: this test is about counting, not about size
MAX_SECONDS_PER_REQUEST = 120


def retry_policy(deadlines: dict, lock: threading.Lock):
    def retry(status: int, attempt: int) -> float | None:
        if 200 <= status < 300:
            return None
        if status in (400, 401, 403, 404, 422):  # a wrong request: retrying cannot help, it is counted
            return None
        key = threading.get_ident()
        with lock:
            if attempt == 1:
                deadlines[key] = time.monotonic() + MAX_SECONDS_PER_REQUEST
            expired = time.monotonic() > deadlines[key]
        if expired:
            return None
        return min(2.0, 0.05 * 2 ** min(attempt, 6))

    return retry


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Capture under load with two PostgreSQL restarts; counts loss.")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--restarts", type=int, default=2, help="PostgreSQL restarts (one web instance)")
    parser.add_argument("--web", type=int, default=1, help="web instances; 2 or more: round robin on Redis, "
                        "one web instance killed and one PostgreSQL restart")
    args = parser.parse_args(argv)

    from benchmarks import db

    target = db.configure(leads=DATABASE_LEADS, name="leadwerk_bench_load")
    events = ["web", "postgres"] if args.web > 1 else ["postgres"] * args.restarts
    print(f"Load without loss on {db.describe()}: {args.requests:,} requests, concurrency {args.concurrency}, "
          f"{args.web} web instance(s), restarts: {', '.join(events) or 'none'}.")
    from benchmarks import generate

    meta = generate.ensure(leads=DATABASE_LEADS)
    generate.reset_to_generated(meta)
    result = run(Context(leads=DATABASE_LEADS, database_url=target.url, meta=meta), requests=args.requests,
                 concurrency=args.concurrency, workers=args.workers, restarts=args.restarts, web=args.web)
    print_result(result)
    path = write_result(result, quick=False, context=Context(leads=DATABASE_LEADS, meta=meta))
    print(f"\nWritten: {path}")
    return 0


def run(ctx: Context, *, requests: int, concurrency: int = 8, workers: int = 4, restarts: int = 2,
        web: int = 1) -> Result:
    from django.db import connection

    from benchmarks import db

    events = ["web", "postgres"] if web > 1 else ["postgres"] * restarts

    run_id = uuid.uuid4().hex[:8]
    form_key = ctx.meta["form_key"]

    def make(i: int):
        kind = "demo_request" if i % 5 == 0 else "form_submit"
        body = {"email": f"lwl.{run_id}.{i}@firma{i % 499}.example", "first_name": "Load", "last_name": f"Test {i}",
                "company": f"Firma {i % 499} GmbH", "country": "DE", "company_size": 80, "industry": "Software",
                "consent": True, "activity": {"kind": kind}}
        headers = {"X-Form-Key": form_key, "Idempotency-Key": f"lwl-{run_id}-{i}",
                   "X-Forwarded-For": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"}
        return json.dumps(body).encode(), headers, kind

    restart_at = [requests * (n + 1) // (len(events) + 1) for n in range(len(events))]
    restart_log: list[str] = []
    pending = list(restart_at)
    restart_lock = threading.Lock()

    servers: list[Gunicorn] = []

    def on_progress(done: int):
        with restart_lock:
            due = bool(pending) and done >= pending[0]
            if due:
                pending.pop(0)
                event = events[len(restart_at) - len(pending) - 1]
        if due:
            target = _restart if event == "postgres" else _restart_web
            threading.Thread(target=target, args=(done,), daemon=True).start()
        if done % max(requests // 20, 1) == 0:
            print(f"   {done:>9,} of {requests:,} answered", flush=True)

    def _restart(done: int):
        start = time.perf_counter()
        try:
            how = db.restart_postgres()
            restart_log.append(f"after {done:,} answers: {how} ({time.perf_counter() - start:.1f} s)")
        except Exception as error:  # the test goes on; the log says the restart failed
            restart_log.append(f"after {done:,} answers: restart FAILED: {error!r}")
        print(f"   PostgreSQL restarted: {restart_log[-1]}", flush=True)

    def _restart_web(done: int):
        start = time.perf_counter()
        victim = servers[0]
        try:
            victim.kill()
            killed = time.perf_counter() - start
            victim.start()
            restart_log.append(f"after {done:,} answers: web instance on port {victim.port} killed (SIGKILL) and "
                               f"started again ({killed:.1f} s + {time.perf_counter() - start - killed:.1f} s)")
        except Exception as error:  # the test goes on; the log says the restart failed
            restart_log.append(f"after {done:,} answers: web restart FAILED: {error!r}")
        print(f"   web instance restarted: {restart_log[-1]}", flush=True)

    connection.close()
    deadlines: dict = {}
    with contextlib.ExitStack() as stack:
        extra_env = {"IDEMPOTENCY_STALE_SECONDS": "10"}
        if web > 1:
            extra_env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL") or stack.enter_context(_own_redis())
        for _ in range(web):
            server = Gunicorn(ctx.database_url, workers=workers, extra_env=extra_env)
            stack.callback(server.stop)
            server.start()
            servers.append(server)
        replies, seconds = run_load(port=[server.port for server in servers], path="/api/v1/capture/",
                                    total=requests, concurrency=concurrency, make=make,
                                    retry=retry_policy(deadlines, threading.Lock()), on_progress=on_progress)
        time.sleep(0.5)
    waited = time.monotonic() + 90
    while len(restart_log) < len(restart_at) and time.monotonic() < waited:
        time.sleep(0.5)  # a restart thread still running
    connection.close()
    return _count(run_id, replies, seconds, restart_log, requests, concurrency, web=web, workers=workers)


@contextlib.contextmanager
def _own_redis():
    from tests.config.ops.servers import redis_server  # the same loopback redis-server the tests start

    with redis_server() as url:
        yield url


def _count(run_id, replies, seconds, restart_log, requests, concurrency, *, web: int = 1, workers: int = 4) -> Result:
    from django.db.models import Count

    from capture import submissions as capture
    from leads.models import Activity, Lead, Submission

    acked = [r for r in replies if 200 <= r.status < 300]
    acked_keys = {r.index for r in acked}
    given_up = [r for r in replies if not 200 <= r.status < 300]
    retried = sum(1 for r in replies if r.attempts > 1)
    attempts = sum(r.attempts for r in replies)
    acked_lead_ids = set()
    for reply in acked:
        try:
            acked_lead_ids.add(json.loads(reply.body)["id"])
        except (ValueError, KeyError, TypeError):
            pass

    submissions = Submission.objects.filter(idempotency_key__startswith=f"lwl-{run_id}-")
    received_before = submissions.filter(outcome=Submission.Outcome.RECEIVED).count()
    recovered = 0
    while True:
        finished = capture.recover_stale(older_than_seconds=0)
        recovered += finished
        if not finished:
            break
    received_after = submissions.filter(outcome=Submission.Outcome.RECEIVED).count()
    leads = Lead.objects.filter(email_normalized__startswith=f"lwl.{run_id}.")
    lead_count = leads.count()
    duplicate_emails = (leads.values("email_normalized").annotate(n=Count("id")).filter(n__gt=1).count())
    touchpoints = Activity.objects.filter(lead__in=leads).values("lead_id").annotate(n=Count("id"))
    extra_touchpoints = sum(1 for row in touchpoints if row["n"] != 1)
    submission_count = submissions.count()
    keys_with_lead = submissions.filter(lead__isnull=False).values("idempotency_key").distinct().count()
    latencies = [r.seconds * 1000 for r in acked]
    routed = leads.filter(stage="mql", owner__isnull=False).count()
    hot = leads.filter(stage="mql").count()

    checks = {
        "leads created = distinct acknowledged keys": lead_count == len(acked_keys) + _unacked_with_lead(
            submissions, acked_keys, run_id),
        "acknowledged lead ids all exist and differ": len(acked_lead_ids) == len(acked_keys)
        and leads.filter(pk__in=acked_lead_ids).count() == len(acked_lead_ids),
        "no e-mail twice": duplicate_emails == 0,
        "one touchpoint per lead (retries added none)": extra_touchpoints == 0,
        "no submission left 'received'": received_after == 0,
        "one submission per key": submission_count == len({r.index for r in replies}),
    }
    details = [
        Figure("requests (distinct keys)", requests),
        Figure("acknowledged (2xx) keys", len(acked_keys)),
        Figure("keys the client gave up on", len(given_up)),
        Figure("requests that needed retries", retried),
        Figure("attempts in total", attempts),
        Figure("leads created", lead_count),
        Figure("submissions", submission_count),
        Figure("submissions with a lead", keys_with_lead),
        Figure("submissions 'received' after the load, before recovery", received_before),
        Figure("finished by recover_stale()", recovered),
        Figure("submissions 'received' after recovery", received_after),
        Figure("e-mails stored twice", duplicate_emails),
        Figure("leads with other than one touchpoint", extra_touchpoints),
        Figure("demo requests routed to a rep", f"{routed} of {hot}"),
        Figure("throughput incl. retries and restarts", len(acked) / seconds if seconds else 0, "req/s"),
        Figure("p99 latency of the accepted attempt", percentile(latencies, 99), "ms"),
    ] + [Figure(f"check: {name}", ok) for name, ok in checks.items()]
    statuses = sorted({r.status for r in given_up})
    notes = list(restart_log)
    if statuses:
        notes.append(f"last statuses of given-up keys: {statuses}")
    return Result(
        name=NAME if web == 1 else NAME_WEB, title=TITLE if web == 1 else TITLE_WEB.format(web=web),
        figure=Figure("leads created", lead_count),
        reference=Figure("distinct acknowledged keys", len(acked_keys)),
        goal="no loss, no duplicate, every submission finished", goal_met=all(checks.values()),
        details=details, notes=notes,
        params={"requests": requests, "concurrency": concurrency, "restarts": len(restart_log),
                "web instances": web, "gunicorn workers each": workers,
                "retry": "same Idempotency-Key, backoff up to 2 s, at most 120 s per request",
                "IDEMPOTENCY_STALE_SECONDS": 10},
    )


def _unacked_with_lead(submissions, acked_keys: set[int], run_id: str) -> int:
    """Keys the client never saw acknowledged but whose submission made a lead (finished by a retry the
    client did not wait for, or by the recovery)."""
    count = 0
    prefix = f"lwl-{run_id}-"
    for key in submissions.filter(lead__isnull=False).values_list("idempotency_key", flat=True):
        if int(key[len(prefix):]) not in acked_keys:
            count += 1
    return count


if __name__ == "__main__":
    sys.exit(main())
