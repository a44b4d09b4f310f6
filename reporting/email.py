"""The report by e-mail: build it, render it (HTML with inline PNG charts, plain text, CSV), send it once.

Exactly one report per recipient and period: `send` claims the period by inserting a `ReportRun` row (unique
per user and period key) before it sends, and marks it sent after. A second worker, a restart or a catch-up
run hits the unique constraint and stops. A failed send may be claimed again; `force=True` resends.
"""

import base64
import datetime as dt
import logging
from dataclasses import dataclass, field
from email.mime.image import MIMEImage

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import replica
from leads import roles
from leads import selectors as leads_selectors
from reporting import charts, filters, reports, selectors
from reporting.models import Frequency, ReportRun, ReportSubscription, Scope
from reporting.tables import Column, Table, csv_text
from sales import selectors as sales_selectors

log = logging.getLogger(__name__)

LIST_SIZE = 10
BASELINE = {Frequency.DAILY: 7, Frequency.WEEKLY: 4}  # earlier periods the key figures are compared with
FIGURE_LABELS = {
    "leads": gettext_lazy("New leads"), "mqls": gettext_lazy("New MQLs"), "accepted": gettext_lazy("Accepted (SAL)"),
    "rejected": gettext_lazy("Rejected MQLs"), "sqls": gettext_lazy("New SQLs"),
    "opportunities": gettext_lazy("New opportunities"), "won": gettext_lazy("Deals won"),
    "revenue": gettext_lazy("Won revenue"),
}


@dataclass(frozen=True)
class Period:
    frequency: str
    start: dt.date
    end: dt.date

    @property
    def key(self) -> str:
        if self.frequency == Frequency.WEEKLY:
            year, week, _day = self.start.isocalendar()
            return f"weekly:{year}-W{week:02d}"
        return f"daily:{self.start.isoformat()}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def label(self) -> str:
        if self.frequency == Frequency.WEEKLY:
            year, week, _day = self.start.isocalendar()
            return _("week %(week)s/%(year)s (%(start)s – %(end)s)") % {
                "week": week, "year": year, "start": date_format(self.start, "SHORT_DATE_FORMAT"),
                "end": date_format(self.end, "SHORT_DATE_FORMAT"),
            }
        return date_format(self.start, "DATE_FORMAT")


def period_for(frequency: str, day: dt.date) -> Period:
    """The period a report about `day` covers: that day, or its week (Monday to Sunday)."""
    if frequency == Frequency.WEEKLY:
        monday = day - dt.timedelta(days=day.weekday())
        return Period(frequency, monday, monday + dt.timedelta(days=6))
    return Period(frequency, day, day)


def due_period(frequency: str, today: dt.date) -> Period:
    """What is due on `today`: yesterday, or the last complete week."""
    if frequency == Frequency.WEEKLY:
        return period_for(frequency, today - dt.timedelta(days=today.weekday() + 1))
    return period_for(frequency, today - dt.timedelta(days=1))


@dataclass
class Report:
    user: object
    period: Period
    scope: str
    context: dict
    tables: list[Table]
    images: dict[str, bytes] = field(default_factory=dict)


# --- building -------------------------------------------------------------------------------------------


def _key_figures(f: filters.Filters, period: Period) -> tuple[list[dict], list[dict]]:
    """This period's figures against the average of the earlier periods; and the periods for the trend."""
    earlier = BASELINE[period.frequency]
    first = period.start - dt.timedelta(days=period.days * earlier)
    days = selectors.daily_figures(f.with_range(first, period.end))
    buckets = []
    for index in range(earlier + 1):
        chunk = days[index * period.days:(index + 1) * period.days]
        totals = {name: sum(day[name] for day in chunk) for name in selectors.FIGURES}
        buckets.append({"start": chunk[0]["day"], **totals})
    current, before = buckets[-1], buckets[:-1]
    figures = []
    for name in selectors.FIGURES:
        average = sum(b[name] for b in before) / len(before)
        value = current[name]
        change = round(100.0 * (float(value) - float(average)) / float(average), 0) if average else None
        figures.append({
            "key": name, "label": str(FIGURE_LABELS[name]), "value": value,
            "average": round(float(average), 2 if name == "revenue" else 1), "change": change,
            "direction": "up" if change and change > 0 else ("down" if change and change < 0 else ""),
        })
    return figures, buckets


