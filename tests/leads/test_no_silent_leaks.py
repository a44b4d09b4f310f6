"""No silent leaks: after a scoring model activation and after the nightly decay run, every lead that now
crosses the MQL threshold is handed off as a live activity would do it (issue 14, item 3)."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from django_q.conf import Conf

from core.vocabulary import Stage
from leads import scores, tasks
from leads.models import Lead, LeadTransition
from scoring import versioning
from scoring.models import ScoringModel, ScoringRule
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db

FIT_30 = {"company_size": 500, "industry": "Software", "job_title": "CEO"}  # 10 + 10 + 10 in the default model


def handed_off(leads):
    return set(LeadTransition.objects.filter(lead__in=leads, name="mark_mql", actor=None)
               .values_list("lead_id", flat=True))


@pytest.fixture
def fitting(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)
    leads = [LeadFactory(**FIT_30) for _ in range(3)]
    weak = LeadFactory(company_size=5)
    working = LeadFactory(stage=Stage.SAL, **FIT_30)  # crosses too, but is with sales already
    scores.rescore_all()
    assert {Lead.objects.get(pk=lead.pk).score for lead in leads} == {30}  # below the threshold of 50
    return leads, weak, working


def test_activating_a_lower_threshold_hands_off_exactly_what_the_what_if_said(
        fitting, django_capture_on_commit_callbacks):
    leads, weak, working = fitting
    draft = versioning.new_draft_from(ScoringModel.active())
    ScoringModel.objects.filter(pk=draft.pk).update(mql_threshold=30)
    draft.refresh_from_db()
    counts = scores.what_if(draft.to_spec())
    assert (counts["newly_reaching"], counts["newly_reaching_any_stage"]) == (3, 4)

    with django_capture_on_commit_callbacks(execute=True):
        versioning.activate(draft)

    assert handed_off([*leads, weak, working]) == {lead.pk for lead in leads}
    assert len(handed_off([*leads, weak, working])) == counts["newly_reaching"]
    for lead in leads:
        lead = Lead.objects.get(pk=lead.pk)
        assert lead.stage == Stage.MQL and lead.became_mql_at is not None
        assert lead.assignment  # routed (to a rep or the pool), with the decision kept
    assert Lead.objects.get(pk=weak.pk).stage == Stage.KNOWN
    assert Lead.objects.get(pk=working.pk).stage == Stage.SAL


def test_a_second_run_hands_off_nobody_again(fitting, django_capture_on_commit_callbacks):
    leads, _weak, _working = fitting
    draft = versioning.new_draft_from(ScoringModel.active())
    ScoringModel.objects.filter(pk=draft.pk).update(mql_threshold=30)
    with django_capture_on_commit_callbacks(execute=True):
        model = versioning.activate(draft)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.rescore_all(model.pk)
    assert LeadTransition.objects.filter(lead__in=leads, name="mark_mql").count() == 3


def test_the_nightly_run_hands_off_a_lead_whose_score_rose_with_decay(
        fitting, django_capture_on_commit_callbacks):
    leads, _weak, _working = fitting
    draft = versioning.new_draft_from(ScoringModel.active())
    ScoringModel.objects.filter(pk=draft.pk).update(mql_threshold=30)
    ScoringRule.objects.create(model=draft, position=200, name="Unsubscribed lately", group="engagement",
                               activity_kind="email_open", points=-10, max_occurrences=1, half_life_days=1)
    now = timezone.now()
    ActivityFactory(lead=leads[0], kind="email_open", occurred_at=now)  # 30 - 10: below 30 today
    with django_capture_on_commit_callbacks(execute=True):
        model = versioning.activate(draft)
    assert Lead.objects.get(pk=leads[0].pk).stage == Stage.KNOWN
    assert handed_off(leads) == {leads[1].pk, leads[2].pk}  # at 30: crossed at the activation
    with time_machine.travel(now + dt.timedelta(days=20)), django_capture_on_commit_callbacks(execute=True):
        tasks.rescore_all()  # the nightly schedule passes no model: the negative points have decayed
    assert Lead.objects.get(pk=leads[0].pk).score_model_version == model.version
    assert handed_off(leads) == {lead.pk for lead in leads}


def test_a_rejected_lead_above_the_threshold_does_not_bounce_back_at_night(
        fitting, django_capture_on_commit_callbacks):
    leads, _weak, _working = fitting
    draft = versioning.new_draft_from(ScoringModel.active())
    ScoringModel.objects.filter(pk=draft.pk).update(mql_threshold=30)
    with django_capture_on_commit_callbacks(execute=True):
        versioning.activate(draft)
    Lead.objects.filter(pk=leads[0].pk).update(stage=Stage.RECYCLED)  # an SDR rejected it: "too early"
    with django_capture_on_commit_callbacks(execute=True):
        tasks.rescore_all()
    assert Lead.objects.get(pk=leads[0].pk).stage == Stage.RECYCLED  # its score did not cross: it stays
    assert LeadTransition.objects.filter(lead=leads[0], name="mark_mql").count() == 1


@pytest.mark.django_db
def test_an_erased_lead_is_never_a_hand_off_candidate():
    kept = LeadFactory(stage=Stage.KNOWN)
    erased = LeadFactory(stage=Stage.KNOWN, email=f"erased-{kept.pk + 1000}@erased.invalid")
    Lead.objects.filter(pk=erased.pk).update(erased_at=timezone.now())
    assert scores.hand_off_candidates([kept.pk, erased.pk]) == [kept.pk]
