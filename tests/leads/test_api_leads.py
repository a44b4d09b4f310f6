"""The lead endpoints of the JSON API: visibility per role, transitions, owners, activities, lists."""

import datetime as dt
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from core import vocabulary
from core.vocabulary import Role, Stage
from leads import lifecycle
from leads.models import Activity, Lead, LeadTransition
from tests.factories import ActivityFactory, CampaignFactory, LeadFactory, UserFactory

DETAIL_KEYS = {
    "id", "email", "first_name", "last_name", "company", "stage", "score", "owner", "source", "campaign",
    "created_at", "history", "available_transitions",
}
HISTORY_KEYS = {"transition", "source", "target", "actor", "reason", "at"}


def lead_url(lead, action=""):
    return f"/api/v1/leads/{lead.pk}/{action}"


def transition_url(lead, name):
    return f"/api/v1/leads/{lead.pk}/transitions/{name}/"


def reload(lead):
    """A fresh copy (the protected FSM stage forbids refresh_from_db)."""
    return Lead.objects.select_related("owner").get(pk=lead.pk)


def token_client(username):
    out = StringIO()
    call_command("create_api_token", username, stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    return client


def assert_refused(response, lead, *, stage, codes):
    """409 with every unmet guard, the stage unchanged, no audit row written."""
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["detail"]
    assert {unmet["code"] for unmet in body["unmet"]} == set(codes)
    assert all(unmet["message"] for unmet in body["unmet"])
    lead = reload(lead)
    assert lead.stage == stage
    assert not LeadTransition.objects.filter(lead=lead).exists()


@pytest.fixture
def other_sdrs_lead(other_sdr):
    return LeadFactory(stage=Stage.MQL, owner=other_sdr)


# --- authentication --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/leads/"),
        ("get", "/api/v1/leads/{id}/"),
        ("post", "/api/v1/leads/{id}/transitions/disqualify/"),
        ("post", "/api/v1/leads/{id}/claim/"),
        ("post", "/api/v1/leads/{id}/assign/"),
        ("post", "/api/v1/leads/{id}/activities/"),
    ],
)
def test_anonymous_gets_401_with_a_token_challenge_on_every_lead_endpoint(api, pool_mql, method, path):
    response = getattr(api, method)(path.format(id=pool_mql.pk), {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    pool_mql = reload(pool_mql)
    assert pool_mql.owner is None
    assert not LeadTransition.objects.exists()


def test_token_from_create_api_token_authenticates(manager, own_mql):
    response = token_client("manager").get(lead_url(own_mql))
    assert response.status_code == 200
    assert response.json()["id"] == own_mql.pk


def test_invalid_token_gets_401(api, own_mql):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api.get(lead_url(own_mql))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


# --- detail ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("marketing", 200), ("manager", 200), ("admin_user", 200), ("sdr", 200), ("other_sdr", 404)],
)
def test_detail_of_an_sdrs_lead_per_role(request, api_as, own_mql, role, status):
    response = api_as(request.getfixturevalue(role)).get(lead_url(own_mql))
    assert response.status_code == status


def test_sdr_gets_404_for_another_sdrs_lead(api_as, sdr, other_sdrs_lead):
    response = api_as(sdr).get(lead_url(other_sdrs_lead))
    assert response.status_code == 404
    assert response.json() == {"detail": "No such lead."}


def test_sdr_sees_a_pool_lead(api_as, sdr, pool_mql):
    assert api_as(sdr).get(lead_url(pool_mql)).status_code == 200


def test_sdr_gets_404_for_an_unowned_lead_outside_the_pool(api_as, sdr):
    known = LeadFactory(stage=Stage.KNOWN, owner=None)
    assert api_as(sdr).get(lead_url(known)).status_code == 404


def test_detail_shape(api_as, sdr, marketing):
    campaign = CampaignFactory(slug="fair-2026")
    lead = LeadFactory(stage=Stage.KNOWN, campaign=campaign, source="event", score=12, email="erika@firma.de")
    lifecycle.assign(lead_id=lead.pk, owner_username="sdr1", by=marketing)

    body = api_as(sdr).get(lead_url(lead)).json()

    assert DETAIL_KEYS <= set(body)
    assert body["id"] == lead.pk
    assert body["email"] == "erika@firma.de"
    assert (body["first_name"], body["last_name"], body["company"]) == (lead.first_name, lead.last_name, lead.company)
    assert (body["stage"], body["score"], body["source"]) == ("known", 12, "event")
    assert body["owner"] == "sdr1"
    assert body["campaign"] == "fair-2026"
    assert body["created_at"]
    assert body["history"] == [
        {"transition": "assign", "source": "known", "target": "known", "actor": "marketing", "reason": "",
         "at": body["history"][0]["at"]}
    ]
    assert body["available_transitions"] == ["disqualify"]


def test_detail_of_an_unowned_lead_has_null_owner_and_campaign(api_as, manager):
    lead = LeadFactory(stage=Stage.KNOWN, owner=None, campaign=None)
    body = api_as(manager).get(lead_url(lead)).json()
    assert body["owner"] is None
    assert body["campaign"] is None
    assert body["history"] == []


def test_history_shows_system_changes_with_null_actor_in_order(api_as, manager):
    lead = LeadFactory(stage=Stage.KNOWN, score=settings.MQL_SCORE_THRESHOLD)
    lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=None)
    lifecycle.fire(lead_id=lead.pk, name="disqualify", by=manager, inputs={"reason": "Competitor"})

    history = api_as(manager).get(lead_url(lead)).json()["history"]

    assert [set(entry) for entry in history] == [HISTORY_KEYS, HISTORY_KEYS]
    assert [(e["transition"], e["source"], e["target"], e["actor"], e["reason"]) for e in history] == [
        ("mark_mql", "known", "mql", None, ""),
        ("disqualify", "mql", "disqualified", "manager", "Competitor"),
    ]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("marketing", ["disqualify"]),
        ("manager", ["accept", "reject", "disqualify"]),
        ("sdr", ["accept", "reject", "disqualify"]),
    ],
)
def test_available_transitions_depend_on_the_caller(request, api_as, own_mql, role, expected):
    body = api_as(request.getfixturevalue(role)).get(lead_url(own_mql)).json()
    assert body["available_transitions"] == expected


