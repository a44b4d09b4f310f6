"""3. Queue and list pages with the full data set: median server time and SQL statements per page.

In-process with Django's test client (force_login, no HTTP, no network), so the figure is server time:
middleware, views, queries and template rendering. Each page is fetched twice to warm up, then N times;
the median is reported, and the statements of one more fetch are counted with CaptureQueriesContext.

Pages: an SDR's queue (rep001: 70 open leads), the pool, the lead list for marketing (all leads)
unfiltered, filtered by stage and source, sorted by score, searched by name, by creation date, the lead
list of an SDR (own leads + pool), and the lead page of a worked opportunity (activities, transitions,
consent). A constant query count is checked with pairs whose data differ in size: the queue of a rep
with 70 open leads against one with none, the lead page of a lead with one activity against one with
many.

Reference, same run: the login page (a rendered template without data), the floor for any page here.
"""

from __future__ import annotations

import time

from benchmarks.common import Context, Figure, Result, median

NAME = "pages"
TITLE = "Queue, list and lead pages"


def _measure(client, url: str, runs: int) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url)
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return median(timings), len(queries), response.status_code


def _ids(meta: dict) -> dict:
    from django.db.models import Count

    from leads.models import Lead

    busy = (Lead.objects.filter(stage="opportunity", owner__username="rep001")
            .annotate(n=Count("activities")).order_by("-n", "pk").values_list("pk", flat=True).first())
    quiet = (Lead.objects.filter(stage="known").annotate(n=Count("activities")).filter(n=1)
             .order_by("pk").values_list("pk", flat=True).first())
    return {"busy": busy, "quiet": quiet}


def run(ctx: Context) -> Result:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from benchmarks.generate import BENCH_SDRS, MARKETING
    from leads.models import Activity, Lead

    runs = ctx.scaled(15, 7)
    users = {u.username: u for u in get_user_model().objects.filter(username__in=[MARKETING, "rep001", BENCH_SDRS[3]])}
    ids = _ids(ctx.meta)
    created_after = (Lead.objects.order_by("-created_at").values_list("created_at", flat=True).first())
    since = (created_after.date().replace(day=1)).isoformat() if created_after else "2026-01-01"
    pages = [
        ("SDR queue (rep001, 70 open leads)", "rep001", "/queue/"),
        ("SDR queue (a rep with no open leads)", BENCH_SDRS[3], "/queue/"),
        ("pool (SDR)", "rep001", "/pool/"),
        ("lead list, all leads (marketing)", MARKETING, "/leads/"),
        ("lead list, stage=mql & source=paid_search", MARKETING, "/leads/?stage=mql&source=paid_search"),
        ("lead list, sorted by score", MARKETING, "/leads/?ordering=-score"),
        ("lead list, search 'mueller'", MARKETING, "/leads/?q=mueller"),
        ("lead list, created this month, stage=known", MARKETING, f"/leads/?created_after={since}&stage=known"),
        ("lead list, page 200", MARKETING, "/leads/?page=200"),
        ("lead list of an SDR (own + pool)", "rep001", "/leads/"),
        ("lead page, worked opportunity", MARKETING, f"/leads/{ids['busy']}/"),
        ("lead page, lead with one activity", MARKETING, f"/leads/{ids['quiet']}/"),
    ]
    clients = {}
    for username, user in users.items():
        clients[username] = Client()
        clients[username].force_login(user)

    login_ms, login_queries, _status = _measure(Client(), "/accounts/login/", runs)
    measured = []
    for label, username, url in pages:
        ms, queries, status = _measure(clients[username], url, runs)
        measured.append((label, ms, queries, status))

    by_label = {label: (ms, queries) for label, ms, queries, _s in measured}
    pairs = [("SDR queue (rep001, 70 open leads)", "SDR queue (a rep with no open leads)"),
             ("lead page, worked opportunity", "lead page, lead with one activity")]
    constant = all(by_label[a][1] == by_label[b][1] for a, b in pairs)
    list_pages = [(label, ms) for label, ms, _q, _s in measured]
    worst_label, worst = max(list_pages, key=lambda item: item[1])
    slow = [label for label, ms in list_pages if ms >= 100]
    bad_status = [f"{label}: {status}" for label, _ms, _q, status in measured if status != 200]
    busy_activities = Activity.objects.filter(lead_id=ids["busy"]).count() if ids["busy"] else 0
    details = [Figure(f"{label} (median; SQL statements: {queries})", ms, "ms") for label, ms, queries, _s in measured]
    details.append(Figure("query count independent of data size", constant))
    notes = [f"slowest: {worst_label}"]
    if slow:
        notes.append("100 ms or more: " + "; ".join(slow))
    if bad_status:
        notes.append("non-200 answers: " + "; ".join(bad_status))
    notes.append(f"the worked opportunity has {busy_activities} activities")
    return Result(
        name=NAME, title=TITLE,
        figure=Figure("slowest page, median", worst, "ms"),
        reference=Figure(f"login page, median ({login_queries} SQL)", login_ms, "ms"),
        goal="every page < 100 ms median, constant query count",
        goal_met=not slow and constant and not bad_status,
        details=details, notes=notes, params={"runs_per_page": runs, "warmup_per_page": 2},
    )
