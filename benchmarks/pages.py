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

Reference, same run, per page: its own SQL replayed plus the login page. The statements of one fetch are
recorded (`benchmarks.same_writes`) and the SELECTs run again as they were, N times on the same
connection (median): what PostgreSQL needs for that page's data. The login page (middleware and a rendered
template without data) is the floor of any page. Goal (issue 21): each page's median within 1.5x of its own
SQL time plus the login page; the headline is the page with the highest ratio.
"""

from __future__ import annotations

import time

from benchmarks import same_writes
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


def _sql_ms(client, url: str, runs: int) -> float:
    """Median time of the page's own SELECTs replayed as recorded from one fetch."""
    from django.db import connection

    _response, recording = same_writes.record(lambda: client.get(url), token="-")  # noqa: S106 - no secret
    timings = []
    with connection.cursor() as cursor:
        for _ in range(runs):
            start = time.perf_counter()
            recording.replay_reads(cursor)
            timings.append((time.perf_counter() - start) * 1000)
    return median(timings)


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
    ratios = {}
    for label, username, url in pages:
        ms, queries, status = _measure(clients[username], url, runs)
        sql_ms = _sql_ms(clients[username], url, runs)
        measured.append((label, ms, queries, status))
        ratios[label] = (ms / (sql_ms + login_ms), sql_ms)

    by_label = {label: (ms, queries) for label, ms, queries, _s in measured}
    pairs = [("SDR queue (rep001, 70 open leads)", "SDR queue (a rep with no open leads)"),
             ("lead page, worked opportunity", "lead page, lead with one activity")]
    constant = all(by_label[a][1] == by_label[b][1] for a, b in pairs)
    list_pages = [(label, ms) for label, ms, _q, _s in measured]
    worst_label, worst = max(list_pages, key=lambda item: item[1])
    slow = [label for label, ms in list_pages if ms >= 100]
    bad_status = [f"{label}: {status}" for label, _ms, _q, status in measured if status != 200]
    busy_activities = Activity.objects.filter(lead_id=ids["busy"]).count() if ids["busy"] else 0
    details = []
    for label, ms, queries, _s in measured:
        ratio, sql_ms = ratios[label]
        details.append(Figure(f"{label} (median; SQL statements: {queries})",
                              f"{ms:,.1f} ms; own SQL {sql_ms:,.1f} ms; ratio {ratio:.2f}"))
    details.append(Figure("query count independent of data size", constant))
    notes = [f"slowest: {worst_label}"]
    if slow:
        notes.append("100 ms or more: " + "; ".join(slow))
    if bad_status:
        notes.append("non-200 answers: " + "; ".join(bad_status))
    notes.append(f"the worked opportunity has {busy_activities} activities")
    worst_ratio_label = max(ratios, key=lambda label: ratios[label][0])
    worst_ratio, worst_sql = ratios[worst_ratio_label]
    details.append(Figure(f"login page, median ({login_queries} SQL)", login_ms, "ms"))
    details.append(Figure("slowest page, median", f"{worst:,.1f} ms ({worst_label})"))
    return Result(
        name=NAME, title=TITLE,
        figure=Figure(f"highest ratio: {worst_ratio_label}, median", by_label[worst_ratio_label][0], "ms"),
        reference=Figure("its own SQL replayed + the login page", worst_sql + login_ms, "ms"),
        ratio=worst_ratio,
        goal="every page within 1.5x of its own SQL + login page, constant query count",
        goal_met=worst_ratio <= 1.5 and constant and not bad_status,
        details=details, notes=notes, params={"runs_per_page": runs, "warmup_per_page": 2},
    )