def build(user, *, frequency: str, scope: str, period: Period, now: dt.datetime | None = None) -> Report:
    """Everything one report shows, computed for the user's scope."""
    now = now or timezone.now()
    f = filters.for_scope(user, scope, start=period.start, end=period.end)
    bands = selectors.current_bands()
    figures, buckets = _key_figures(f, period)
    flow = selectors.funnel(f, view="flow", bands=bands)
    cohort_end = period.end
    cohort = selectors.funnel(f.with_range(cohort_end - dt.timedelta(days=29), cohort_end), bands=bands)
    stall_data = selectors.stalls(f, now=now, bands=bands)
    stalled = reports.lead_rows(list(selectors.stalled_leads(f, now=now, bands=bands)[:LIST_SIZE]), now=now)
    waiting = reports.lead_rows(list(selectors.waiting_mqls(f)[:LIST_SIZE]), now=now)
    breaches = selectors.sla_breaches(f, now=now, limit=LIST_SIZE)
    breach_rows = [_breach_row(clock) for clock in breaches]

    figure_table = Table(
        "key_figures", _("Key figures"),
        [Column("label", _("Figure")), Column("value", _("This period")), Column("average", _("Average before")),
         Column("change", _("Change (%)"))],
        figures,
    )
    funnel_table, _conversion = reports.funnel_tables(flow)
    funnel_table.title = _("Funnel: stage entries in the period")
    _stages, conversion_table = reports.funnel_tables(cohort)
    conversion_table.title = _("Conversion, leads created in the last 30 days")
    tables = [
        figure_table, funnel_table, conversion_table, reports.stall_table(stall_data),
        reports.waiting_table(waiting), reports.stalled_table(stalled),
        Table(
            "sla_breaches", _("SLA breaches"),
            [Column("lead", _("Lead")), Column("policy", _("Policy")), Column("owner", _("Owner")),
             Column("due_at", _("Due at")), Column("url", _("Link"))],
            breach_rows, empty=_("No SLA breach in the period."),
        ),
    ]
    pipeline = sales_selectors.pipeline_by_currency(user, start=period.start, end=period.end)
    tables.append(Table(
        "pipeline", _("Pipeline: open, weighted forecast, won in the period"),
        [Column("currency", _("Currency")), Column("open_count", _("Open"), "count"),
         Column("open_value", _("Open value")), Column("weighted", _("Weighted forecast")),
         Column("won_count", _("Won in the period"), "count"), Column("won_value", _("Won value"))],
        pipeline, empty=_("No open or won opportunity you can see."),
    ))
    team_alerts = _team_alert_rows(user, now=now)
    if roles.is_manager(user):
        tables.append(Table(
            "team_breaches", _("Your teams: SLA breaches and clocks due soon"),
            [Column("lead", _("Lead")), Column("policy", _("Policy")), Column("owner", _("Owner")),
             Column("state", _("State")), Column("due_at", _("Due at")), Column("suggested", _("Give to")),
             Column("url", _("Link"))],
            team_alerts, empty=_("No SLA of your teams' leads is breached or due within the hour."),
        ))
    images = {}
    funnel_stages = [s for s in flow["stages"] if s["count"] is not None]
    funnel_png = charts.horizontal_bars(
        _("Stage entries in the period"), [str(s["label"]) for s in funnel_stages], [s["count"] for s in funnel_stages]
    )
    if funnel_png:
        images["funnel"] = funnel_png
    trend_labels = [
        date_format(b["start"], "SHORT_DATE_FORMAT") if period.frequency == Frequency.DAILY
        else f"W{b['start'].isocalendar()[1]}"
        for b in buckets
    ]
    trend_png = charts.grouped_columns(
        _("New leads and MQLs"), trend_labels,
        [(_("New leads"), [b["leads"] for b in buckets]), (_("New MQLs"), [b["mqls"] for b in buckets])],
    )
    if trend_png:
        images["trend"] = trend_png
    scope_labels = dict(Scope.choices)
    context = {
        "user": user, "period": period, "period_label": period.label(), "scope_label": scope_labels[scope],
        "figures": figures, "funnel": flow, "conversions": cohort["conversions"],
        "funnel_max": max([s["count"] or 0 for s in funnel_stages] + [1]),
        "stalls": stall_data["stages"], "stalled": stalled, "waiting": waiting,
        "breaches": breach_rows, "pipeline": pipeline,
        "pipeline_url": f"{settings.SITE_URL}{reverse('sales:pipeline')}",
        "is_manager": roles.is_manager(user), "team_alerts": team_alerts,
        "team_board_url": f"{settings.SITE_URL}{reverse('leads:team')}#breaches",
        "site_url": settings.SITE_URL,
        "dashboard_url": f"{settings.SITE_URL}{reverse('reporting:dashboard')}",
        "subscription_url": f"{settings.SITE_URL}{reverse('reporting:my_report')}",
        "generated_at": timezone.localtime(now),
    }
    return Report(user=user, period=period, scope=scope, context=context, tables=tables, images=images)


