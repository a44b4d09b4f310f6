"""6. Dashboards and the nightly report on the full history: time per page and per report.

Lights up when `reporting` has its pages (`reporting.selectors` and the URLs in `reporting.urls`); until
then it reports "not available yet". Every report page without URL parameters is fetched in-process with
Django's test client as the bench manager (server time: views, SQL, templates, charts' data): two warm-ups,
then the median of N fetches, plus the SQL statements of one more. The nightly (e-mail) report is built
for the manager with `reporting.email.preview(user)` and rendered to HTML when those functions exist.
Filtered figures take other paths (the leads a rep owns now or owned before), so the overview, the stalls
page and the e-mail preview are also measured as the SDR `rep001` (own figures only, like every SDR), and the
overview as the manager filtered by that rep and by source.

Reference, same run: the login page, a rendered template without data.
"""

from __future__ import annotations

import importlib
import importlib.util
import time

from benchmarks.common import Context, Figure, Result, median

NAME = "dashboards"
TITLE = "Dashboards and nightly report"
GOAL = "every dashboard < 1 s"


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
    for name, url in _report_urls():
        try:
            ms, queries, status = _measure(client, url, runs)
        except Exception as error:  # a broken page is reported, the others are still measured
            failed.append(f"{url}: {error!r}"[:200])
            continue
        timings.append((name, ms))
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
    notes = [f"slowest: {worst_name}"] + ([f"failed: {'; '.join(failed)}"] if failed else [])
    return Result(
        name=NAME, title=TITLE, figure=Figure("slowest dashboard or report, median", worst, "ms"),
        reference=Figure("login page, median", login_ms, "ms"), goal=GOAL,
        goal_met=not slow and not failed, details=details, notes=notes, params={"runs_per_page": runs},
    )


SDR = "rep001"


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
