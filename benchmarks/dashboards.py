"""6. Dashboards and the nightly report on the full history: time per page and per report.

Lights up when `reporting` has its pages (`reporting.selectors` and the URLs in `reporting.urls`); until
then it reports "not available yet". Every report page without URL parameters is fetched in-process with
Django's test client as the bench manager (server time: views, SQL, templates, charts' data): two warm-ups,
then the median of N fetches, plus the SQL statements of one more. The nightly (e-mail) report is built
for the manager with `reporting.email.preview(user)` and rendered to HTML when those functions exist.
Filtered figures take other paths (the leads a rep owns now or owned before), so the overview, the stalls
page and the e-mail preview are also measured as the SDR `rep001` (own figures only, like every SDR), and the
overview as the manager filtered by that rep and by source.

The headline is the default 30-day range. Longer ranges cost in proportion to the leads and stage changes
in them, so the main pages (overview, funnel, velocity, speed-to-lead, acceptance, sources) are also
measured over one year (`?start=<today - 364 days>&end=<today>`) and over the full history (from the day
the first lead was created to today), with fewer fetches (one warm-up, median of 3); those figures are in
the details and the notes, not in the headline or the goal.

Reference, same run (issue 21): each main page over the full history against the same page over the
default 30 days (goal: within 2x; rollups kept up to date incrementally would make additive figures cost
the same for any range), and the default range's overview against the login page (a rendered template
without data; goal: within 100x). The headline is the main page with the highest full-history ratio.
"""

from __future__ import annotations

import importlib
import importlib.util
import time

from benchmarks.common import Context, Figure, Result, median

NAME = "dashboards"
TITLE = "Dashboards and nightly report"
GOAL = "full history within 2x of the default range; default overview within 100x the login page"


def _report_urls() -> list[tuple[str, str]]:
    from django.urls import NoReverseMatch, URLPattern, reverse

    module = importlib.import_module("reporting.urls")
    found = []
    for pattern in module.urlpatterns:
        if isinstance(pattern, URLPattern) and pattern.name and not pattern.pattern.converters:
            try:
                found.append((pattern.name, reverse(f"{module.app_name}:{pattern.name}")))
            except NoReverseMatch:  # a page we cannot address without arguments is skipped
                pass
    return found


def run(ctx: Context) -> Result:
    if importlib.util.find_spec("reporting.selectors") is None or importlib.util.find_spec("reporting.views") is None:
        print("   Dashboards: not available yet (no reporting.selectors / reporting.views)")
        return Result(name=NAME, title=TITLE, status="not available yet", goal=GOAL,
                      notes=["reporting.selectors does not exist yet; this benchmark lights up when it does"])
    from django.contrib.auth import get_user_model
    from django.test import Client

    from benchmarks.generate import MANAGER
    from benchmarks.pages import _measure

    runs = ctx.scaled(7, 3)
    manager = get_user_model().objects.get(username=MANAGER)
    client = Client()
    client.force_login(manager)
    clients = {MANAGER: client}
    login_ms, _q, _s = _measure(Client(), "/accounts/login/", runs)
    details, slow, failed, timings = [], [], [], []
    default_ms: dict[str, float] = {}
    for name, url in _report_urls():
        try:
            ms, queries, status = _measure(client, url, runs)
        except Exception as error:  # a broken page is reported, the others are still measured
            failed.append(f"{url}: {error!r}"[:200])
            continue
        timings.append((name, ms))
        default_ms[url] = ms
        details.append(Figure(f"{url} (median; SQL statements: {queries}; HTTP {status})", ms, "ms"))
        if status != 200:
            failed.append(f"{url}: {status}")
        if ms >= 1000:
            slow.append(url)
    for who, url in _filtered_urls():
        try:
            ms, queries, status = _measure(clients.get(who) or _client_for(who, clients), url, runs)
        except Exception as error:  # a broken page is reported, the others are still measured
            failed.append(f"{url} as {who}: {error!r}"[:200])
            continue
        timings.append((f"{url} as {who}", ms))
        details.append(Figure(f"{url} as {who} (median; SQL statements: {queries}; HTTP {status})", ms, "ms"))
        if status != 200:
            failed.append(f"{url} as {who}: {status}")
        if ms >= 1000:
            slow.append(f"{url} as {who}")
    try:
        report_ms = _nightly_report(manager, runs)
    except Exception as error:  # reported like a broken page
        report_ms = None
        failed.append(f"nightly report: {error!r}"[:200])
    if report_ms is not None:
        details.append(Figure("nightly report for the manager: build + HTML (median)", report_ms, "ms"))
        timings.append(("nightly report", report_ms))
        if report_ms >= 1000:
            slow.append("nightly report")
    if not timings:
        return Result(name=NAME, title=TITLE, status="not available yet", goal=GOAL,
                      notes=["no report page could be measured yet", *failed])
    worst_name, worst = max(timings, key=lambda item: item[1])
    notes = [f"slowest: {worst_name}"]
    long_runs = ctx.scaled(3, 1)
    history_ratios: dict[str, float] = {}
    for label, query in _long_ranges():
        measured = []
        for url in _main_urls():
            try:
                ms, queries, status = _measure_long(client, f"{url}?{query}", long_runs)
            except Exception as error:  # reported, the other pages are still measured
                failed.append(f"{url}?{query}: {error!r}"[:200])
                continue
            measured.append((url, ms))
            if label == "full history" and default_ms.get(url):
                history_ratios[url] = ms / default_ms[url]
            details.append(Figure(f"{url}?{query} ({label}; median of {long_runs}; SQL statements: {queries}; "
                                  f"HTTP {status})", ms, "ms"))
            if status != 200:
                failed.append(f"{url}?{query}: {status}")
        if measured:
            name, ms = max(measured, key=lambda item: item[1])
            notes.append(f"{label} ({query}): slowest {name} {ms:,.0f} ms; "
                         + ", ".join(f"{url} {ms:,.0f}" for url, ms in measured))
    if failed:
        notes.append(f"failed: {'; '.join(failed)}")
    overview = default_ms.get(_main_urls()[0]) if _main_urls() else None
    overview_ratio = overview / login_ms if overview and login_ms else None
    details.append(Figure("slowest dashboard or report (default range), median", f"{worst:,.0f} ms ({worst_name})"))
    details.append(Figure("login page, median", login_ms, "ms"))
    details.append(Figure("default-range overview / login page (goal <= 100x)", overview_ratio))
    for url, ratio in history_ratios.items():
        details.append(Figure(f"{url}: full history / default range (goal <= 2x)", ratio))
    if not history_ratios:
        return Result(name=NAME, title=TITLE, status="ok", goal=GOAL, goal_met=False, details=details,
                      notes=[*notes, "no full-history figure"], params={"runs_per_page": runs})
    worst_url = max(history_ratios, key=history_ratios.get)
    return Result(
        name=NAME, title=TITLE,
        figure=Figure(f"full history, {worst_url}, median", default_ms[worst_url] * history_ratios[worst_url], "ms"),
        reference=Figure("the same page over the default 30 days", default_ms[worst_url], "ms"),
        ratio=history_ratios[worst_url], goal=GOAL,
        goal_met=(history_ratios[worst_url] <= 2 and overview_ratio is not None and overview_ratio <= 100
                  and not failed),
        details=details, notes=notes, params={"runs_per_page": runs},
    )


