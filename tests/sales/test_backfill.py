"""The migration's backfill: leads in opportunity / customer / lost get an opportunity; reports stay equal."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from core.vocabulary import Stage
from leads.models import Lead, LeadTransition
from reporting import selectors as reports
from reporting.filters import Filters
from sales import backfill, forecast, selectors
from sales.models import Opportunity, OpportunityStageChange, Pipeline, SalesStage
from tests.factories import LeadFactory


def run_backfill():
    return backfill.backfill(
        Lead=Lead,
        LeadTransition=LeadTransition,
        Pipeline=Pipeline,
        SalesStage=SalesStage,
        Opportunity=Opportunity,
        OpportunityStageChange=OpportunityStageChange,
        currency=settings.SALES_CURRENCIES[0],
    )


def deal(stage, value, *, sdr, closed_name=None, days_open=30):
    now = timezone.now()
    lead = LeadFactory(
        stage=stage, owner=sdr, deal_value=Decimal(value), close_date=dt.date.today(), stage_entered_at=now
    )
    opened = now - dt.timedelta(days=days_open)
    LeadTransition.objects.create(lead=lead, name="qualify", source="sal", target="sql", actor=sdr, at=opened)
    LeadTransition.objects.create(
        lead=lead, name="open_opportunity", source="sql", target="opportunity", actor=sdr, at=opened
    )
    if closed_name:
        LeadTransition.objects.create(
            lead=lead, name=closed_name, source="opportunity", target=stage, actor=sdr, at=now
        )
    return lead


def test_reports_are_equal_before_and_after_and_the_pipeline_matches_the_leads(sdr, admin_user):
    deal(Stage.OPPORTUNITY, "1000", sdr=sdr)
    deal(Stage.OPPORTUNITY, "3000", sdr=sdr)
    deal(Stage.CUSTOMER, "5000", sdr=sdr, closed_name="win", days_open=20)
    deal(Stage.LOST, "7000", sdr=sdr, closed_name="lose")
    LeadFactory(stage=Stage.SQL, owner=sdr)  # not a deal: no opportunity
    today = timezone.localdate()
    f = Filters(start=today - dt.timedelta(days=90), end=today)
    before = (reports.funnel(f), reports.sources(f)["total"])

    assert run_backfill() == 4
    assert run_backfill() == 0  # idempotent

    assert (reports.funnel(f), reports.sources(f)["total"]) == before
    summary = forecast.summary(selectors.pipeline_rows(admin_user), today=today)
    leads_open = Lead.objects.filter(stage=Stage.OPPORTUNITY)
    assert summary["open"] == {"count": leads_open.count(), "value": sum(lead.deal_value for lead in leads_open)}
    assert summary["win_rate"] == 0.5
    assert summary["average_deal"] == Decimal("5000.00")
    assert summary["cycle_days"] == 20.0
    won = Opportunity.objects.get(outcome="won")
    assert won.sourced_by == sdr and won.value == Decimal("5000")
