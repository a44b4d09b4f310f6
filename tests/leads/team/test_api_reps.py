"""Presence from outside: `GET /api/v1/reps/` and `PATCH /api/v1/reps/{username}/` for managers and admins."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.vocabulary import Role, Stage
from routing.models import Rep, Team
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

REP_KEYS = {
    "username", "team", "available", "capacity", "open_load", "out_of_office_from", "out_of_office_until",
    "out_of_office", "weight", "territories", "specialties",
}


@pytest.fixture
def team(manager, sdr, other_sdr):
    team = Team.objects.create(name="Inside Sales", slug="inside-sales", manager=manager)
    Rep.objects.create(user=sdr, team=team, capacity=5, territories=["DACH"], specialties=["Manufacturing"])
    Rep.objects.create(user=other_sdr, team=team, capacity=8, weight=2)
    return team


def rep_url(username: str = "") -> str:
    return f"/api/v1/reps/{username}/" if username else "/api/v1/reps/"


def rep(username: str) -> Rep:
    return Rep.objects.get(user__username=username)


def snapshot(username: str) -> tuple:
    r = rep(username)
    return (r.is_available, r.capacity, r.out_of_office_from, r.out_of_office_until)


def token_client(username):
    out = StringIO()
    call_command("create_api_token", username, stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    return client


# --- reading --------------------------------------------------------------------------------------------


def test_manager_lists_reps_with_presence_and_open_load(api_as, manager, sdr, team):
    LeadFactory(stage=Stage.MQL, owner=sdr)
    LeadFactory(stage=Stage.SAL, owner=sdr)
    LeadFactory(stage=Stage.SQL, owner=sdr)  # not open load
    response = api_as(manager).get(rep_url())
    assert response.status_code == 200
    body = response.json()
    assert [row["username"] for row in body] == ["sdr1", "sdr2"]
    first = body[0]
    assert set(first) == REP_KEYS
    assert (first["team"], first["available"], first["capacity"], first["open_load"]) == ("inside-sales", True, 5, 2)
    assert (first["territories"], first["specialties"]) == (["DACH"], ["Manufacturing"])
    assert (body[1]["open_load"], body[1]["weight"]) == (0, 2)


def test_list_runs_a_fixed_number_of_queries(api_as, admin_user, team):
    client = api_as(admin_user)
    with CaptureQueriesContext(connection) as few:
        assert client.get(rep_url()).status_code == 200
    for number in range(6):
        user = UserFactory(username=f"extra{number}", role=Role.SDR)
        Rep.objects.create(user=user, team=team)
        LeadFactory.create_batch(2, stage=Stage.MQL, owner=user)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(rep_url()).json()) == 8
    assert len(many) == len(few)


def test_a_token_of_a_manager_works(manager, team):
    assert token_client("manager").get(rep_url()).status_code == 200


def test_without_credentials_it_is_401_with_a_challenge(api, team):
    response = api.get(rep_url())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert api.patch(rep_url("sdr1"), {"available": False}, format="json").status_code == 401
    assert snapshot("sdr1")[0] is True


@pytest.mark.parametrize("role", ["sdr", "marketing"])
def test_sdrs_and_marketing_may_not_list_reps(api_as, users_by_role, team, role):
    response = api_as(users_by_role[role]).get(rep_url())
    assert response.status_code == 403
    assert response.json()["detail"]


@pytest.fixture
def users_by_role(marketing, sdr):
    return {"marketing": marketing, "sdr": sdr}


# --- changing -------------------------------------------------------------------------------------------


def test_manager_marks_a_rep_unavailable(api_as, manager, team):
    response = api_as(manager).patch(rep_url("sdr1"), {"available": False}, format="json")
    assert response.status_code == 200
    assert response.json()["available"] is False
    assert snapshot("sdr1") == (False, 5, None, None)


def test_admin_sets_capacity_and_out_of_office_dates(api_as, admin_user, team):
    response = api_as(admin_user).patch(rep_url("sdr2"), {
        "capacity": 12, "out_of_office_from": "2026-12-21", "out_of_office_until": "2027-01-02",
    }, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["capacity"], body["out_of_office_from"], body["out_of_office_until"]) == (
        12, "2026-12-21", "2027-01-02"
    )
    assert snapshot("sdr2") == (True, 12, dt.date(2026, 12, 21), dt.date(2027, 1, 2))


def test_out_of_office_until_alone_means_away_from_now_and_null_means_present(api_as, manager, team):
    Rep.objects.filter(user__username="sdr1").update(out_of_office_from=dt.date(2030, 1, 1),
                                                     out_of_office_until=dt.date(2030, 1, 9))
    client = api_as(manager)
    body = client.patch(rep_url("sdr1"), {"out_of_office_until": "2099-01-01"}, format="json").json()
    assert (body["out_of_office_from"], body["out_of_office_until"], body["out_of_office"]) == (
        None, "2099-01-01", True
    )
    body = client.patch(rep_url("sdr1"), {"out_of_office_until": None}, format="json").json()
    assert (body["out_of_office_from"], body["out_of_office_until"], body["out_of_office"]) == (None, None, False)


def test_a_sessions_patch_needs_nothing_but_the_fields(client, manager, team):
    client.force_login(manager)
    response = client.patch(rep_url("sdr1"), data='{"capacity": 3}', content_type="application/json")
    assert response.status_code == 200
    assert rep("sdr1").capacity == 3


@pytest.mark.parametrize(
    "body, field",
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": "many"}, "capacity"),
        ({"capacity": 10_001}, "capacity"),
        ({"available": "perhaps"}, "available"),
        ({"available": None}, "available"),
        ({"out_of_office_until": "next week"}, "out_of_office_until"),
        ({"out_of_office_from": "2027-01-02", "out_of_office_until": "2026-12-21"}, "out_of_office_until"),
        ({"team": "field"}, "team"),
        ({"is_available": False}, "is_available"),
    ],
)
def test_bad_values_are_a_400_naming_the_field_and_change_nothing(api_as, manager, team, body, field):
    before = snapshot("sdr1")
    response = api_as(manager).patch(rep_url("sdr1"), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert snapshot("sdr1") == before


def test_a_body_that_is_no_object_is_a_400(api_as, manager, team):
    response = api_as(manager).patch(rep_url("sdr1"), [1, 2], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["errors"]


@pytest.mark.parametrize("role", ["sdr", "marketing"])
def test_sdrs_and_marketing_may_not_change_presence(api_as, users_by_role, team, role):
    before = snapshot("sdr1")
    response = api_as(users_by_role[role]).patch(rep_url("sdr1"), {"available": False}, format="json")
    assert response.status_code == 403
    assert snapshot("sdr1") == before


def test_an_sdr_may_not_even_change_their_own_presence(api_as, sdr, team):
    response = api_as(sdr).patch(rep_url("sdr1"), {"capacity": 500}, format="json")
    assert response.status_code == 403
    assert rep("sdr1").capacity == 5


def test_an_unknown_username_is_404(api_as, manager, team):
    response = api_as(manager).patch(rep_url("nobody"), {"available": False}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_an_sdr_gets_403_for_an_unknown_username_too(api_as, sdr, team):
    assert api_as(sdr).patch(rep_url("nobody"), {"available": False}, format="json").status_code == 403


def test_put_and_delete_are_not_allowed(api_as, manager, team):
    client = api_as(manager)
    assert client.put(rep_url("sdr1"), {"available": False}, format="json").status_code == 405
    assert client.delete(rep_url("sdr1")).status_code == 405
    assert Rep.objects.filter(user__username="sdr1").exists()
