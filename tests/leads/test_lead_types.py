"""The seeds' lead types (cold lead, IQL, ...) and temperature in lists, filters and the API."""

import pytest

from core.vocabulary import Stage
from leads import scores
from leads.models import Lead
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def typed_leads():
    cold = LeadFactory(last_name="Kalt")  # a trade-fair card: no engagement yet
    engaged = LeadFactory(last_name="Warm")
    ActivityFactory(lead=engaged, kind="page_view")
    iql = LeadFactory(last_name="Leser")
    ActivityFactory(lead=iql, kind="download")
    mql = LeadFactory(last_name="Heiss", stage=Stage.MQL)
    lost = LeadFactory(last_name="Weg", stage=Stage.LOST)
    scores.rescore_all()
    return {"cold": cold, "engaged": engaged, "iql": iql, "mql": mql, "closed": lost}


def test_each_lead_has_its_type(typed_leads):
    for expected, lead in typed_leads.items():
        assert Lead.objects.get(pk=lead.pk).lead_type == expected


@pytest.mark.parametrize("lead_type", ["cold", "engaged", "iql", "mql", "closed"])
def test_the_api_filters_by_lead_type_and_shows_it(typed_leads, lead_type, api_as, marketing):
    body = api_as(marketing).get("/api/v1/leads/", {"lead_type": lead_type}).json()
    assert [row["id"] for row in body["results"]] == [typed_leads[lead_type].pk]
    assert body["results"][0]["lead_type"] == lead_type


def test_the_lead_list_shows_types_and_filters_by_temperature(typed_leads, client, marketing):
    client.force_login(marketing)
    page = client.get("/leads/").content.decode()
    assert "IQL (content consumed)" in page and "Cold lead (no engagement yet)" in page
    hot = client.get("/leads/", {"temperature": "hot"}).content.decode()
    assert "Kalt" not in hot


def test_the_list_query_count_does_not_grow_with_types(typed_leads, client, marketing, django_assert_max_num_queries):
    client.force_login(marketing)
    client.get("/leads/")
    for _ in range(10):
        ActivityFactory(lead=LeadFactory(), kind="download")
    with django_assert_max_num_queries(12):
        client.get("/leads/")