# --- list ------------------------------------------------------------------------------------------------


def list_ids(client, query=""):
    response = client.get(f"/api/v1/leads/{query}")
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


@pytest.mark.parametrize("role", ["marketing", "manager", "admin_user"])
def test_staff_roles_list_every_lead(request, api_as, own_mql, pool_mql, other_sdrs_lead, role):
    known = LeadFactory(stage=Stage.KNOWN)
    ids = list_ids(api_as(request.getfixturevalue(role)))
    assert ids == {own_mql.pk, pool_mql.pk, other_sdrs_lead.pk, known.pk}


def test_sdr_lists_own_leads_and_the_pool_only(api_as, sdr, own_mql, pool_mql, other_sdrs_lead):
    LeadFactory(stage=Stage.KNOWN)
    assert list_ids(api_as(sdr)) == {own_mql.pk, pool_mql.pk}


def test_user_without_a_role_lists_nothing(api_as, own_mql):
    assert list_ids(api_as(UserFactory(username="nobody"))) == set()


def test_list_filters_by_stage(api_as, manager, own_mql):
    sal = LeadFactory(stage=Stage.SAL)
    assert list_ids(api_as(manager), "?stage=sal") == {sal.pk}


def test_list_filters_the_pool_with_owner_none(api_as, manager, own_mql, pool_mql):
    assert list_ids(api_as(manager), "?owner=none") == {pool_mql.pk}


def test_list_filters_by_owner_username(api_as, manager, own_mql, pool_mql):
    assert list_ids(api_as(manager), "?owner=sdr1") == {own_mql.pk}


