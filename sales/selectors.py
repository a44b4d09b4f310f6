"""Reads shared by the sales pages, the API and the reports: who sees which opportunity and account."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import (
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from core.vocabulary import Role, SalesOutcome
from leads import roles
from leads.models import Account, Lead
from routing.models import Rep, Team
from sales import backfill, forecast
from sales.models import Opportunity, Pipeline, SalesStage


def visible_opportunities(user) -> QuerySet[Opportunity]:
    """Admins see all; a manager the opportunities of the teams they manage (closing team, or sourced by
    one of their SDRs); an account executive their own and their team's pool; an SDR what they sourced."""
    opportunities = Opportunity.objects.select_related("account", "stage", "owner", "sourced_by", "team", "lead")
    if not user or not user.is_authenticated:
        return opportunities.none()
    if user.is_superuser:
        return opportunities
    wanted = Q(owner=user) | Q(sourced_by=user)
    rep = Rep.objects.filter(user=user).only("team_id").first()
    if rep is not None:
        wanted |= Q(team_id=rep.team_id, owner__isnull=True)
    if Role.MANAGER in roles.roles_of(user):
        managed = list(Team.objects.filter(manager=user).values_list("pk", flat=True))
        if managed:
            wanted |= Q(team_id__in=managed) | Q(sourced_by__rep__team_id__in=managed)
    return opportunities.filter(wanted)


def pipeline_by_currency(user, *, start: dt.date, end: dt.date) -> list[dict]:
    """Per currency (values in different currencies are never added up): open opportunities (count, value,
    weighted value = value x stage probability) and those won between `start` and `end`. One query; the
    report e-mail's pipeline section."""
    is_open = Q(outcome=SalesOutcome.OPEN)
    won = Q(outcome=SalesOutcome.WON, closed_at__date__gte=start, closed_at__date__lte=end)
    money = DecimalField(max_digits=20, decimal_places=4)
    weighted = ExpressionWrapper(F("value") * F("stage__probability") / Value(100), output_field=money)
    rows = (
        Opportunity.objects.filter(pk__in=visible_opportunities(user).values("pk"))
        .values("currency")
        .annotate(
            open_count=Count("pk", filter=is_open),
            open_value=Sum("value", filter=is_open),
            weighted=Sum(weighted, filter=is_open),
            won_count=Count("pk", filter=won),
            won_value=Sum("value", filter=won),
        )
        .order_by("currency")
    )
    cent = Decimal("0.01")
    return [
        {
            **row,
            "open_value": (row["open_value"] or Decimal(0)).quantize(cent),
            "weighted": (row["weighted"] or Decimal(0)).quantize(cent),
            "won_value": (row["won_value"] or Decimal(0)).quantize(cent),
        }
        for row in rows
        if row["open_count"] or row["won_count"]
    ]


def get_visible_opportunity(user, opportunity_id) -> Opportunity | None:
    try:
        return visible_opportunities(user).get(pk=opportunity_id)
    except (Opportunity.DoesNotExist, ValueError, TypeError):
        return None


def visible_accounts(user) -> QuerySet[Account]:
    """Marketing, managers and admins see every account; others the accounts they own, of leads they own
    or of opportunities they see."""
    accounts = Account.objects.select_related("owner")
    if not user or not user.is_authenticated:
        return accounts.none()
    if roles.is_staff_role(user):
        return accounts
    seen = visible_opportunities(user).filter(account__isnull=False).values("account_id")
    return accounts.filter(Q(owner=user) | Q(leads__owner=user) | Q(pk__in=seen)).distinct()


def account_list(user, *, query: str = "") -> QuerySet[Account]:
    """The visible accounts by name with their lead count and open opportunities, for the
    accounts page: one query per page (the counts are subqueries, not joins that multiply)."""
    accounts = visible_accounts(user)
    if query:
        accounts = accounts.filter(Q(name__icontains=query) | Q(domain__icontains=query))
    leads = Lead.objects.filter(account=OuterRef("pk")).order_by().values("account").annotate(n=Count("pk"))
    open_ = Opportunity.objects.filter(account=OuterRef("pk"), outcome=SalesOutcome.OPEN).order_by().values("account")
    return accounts.annotate(
        lead_count=Coalesce(Subquery(leads.values("n")), 0),
        open_count=Coalesce(Subquery(open_.annotate(n=Count("pk")).values("n")), 0),
    ).order_by("name", "pk")


def get_visible_account(user, account_id) -> Account | None:
    try:
        return visible_accounts(user).get(pk=account_id)
    except (Account.DoesNotExist, ValueError, TypeError):
        return None


def default_pipeline() -> Pipeline:
    """The default pipeline (migration 0002 makes it; made again here after a database flush)."""
    return backfill.default_pipeline(Pipeline, SalesStage)


