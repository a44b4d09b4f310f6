"""Concurrency: many simultaneous claims of one lead give exactly one owner, every time."""

import threading

import pytest
from django.db import connection

from core.errors import Conflict, NotPermitted
from core.vocabulary import Role, Stage
from leads import lifecycle
from leads.models import Lead, LeadTransition
from tests.factories import LeadFactory, UserFactory

CLAIMANTS = 8
ROUNDS = 15


def race(functions):
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)

    def run(index, function):
        try:
            barrier.wait()
            results[index] = function()
        except Exception as error:  # noqa: BLE001 - the outcome is what we count
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_claims_give_exactly_one_owner_every_time():
    sdrs = [UserFactory(username=f"racer{i}", role=Role.SDR) for i in range(CLAIMANTS)]
    for _round in range(ROUNDS):
        lead = LeadFactory(stage=Stage.MQL, owner=None)
        results = race([lambda sdr=sdr, lead=lead: lifecycle.claim(lead_id=lead.pk, by=sdr) for sdr in sdrs])
        winners = [r for r in results if isinstance(r, Lead)]
        conflicts = [r for r in results if isinstance(r, Conflict)]
        assert (len(winners), len(conflicts)) == (1, CLAIMANTS - 1), results
        owner = Lead.objects.get(pk=lead.pk).owner
        assert owner == winners[0].owner
        assert LeadTransition.objects.filter(lead=lead, name="claim").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_accepts_of_a_pool_lead_leave_one_owner_and_one_accept():
    sdrs = [UserFactory(username=f"acceptor{i}", role=Role.SDR) for i in range(4)]
    lead = LeadFactory(stage=Stage.MQL, owner=None)
    results = race([lambda sdr=sdr: lifecycle.fire(lead_id=lead.pk, name="accept", by=sdr) for sdr in sdrs])
    assert len([r for r in results if isinstance(r, Lead)]) == 1
    assert all(isinstance(r, (Lead, NotPermitted, lifecycle.TransitionRefused)) for r in results)
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.stage == Stage.SAL
    assert LeadTransition.objects.filter(lead=lead, name="accept").count() == 1
    assert LeadTransition.objects.filter(lead=lead, name="claim").count() == 1