def test_list_searches_name_email_and_company(api_as, manager):
    hit = LeadFactory(company="Zeppelin Werke AG")
    LeadFactory(company="Other GmbH")
    assert list_ids(api_as(manager), "?q=zeppelin") == {hit.pk}


def test_list_filters_by_campaign_slug_and_score(api_as, manager):
    campaign = CampaignFactory(slug="webinar")
    hit = LeadFactory(campaign=campaign, score=40)
    LeadFactory(campaign=campaign, score=5)
    LeadFactory(score=40)
    assert list_ids(api_as(manager), "?campaign=webinar&score_min=30") == {hit.pk}


def test_list_refuses_a_bad_filter_value_naming_it(api_as, manager):
    response = api_as(manager).get("/api/v1/leads/?stage=nonsense&campaign=no-such-campaign")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"stage", "campaign"}


def test_list_refuses_ordering_a_cursor_cannot_keep(api_as, manager):
    response = api_as(manager).get("/api/v1/leads/?ordering=score")
    assert response.status_code == 400
    assert "ordering" in response.json()["errors"]


def test_list_pages_by_cursor_newest_first_without_overlap(api_as, manager):
    start = timezone.now() - dt.timedelta(days=1)
    leads = [LeadFactory(created_at=start + dt.timedelta(minutes=i)) for i in range(5)]
    client = api_as(manager)

    seen, url = [], "/api/v1/leads/?page_size=2"
    while url:
        page = client.get(url).json()
        assert set(page) == {"next", "previous", "results"}
        assert len(page["results"]) <= 2
        seen += [item["id"] for item in page["results"]]
        url = page["next"]

    assert seen == [lead.pk for lead in reversed(leads)]


def test_list_orders_oldest_first_on_request(api_as, manager):
    start = timezone.now() - dt.timedelta(days=1)
    leads = [LeadFactory(created_at=start + dt.timedelta(minutes=i)) for i in range(3)]
    page = api_as(manager).get("/api/v1/leads/?ordering=created_at").json()
    assert [item["id"] for item in page["results"]] == [lead.pk for lead in leads]


def test_list_items_carry_the_lead_fields(api_as, sdr, own_mql):
    item = api_as(sdr).get("/api/v1/leads/").json()["results"][0]
    assert (DETAIL_KEYS - {"history"}) <= set(item)
    assert item["owner"] == "sdr1"
    assert item["available_transitions"] == ["accept", "reject", "disqualify"]


def count_list_queries(client, how_many):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/leads/?page_size=100")
    assert response.status_code == 200
    assert len(response.json()["results"]) == how_many
    return len(queries)


def test_list_runs_the_same_few_queries_for_5_and_50_leads(django_assert_max_num_queries, manager):
    client = token_client("manager")  # token auth: the user (and its roles) are loaded on every request
    campaign = CampaignFactory()
    LeadFactory.create_batch(5, owner=manager, campaign=campaign)
    with django_assert_max_num_queries(4):
        few = count_list_queries(client, 5)
    LeadFactory.create_batch(45, owner=manager, campaign=campaign)
    with django_assert_max_num_queries(4):
        many = count_list_queries(client, 50)
    assert few == many


def test_detail_query_count_does_not_grow_with_history(django_assert_max_num_queries, manager):
    client = token_client("manager")
    lead = LeadFactory(stage=Stage.KNOWN)
    for username in ("sdr1", "sdr2", "sdr3", "sdr4"):
        UserFactory(username=username, role=Role.SDR)
        lifecycle.assign(lead_id=lead.pk, owner_username=username, by=manager)
    with django_assert_max_num_queries(7):  # + the active predictive model, once (probability_note)
        response = client.get(lead_url(lead))
    assert len(response.json()["history"]) == 4


# --- transitions allowed ---------------------------------------------------------------------------------


def fire(client, lead, name, body=None):
    return client.post(transition_url(lead, name), body or {}, format="json")