def stages_of(pipeline: Pipeline) -> list[SalesStage]:
    return list(pipeline.stages.order_by("position", "id"))


# The days from created to won (UTC dates, as `pipeline_rows` takes them): the sales cycle of one won deal.
_CYCLE_DAYS = RawSQL(
    '(("sales_opportunity"."closed_at" AT TIME ZONE \'UTC\')::date'
    ' - ("sales_opportunity"."created_at" AT TIME ZONE \'UTC\')::date)',
    (),
    output_field=IntegerField(),
)
_GROUP_FIELDS = {
    "source": "lead__source",
    "campaign": "lead__campaign__slug",
    "team": "team__name",
    "rep": "owner__username",
}


def _counts_annotations() -> dict:
    is_open, won = Q(outcome=SalesOutcome.OPEN), Q(outcome=SalesOutcome.WON)
    return {
        "n_open": Count("pk", filter=is_open),
        "v_open": Sum("value", filter=is_open),
        "n_won": Count("pk", filter=won),
        "v_won": Sum("value", filter=won),
        "n_closed": Count("pk", filter=Q(outcome__in=[SalesOutcome.WON, SalesOutcome.LOST])),
        "cycle": Sum(_CYCLE_DAYS, filter=won & Q(closed_at__isnull=False)),
    }


def _counts(row: dict) -> forecast.Counts:
    return forecast.Counts(
        open=row["n_open"],
        open_value=row["v_open"] or Decimal(0),
        won=row["n_won"],
        won_value=row["v_won"] or Decimal(0),
        closed=row["n_closed"],
        cycle_days=row["cycle"] or 0,
    )


def pipeline_aggregates(user, *, today: dt.date) -> forecast.Aggregates:
    """`forecast.aggregate(pipeline_rows(user))` computed by PostgreSQL: eight aggregate queries whatever the
    number of opportunities (totals, by stage, by owner, by close month, velocity by source, campaign, team
    and rep). `tests/sales/test_forecast_sql.py` compares the two paths."""
    # The visibility filter joins only to-one relations (a rep is one per user): no row counts twice.
    visible = visible_opportunities(user).select_related(None).order_by()
    result = forecast.Aggregates()
    is_open = Q(outcome=SalesOutcome.OPEN)
    totals = visible.aggregate(
        **_counts_annotations(),
        slipped=Count("pk", filter=is_open & Q(close_date__gt=F("first_close_date"))),
        overdue=Count("pk", filter=is_open & Q(close_date__lt=today)),
    )
    result.totals, result.slipped, result.overdue = _counts(totals), totals["slipped"], totals["overdue"]
    open_ = visible.filter(is_open)
    for row in (
        open_.values("stage__name", "stage__position")
        .annotate(n=Count("pk"), v=Sum("value"))
        .order_by("stage__position", "stage__name")
    ):
        result.by_stage[row["stage__name"]] = [row["n"], row["v"] or Decimal(0)]
    for row in open_.values("owner__username").annotate(n=Count("pk"), v=Sum("value")):
        result.by_owner[row["owner__username"] or "-"] = [row["n"], row["v"] or Decimal(0)]
    weighted = ExpressionWrapper(
        F("value") * F("stage__probability") / Value(Decimal(100)),
        output_field=DecimalField(max_digits=30, decimal_places=10),
    )
    month = Func(F("close_date"), Value("YYYY-MM"), function="to_char", output_field=CharField())
    for row in (
        open_.filter(close_date__isnull=False)
        .annotate(month=month)
        .values("month")
        .annotate(u=Sum("value"), w=Sum(weighted))
    ):
        result.months[row["month"]] = [row["u"] or Decimal(0), row["w"] or Decimal(0)]
    for group, path in _GROUP_FIELDS.items():
        for row in visible.values(path).annotate(**_counts_annotations()):
            result.groups[group][str(row[path] or "-")] = _counts(row)
    return result


def pipeline_summary(user, *, today: dt.date) -> dict:
    return forecast.summary_of(pipeline_aggregates(user, today=today))


def pipeline_rows(user) -> list:
    """The visible opportunities as forecast rows: one query (stage, owner, lead source/campaign, team)."""
    rows = visible_opportunities(user).values_list(
        "outcome",
        "value",
        "stage__probability",
        "stage__name",
        "owner__username",
        "close_date",
        "first_close_date",
        "created_at",
        "closed_at",
        "lead__source",
        "lead__campaign__slug",
        "team__name",
    )
    return [
        forecast.Row(
            outcome=o,
            value=v,
            probability=p,
            stage=s,
            owner=u or "-",
            close_date=c,
            first_close_date=f,
            created=cr.date(),
            closed=cl.date() if cl else None,
            groups={"source": src, "campaign": camp or "", "team": team or "", "rep": u or ""},
        )
        for o, v, p, s, u, c, f, cr, cl, src, camp, team in rows
    ]
