"""The sales API: visibility by role, bad input named and nothing written, optimistic stage moves."""

import datetime as dt

import pytest
from django.utils import timezone

from core.vocabulary import Role, Stage
from leads.models import Account, Lead
from sales import handoff, services
from sales.models import Contact, Opportunity, Stakeholder
from tests.factories import LeadFactory, UserFactory
from tests.sales.helpers import closing_team, sql_lead

FUTURE = (timezone.localdate() + dt.timedelta(days=30)).isoformat()


@pytest.fixture
def handed(sdr):
    closing_team("ae1", "ae2")
    return handoff.hand_off(lead_id=sql_lead(sdr).pk)


def test_ae_sees_own_sdr_sees_sourced_others_get_404(api_as, handed, other_sdr, marketing):
    owner = handed.owner
    assert api_as(owner).get(f"/api/v1/opportunities/{handed.pk}/").status_code == 200
    assert api_as(handed.sourced_by).get(f"/api/v1/opportunities/{handed.pk}/").status_code == 200
    for outsider in (other_sdr, marketing):
        assert api_as(outsider).get(f"/api/v1/opportunities/{handed.pk}/").status_code == 404
        assert api_as(outsider).get("/api/v1/opportunities/").json() == []


def test_ae_of_another_team_never_sees_it_by_id(api_as, handed):
    from routing.models import Rep, Team

    other_team = Team.objects.create(name="Closing UK", slug="closing-uk", kind="closing")
    stranger = UserFactory(username="ae-uk", role=Role.SDR)
    Rep.objects.create(user=stranger, team=other_team)
    assert api_as(stranger).get(f"/api/v1/opportunities/{handed.pk}/").status_code == 404
    assert (
        api_as(stranger).patch(f"/api/v1/opportunities/{handed.pk}/", {"value": "5"}, format="json").status_code == 404
    )


def test_manager_sees_their_closing_teams(api_as, sdr):
    boss = UserFactory(username="boss", role=Role.MANAGER)
    closing_team("ae1", manager=boss)
    opportunity = handoff.hand_off(lead_id=sql_lead(sdr).pk)
    assert [o["id"] for o in api_as(boss).get("/api/v1/opportunities/").json()] == [opportunity.pk]
    other_boss = UserFactory(username="boss2", role=Role.MANAGER)
    assert api_as(other_boss).get(f"/api/v1/opportunities/{opportunity.pk}/").status_code == 404


