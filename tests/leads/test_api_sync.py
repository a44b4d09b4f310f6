"""Incremental sync on GET /api/v1/leads/: `updated_since` with a cursor ordered by the last change; a bad
value is a 400 naming it; the bulk writers (`.update()`) move `updated_at` too."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from core.vocabulary import Stage
from leads import activities
from leads.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _touch(lead, at):
    Lead.objects.filter(pk=lead.pk).update(updated_at=at)


def _all_pages(client, url):
    seen = []
    while url:
        page = client.get(url).json()
        seen += [item["id"] for item in page["results"]]
        url = page["next"]
    return seen


def test_updated_since_pages_the_changed_leads_oldest_change_first(api_as, manager):
    base = timezone.now() - dt.timedelta(hours=3)
    leads = [LeadFactory() for _ in range(6)]
    for minutes, lead in zip([50, 10, 40, 30, 20, 5], leads, strict=True):
        _touch(lead, base + dt.timedelta(minutes=minutes))
    since = (base + dt.timedelta(minutes=10)).isoformat().replace("+", "%2B")
    client = api_as(manager)
    seen = _all_pages(client, f"/api/v1/leads/?updated_since={since}&ordering=updated_at&page_size=2")
    assert seen == [leads[1].pk, leads[4].pk, leads[3].pk, leads[2].pk, leads[0].pk]


def test_equal_change_times_page_without_gaps_or_repeats(api_as, manager):
    at = timezone.now() - dt.timedelta(hours=1)
    leads = [LeadFactory() for _ in range(5)]
    for lead in leads:
        _touch(lead, at)
    seen = _all_pages(api_as(manager), "/api/v1/leads/?ordering=updated_at&page_size=2")
    assert seen == sorted(lead.pk for lead in leads)


def test_a_lead_changed_while_paging_comes_again_later_and_none_is_missed(api_as, manager):
    base = timezone.now() - dt.timedelta(hours=2)
    leads = [LeadFactory() for _ in range(4)]
    for minutes, lead in enumerate(leads):
        _touch(lead, base + dt.timedelta(minutes=minutes))
    client = api_as(manager)
    first = client.get("/api/v1/leads/?ordering=updated_at&page_size=2").json()
    assert [item["id"] for item in first["results"]] == [leads[0].pk, leads[1].pk]
    _touch(leads[0], timezone.now())  # changed after it was read
    rest = _all_pages(client, first["next"])
    assert rest == [leads[2].pk, leads[3].pk, leads[0].pk]


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "12345678901234567890"])
def test_a_bad_updated_since_is_a_400_naming_it(api_as, manager, value):
    response = api_as(manager).get("/api/v1/leads/", {"updated_since": value})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["updated_since"]


def test_updated_since_keeps_visibility(api_as, sdr, other_sdr):
    mine = LeadFactory(stage=Stage.SAL, owner=sdr)
    LeadFactory(stage=Stage.SAL, owner=other_sdr)
    since = (timezone.now() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    page = api_as(sdr).get("/api/v1/leads/", {"updated_since": since, "ordering": "updated_at"}).json()
    assert [item["id"] for item in page["results"]] == [mine.pk]


def test_logging_an_activity_moves_updated_at(sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    _touch(lead, timezone.now() - dt.timedelta(days=2))
    later = timezone.now() + dt.timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        activities.log_activity(lead_id=lead.pk, by=sdr, raw={"kind": "call", "note": "Reached her."})
    assert Lead.objects.get(pk=lead.pk).updated_at >= later
