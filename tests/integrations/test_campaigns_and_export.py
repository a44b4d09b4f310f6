"""GET/POST /api/v1/campaigns/ (spend pushed from ad platforms) and the lead list as CSV: filtered like
the page, only the leads the caller may see, formulas neutralised, bad filters a 400 naming them."""

import csv
import io
from decimal import Decimal

import pytest

from core.vocabulary import Stage
from leads.models import Campaign
from tests.factories import CampaignFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_marketing_creates_then_updates_a_campaign_by_slug(api_as, marketing):
    api = api_as(marketing)
    created = api.post("/api/v1/campaigns/", {"slug": "linkedin-q1", "name": "LinkedIn Q1", "channel": "paid_social",
                                              "cost": "1250.50", "starts_on": "2026-01-01"}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["cost"] == "1250.50"
    updated = api.post("/api/v1/campaigns/", {"slug": "linkedin-q1", "cost": 1800}, format="json")
    assert updated.status_code == 200 and updated.json()["cost"] == "1800.00"
    campaign = Campaign.objects.get()
    assert (campaign.name, campaign.cost, str(campaign.starts_on)) == ("LinkedIn Q1", Decimal("1800.00"), "2026-01-01")
    assert [item["slug"] for item in api.get("/api/v1/campaigns/").json()] == ["linkedin-q1"]


@pytest.mark.parametrize("data,field", [
    ({"name": "No slug"}, "slug"),
    ({"slug": "has space", "name": "x"}, "slug"),
    ({"slug": "a"}, "name"),
    ({"slug": "a", "name": "x", "cost": -1}, "cost"),
    ({"slug": "a", "name": "x", "cost": "lots"}, "cost"),
    ({"slug": "a", "name": "x", "cost": "NaN"}, "cost"),
    ({"slug": "a", "name": "x", "cost": True}, "cost"),
    ({"slug": "a", "name": "x", "channel": "carrier_pigeon"}, "channel"),
    ({"slug": "a", "name": "x", "starts_on": "01.02.2026"}, "starts_on"),
    ({"slug": "a", "name": "x", "starts_on": 20260201}, "starts_on"),
    ({"slug": "a", "name": "x", "ends_on": ["2026-02-01"]}, "ends_on"),
    ({"slug": "a", "name": "x", "channel": ["web_form"]}, "channel"),
    ({"slug": "a", "name": "x", "starts_on": "2026-02-01", "ends_on": "2026-01-01"}, "ends_on"),
    ({"slug": "a", "name": "x", "budget": 5}, "budget"),
])
def test_bad_campaign_input_is_a_400_naming_the_field(api_as, marketing, data, field):
    response = api_as(marketing).post("/api/v1/campaigns/", data, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Campaign.objects.count() == 0


def test_a_bad_update_leaves_the_campaign_as_it_was(api_as, marketing):
    CampaignFactory(slug="fair", name="Fair", cost=Decimal("10.00"))
    response = api_as(marketing).post("/api/v1/campaigns/", {"slug": "fair", "cost": -5, "name": ""}, format="json")
    assert response.status_code == 400 and set(response.json()["errors"]) == {"cost", "name"}
    assert Campaign.objects.get().cost == Decimal("10.00")


def test_sdrs_may_not_read_or_push_campaign_costs(api_as, sdr):
    api = api_as(sdr)
    assert api.get("/api/v1/campaigns/").status_code == 403
    assert api.post("/api/v1/campaigns/", {"slug": "x", "name": "x"}, format="json").status_code == 403
    assert Campaign.objects.count() == 0


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_is_filtered_like_the_page_and_neutralises_formulas(client, manager):
    LeadFactory(first_name="=HYPERLINK(\"http://evil\")", company="@SUM(A1)", stage=Stage.MQL, score=80)
    LeadFactory(first_name="Plain", stage=Stage.KNOWN, score=10)
    client.force_login(manager)
    rows = _csv(client.get("/leads/export.csv", {"stage": "mql"}))
    header, *data = rows
    assert header[:4] == ["id", "email", "first_name", "last_name"]
    assert len(data) == 1
    record = dict(zip(header, data[0], strict=True))
    assert record["first_name"] == "'=HYPERLINK(\"http://evil\")" and record["company"] == "'@SUM(A1)"
    assert record["stage"] == "mql" and record["score"] == "80"


def test_an_sdr_exports_only_the_leads_they_may_see(client, sdr, other_sdr):
    mine = LeadFactory(stage=Stage.SAL, owner=sdr)
    LeadFactory(stage=Stage.SAL, owner=other_sdr)
    pool = LeadFactory(stage=Stage.MQL, owner=None)
    client.force_login(sdr)
    _header, *data = _csv(client.get("/leads/export.csv"))
    assert sorted(int(row[0]) for row in data) == sorted([mine.pk, pool.pk])


def test_a_bad_filter_is_a_400_naming_it(client, manager):
    client.force_login(manager)
    response = client.get("/leads/export.csv", {"stage": "limbo", "created_after": "soon"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "stage" in text and "created_after" in text


def test_anonymous_is_sent_to_the_login(client):
    response = client.get("/leads/export.csv")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_list_page_links_the_export_with_its_filters(client, manager):
    client.force_login(manager)
    page = client.get("/leads/", {"stage": "mql"}).content.decode()
    assert 'href="/leads/export.csv?stage=mql"' in page