def assert_fired(response, lead, *, name, target, actor):
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == target
    lead = reload(lead)
    assert lead.stage == target
    entry = LeadTransition.objects.filter(lead=lead).exclude(name__in=vocabulary.OWNER_CHANGES).get()
    assert (entry.name, entry.target, entry.actor) == (name, target, actor)
    return lead


def test_marketing_marks_a_lead_with_enough_score_as_mql(api_as, marketing):
    lead = LeadFactory(stage=Stage.KNOWN, score=settings.MQL_SCORE_THRESHOLD + 10)
    response = fire(api_as(marketing), lead, "mark_mql")
    lead = assert_fired(response, lead, name="mark_mql", target=Stage.MQL, actor=marketing)


def test_owner_sdr_accepts_own_mql(api_as, sdr, own_mql):
    response = fire(api_as(sdr), own_mql, "accept")
    own_mql = assert_fired(response, own_mql, name="accept", target=Stage.SAL, actor=sdr)
    assert response.json()["available_transitions"] == ["qualify", "recycle", "disqualify"]


def test_sdr_accepting_a_pool_mql_claims_it_in_the_same_step(api_as, sdr, pool_mql):
    response = fire(api_as(sdr), pool_mql, "accept")
    pool_mql = assert_fired(response, pool_mql, name="accept", target=Stage.SAL, actor=sdr)
    assert response.json()["owner"] == "sdr1"
    assert LeadTransition.objects.filter(lead=pool_mql, name="claim", actor=sdr).count() == 1


def test_owner_sdr_rejects_own_mql_with_a_reason(api_as, sdr, own_mql):
    response = fire(api_as(sdr), own_mql, "reject", {"reason": "Student, no budget"})
    own_mql = assert_fired(response, own_mql, name="reject", target=Stage.RECYCLED, actor=sdr)
    assert own_mql.owner is None
    assert response.json()["stage_reason"] == "Student, no budget"


def test_owner_sdr_qualifies_with_bant_after_a_connected_call(api_as, sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    ActivityFactory(lead=lead, kind="call", outcome="connected")
    bant = {"budget": "50k", "authority": "CFO", "need": "CRM replacement", "timeline": "Q3"}
    response = fire(api_as(sdr), lead, "qualify", bant)
    lead = assert_fired(response, lead, name="qualify", target=Stage.SQL, actor=sdr)
    assert (lead.budget, lead.authority, lead.need, lead.timeline) == ("50k", "CFO", "CRM replacement", "Q3")


def test_owner_sdr_opens_an_opportunity(api_as, sdr):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    close = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    response = fire(api_as(sdr), lead, "open_opportunity", {"deal_value": "12500.50", "close_date": close})
    lead = assert_fired(response, lead, name="open_opportunity", target=Stage.OPPORTUNITY, actor=sdr)
    assert response.json()["deal_value"] == "12500.50"
    assert response.json()["close_date"] == close


def test_manager_wins_an_opportunity(api_as, manager, sdr):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=sdr)
    response = fire(api_as(manager), lead, "win", {"contract_signed_on": "2026-11-01"})
    lead = assert_fired(response, lead, name="win", target=Stage.CUSTOMER, actor=manager)
    assert lead.contract_signed_on == dt.date(2026, 11, 1)


def test_owner_sdr_loses_an_opportunity_with_a_reason(api_as, sdr):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=sdr)
    response = fire(api_as(sdr), lead, "lose", {"reason": "Chose a competitor"})
    lead = assert_fired(response, lead, name="lose", target=Stage.LOST, actor=sdr)


