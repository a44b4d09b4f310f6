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
    accepted = LeadFactory(last_name="Passt", company_size=500, industry="Software")  # fit 20: the MAL threshold
    scores.rescore_all()
    return {"cold": cold, "engaged": engaged, "iql": iql, "mql": mql, "closed": lost, "mal": accepted}


def test_each_lead_has_its_type(typed_leads):
    for expected, lead in typed_leads.items():
        assert Lead.objects.get(pk=lead.pk).lead_type == expected


@pytest.mark.parametrize("lead_type", ["cold", "engaged", "iql", "mql", "closed", "mal"])
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


def test_a_fitting_lead_stays_mal_until_it_is_an_mql_and_the_threshold_is_the_models(typed_leads):
    from scoring.models import ScoringModel

    accepted = Lead.objects.get(pk=typed_leads["mal"].pk)
    assert (accepted.fit_score, accepted.engagement_score, accepted.lead_type) == (20, 0, "mal")
    ActivityFactory(lead=accepted, kind="download")  # content alone does not make it less accepted
    assert Lead.objects.get(pk=accepted.pk).lead_type == "mal"
    ScoringModel.objects.filter(is_active=True).update(mal_fit_threshold=None)  # no MAL type
    assert Lead.objects.get(pk=accepted.pk).lead_type == "iql"
    ScoringModel.objects.filter(is_active=True).update(mal_fit_threshold=25)
    assert Lead.objects.get(pk=accepted.pk).lead_type == "iql"
    assert not Lead.objects.filter(pk=accepted.pk, stage=Stage.MQL).exists()
