"""The report e-mail's pipeline section: open pipeline, weighted forecast and won in the period, per currency
(never added across currencies), for what the recipient may see."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.vocabulary import Role, SalesOutcome
from reporting import email as report_email
from reporting.models import Frequency, Scope
from sales import selectors
from sales.models import Opportunity
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def report_for(user):
    today = timezone.localdate()
    period = report_email.Period(Frequency.DAILY, today, today)
    return report_email.build(user, frequency=Frequency.DAILY, scope=Scope.ALL, period=period)


def deal(owner, value, currency, stage_name, outcome=SalesOutcome.OPEN, closed_at=None):
    pipeline = selectors.default_pipeline()
    return Opportunity.objects.create(
        name="Deal",
        lead=LeadFactory(),
        pipeline=pipeline,
        stage=pipeline.stages.get(name=stage_name),
        value=Decimal(value),
        currency=currency,
        owner=owner,
        outcome=outcome,
        closed_at=closed_at,
    )


@pytest.fixture
def deals():
    ae = UserFactory(username="ae-report", role=Role.SDR)
    now = timezone.now()
    deal(ae, "10000", "EUR", "discovery")  # 10 %: 1,000 weighted
    deal(ae, "2500", "EUR", "proposal")  # 60 %: 1,500 weighted
    deal(ae, "8000", "CHF", "negotiation")  # 80 %: 6,400 weighted
    deal(ae, "4000", "EUR", "negotiation", outcome=SalesOutcome.WON, closed_at=now)
    deal(ae, "9999", "EUR", "negotiation", outcome=SalesOutcome.WON, closed_at=now - dt.timedelta(days=40))
    deal(UserFactory(username="other-ae", role=Role.SDR), "77777", "EUR", "demo")  # not the AE's
    return ae


def test_the_figures_are_per_currency_and_only_of_the_visible_opportunities(deals):
    today = timezone.localdate()
    rows = {row["currency"]: row for row in selectors.pipeline_by_currency(deals, start=today, end=today)}
    assert rows["EUR"] == {
        "currency": "EUR",
        "open_count": 2,
        "open_value": Decimal("12500.00"),
        "weighted": Decimal("2500.00"),
        "won_count": 1,
        "won_value": Decimal("4000.00"),
    }
    assert (rows["CHF"]["open_value"], rows["CHF"]["weighted"], rows["CHF"]["won_count"]) == (
        Decimal("8000.00"),
        Decimal("6400.00"),
        0,
    )


def test_the_e_mail_shows_the_pipeline_with_money_and_currency(deals):
    report = report_for(deals)
    html, text = report_email.html(report), report_email.text(report)
    section = html.split('data-section="pipeline"')[1].split("</table>")[0]
    assert "12,500\u00a0EUR" in section and "2,500\u00a0EUR" in section and "4,000\u00a0EUR" in section
    assert "8,000\u00a0CHF" in section and "6,400\u00a0CHF" in section
    assert "77,777" not in html
    assert "EUR: open 2 · 12,500\u00a0EUR · weighted 2,500\u00a0EUR · won 1 · 4,000\u00a0EUR" in text
    assert "http://127.0.0.1:8000/sales/pipeline/" in text
    table = next(t for t in report.tables if t.key == "pipeline")
    assert [row["currency"] for row in table.rows] == ["CHF", "EUR"]
    csv = report_email.message(report).attachments[-1][1]
    assert "Weighted forecast" in csv and "12500.00" in csv


def test_without_opportunities_the_section_says_so(marketing):
    report = report_for(marketing)
    assert "No open or won opportunity you can see." in report_email.text(report)
    assert 'data-section="pipeline"' not in report_email.html(report)
