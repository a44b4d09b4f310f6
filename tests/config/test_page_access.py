"""Every page against every role: anonymous visitors, the home page, the access matrix."""


import pytest
from django.urls import reverse

from core.vocabulary import Stage
from leads.models import Activity, LeadTransition
from tests.pages import as_user, reload, text

pytestmark = pytest.mark.django_db


# --- anonymous ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [
        ("leads:home", []),
        ("leads:queue", []),
        ("leads:pool", []),
        ("leads:list", []),
        ("capture:create", []),
        ("capture:import", []),
        ("leads:detail", ["lead"]),
    ],
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, own_mql, name, args):
    url = reverse(name, args=[own_mql.pk if arg == "lead" else arg for arg in args])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "name, args",
    [
        ("leads:transition", ["accept"]),
        ("leads:claim", []),
        ("leads:assign", []),
        ("leads:log_activity", []),
    ],
)
def test_anonymous_posts_change_nothing(client, pool_mql, name, args):
    response = client.post(reverse(name, args=[pool_mql.pk, *args]), {"owner": "sdr1", "activity-kind": "call"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert reload(pool_mql).owner is None
    assert not LeadTransition.objects.exists()
    assert not Activity.objects.exists()


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="password"' in text(response)


def test_login_leads_to_the_home_page_of_the_role(client, sdr):
    response = client.post(reverse("login"), {"username": "sdr1", "password": "pw-for-tests-123"})
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:home")


# --- home -----------------------------------------------------------------------------------------------


def test_home_sends_an_sdr_to_the_queue(client, sdr):
    response = as_user(client, sdr).get(reverse("leads:home"))
    assert response["Location"] == reverse("leads:queue")


@pytest.mark.parametrize(
    "role, landing",
    [("marketing", "reporting:dashboard"), ("manager", "leads:team"), ("admin", "attention"), ("sdr", "leads:queue")],
)
def test_home_sends_each_role_to_its_landing_page(client, users, role, landing):
    response = as_user(client, users[role]).get(reverse("leads:home"))
    assert response["Location"] == reverse(landing)
    assert as_user(client, users[role]).get(response["Location"]).status_code == 200


def test_home_sends_a_user_without_a_role_to_the_lead_list(client, db):
    from tests.factories import UserFactory

    response = as_user(client, UserFactory(username="nobody")).get(reverse("leads:home"))
    assert response["Location"] == reverse("leads:list")


# --- every page against every role ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, expected",
    [("marketing", 200), ("manager", 200), ("admin", 200), ("sdr", 200), ("other_sdr", 200)],
)
@pytest.mark.parametrize("name", ["leads:queue", "leads:pool", "leads:list"])
def test_work_pages_open_for_every_role(client, users, name, role, expected):
    response = as_user(client, users[role]).get(reverse(name))
    assert response.status_code == expected


@pytest.mark.parametrize(
    "role, expected",
    [("marketing", 200), ("manager", 200), ("admin", 200), ("sdr", 403), ("other_sdr", 403)],
)
@pytest.mark.parametrize("name", ["capture:create", "capture:import"])
def test_manual_entry_and_import_are_for_staff_only(client, users, name, role, expected):
    response = as_user(client, users[role]).get(reverse(name))
    assert response.status_code == expected


@pytest.mark.parametrize(
    "role, expected",
    [("marketing", 200), ("manager", 200), ("admin", 200), ("sdr", 200), ("other_sdr", 404)],
)
def test_lead_page_is_visible_to_staff_and_its_owner_only(client, users, own_mql, role, expected):
    response = as_user(client, users[role]).get(reverse("leads:detail", args=[own_mql.pk]))
    assert response.status_code == expected
    if expected == 404:
        assert own_mql.email not in text(response)


def test_pool_lead_page_is_visible_to_every_sdr(client, other_sdr, pool_mql):
    response = as_user(client, other_sdr).get(reverse("leads:detail", args=[pool_mql.pk]))
    assert response.status_code == 200


def test_unknown_lead_is_404(client, manager):
    assert as_user(client, manager).get(reverse("leads:detail", args=[999999])).status_code == 404


@pytest.mark.parametrize(
    "name, args, data",
    [
        ("leads:transition", ["recycle"], {"recycle-reason": "no budget"}),
        ("leads:log_activity", [], {"activity-kind": "call", "activity-outcome": "connected"}),
        ("leads:assign", [], {"owner": "sdr1"}),
    ],
)
def test_another_sdrs_lead_is_404_for_every_action(client, sdr, others_lead, name, args, data):
    response = as_user(client, sdr).post(reverse(name, args=[others_lead.pk, *args]), data)
    assert response.status_code == 404
    lead = reload(others_lead)
    assert lead.stage == Stage.SAL and lead.owner.username == "sdr2"
    assert not LeadTransition.objects.exists()
    assert not Activity.objects.exists()


def test_writes_refuse_get(client, sdr, own_mql):
    response = as_user(client, sdr).get(reverse("leads:transition", args=[own_mql.pk, "accept"]))
    assert response.status_code == 405
    assert reload(own_mql).stage == Stage.MQL
