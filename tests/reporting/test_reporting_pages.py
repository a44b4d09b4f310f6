"""Report pages and the report API per role: who sees what, CSV export, same numbers as the selectors,
bad filters named, a fixed number of queries."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from core.vocabulary import Stage
from leads.models import LeadTransition
from reporting import filters, selectors
from reporting.models import ReportSubscription
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGES = ["dashboard", "funnel", "velocity", "stalls", "speed", "acceptance", "sources", "sla"]
APIS = ["funnel", "velocity", "speed-to-lead", "sources", "reasons"]
RANGE = "start=2026-03-01&end=2026-03-31"
CREATED = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def lead_of(owner, *, stage=Stage.MQL, name="assign"):
    lead = LeadFactory(stage=stage, owner=owner, created_at=CREATED, first_touch_at=CREATED)
    LeadTransition.objects.create(lead=lead, name="mark_mql", source=Stage.KNOWN, target=Stage.MQL, at=CREATED)
    LeadTransition.objects.create(lead=lead, name=name, source=Stage.MQL, target=Stage.MQL, at=CREATED,
                                  data={"to_owner": owner.username})
    return lead


@pytest.fixture
def leads(sdr, other_sdr):
    return {"own": lead_of(sdr), "others": [lead_of(other_sdr), lead_of(other_sdr)]}


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.mark.parametrize("name", [*PAGES, "my_report", "email_preview"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, name):
    response = client.get(reverse(f"reporting:{name}"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", ["dashboard", "my_report"])
def test_users_without_a_role_may_not_see_reports(client, name):
    client.force_login(UserFactory(username="nobody"))
    assert client.get(reverse(f"reporting:{name}")).status_code == 403


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_for_managers_and_sdrs(client, leads, manager, sdr, name):
    for user in (manager, sdr):
        client.force_login(user)
        response = client.get(f"{reverse(f'reporting:{name}')}?{RANGE}")
        assert response.status_code == 200, (user, name)
        assert b'name="start"' in response.content


def test_an_sdr_sees_only_own_figures_whatever_the_rep_filter_says(client, leads, sdr):
    client.force_login(sdr)
    response = client.get(f"{reverse('reporting:funnel')}?{RANGE}&rep=sdr2&format=csv")
    rows = dict(csv_rows(response)[1:])
    assert rows["Known lead"] == "1"


def test_managers_filter_by_rep(client, leads, manager):
    client.force_login(manager)
    everyone = dict(csv_rows(client.get(f"{reverse('reporting:funnel')}?{RANGE}&format=csv"))[1:])
    sdr2 = dict(csv_rows(client.get(f"{reverse('reporting:funnel')}?{RANGE}&rep=sdr2&format=csv"))[1:])
    assert (everyone["Known lead"], sdr2["Known lead"]) == ("3", "2")


def test_each_table_downloads_as_csv(client, leads, manager):
    client.force_login(manager)
    response = client.get(f"{reverse('reporting:funnel')}?{RANGE}&format=csv&table=conversion")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == ["Step", "Conversion", "Benchmark (%)"]
    assert ["MQL → SAL", "0", "15–30"] in rows
    assert client.get(f"{reverse('reporting:funnel')}?format=csv&table=nope").status_code == 404


def test_the_stalled_leads_download_lists_every_stalled_lead(client, manager, sdr):
    old = LeadFactory(stage=Stage.SAL, owner=sdr, stage_entered_at=CREATED)
    client.force_login(manager)
    rows = csv_rows(client.get(f"{reverse('reporting:stalls')}?format=csv&table=stalled"))
    assert rows[0][:4] == ["Lead id", "Lead", "Company", "Stage"]
    assert [row[0] for row in rows[1:]] == [str(old.pk)]
    assert rows[1][-1].endswith(f"/leads/{old.pk}/")


def test_a_bad_filter_value_is_named_on_the_page(client, manager):
    client.force_login(manager)
    response = client.get(f"{reverse('reporting:dashboard')}?start=2026-03-31&end=2026-03-01")
    assert response.status_code == 400
    assert "The end date must not be before the start date." in response.content.decode()


def test_pages_run_a_fixed_number_of_queries(client, leads, manager, django_assert_max_num_queries):
    client.force_login(manager)
    client.get(reverse("reporting:dashboard"))  # sessions, content types and the like are cached now
    for _round in range(3):
        LeadFactory.create_batch(5, stage=Stage.SAL, owner=leads["own"].owner, created_at=CREATED,
                                 stage_entered_at=CREATED)  # stalled: listed on the stalls page
        CampaignFactory()
        with django_assert_max_num_queries(34):
            assert client.get(f"{reverse('reporting:dashboard')}?{RANGE}").status_code == 200
        with django_assert_max_num_queries(12):
            assert client.get(f"{reverse('reporting:stalls')}?{RANGE}").status_code == 200


# --- the API --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", APIS)
def test_the_api_returns_the_same_numbers_as_the_pages(api_as, leads, manager, name):
    response = api_as(manager).get(f"/api/v1/reports/{name}/?{RANGE}&rep=sdr2")
    assert response.status_code == 200
    f = filters.build(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), rep_id=leads["others"][0].owner_id)
    expected = {
        "funnel": lambda: selectors.funnel(f)["stages"],
        "velocity": lambda: selectors.velocity(f)["stages"],
        "speed-to-lead": lambda: selectors.speed_to_lead(f)["overall"],
        "sources": lambda: selectors.sources(f)["total"],
        "reasons": lambda: selectors.acceptance(f)["reasons"],
    }[name]()
    key = {"funnel": "stages", "velocity": "stages", "speed-to-lead": "overall", "sources": "total",
           "reasons": "reasons"}[name]
    got = response.json()[key]
    if name == "sources":
        assert (got["leads"], got["mqls"], got["revenue"]) == (expected["leads"], expected["mqls"], "0.00")
    else:
        assert got == expected
    assert response.json()["filters"] == {
        "start": "2026-03-01", "end": "2026-03-31", "source": "", "campaign": "", "team": "", "rep": "sdr2",
    }


def test_the_reasons_api_groups_by_code(api_as, manager, sdr):
    lead = lead_of(sdr)
    for text in ("zu früh", "Zu frueh"):
        LeadTransition.objects.create(lead=lead, name="reject", source=Stage.MQL, target=Stage.RECYCLED, at=CREATED,
                                      actor=sdr, reason=text, data={"reason_code": "too_early"})
    LeadTransition.objects.create(lead=lead, name="reject", source=Stage.MQL, target=Stage.RECYCLED, at=CREATED,
                                  actor=sdr, reason="Old free text")
    body = api_as(manager).get(f"/api/v1/reports/reasons/?{RANGE}").json()
    assert body["reasons"]["reject"] == [
        {"code": "too_early", "reason": "Too early: nurture first", "count": 2, "share": 66.7},
        {"code": "other", "reason": "Other", "count": 1, "share": 33.3},
    ]
    assert body["reason_totals"]["reject"] == 3 and body["rejected"] == 3


def test_the_api_takes_tokens_and_forces_an_sdr_to_own_figures(api, leads, sdr):
    token = Token.objects.create(user=sdr)
    response = api.get(f"/api/v1/reports/funnel/?{RANGE}&rep=sdr2", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert response.json()["filters"]["rep"] == "sdr1"
    assert {row["stage"]: row["count"] for row in response.json()["stages"]}["known"] == 1


@pytest.mark.parametrize("query, field", [
    ("start=yesterday", "start"), ("start=2026-03-31&end=2026-03-01", "end"), ("campaign=nope", "campaign"),
    ("source=fax", "source"), ("rep=nobody", "rep"), ("team=nope", "team"), ("view=sideways", "view"),
])
def test_bad_filter_values_answer_400_naming_the_field(api_as, manager, query, field):
    response = api_as(manager).get(f"/api/v1/reports/funnel/?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_the_api_needs_credentials_and_a_role(api, api_as):
    assert api.get("/api/v1/reports/funnel/").status_code == 401
    assert api_as(UserFactory(username="nobody")).get("/api/v1/reports/sources/").status_code == 403


# --- my report ------------------------------------------------------------------------------------------


def test_a_user_subscribes_on_the_my_report_page(client, manager):
    client.force_login(manager)
    response = client.post(reverse("reporting:my_report"), {"is_active": "on", "frequency": "weekly", "scope": "all"})
    assert response.status_code == 302
    subscription = ReportSubscription.objects.get(user=manager)
    assert (subscription.frequency, subscription.scope, subscription.is_active) == ("weekly", "all", True)


def test_an_sdr_cannot_subscribe_to_everything(client, sdr):
    client.force_login(sdr)
    response = client.post(reverse("reporting:my_report"), {"is_active": "on", "frequency": "daily", "scope": "all"})
    assert response.status_code == 400
    assert not ReportSubscription.objects.exists()


def test_the_preview_shows_the_email_with_its_charts(client, leads, manager):
    client.force_login(manager)
    html = client.get(reverse("reporting:email_preview")).content.decode()
    assert "data:image/png;base64," in html
    assert "Oldest waiting MQLs" in html
    text = client.get(f"{reverse('reporting:email_preview')}?part=text&date=2026-03-02")
    assert text["Content-Type"].startswith("text/plain")
    assert client.get(f"{reverse('reporting:email_preview')}?date=soon").status_code == 400
