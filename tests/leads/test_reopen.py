"""Re-entry: `reopen` takes a lost or disqualified lead back to known; a new hot-intent activity does it as
the system and the MQL hand-off follows; a customer's new request is an expansion signal."""

import datetime as dt

import pytest
from django.utils import timezone

from core.vocabulary import NotificationKind, Stage
from leads import activities, lifecycle
from leads.models import Lead, LeadTransition, Notification
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db

CLOSED_AT = timezone.now() - dt.timedelta(days=30)


def reload(lead):
    return Lead.objects.get(pk=lead.pk)


def closed(stage, **fields):
    return LeadFactory(stage=stage, stage_entered_at=CLOSED_AT, **fields)


@pytest.mark.parametrize("stage", [Stage.LOST, Stage.DISQUALIFIED])
def test_marketing_reopens_after_new_activity_with_a_reason(stage, marketing, sdr):
    lead = closed(stage, owner=sdr)
    ActivityFactory(lead=lead, kind="download", occurred_at=timezone.now())
    lifecycle.fire(lead_id=lead.pk, name="reopen", by=marketing, inputs={"reason": "New project, new budget"})
    lead = reload(lead)
    assert (lead.stage, lead.owner, lead.stage_reason) == (Stage.KNOWN, None, "New project, new budget")
    entry = LeadTransition.objects.get(lead=lead, name="reopen")
    assert (entry.source, entry.target, entry.actor, entry.reason) == (stage, "known", marketing,
                                                                       "New project, new budget")


@pytest.mark.parametrize("stage", [Stage.LOST, Stage.DISQUALIFIED])
def test_reopen_is_refused_without_activity_since_the_close_and_without_a_reason(stage, marketing):
    lead = closed(stage)
    ActivityFactory(lead=lead, kind="download", occurred_at=CLOSED_AT - dt.timedelta(days=1))
    with pytest.raises(lifecycle.TransitionRefused) as refused:
        lifecycle.fire(lead_id=lead.pk, name="reopen", by=marketing, inputs={})
    assert {u.code for u in refused.value.unmet} == {"no_new_activity", "reason_missing"}
    assert reload(lead).stage == stage
    assert not LeadTransition.objects.filter(lead=lead).exists()


def test_reopen_is_not_for_open_leads(marketing):
    lead = LeadFactory(stage=Stage.SAL)
    with pytest.raises(lifecycle.TransitionRefused):
        lifecycle.fire(lead_id=lead.pk, name="reopen", by=marketing, inputs={"reason": "x"})
    assert reload(lead).stage == Stage.SAL


def test_an_sdr_may_not_reopen(sdr):
    lead = closed(Stage.LOST, owner=sdr)
    ActivityFactory(lead=lead, kind="call", occurred_at=timezone.now())
    assert "reopen" not in lifecycle.available_transitions(sdr, lead)
    with pytest.raises(lifecycle.NotPermitted):
        lifecycle.fire(lead_id=lead.pk, name="reopen", by=sdr, inputs={"reason": "x"})


@pytest.mark.parametrize("stage", [Stage.LOST, Stage.DISQUALIFIED])
def test_a_new_demo_request_reopens_as_the_system_and_hands_off(stage, sdr):
    lead = closed(stage, owner=sdr, score=0)
    activity = ActivityFactory(lead=lead, kind="demo_request", occurred_at=timezone.now())
    activities.after_activity(lead_id=lead.pk, activity=activity)
    lead = reload(lead)
    assert lead.stage == Stage.MQL
    names = list(LeadTransition.objects.filter(lead=lead).exclude(name="assign").values_list("name", "actor"))
    assert names == [("reopen", None), ("mark_mql", None)]
    assert "Demo request" in LeadTransition.objects.get(lead=lead, name="reopen").reason


def test_a_page_view_does_not_reopen(sdr):
    lead = closed(Stage.LOST, owner=sdr)
    activity = ActivityFactory(lead=lead, kind="page_view", occurred_at=timezone.now())
    activities.after_activity(lead_id=lead.pk, activity=activity)
    assert reload(lead).stage == Stage.LOST
    assert not LeadTransition.objects.filter(lead=lead).exists()


def test_a_customers_new_demo_request_is_an_expansion_signal_for_the_owner(sdr):
    lead = closed(Stage.CUSTOMER, owner=sdr)
    activity = ActivityFactory(lead=lead, kind="contact_request", occurred_at=timezone.now())
    activities.after_activity(lead_id=lead.pk, activity=activity)
    assert reload(lead).stage == Stage.CUSTOMER
    assert not LeadTransition.objects.filter(lead=lead).exists()
    note = Notification.objects.get(lead=lead)
    assert (note.user, note.kind) == (sdr, NotificationKind.EXPANSION)
    assert not Notification.objects.filter(lead=lead, kind=NotificationKind.HOT_INTENT).exists()


def test_the_lead_page_offers_reopen_to_marketing_with_a_reason_field(client, marketing):
    from django.urls import reverse

    from tests.pages import as_user, text

    lead = closed(Stage.LOST)
    ActivityFactory(lead=lead, kind="download", occurred_at=timezone.now())
    page = text(as_user(client, marketing).get(reverse("leads:detail", args=[lead.pk])))
    assert 'name="reopen-reason"' in page
    response = as_user(client, marketing).post(reverse("leads:transition", args=[lead.pk, "reopen"]),
                                               {"reopen-reason": "New budget year"})
    assert response.status_code in (200, 302)
    assert reload(lead).stage == Stage.KNOWN
