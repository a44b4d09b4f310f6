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
    assert cell(Decimal("16302.61"), "money") == "16,303\u00a0EUR"  # whole units from 1,000 on: the table fits


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


def table_links(page: str, table: str) -> list[tuple[str, str]]:
    """(count, link) of every linked count in a report table."""
    section = page.split(f'id="table-{table}"', 1)[1].split("</section>", 1)[0]
    return [(number, html.unescape(href)) for href, number in
            re.findall(r'<a href="([^"]+)" data-count-link>([^<]+)</a>', section)]


@pytest.fixture
def history(db):
    """Leads created in the last days that went along the funnel, with their stage changes, and older ones."""
    from leads.models import LeadTransition

    now = timezone.now()
    paths = [
        ("web_form", [Stage.MQL]), ("web_form", [Stage.MQL, Stage.SAL, Stage.SQL]),
        ("event", [Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER]),
        ("event", [Stage.MQL, Stage.RECYCLED]), ("paid_search", [Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY,
                                                                  Stage.LOST]),
        ("paid_search", []),
    ]
    for days, (source, stages) in enumerate(paths, start=2):
        lead = LeadFactory(stage=stages[-1] if stages else Stage.KNOWN, source=source,
                           created_at=now - dt.timedelta(days=days), stage_entered_at=now - dt.timedelta(days=40))
        previous = Stage.KNOWN
        for step, stage in enumerate(stages):
            LeadTransition.objects.create(lead=lead, name="mark_mql" if stage == Stage.MQL else "accept",
                                          source=previous, target=stage,
                                          at=now - dt.timedelta(days=days) + dt.timedelta(hours=step + 1))
            previous = stage
    LeadFactory(stage=Stage.CUSTOMER, source="event", created_at=now - dt.timedelta(days=200))  # before the range


def test_every_kpi_card_links_to_a_list_of_exactly_the_leads_it_counts(client, manager, history):
    client = as_user(client, manager)
    linked = cards(text(client.get(reverse("reporting:dashboard"))))
    assert {"Leads created", "Became MQL", "Became SQL", "Won", "Stalled leads now"} <= set(linked)
    assert (linked["Became MQL"][0], linked["Became SQL"][0], linked["Won"][0]) == ("5", "3", "1")
    for label, (number, link) in linked.items():
        assert list_count(client, link) == int(number.replace(",", "")), label


def test_each_count_of_the_funnel_stalls_and_sources_tables_links_to_its_leads(client, manager, history):
    client = as_user(client, manager)
    checked = 0
    for url, table in ((reverse("reporting:funnel"), "funnel"), (reverse("reporting:stalls"), "stall_rate"),
                       (reverse("reporting:sources"), "by_source"), (reverse("reporting:dashboard"), "by_source")):
        links = table_links(text(client.get(url)), table)
        assert links, table
        for number, link in links:
            assert list_count(client, link) == int(number.replace(",", "")), (table, link)
            checked += 1
    assert checked > 20


def test_the_last_touch_view_and_the_flow_view_link_no_counts(client, manager, history):
    client = as_user(client, manager)
    assert table_links(text(client.get(reverse("reporting:sources") + "?attribution=last")), "by_source") == []
    assert table_links(text(client.get(reverse("reporting:funnel") + "?view=flow")), "funnel") == []


def test_the_lead_list_filters_leads_that_reached_a_stage_at_some_time(client, manager, history):
    page = text(as_user(client, manager).get(reverse("leads:list") + "?reached=sql"))
    assert re.search(r'class="muted result-count">.*?4 leads', page, re.S)  # the old customer too: no range
    assert 'data-filter="reached"' in page and "Reached (at some time): SQL" in page
    assert 'name="reached" value="sql"' in page  # kept when the filter form is sent again
    response = as_user(client, manager).get(reverse("leads:list") + "?reached=customerx")
    assert response.status_code in (200, 400) and 'data-testid="filter-errors"' in text(response)


def test_the_rep_filter_names_people_and_stalled_leads_use_the_page_date_format(client, manager, sdr):
    sdr.first_name, sdr.last_name = "Sarah", "Richter"
    sdr.save()
    from routing.models import Rep, Team

    Rep.objects.create(user=sdr, team=Team.objects.create(name="Inside", slug="inside", manager=manager), capacity=5)
    lead = LeadFactory(stage=Stage.MQL, owner=sdr, stage_entered_at=timezone.now() - dt.timedelta(days=40))
    client = as_user(client, manager)
    page = text(client.get(reverse("reporting:stalls")))
    assert '<option value="sdr1">Sarah Richter</option>' in page
    from django.utils import formats

    shown = formats.date_format(timezone.localtime(lead.stage_entered_at), "SHORT_DATETIME_FORMAT")
    assert f"<td>{shown}</td>" in page
    german = text(client.get(reverse("reporting:stalls"), HTTP_ACCEPT_LANGUAGE="de"))
    assert timezone.localtime(lead.stage_entered_at).strftime("%d.%m.%Y") in german
    assert timezone.localtime(lead.stage_entered_at).strftime("%Y-%m-%d") not in german