def test_owner_sdr_recycles_a_sal_with_a_reason(api_as, sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    response = fire(api_as(sdr), lead, "recycle", {"reason": "No contact after 6 attempts"})
    lead = assert_fired(response, lead, name="recycle", target=Stage.RECYCLED, actor=sdr)
    assert lead.owner is None


def test_marketing_disqualifies_a_known_lead_with_a_reason(api_as, marketing):
    lead = LeadFactory(stage=Stage.KNOWN)
    response = fire(api_as(marketing), lead, "disqualify", {"reason": "Spam sign-up"})
    lead = assert_fired(response, lead, name="disqualify", target=Stage.DISQUALIFIED, actor=marketing)


def test_transition_response_has_the_detail_shape_with_new_history(api_as, sdr, own_mql):
    body = fire(api_as(sdr), own_mql, "accept").json()
    assert DETAIL_KEYS <= set(body)
    assert [entry["transition"] for entry in body["history"]] == ["accept"]


# --- transitions refused ---------------------------------------------------------------------------------


def test_mark_mql_is_refused_below_the_threshold_without_hot_intent(api_as, marketing):
    lead = LeadFactory(stage=Stage.KNOWN, score=0)
    assert_refused(fire(api_as(marketing), lead, "mark_mql"), lead, stage=Stage.KNOWN,
                   codes=["score_below_threshold"])


def test_manager_accept_of_a_pool_lead_is_refused_without_owner(api_as, manager, pool_mql):
    assert_refused(fire(api_as(manager), pool_mql, "accept"), pool_mql, stage=Stage.MQL, codes=["no_owner"])
    assert Lead.objects.get(pk=pool_mql.pk).owner is None


def test_reject_is_refused_without_a_reason(api_as, sdr, own_mql):
    assert_refused(fire(api_as(sdr), own_mql, "reject", {"reason": "  "}), own_mql, stage=Stage.MQL,
                   codes=["reason_missing"])


def test_qualify_is_refused_listing_every_missing_answer_and_the_conversation(api_as, sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    ActivityFactory(lead=lead, kind="call", outcome="no_answer")
    response = fire(api_as(sdr), lead, "qualify", {"budget": "50k"})
    assert_refused(response, lead, stage=Stage.SAL,
                   codes=["authority_missing", "need_missing", "timeline_missing", "no_conversation"])


def test_open_opportunity_is_refused_without_value_and_with_a_past_close_date(api_as, sdr):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    past = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    response = fire(api_as(sdr), lead, "open_opportunity", {"deal_value": "0", "close_date": past})
    assert_refused(response, lead, stage=Stage.SQL, codes=["deal_value_missing", "close_date_past"])


def test_win_is_refused_without_the_contract_date(api_as, sdr):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=sdr)
    assert_refused(fire(api_as(sdr), lead, "win"), lead, stage=Stage.OPPORTUNITY, codes=["contract_date_missing"])


def test_lose_is_refused_without_a_reason(api_as, sdr):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=sdr)
    assert_refused(fire(api_as(sdr), lead, "lose"), lead, stage=Stage.OPPORTUNITY, codes=["reason_missing"])


def test_recycle_is_refused_without_a_reason(api_as, sdr):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    assert_refused(fire(api_as(sdr), lead, "recycle"), lead, stage=Stage.SQL, codes=["reason_missing"])


def test_disqualify_is_refused_without_a_reason(api_as, marketing):
    lead = LeadFactory(stage=Stage.KNOWN)
    assert_refused(fire(api_as(marketing), lead, "disqualify"), lead, stage=Stage.KNOWN, codes=["reason_missing"])


def test_transition_from_the_wrong_stage_is_refused(api_as, sdr):
    lead = LeadFactory(stage=Stage.SAL, owner=sdr)
    assert_refused(fire(api_as(sdr), lead, "accept"), lead, stage=Stage.SAL, codes=["wrong_stage"])


def test_marketing_may_not_accept(api_as, marketing, own_mql):
    response = fire(api_as(marketing), own_mql, "accept")
    assert response.status_code == 403
    assert response.json()["detail"]
    own_mql = reload(own_mql)
    assert own_mql.stage == Stage.MQL
    assert not LeadTransition.objects.exists()


def test_sdr_may_not_reject_a_pool_lead(api_as, sdr, pool_mql):
    response = fire(api_as(sdr), pool_mql, "reject", {"reason": "Not mine"})
    assert response.status_code == 403
    assert not LeadTransition.objects.exists()


