"""Reports at a glance: durations in the unit that fits, money with its currency, and KPI cards that link to
the lead list filtered to exactly the leads they count (the card's count equals the list's)."""

import datetime as dt
import html
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.vocabulary import Stage
from leads.models import SlaClock
from reporting import filters, selectors
from reporting.tables import Column, Table
from reporting.templatetags.reporting_tags import cell
from tests.factories import LeadFactory
from tests.pages import as_user, text
from tests.sla_helpers import ACCEPT, policy

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("minutes, shown", [
    (4.2, "4 min"), (90, "1.5 h"), (1802.3, "30.0 h"), (4320, "3.0 days"), (0, "0 min"),
])
def test_durations_read_in_minutes_hours_or_days(minutes, shown):
    assert cell(minutes, "minutes") == shown


def test_money_carries_its_currency(settings):
    settings.SALES_CURRENCIES = ["EUR", "USD"]
    assert cell(Decimal("48000"), "money") == "48,000\u00a0EUR"
    assert cell(Decimal("12.5"), "money") == "12.50\u00a0EUR"


def cards(page: str) -> dict[str, tuple[str, str]]:
    """label -> (number, link) of the dashboard's linked KPI cards."""
    found = {}
    for href, number, label in re.findall(
        r'<a class="counter[^"]*" href="([^"]+)"[^>]*>\s*<span class="counter-number">([^<]+)</span>\s*'
        r'<span class="counter-label">([^<]+)</span>', page):
        found[html.unescape(label)] = (number, html.unescape(href))
    return found


def list_count(client, url: str) -> int:
    page = text(client.get(url))
    assert 'data-testid="filter-errors"' not in page
    return int(re.search(r'class="muted result-count">.*?(\d+) leads?\s*</p>', page, re.S).group(1))


def test_each_linked_kpi_counts_what_its_lead_list_shows(client, manager):
    now = timezone.now()
    for days, stage in ((2, Stage.MQL), (3, Stage.SAL), (4, Stage.CUSTOMER), (5, Stage.CUSTOMER), (6, Stage.KNOWN)):
        LeadFactory(stage=stage, created_at=now - dt.timedelta(days=days), stage_entered_at=now - dt.timedelta(days=1))
    LeadFactory(stage=Stage.SAL, created_at=now - dt.timedelta(days=3), stage_entered_at=now - dt.timedelta(days=60))
    LeadFactory(stage=Stage.CUSTOMER, created_at=now - dt.timedelta(days=200))  # before the range
    client = as_user(client, manager)

    linked = cards(text(client.get(reverse("reporting:dashboard"))))
    assert {"Leads created", "Won", "Stalled leads now"} <= set(linked)
    assert linked["Leads created"][0] == "6" and linked["Won"][0] == "2"
    for label, (number, link) in linked.items():
        assert list_count(client, link) == int(number.replace(",", "")), label


def test_an_sdrs_own_figures_are_not_linked_to_the_shared_list(client, sdr):
    LeadFactory(stage=Stage.MQL, owner=sdr)
    assert cards(text(as_user(client, sdr).get(reverse("reporting:dashboard")))) == {}


def test_reports_name_people_by_their_full_name(client, manager, sdr):
    sdr.first_name, sdr.last_name = "Sarah", "Richter"
    sdr.save()
    now = timezone.now()
    lead = LeadFactory(stage=Stage.MQL, owner=sdr, created_at=now - dt.timedelta(days=1))
    SlaClock.objects.create(lead=lead, policy=policy(ACCEPT), stage=Stage.MQL, owner=sdr,
                            started_at=now - dt.timedelta(hours=5), due_at=now - dt.timedelta(hours=1))
    today = timezone.localdate()
    f = filters.Filters(start=today - dt.timedelta(days=29), end=today)
    by_rep = selectors.sla_compliance(f)["by_rep"]
    assert [row["label"] for row in by_rep if row["key"] == sdr.pk] == ["Sarah Richter"]


def test_above_the_band_reads_better_and_below_reads_worse():
    table = Table("t", "Conversion", [Column("rate", "Conversion", "percent", flag="flag")],
                  [{"rate": 40.0, "flag": "above"}, {"rate": 2.0, "flag": "below"}])
    page = render_to_string("reporting/_table.html", {"table": table})
    assert 'class="num flag flag-above"' in page and 'class="num flag flag-below"' in page
    css = (Path(__file__).resolve().parents[2] / "reporting" / "static" / "reporting" / "reports.css").read_text()
    assert "td.flag.flag-above { color: #067647; }" in css