def test_filter_by_lead_and_fields(api_as, handed):
    body = api_as(handed.owner).get(f"/api/v1/opportunities/?lead={handed.lead_id}").json()
    assert [o["id"] for o in body] == [handed.pk]
    assert {
        "id",
        "name",
        "account",
        "stage",
        "value",
        "currency",
        "close_date",
        "owner",
        "sourced_by",
        "stakeholders",
    } <= set(body[0])
    assert api_as(handed.owner).get("/api/v1/opportunities/?lead=x").status_code == 400


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"value": "0"}, "value"),
        ({"value": "-5"}, "value"),
        ({"close_date": "2001-01-01"}, "close_date"),
        ({"currency": "XYZ"}, "currency"),
        ({"stage": "nonexistent"}, "stage"),
    ],
)
def test_bad_new_opportunity_names_the_field_and_writes_nothing(api_as, sdr, change, field):
    lead = sql_lead(sdr)
    before = Opportunity.objects.count()
    body = {"lead": lead.pk, "value": "1000", "currency": "EUR", "close_date": FUTURE} | change
    answer = api_as(sdr).post("/api/v1/opportunities/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["errors"]
    assert Opportunity.objects.count() == before


def test_stakeholder_from_another_account_is_refused(api_as, sdr):
    lead = sql_lead(sdr)
    elsewhere = LeadFactory(account=Account.objects.create(domain="other.de", name="Other"))
    stranger = Contact.objects.create(lead=elsewhere, account=elsewhere.account)
    answer = api_as(sdr).post(
        "/api/v1/opportunities/",
        {
            "lead": lead.pk,
            "value": "1000",
            "close_date": FUTURE,
            "stakeholders": [{"contact": stranger.pk, "role": "champion"}],
        },
        format="json",
    )
    assert answer.status_code == 400 and "stakeholders" in answer.json()["errors"]
    assert not Opportunity.objects.exists() and not Stakeholder.objects.exists()


def test_sdr_opens_an_opportunity_with_a_champion(api_as, sdr):
    lead = sql_lead(sdr)
    champion = services.ensure_contact(lead)
    answer = api_as(sdr).post(
        "/api/v1/opportunities/",
        {
            "lead": lead.pk,
            "value": "1200.50",
            "currency": "EUR",
            "close_date": FUTURE,
            "stakeholders": [{"contact": champion.pk, "role": "champion"}],
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["stakeholders"] == [{"contact": champion.pk, "role": "champion"}]
    assert answer.json()["sourced_by"] == "sdr1"


def test_stage_move_needs_the_version_and_the_second_mover_gets_a_conflict(api_as, handed):
    ae = api_as(handed.owner)
    url = f"/api/v1/opportunities/{handed.pk}/"
    assert ae.patch(url, {"stage": "demo"}, format="json").status_code == 400
    first = ae.patch(url, {"stage": "demo", "next_step": "Demo", "version": handed.version}, format="json")
    assert first.status_code == 200, first.content
    second = ae.patch(url, {"stage": "proposal", "version": handed.version}, format="json")
    assert second.status_code == 409
    assert Opportunity.objects.get(pk=handed.pk).stage.name == "demo"


def test_stage_requirements_are_guards(api_as, handed):
    answer = api_as(handed.owner).patch(
        f"/api/v1/opportunities/{handed.pk}/", {"stage": "proposal", "version": handed.version}, format="json"
    )
    assert answer.status_code == 409, answer.content
    assert {u["code"] for u in answer.json()["unmet"]} == {"next_step", "next_step_on"}
    assert Opportunity.objects.get(pk=handed.pk).stage.name == "discovery"


def test_winning_closes_it_and_moves_the_lead_through_open_opportunity_and_win(handed):
    services.update_opportunity(opportunity_id=handed.pk, by=handed.owner, data={"value": "5000", "close_date": FUTURE})
    services.win(opportunity_id=handed.pk, by=handed.owner)
    lead = Lead.objects.get(pk=handed.lead_id)
    assert lead.stage == Stage.CUSTOMER
    assert list(lead.transitions.values_list("name", flat=True)) == ["open_opportunity", "win"]
    assert lead.transitions.last().actor == handed.owner


def test_losing_needs_a_reason(handed):
    from core.errors import Invalid

    with pytest.raises(Invalid):
        services.lose(opportunity_id=handed.pk, by=handed.owner, reason="")
    assert Opportunity.objects.get(pk=handed.pk).outcome == "open"


def test_losing_takes_a_reason_code(handed):
    services.lose(opportunity_id=handed.pk, by=handed.owner, reason_code="price")
    assert Opportunity.objects.get(pk=handed.pk).lost_reason == "Price"


def test_losing_with_an_unknown_reason_code_names_it_and_writes_nothing(handed):
    from core.errors import Invalid

    with pytest.raises(Invalid) as invalid:
        services.lose(opportunity_id=handed.pk, by=handed.owner, reason_code="too_early", reason="x")
    assert list(invalid.value.errors) == ["reason_code"]
    assert Opportunity.objects.get(pk=handed.pk).outcome == "open"


def test_accounts_list_and_create(api_as, manager, sdr):
    assert (
        api_as(manager).post("/api/v1/accounts/", {"name": "Beta", "domain": "beta.de"}, format="json").status_code
        == 201
    )
    bad = api_as(manager).post("/api/v1/accounts/", {"name": "Beta", "domain": "beta.de"}, format="json")
    assert bad.status_code == 400 and "domain" in bad.json()["errors"]
    assert api_as(sdr).post("/api/v1/accounts/", {"name": "X", "domain": "x.de"}, format="json").status_code == 403
    assert api_as(sdr).get("/api/v1/accounts/").json() == []
    assert Account.objects.filter(domain="x.de").exists() is False


def test_pipeline_report_json(api_as, handed):
    services.update_opportunity(opportunity_id=handed.pk, by=handed.owner, data={"value": "1000", "close_date": FUTURE})
    body = api_as(handed.owner).get("/api/v1/reports/pipeline/").json()
    assert body["open"]["count"] == 1
    assert float(body["forecast"][0]["weighted"]) == 100.0  # discovery: 10 %