def test_other_sdr_gets_404_firing_on_a_lead_not_theirs(api_as, other_sdr, own_mql):
    response = fire(api_as(other_sdr), own_mql, "accept")
    assert response.status_code == 404
    own_mql = reload(own_mql)
    assert own_mql.stage == Stage.MQL
    assert not LeadTransition.objects.exists()


def test_unknown_transition_name_is_404(api_as, manager, own_mql):
    response = fire(api_as(manager), own_mql, "teleport")
    assert response.status_code == 404
    assert not LeadTransition.objects.exists()


def test_malformed_transition_inputs_are_400_naming_each_field(api_as, sdr):
    lead = LeadFactory(stage=Stage.SQL, owner=sdr)
    response = fire(api_as(sdr), lead, "open_opportunity",
                    {"deal_value": "lots", "close_date": "next week", "colour": "blue"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"deal_value", "close_date", "colour"}
    lead = reload(lead)
    assert lead.stage == Stage.SQL
    assert not LeadTransition.objects.exists()


def test_transition_body_must_be_a_json_object(api_as, marketing):
    lead = LeadFactory(stage=Stage.KNOWN)
    response = api_as(marketing).post(transition_url(lead, "disqualify"), ["reason"], format="json")
    assert response.status_code == 400
    assert response.json() == {"errors": {"non_field_errors": ["Send a JSON object."]}}
    assert not LeadTransition.objects.exists()


# --- claim -----------------------------------------------------------------------------------------------


def test_sdr_claims_a_pool_lead(api_as, sdr, pool_mql):
    response = api_as(sdr).post(lead_url(pool_mql, "claim/"))
    assert response.status_code == 200
    assert response.json()["owner"] == "sdr1"
    assert response.json()["history"][0]["transition"] == "claim"
    pool_mql = reload(pool_mql)
    assert pool_mql.owner == sdr


def test_manager_claim_of_an_owned_lead_is_409(api_as, manager, own_mql, sdr):
    response = api_as(manager).post(lead_url(own_mql, "claim/"))
    assert response.status_code == 409
    assert set(response.json()) == {"detail"}
    own_mql = reload(own_mql)
    assert own_mql.owner == sdr
    assert not LeadTransition.objects.exists()


def test_sdr_gets_404_claiming_a_lead_another_sdr_claimed_first(api_as, sdr, other_sdr, pool_mql):
    assert api_as(other_sdr).post(lead_url(pool_mql, "claim/")).status_code == 200
    # sdr1 can no longer see it: it left the pool.
    assert api_as(sdr).post(lead_url(pool_mql, "claim/")).status_code == 404
    pool_mql = reload(pool_mql)
    assert pool_mql.owner == other_sdr


def test_marketing_may_not_claim(api_as, marketing, pool_mql):
    response = api_as(marketing).post(lead_url(pool_mql, "claim/"))
    assert response.status_code == 403
    pool_mql = reload(pool_mql)
    assert pool_mql.owner is None


def test_other_sdr_gets_404_claiming_a_lead_not_theirs(api_as, other_sdr, own_mql):
    assert api_as(other_sdr).post(lead_url(own_mql, "claim/")).status_code == 404


# --- assign ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "marketing", "admin_user"])
def test_staff_roles_assign_an_owner(request, api_as, sdr, pool_mql, role):
    actor = request.getfixturevalue(role)
    response = api_as(actor).post(lead_url(pool_mql, "assign/"), {"owner": "sdr1"}, format="json")
    assert response.status_code == 200
    assert response.json()["owner"] == "sdr1"
    entry = LeadTransition.objects.get(lead=pool_mql)
    assert (entry.name, entry.actor, entry.data["to_owner"]) == ("assign", actor, "sdr1")


def test_assign_null_releases_to_the_pool(api_as, manager, own_mql):
    response = api_as(manager).post(lead_url(own_mql, "assign/"), {"owner": None}, format="json")
    assert response.status_code == 200
    assert response.json()["owner"] is None
    assert LeadTransition.objects.get(lead=own_mql).name == "release"


def test_sdr_may_not_assign(api_as, sdr, other_sdr, own_mql):
    response = api_as(sdr).post(lead_url(own_mql, "assign/"), {"owner": "sdr2"}, format="json")
    assert response.status_code == 403
    own_mql = reload(own_mql)
    assert own_mql.owner == sdr
    assert not LeadTransition.objects.exists()


def test_assign_to_an_unknown_user_is_400(api_as, manager, pool_mql):
    response = api_as(manager).post(lead_url(pool_mql, "assign/"), {"owner": "ghost"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"owner"}
    assert not LeadTransition.objects.exists()


def test_assign_needs_the_owner_field_and_refuses_unknown_fields(api_as, manager, pool_mql):
    response = api_as(manager).post(lead_url(pool_mql, "assign/"), {"user": "sdr1"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"owner", "user"}


def test_other_sdr_gets_404_assigning_a_lead_not_theirs(api_as, other_sdr, own_mql):
    response = api_as(other_sdr).post(lead_url(own_mql, "assign/"), {"owner": None}, format="json")
    assert response.status_code == 404


# --- activities ------------------------------------------------------------------------------------------


def test_owner_sdr_logs_a_call(api_as, sdr, own_mql):
    occurred = (timezone.now() - dt.timedelta(hours=1)).replace(microsecond=0)
    body = {"kind": "call", "outcome": "no_answer", "note": "Mailbox", "occurred_at": occurred.isoformat()}
    response = api_as(sdr).post(lead_url(own_mql, "activities/"), body, format="json")
    assert response.status_code == 201
    data = response.json()
    assert (data["lead"], data["kind"], data["outcome"], data["note"], data["created_by"]) == (
        own_mql.pk, "call", "no_answer", "Mailbox", "sdr1"
    )
    activity = Activity.objects.get(pk=data["id"])
    assert activity.occurred_at == occurred
    own_mql = reload(own_mql)
    assert own_mql.contact_attempts == 1


@pytest.mark.parametrize("role", ["marketing", "manager"])
def test_staff_roles_log_activities(request, api_as, own_mql, role):
    response = api_as(request.getfixturevalue(role)).post(
        lead_url(own_mql, "activities/"), {"kind": "note", "note": "Met at the fair"}, format="json"
    )
    assert response.status_code == 201


def test_activity_with_bad_fields_is_400_naming_each(api_as, sdr, own_mql):
    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    body = {"kind": "telepathy", "outcome": "maybe", "occurred_at": future, "mood": "good"}
    response = api_as(sdr).post(lead_url(own_mql, "activities/"), body, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"kind", "outcome", "occurred_at", "mood"}
    assert not Activity.objects.exists()


def test_sdr_may_not_log_on_a_pool_lead(api_as, sdr, pool_mql):
    response = api_as(sdr).post(lead_url(pool_mql, "activities/"), {"kind": "note"}, format="json")
    assert response.status_code == 403
    assert not Activity.objects.exists()


def test_other_sdr_gets_404_logging_on_a_lead_not_theirs(api_as, other_sdr, own_mql):
    response = api_as(other_sdr).post(lead_url(own_mql, "activities/"), {"kind": "note"}, format="json")
    assert response.status_code == 404
    assert not Activity.objects.exists()


# --- schema and docs -------------------------------------------------------------------------------------


def test_openapi_schema_is_public_and_lists_the_endpoints(api, db):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/v1/leads/", "/api/v1/leads/{id}/", "/api/v1/leads/{id}/transitions/{name}/",
        "/api/v1/leads/{id}/claim/", "/api/v1/leads/{id}/assign/", "/api/v1/leads/{id}/activities/",
        "/api/v1/capture/", "/api/v1/track/",
    } <= set(paths)


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_are_served_with_local_assets(api, db, path):
    response = api.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar" in html
    assert "cdn.jsdelivr.net" not in html
