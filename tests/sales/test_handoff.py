"""The SDR-to-AE hand-off: routing's rules and invariants for opportunities, and who is told."""

import threading
from collections import Counter

import pytest
from django.db import connection

from core.vocabulary import Role, SalesOutcome
from leads.models import Notification
from routing import policy
from routing.models import Team
from sales import handoff
from sales.models import Contact, Opportunity
from tests.factories import UserFactory
from tests.sales.helpers import closing_team, sql_lead


def test_hand_off_routes_to_an_ae_keeps_sourced_by_and_notifies_both(sdr):
    _team, reps = closing_team("ae1", "ae2")
    for rep, (first, last) in zip(reps, [("Anna", "Ebert"), ("Arne", "Eck")], strict=True):
        rep.user.first_name, rep.user.last_name = first, last
        rep.user.save()
    lead = sql_lead(sdr)
    opportunity = handoff.hand_off(lead_id=lead.pk)
    assert opportunity.owner.username in {"ae1", "ae2"}
    assert opportunity.sourced_by == sdr
    assert opportunity.assignment["rule"] == "SQLs to closing"
    assert "round-robin" in opportunity.assignment["reason"]
    assert Contact.objects.filter(lead=lead, account=lead.account).exists()
    told = set(Notification.objects.filter(lead=lead).values_list("user__username", flat=True))
    assert told == {opportunity.owner.username, "sdr1"}
    ae = opportunity.owner
    to_sdr = Notification.objects.get(lead=lead, user=sdr).message
    assert ae.get_full_name() and ae.get_full_name() in to_sdr  # people by name, not username


def test_hand_off_is_idempotent(sdr):
    closing_team("ae1", "ae2")
    lead = sql_lead(sdr)
    first = handoff.hand_off(lead_id=lead.pk)
    assert handoff.hand_off(lead_id=lead.pk) == first
    assert Opportunity.objects.filter(lead=lead).count() == 1
    assert Notification.objects.filter(lead=lead).count() == 2


def test_without_a_closing_team_nothing_is_handed_off(sdr):
    lead = sql_lead(sdr)
    assert handoff.on_transition(lead_id=lead.pk, transition="qualify") is None
    assert not Opportunity.objects.exists()
    assert not Notification.objects.exists()


def test_rules_for_closing_teams_do_not_route_mqls(sdr):
    closing_team("ae1")
    from routing import selectors

    assert [r.name for r in selectors.rule_specs(policy.TEAM_CLOSING)] == ["SQLs to closing"]
    assert "SQLs to closing" not in [r.name for r in selectors.rule_specs()]


def test_rotation_is_fair_between_aes(sdr):
    closing_team("ae1", "ae2", "ae3")
    owners = Counter(handoff.hand_off(lead_id=sql_lead(sdr, email=f"x{i}@acme.de").pk).owner.username for i in range(9))
    assert owners == {"ae1": 3, "ae2": 3, "ae3": 3}


def test_capacity_full_sends_to_the_closing_pool_and_tells_the_manager(sdr, manager):
    closing_team("ae1", capacity=1, manager=manager)
    first = handoff.hand_off(lead_id=sql_lead(sdr, email="a@acme.de").pk)
    second = handoff.hand_off(lead_id=sql_lead(sdr, email="b@acme.de").pk)
    assert first.owner.username == "ae1"
    assert second.owner is None and second.team.kind == policy.TEAM_CLOSING
    assert Notification.objects.filter(user=manager, key=f"handoff:{second.pk}:pool").exists()


def test_team_set_to_open_opportunity_does_not_hand_off_on_qualify(sdr):
    from routing.models import Rep

    sdr_team = Team.objects.create(name="SDR", slug="sdr", hand_off_on="open_opportunity")
    Rep.objects.create(user=sdr, team=sdr_team)
    closing_team("ae1")
    lead = sql_lead(sdr)
    assert handoff.on_transition(lead_id=lead.pk, transition="qualify") is None
    assert Contact.objects.filter(lead=lead).exists()
    assert handoff.on_transition(lead_id=lead.pk, transition="open_opportunity").owner.username == "ae1"


def test_first_meeting_sla_clock_runs_when_the_team_sets_it(sdr):
    team, _ = closing_team("ae1")
    team.first_meeting_sla_hours = 24
    team.save()
    opportunity = handoff.hand_off(lead_id=sql_lead(sdr).pk)
    assert opportunity.first_meeting_due_at is not None
    assert opportunity.first_meeting_due_at > opportunity.created_at


@pytest.mark.django_db(transaction=True)
def test_concurrent_hand_offs_rotate_fairly_and_keep_capacity():
    sdr = UserFactory(username="racer-sdr", role=Role.SDR)
    closing_team("ae1", "ae2", capacity=3)
    leads = [sql_lead(sdr, email=f"race{i}@acme.de") for i in range(8)]
    barrier = threading.Barrier(len(leads))
    errors = []

    def run(lead_id):
        try:
            barrier.wait()
            handoff.hand_off(lead_id=lead_id)
        except Exception as error:  # noqa: BLE001 - counted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(lead.pk,)) for lead in leads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    owners = Counter(Opportunity.objects.filter(outcome=SalesOutcome.OPEN).values_list("owner__username", flat=True))
    assert owners == {"ae1": 3, "ae2": 3, None: 2}
