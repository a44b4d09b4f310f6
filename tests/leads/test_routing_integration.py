"""Routing wired into the lifecycle: a new MQL gets its owner in the same request, with a trace."""

import collections
import threading

import pytest
from django.db import connection

from capture import submissions as capture
from core.errors import Conflict
from core.vocabulary import Role, Stage
from leads import lifecycle
from leads.models import Account, Lead, LeadTransition, Notification
from routing.models import Rep, RoutingRule, Team
from tests.factories import LeadFactory, UserFactory


def make_team(*, reps=3, capacity=50, manager=None):
    team = Team.objects.create(name="Inside Sales", slug="inside-sales", manager=manager)
    members = []
    for number in range(1, reps + 1):
        user = UserFactory(username=f"sdr{number}", role=Role.SDR)
        members.append(Rep.objects.create(user=user, team=team, capacity=capacity))
    RoutingRule.objects.create(name="Everyone to inside sales", position=10, target_type="team", target_team=team,
                               method="round_robin")
    return team, members


def hot_capture(number, **fields):
    return capture.submit(channel="api", payload={
        "email": f"buyer{number}@kunde{number}.de", "activity": {"kind": "demo_request"}, **fields})


def owners():
    return collections.Counter(
        Lead.objects.filter(stage=Stage.MQL).values_list("owner__username", flat=True)
    )


@pytest.mark.django_db
def test_thirty_mqls_over_three_reps_end_ten_each():
    make_team()
    for number in range(30):
        assert hot_capture(number).body["stage"] == "mql"
    assert owners() == {"sdr1": 10, "sdr2": 10, "sdr3": 10}


@pytest.mark.django_db
def test_the_capture_response_names_the_owner_and_the_lead_shows_why(api, marketing):
    make_team()
    body = hot_capture(1, country="DE", company_size=500).body
    assert body["owner"] == "sdr1"
    lead = Lead.objects.get(pk=body["id"])
    assert lead.assignment["rule"] == "Everyone to inside sales"
    assert lead.assignment["method"] == "round_robin"
    assert "sdr1" in lead.assignment["reason"]
    api.force_authenticate(marketing)
    detail = api.get(f"/api/v1/leads/{lead.pk}/").json()
    assert detail["assignment"]["rule"] == "Everyone to inside sales"
    assert {"rule", "method", "reason", "at"} <= set(detail["assignment"])
    entry = LeadTransition.objects.get(lead=lead, name="assign")
    assert (entry.actor, entry.data["to_owner"]) == (None, "sdr1")


@pytest.mark.django_db
def test_an_unavailable_rep_gets_none():
    _team, reps = make_team()
    Rep.objects.filter(pk=reps[1].pk).update(is_available=False)
    for number in range(10):
        hot_capture(number)
    assert owners() == {"sdr1": 5, "sdr3": 5}


@pytest.mark.django_db
def test_a_full_rep_gets_none_and_when_all_are_full_the_manager_is_told():
    manager = UserFactory(username="manager", role=Role.MANAGER)
    _team, reps = make_team(capacity=2, manager=manager)
    Rep.objects.filter(pk=reps[0].pk).update(capacity=1)
    LeadFactory(stage=Stage.SAL, owner=reps[0].user)
    for number in range(5):
        hot_capture(number)
    assert owners() == {"sdr2": 2, "sdr3": 2, None: 1}
    pooled = Lead.objects.get(stage=Stage.MQL, owner__isnull=True)
    assert "pool" in pooled.assignment["reason"].lower()
    assert Notification.objects.filter(user=manager, kind="pool", lead=pooled).exists()


@pytest.mark.django_db
def test_a_lead_whose_domain_matches_an_account_goes_to_its_owner():
    team, reps = make_team()
    RoutingRule.objects.filter(target_team=team).update(method="account_owner_first")
    Account.objects.create(domain="grosskunde.de", name="Großkunde AG", owner=reps[2].user)
    body = capture.submit(channel="api", payload={"email": "einkauf@grosskunde.de",
                                                  "activity": {"kind": "demo_request"}}).body
    assert body["owner"] == "sdr3"
    assert Lead.objects.get(pk=body["id"]).assignment["chosen_by"] == "account_owner"


@pytest.mark.django_db
def test_claims_stop_at_capacity(pool_mql):
    team = Team.objects.create(name="T", slug="t")
    user = UserFactory(username="busy", role=Role.SDR)
    Rep.objects.create(user=user, team=team, capacity=1)
    LeadFactory(stage=Stage.SAL, owner=user)
    with pytest.raises(Conflict, match="capacity"):
        lifecycle.claim(lead_id=pool_mql.pk, by=user)
    assert Lead.objects.get(pk=pool_mql.pk).owner is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_mqls_keep_round_robin_within_one_and_never_exceed_capacity():
    make_team(capacity=5)
    errors = []

    def work(numbers):
        try:
            for number in numbers:
                hot_capture(number)
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(range(start, 18, 3),)) for start in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    counts = owners()
    assert counts == {"sdr1": 5, "sdr2": 5, "sdr3": 5, None: 3}
