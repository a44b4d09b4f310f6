"""The lead list's filters as people use them: chosen values stay visible, errors under the page's labels,
impossible dates refused (400 on the API naming the field, a message on the page), SLA and stalled controls
and the "filtered by" line."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core.vocabulary import Stage
from leads.models import SlaClock
from tests.factories import LeadFactory
from tests.pages import as_user, text
from tests.sla_helpers import ACCEPT, policy

pytestmark = pytest.mark.django_db

HTMX_TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "lead-table"}


def running_clock(lead, *, due_in):
    now = timezone.now()
    return SlaClock.objects.create(lead=lead, policy=policy(ACCEPT), stage=lead.stage, owner=lead.owner,
                                   started_at=now - dt.timedelta(hours=3), due_at=now + due_in)


def test_the_stage_dropdown_names_the_ticked_stages(client, manager):
    page = text(as_user(client, manager).get(reverse("leads:list"), {"stage": ["mql", "sal"]}))
    summary = page.split('id="stage-summary"')[1].split("</summary>")[0].split(">", 1)[1]
    assert "MQL" in summary and "SAL" in summary and "Any stage" not in summary


def test_an_htmx_filter_answer_updates_the_dropdown_summary_out_of_band(client, manager):
    page = text(as_user(client, manager).get(reverse("leads:list"), {"stage": "sql"}, **HTMX_TABLE))
    assert page.lstrip().startswith('<div id="lead-table">')
    tag, summary = page.split('id="stage-summary"')[1].split("</summary>")[0].split(">", 1)
    assert 'hx-swap-oob="true"' in tag and "SQL" in summary


@pytest.mark.parametrize("query, label", [
    ({"created_after": "9999-12-31"}, "Created from"),
    ({"created_before": "99999-01-01"}, "Created until"),
    ({"probability_min": "250"}, "Probability from (%)"),
])
def test_impossible_values_give_a_message_under_the_pages_label(client, manager, query, label):
    lead = LeadFactory(stage=Stage.MQL)
    response = as_user(client, manager).get(reverse("leads:list"), query)
    page = text(response)
    assert response.status_code == 200
    assert f"<strong>{label}</strong>:" in page
    assert next(iter(query)) + ":" not in page
    assert lead.email not in page  # an invalid filter lists nothing rather than everything


@pytest.mark.parametrize("name, value", [("created_after", "9999-12-31"), ("created_before", "99999-01-01")])
def test_impossible_dates_are_a_400_on_the_api_naming_the_field(client, manager, name, value):
    response = as_user(client, manager).get("/api/v1/leads/", {name: value})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [name]
    assert "date" in response.json()["errors"][name][0]


def test_sla_and_stalled_are_visible_controls_and_the_filtered_by_line_says_what_is_on(client, manager):
    late = LeadFactory(stage=Stage.MQL, email="late@kunde.de")
    soon = LeadFactory(stage=Stage.MQL, email="soon@kunde.de")
    calm = LeadFactory(stage=Stage.MQL, email="calm@kunde.de")
    running_clock(late, due_in=-dt.timedelta(minutes=30))
    running_clock(soon, due_in=dt.timedelta(minutes=30))
    running_clock(calm, due_in=dt.timedelta(hours=8))
    client = as_user(client, manager)

    page = text(client.get(reverse("leads:list")))
    assert 'data-testid="sla-filter"' in page and 'data-testid="stalled-filter"' in page
    assert 'data-testid="filtered-by"' not in page

    page = text(client.get(reverse("leads:list"), {"sla": "breached"}))
    assert "late@kunde.de" in page and "soon@kunde.de" not in page
    filtered_by = page.split('data-testid="filtered-by"')[1].split("</p>")[0]
    assert "SLA: An SLA is breached (running past its due)" in filtered_by

    page = text(client.get(reverse("leads:list"), {"sla": "due_soon"}))
    assert "soon@kunde.de" in page and "late@kunde.de" not in page and "calm@kunde.de" not in page

    page = text(client.get(reverse("leads:list"), {"stalled": "true", "stage": "mql"}))
    filtered_by = page.split('data-testid="filtered-by"')[1].split("</p>")[0]
    assert "Stalled only: yes" in filtered_by and "Stage: MQL" in filtered_by


def test_the_due_soon_filter_works_on_the_api_too(client, manager):
    soon = LeadFactory(stage=Stage.MQL)
    running_clock(soon, due_in=dt.timedelta(minutes=10))
    LeadFactory(stage=Stage.MQL)
    response = as_user(client, manager).get("/api/v1/leads/", {"sla": "due_soon"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [soon.pk]