def _team_alert_rows(user, *, now) -> list[dict]:
    """The manager's breach list (`leads.selectors.team_clock_alerts`) as e-mail rows; one click on the team
    board reassigns (an e-mail cannot post)."""
    if not roles.is_manager(user):
        return []
    rows = []
    for alert in leads_selectors.team_clock_alerts(user, now=now):
        clock, owner = alert.clock, alert.clock.lead.owner
        suggested = alert.suggested.user if alert.suggested else None
        rows.append({
            "lead": clock.lead.display_name, "policy": str(clock.policy),
            "owner": owner.get_full_name() or owner.get_username() if owner else "",
            "state": str(_("breached") if alert.is_breached else _("due soon")), "is_breached": alert.is_breached,
            "due_at": reports.local_datetime(clock.due_at),
            "suggested": (suggested.get_full_name() or suggested.get_username()) if suggested else "",
            "url": reports.lead_url(clock.lead_id),
        })
    return rows


def _breach_row(clock) -> dict:
    return {
        "lead": clock.lead.display_name, "policy": str(clock.policy),
        "owner": (clock.owner.get_full_name() or clock.owner.get_username()) if clock.owner_id else "",
        "due_at": reports.local_datetime(clock.due_at),
        "url": reports.lead_url(clock.lead_id),
    }


# --- rendering ------------------------------------------------------------------------------------------


def subject(report: Report) -> str:
    return _("[Leadwerk] Report for %(period)s (%(scope)s)") % {
        "period": report.context["period_label"],
        "scope": report.context["scope_label"],
    }


def html(report: Report, *, inline: bool = True) -> str:
    """The HTML part; images by cid (e-mail) or as data URIs (the browser preview)."""
    sources = {}
    for name, png in report.images.items():
        sources[name] = f"cid:{name}" if inline else "data:image/png;base64," + base64.b64encode(png).decode()
    return render_to_string("reporting/email/report.html", {**report.context, "images": sources})


def text(report: Report) -> str:
    return render_to_string("reporting/email/report.txt", report.context)


def message(report: Report) -> EmailMultiAlternatives:
    """multipart/related: the alternatives (text, HTML), the inline images, then the CSV attachment."""
    mail = EmailMultiAlternatives(subject=subject(report), body=text(report), to=[report.user.email])
    mail.attach_alternative(html(report), "text/html")
    if report.images:
        mail.mixed_subtype = "related"
        for name, png in report.images.items():
            image = MIMEImage(png, "png")
            image.add_header("Content-ID", f"<{name}>")
            image.add_header("Content-Disposition", "inline", filename=f"{name}.png")
            mail.attach(image)
    mail.attach(f"leadwerk-report-{report.period.key.replace(':', '-')}.csv", csv_text(report.tables), "text/csv")
    return mail


