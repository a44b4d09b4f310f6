"""Report pages: dashboard, funnel, velocity, stalls, speed-to-lead, acceptance, sources, SLA, my report.

Thin: parse the filters (one form for every page), call selectors, shape tables, render. `?format=csv`
(with `&table=KEY` where a page has several tables) downloads a table as CSV. Marketing, managers and
admins see everything; an SDR sees their own figures (the rep filter is always themselves).
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core import dates, replica
from leads import roles
from leads import selectors as lead_selectors
from leads.models import Campaign
from reporting import agreement, email, reports, selectors
from reporting.forms import FunnelFilterForm, ReportFilterForm, SourcesFilterForm, SubscriptionForm
from reporting.models import ReportRun, ReportSubscription
from reporting.tables import csv_response

CSV_LIMIT = 10_000

PAGES = [
    ("dashboard", "Overview"), ("funnel", "Funnel"), ("velocity", "Velocity"), ("stalls", "Stalls"),
    ("speed", "Speed-to-lead"), ("acceptance", "Acceptance and reasons"), ("sources", "Sources and ROI"),
    ("sla", "SLA compliance"),
]


def _may_see_reports(user) -> bool:
    return roles.is_staff_role(user) or roles.is_sdr(user)


def _require_reports(user) -> None:
    if not _may_see_reports(user):
        raise PermissionDenied(_("Reports are for marketing, managers and SDRs."))


def _report(request, *, name: str, template: str, build, form_class=ReportFilterForm):
    """Filters -> build(f, form, request) -> tables (+ charts, more context) -> page or CSV."""
    _require_reports(request.user)
    form = form_class(request.GET, user=request.user)
    context = {"form": form, "page": name, "own_only": form.own_only}
    if not form.is_valid():
        return render(request, template, {**context, "invalid": True, "tables": []}, status=400)
    f = form.filters()
    with replica.reads_from_replica() as replica_status:  # figures from the report replica, when there is one
        context.update(build(f, form, request), replica=replica_status)
        if request.GET.get("format") == "csv":
            tables = {table.key: table for table in context.get("csv_tables", context["tables"])}
            key = request.GET.get("table") or next(iter(tables), "")
            if key not in tables:
                raise Http404(_("No such table."))
            return csv_response(tables[key], filename=f"leadwerk-{name}-{key}-{f.start}-{f.end}")
        query = form.query()
        context.update({
            "filters": f, "query": urlencode(query),
            "common_query": urlencode({k: v for k, v in query.items() if k in ReportFilterForm.base_fields}),
        })
        return render(request, template, context)


# --- pages ----------------------------------------------------------------------------------------------


def _lead_list_link(f, *, own_only: bool, stage: str = "", stalled: bool = False, created: bool = True,
                    reached: str = "", source: str = "") -> str:
    """The lead list filtered to exactly the leads behind a figure, or "" where the list cannot say the same
    (an SDR's own figures, a team or rep filter: the list filters by current owner only)."""
    if own_only or f.team_id or f.rep_id or f.by_owner:
        return ""
    query = {}
    if created:
        query.update(created_after=f.start.isoformat(), created_before=f.end.isoformat())
    if source or f.source:
        if source and f.source and source != f.source:
            return ""
        query["source"] = source or f.source
    if f.campaign_id:
        slug = Campaign.objects.filter(pk=f.campaign_id).values_list("slug", flat=True).first()
        if slug is None:
            return ""
        query["campaign"] = slug
    if stage:
        query["stage"] = stage
    if stalled:
        query["stalled"] = "true"
    if reached:
        query["reached"] = reached
    return f"{reverse('leads:list')}?{urlencode(query)}"


def _link_funnel(data: dict, f, own_only: bool) -> None:
    """Each cohort count of the funnel links to the leads it counts (created in the range, reached the stage)."""
    if data.get("view", "cohort") != "cohort":
        return  # the flow counts stage entries in the range, which the list cannot select
    for row in data["stages"]:
        if row["stage"] != "visitors":
            row["link"] = _lead_list_link(f, own_only=own_only, reached="" if row["stage"] == "known" else row["stage"])


def _link_stalls(data: dict, f, own_only: bool) -> None:
    """Each stage's leads now and its stalled leads link to the lead list of exactly those leads."""
    for row in data["stages"]:
        row["in_stage_link"] = _lead_list_link(f, own_only=own_only, stage=row["stage"], created=False)
        row["stalled_link"] = _lead_list_link(f, own_only=own_only, stage=row["stage"], stalled=True, created=False)


def _link_sources(data: dict, f, own_only: bool) -> None:
    """The first-touch counts per source link to their leads (the last-touch attribution is not a lead field)."""
    if data.get("attribution", "first") != "first":
        return
    rows = [(row, row.get("key") or "") for row in data["by_source"]] + [(data["total"], "")]
    for row, source in rows:
        if row is not data["total"] and not source:
            continue
        for column, reached in (("leads", ""), ("mqls", "mql"), ("sqls", "sql"), ("opportunities", "opportunity")):
            row[f"{column}_link"] = _lead_list_link(f, own_only=own_only, source=source, reached=reached)
        row["customers_link"] = _lead_list_link(f, own_only=own_only, source=source, stage="customer")


@login_required
@require_GET
def dashboard(request):
    def build(f, form, request):
        bands = selectors.current_bands()
        sources = selectors.sources(f)
        funnel = selectors.funnel(f, bands=bands, reached=sources["reached"])  # one read of the cohort
        speed = selectors.speed_to_lead(f)
        acceptance = selectors.acceptance(f)
        stalls = selectors.stalls(f, bands=bands)
        sla = selectors.sla_compliance(f)
        stalled_total = sum(s["stalled"] for s in stalls["stages"])
        counts = {s["stage"]: s["count"] for s in funnel["stages"]}
        kpis = [
            {"label": _("Leads created"), "value": counts["known"], "kind": "count",
             "link": _lead_list_link(f, own_only=form.own_only),
             "definition": _("Leads created in the range (a cohort: later events of these leads count too).")},
            {"label": _("Became MQL"), "value": counts["mql"], "kind": "count",
             "link": _lead_list_link(f, own_only=form.own_only, reached="mql"),
             "definition": _("Leads created in the range that became MQLs, then or later (a cohort).")},
            {"label": _("Became SQL"), "value": counts["sql"], "kind": "count",
             "link": _lead_list_link(f, own_only=form.own_only, reached="sql"),
             "definition": _("Leads created in the range that became SQLs, then or later (a cohort).")},
            {"label": _("Won"), "value": counts["customer"], "kind": "count",
             "link": _lead_list_link(f, own_only=form.own_only, stage="customer"),
             "definition": _("Leads created in the range that are customers now; the e-mail's \"deals won\" "
                             "counts the wins that happened in its period instead.")},
            {"label": _("Won revenue"), "value": sources["total"]["revenue"], "kind": "money",
             "definition": _("The deal values of the leads created in the range that are customers now.")},
            {"label": _("Median time, assignment → first touch"),
             "value": speed["overall"]["assignment_median_minutes"], "kind": "minutes",
             "definition": _("Of the leads created in the range and assigned to a rep: the median time from the "
                             "assignment to the first call, e-mail, LinkedIn message or meeting.")},
            {"label": _("Touched within 5 min of assignment"),
             "value": speed["overall"]["assignment_within_share"], "kind": "percent",
             "flag": speed["overall"]["assignment_flag"],
             "definition": _("Share of the assigned leads created in the range that got their first touch within "
                             "5 minutes of the assignment (below 50 % is bad).")},
            {"label": _("MQL acceptance rate"), "value": acceptance["rate"], "kind": "percent",
             "definition": _("Accepted out of accepted and rejected MQLs, for the decisions made in the range "
                             "(events in the range, not a cohort).")},
            {"label": _("Stalled leads now"), "value": stalled_total, "kind": "count",
             "flag": "warn" if stalled_total else "",
             "link": _lead_list_link(f, own_only=form.own_only, stalled=True, created=False),
             "definition": _("Open leads longer in their stage than its stall threshold, right now.")},
        ]
        _link_funnel(funnel, f, form.own_only)
        _link_sources(sources, f, form.own_only)
        funnel_tables = reports.funnel_tables(funnel)
        source_table = reports.sources_tables(sources)[0]
        tables = [*funnel_tables, source_table, reports.speed_tables(speed)[2], *reports.sla_tables(sla)[:1]]
        return {
            "kpis": kpis, "tables": tables, "funnel_tables": funnel_tables, "source_table": source_table,
            "team_table": tables[3], "sla": sla, "sla_tables": reports.sla_tables(sla)[:1],
            "charts": {"funnel": reports.funnel_chart(funnel), "sources": reports.sources_chart(sources)},
        }

    return _report(request, name="dashboard", template="reporting/dashboard.html", build=build)


@login_required
@require_GET
def funnel(request):
    def build(f, form, request):
        view = form.cleaned_data.get("view") or "cohort"
        data = selectors.funnel(f, view=view)
        _link_funnel(data, f, form.own_only)
        return {
            "view": view, "hidden": {"view": view}, "tables": reports.funnel_tables(data), "funnel": data,
            "charts": {"funnel": reports.funnel_chart(data)},
        }

    return _report(request, name="funnel", template="reporting/funnel.html", build=build, form_class=FunnelFilterForm)


@login_required
@require_GET
def velocity(request):
    def build(f, form, request):
        data = selectors.velocity(f)
        return {"tables": reports.velocity_tables(data), "charts": {"velocity": reports.velocity_chart(data)}}

    return _report(request, name="velocity", template="reporting/velocity.html", build=build)


@login_required
@require_GET
def stalls(request):
    def build(f, form, request):
        now = timezone.now()
        bands = selectors.current_bands()
        data = selectors.stalls(f, now=now, bands=bands)
        # Staff see every lead; anyone else only the leads they may open (an SDR's scope is already theirs).
        within = None if roles.is_staff_role(request.user) else lead_selectors.visible_leads(request.user)
        stalled = selectors.stalled_leads(f, now=now, bands=bands, within=within, stall_data=data)
        _link_stalls(data, f, form.own_only)
        rate_table = reports.stall_table(data)
        if request.GET.get("format") == "csv":
            rows = reports.lead_rows(list(stalled[:CSV_LIMIT]), now=now)
            return {"tables": [rate_table], "csv_tables": [rate_table, reports.stalled_table(rows)]}
        page = Paginator(stalled, settings.LEADS_PAGE_SIZE).get_page(request.GET.get("page"))
        return {
            "tables": [rate_table], "stalled_page": page, "stalled_rows": reports.lead_rows(page.object_list, now=now),
            "stalled_table": reports.stalled_table([]), "charts": {"stalls": reports.stall_chart(data)},
        }

    return _report(request, name="stalls", template="reporting/stalls.html", build=build)


@login_required
@require_GET
def speed(request):
    def build(f, form, request):
        data = selectors.speed_to_lead(f)
        return {"speed": data, "tables": reports.speed_tables(data), "charts": {"speed": reports.speed_chart(data)}}

    return _report(request, name="speed-to-lead", template="reporting/speed.html", build=build)


@login_required
@require_GET
def acceptance(request):
    def build(f, form, request):
        data = selectors.acceptance(f)
        return {"acceptance": data, "tables": reports.acceptance_tables(data),
                "charts": {"acceptance": reports.reasons_chart(data)}}

    return _report(request, name="acceptance", template="reporting/acceptance.html", build=build)


@login_required
@require_GET
def sources(request):
    def build(f, form, request):
        attribution = form.cleaned_data.get("attribution") or "first"
        data = selectors.sources(f, attribution=attribution)
        _link_sources(data, f, form.own_only)
        return {
            "attribution": attribution, "hidden": {"attribution": attribution}, "costs_shown": data["costs_shown"],
            "tables": reports.sources_tables(data), "charts": {"sources": reports.sources_chart(data)},
        }

    return _report(request, name="sources", template="reporting/sources.html", build=build,
                   form_class=SourcesFilterForm)


@login_required
@require_GET
def sla(request):
    def build(f, form, request):
        data = selectors.sla_compliance(f)
        return {"sla": data, "tables": reports.sla_tables(data)}

    return _report(request, name="sla", template="reporting/sla.html", build=build)


# --- the report by e-mail: my subscription and the preview ----------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def my_report(request):
    _require_reports(request.user)
    subscription = ReportSubscription.objects.filter(user=request.user).first() or ReportSubscription(
        user=request.user
    )
    form = SubscriptionForm(request.POST or None, instance=subscription, user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your report settings are saved."))
        return redirect("reporting:my_report")
    runs = ReportRun.objects.filter(user=request.user).order_by("-period_end", "-claimed_at")[:10]
    return render(request, "reporting/my_report.html", {
        "form": form, "subscription": subscription, "runs": runs, "page": "my_report",
        "send_time": getattr(settings, "REPORT_SEND_TIME", "07:00"), "has_email": bool(request.user.email),
    }, status=400 if request.method == "POST" else 200)


@login_required
@require_GET
def email_preview(request):
    """The e-mail as the user would get it; charts as data URIs. ?date=YYYY-MM-DD, ?part=text."""
    _require_reports(request.user)
    day = None
    if request.GET.get("date"):
        day = dates.parse_day(request.GET["date"])
        if day is None or not dates.in_window(day):
            return HttpResponse(
                _("date: enter a date as YYYY-MM-DD between %(earliest)s and %(latest)s.")
                % {"earliest": dates.EARLIEST, "latest": dates.LATEST},
                status=400, content_type="text/plain",
            )
    report = email.preview(request.user, day=day)
    if request.GET.get("part") == "text":
        return HttpResponse(email.text(report), content_type="text/plain; charset=utf-8")
    return HttpResponse(email.html(report, inline=False))


# --- the definitions the teams agreed on ------------------------------------------------------------------


@login_required
@require_GET
def definitions(request):
    """Everyone signed in reads the agreement; admins change it in the admin (each change logged)."""
    return render(request, "reporting/definitions.html", {**agreement.agreement(), "page": "definitions"})