SDR = "rep001"
MAIN_PAGES = ("dashboard", "funnel", "velocity", "speed", "acceptance", "sources")


def _main_urls() -> list[str]:
    from django.urls import NoReverseMatch, reverse

    urls = []
    for name in MAIN_PAGES:
        try:
            urls.append(reverse(f"reporting:{name}"))
        except NoReverseMatch:  # a page that does not exist (yet) is not measured
            pass
    return urls


def _long_ranges() -> list[tuple[str, str]]:
    """(label, query string): one year up to today, and the full history (first lead's day to today)."""
    import datetime as dt

    from django.db.models import Min
    from django.utils import timezone

    from leads.models import Lead

    today = timezone.localdate()
    ranges = [("one year", f"start={today - dt.timedelta(days=364)}&end={today}")]
    first = Lead.objects.aggregate(first=Min("created_at"))["first"]
    if first is not None:
        ranges.append(("full history", f"start={timezone.localdate(first)}&end={today}"))
    return ranges


def _measure_long(client, url: str, runs: int) -> tuple[float, int, int]:
    """Like `pages._measure`, with one warm-up: a long range takes seconds per fetch."""
    from django.db import connection

    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):  # survives the connection being reopened inside the request
        response = client.get(url)  # the warm-up, counted for its SQL statements
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
    return median(timings), len(statements), response.status_code


def _filtered_urls() -> list[tuple[str, str]]:
    """(who, url): an SDR's own figures, and the manager's overview per rep and per source."""
    from django.urls import reverse

    from benchmarks.generate import MANAGER

    overview, stalls, preview = (
        reverse("reporting:dashboard"), reverse("reporting:stalls"), reverse("reporting:email_preview")
    )
    return [
        (SDR, overview), (SDR, stalls), (SDR, preview),
        (MANAGER, f"{overview}?rep={SDR}"), (MANAGER, f"{overview}?source=paid_search"),
    ]


def _client_for(username: str, clients: dict):
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    clients[username] = client
    return client


def _nightly_report(user, runs: int) -> float | None:
    if importlib.util.find_spec("reporting.email") is None:
        return None
    email = importlib.import_module("reporting.email")
    preview, html = getattr(email, "preview", None), getattr(email, "html", None)
    if not callable(preview):
        return None
    timings = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        report = preview(user)
        if callable(html):
            html(report)
        timings.append((time.perf_counter() - start) * 1000)
    return median(timings[1:])