# --- sending once ---------------------------------------------------------------------------------------


def _claim(user, *, subscription, frequency: str, scope: str, period: Period, force: bool) -> bool:
    """Insert the run row (or take over a failed one, or any one with force); False when someone has it."""
    now = timezone.now()
    try:
        with transaction.atomic():
            ReportRun.objects.create(
                user=user, subscription=subscription, frequency=frequency, scope=scope, period_key=period.key,
                period_start=period.start, period_end=period.end, recipient=user.email, claimed_at=now,
            )
        return True
    except IntegrityError:
        pass
    runs = ReportRun.objects.filter(user=user, period_key=period.key)
    if not force:
        runs = runs.filter(status=ReportRun.Status.FAILED)
    return bool(runs.update(
        status=ReportRun.Status.SENDING, attempts=F("attempts") + 1, claimed_at=now, error="", scope=scope,
        recipient=user.email, subscription=subscription,
    ))


def send(user, *, frequency: str, scope: str, period: Period, subscription=None, force: bool = False) -> str:
    """Send one report: "sent", "skipped" (already sent or being sent) or "failed" (recorded on the run)."""
    scope = filters.effective_scope(user, scope)
    if scope is None or not user.email or not user.is_active:
        return "skipped"
    if not _claim(user, subscription=subscription, frequency=frequency, scope=scope, period=period, force=force):
        return "skipped"
    runs = ReportRun.objects.filter(user=user, period_key=period.key)
    try:
        with translation.override(settings.LANGUAGE_CODE):
            with replica.reads_from_replica():  # the figures from the report replica, when there is one
                mail = message(build(user, frequency=frequency, scope=scope, period=period))
            mail.send()
    except Exception as error:
        log.exception("The %s report for %s could not be sent", period.key, user.get_username())
        runs.update(status=ReportRun.Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000])
        return "failed"
    runs.update(status=ReportRun.Status.SENT, sent_at=timezone.now())
    return "sent"


def send_due(*, today: dt.date | None = None) -> dict[str, int]:
    """Every active subscription's due report (yesterday's; weekly: last week's), each once."""
    today = today or timezone.localdate()
    counts = {"sent": 0, "skipped": 0, "failed": 0}
    subscriptions = ReportSubscription.objects.filter(is_active=True, user__is_active=True).select_related("user")
    for subscription in subscriptions.order_by("pk"):
        outcome = send(
            subscription.user, frequency=subscription.frequency, scope=subscription.scope,
            period=due_period(subscription.frequency, today), subscription=subscription,
        )
        counts[outcome] += 1
    return counts


def send_to(username: str, *, day: dt.date | None = None, frequency: str | None = None, force: bool = False) -> str:
    """One user's report for the period around `day` (default: the due one), with their subscription's
    frequency and scope, or a daily report of everything they may see."""
    user = get_user_model().objects.get(username=username)
    subscription = ReportSubscription.objects.filter(user=user).first()
    frequency = frequency or (subscription.frequency if subscription else Frequency.DAILY)
    scope = subscription.scope if subscription else Scope.ALL
    if day is None:
        period = due_period(frequency, timezone.localdate())
    else:
        period = period_for(frequency, day)
    return send(user, frequency=frequency, scope=scope, period=period, subscription=subscription, force=force)


def preview(user, *, day: dt.date | None = None) -> Report:
    """The report this user would get, for the browser preview page."""
    subscription = ReportSubscription.objects.filter(user=user).first()
    frequency = subscription.frequency if subscription else Frequency.DAILY
    scope = filters.effective_scope(user, subscription.scope if subscription else Scope.ALL) or Scope.OWN
    period = period_for(frequency, day) if day else due_period(frequency, timezone.localdate())
    with replica.reads_from_replica():
        return build(user, frequency=frequency, scope=scope, period=period)
