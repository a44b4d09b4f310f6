"""The lead list page: filters, sorting, paging and its query budget."""


import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.vocabulary import Stage
from leads.models import Lead
from tests.factories import CampaignFactory, LeadFactory
from tests.pages import as_user, count_queries, text

pytestmark = pytest.mark.django_db


# --- lead list ------------------------------------------------------------------------------------------


def test_lead_list_shows_staff_every_lead(client, manager, own_mql, pool_mql, others_lead):
    page = text(as_user(client, manager).get(reverse("leads:list")))
    for lead in (own_mql, pool_mql, others_lead):
        assert lead.email in page


def test_lead_list_shows_an_sdr_own_leads_and_the_pool_only(client, sdr, own_mql, pool_mql, others_lead):
    page = text(as_user(client, sdr).get(reverse("leads:list")))
    assert own_mql.email in page
    assert pool_mql.email in page
    assert others_lead.email not in page


def test_lead_list_filters_by_stage_search_and_score(client, marketing):
    LeadFactory(stage=Stage.MQL, company="Alpha Maschinenbau", score=80, email="a@alpha.de")
    LeadFactory(stage=Stage.MQL, company="Beta Logistik", score=20, email="b@beta.de")
    LeadFactory(stage=Stage.KNOWN, company="Alpha Known", score=90, email="c@alpha-known.de")
    client = as_user(client, marketing)
    page = text(client.get(reverse("leads:list"), {"stage": "mql", "q": "alpha"}))
    assert "a@alpha.de" in page and "b@beta.de" not in page and "c@alpha-known.de" not in page
    page = text(client.get(reverse("leads:list"), {"score_min": "50"}))
    assert "a@alpha.de" in page and "c@alpha-known.de" in page and "b@beta.de" not in page


def test_lead_list_filters_by_owner_and_campaign(client, manager, sdr, own_mql, pool_mql):
    campaign = CampaignFactory(slug="fair-2026", name="Fair 2026")
    in_campaign = LeadFactory(campaign=campaign)
    client = as_user(client, manager)
    page = text(client.get(reverse("leads:list"), {"owner": "sdr1"}))
    assert own_mql.email in page and pool_mql.email not in page
    page = text(client.get(reverse("leads:list"), {"owner": "none", "stage": "mql"}))
    assert pool_mql.email in page and own_mql.email not in page
    page = text(client.get(reverse("leads:list"), {"campaign": "fair-2026"}))
    assert in_campaign.email in page and own_mql.email not in page


def test_lead_list_sorts_by_a_column(client, manager):
    LeadFactory(email="low@x.de", score=5)
    LeadFactory(email="high@x.de", score=95)
    client = as_user(client, manager)
    page = text(client.get(reverse("leads:list"), {"ordering": "-score"}))
    assert page.index("high@x.de") < page.index("low@x.de")
    page = text(client.get(reverse("leads:list"), {"ordering": "score"}))
    assert page.index("low@x.de") < page.index("high@x.de")


def test_lead_list_paginates_and_keeps_the_filters_in_the_links(client, manager, settings):
    settings.LEADS_PAGE_SIZE = 2
    for _ in range(5):
        LeadFactory(stage=Stage.MQL)
    response = as_user(client, manager).get(reverse("leads:list"), {"stage": "mql", "page": "2"})
    page = text(response)
    assert response.context["page"].number == 2
    assert len(response.context["page"].object_list) == 2
    assert "?stage=mql&amp;page=3" in page
    assert "?stage=mql&amp;page=1" in page


def test_lead_list_htmx_request_gets_only_the_table(client, manager, own_mql):
    response = as_user(client, manager).get(
        reverse("leads:list"), {"q": own_mql.last_name}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="lead-table"
    )
    page = text(response)
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="lead-table">')
    assert "<html" not in page
    assert own_mql.email in page


def test_the_empty_values_an_untouched_form_sends_mean_any(client, manager):
    hot = LeadFactory(stage=Stage.MQL, email="hot@kunde.de", company="Kunde")
    query = "stage=mql&temperature=&lead_type=&sla=&stalled=&campaign=&owner=&q=+&created_after="
    for url in (f"{reverse('leads:list')}?{query}", f"/api/v1/leads/?{query}"):
        response = as_user(client, manager).get(url)
        assert response.status_code == 200, response.content[:500]
        assert hot.email in response.content.decode()
        assert "valid choice" not in response.content.decode()


def test_lead_list_shows_filter_errors_instead_of_failing(client, manager):
    response = as_user(client, manager).get(reverse("leads:list"), {"score_min": "lots"})
    assert response.status_code == 200
    assert "<strong>Score from</strong>: Enter a number." in text(response)
    assert "score_min:" not in text(response)


def _listcount_queries(client, user) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("leads:list"), {"ordering": "-score"})
    assert response.status_code == 200
    return len(queries)


def test_lead_list_runs_a_fixed_number_of_queries_whatever_the_page_size(client, manager, sdr):
    campaign = CampaignFactory()
    LeadFactory.create_batch(5, owner=sdr, campaign=campaign, stage=Stage.SAL)
    client = as_user(client, manager)
    few = _listcount_queries(client, manager)
    LeadFactory.create_batch(35, owner=sdr, campaign=campaign, stage=Stage.SAL)
    many = _listcount_queries(client, manager)
    assert Lead.objects.count() == 40
    assert few == many
    assert many <= 10


def test_queue_and_pool_run_a_fixed_number_of_queries(client, sdr):
    campaign = CampaignFactory()
    for stage in (Stage.MQL, Stage.SAL, Stage.SQL):
        LeadFactory(owner=sdr, stage=stage, campaign=campaign)
    LeadFactory(stage=Stage.MQL, campaign=campaign)
    client = as_user(client, sdr)
    few = (count_queries(client, "leads:queue"), count_queries(client, "leads:pool"))
    for stage in (Stage.MQL, Stage.SAL, Stage.SQL):
        LeadFactory.create_batch(8, owner=sdr, stage=stage, campaign=campaign)
    LeadFactory.create_batch(8, stage=Stage.MQL, campaign=campaign)
    assert (count_queries(client, "leads:queue"), count_queries(client, "leads:pool")) == few
