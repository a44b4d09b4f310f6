"""The capture service behind every channel: validation, dedup, idempotency, consent, stitching, recovery."""

import datetime as dt

import pytest
from django.utils import timezone

from capture import submissions as capture
from core.vocabulary import ConsentStatus, Stage
from leads.models import Activity, Lead, LeadTransition, Submission, Visitor
from privacy.models import ConsentEvent
from tests.factories import CampaignFactory, CaptureFormFactory, LeadFactory
from tests.idempotency import holding_key

pytestmark = pytest.mark.django_db


def submit(payload, **kwargs):
    return capture.submit(channel=kwargs.pop("channel", "api"), payload=payload, **kwargs)


def test_a_new_lead_is_created_with_its_source_and_touchpoint():
    campaign = CampaignFactory(slug="dmexco-2026")
    result = submit({"email": " Max.Mustermann@Beispiel.DE ", "first_name": "Max", "company_size": 250,
                     "country": "de", "phone": "089 1234567", "campaign": "dmexco-2026", "source": "event",
                     "utm_source": "fair"})
    assert result.status == 201
    lead = Lead.objects.get()
    assert result.body == {"id": lead.pk, "created": True, "stage": "known", "score": lead.score, "owner": None}
    assert lead.fit_score > 0 and lead.score_model_version == 1  # company size >= 50 is a fit rule
    assert (lead.email_normalized, lead.country, lead.phone, lead.source, lead.campaign) == (
        "max.mustermann@beispiel.de", "DE", "+49891234567", "event", campaign)
    assert lead.company_domain == "beispiel.de"
    assert Activity.objects.get(lead=lead).kind == "form_submit"
    assert Submission.objects.get().outcome == Submission.Outcome.CREATED


def test_a_known_email_merges_and_fills_only_empty_fields():
    first = submit({"email": "anna@firma.de", "first_name": "Anna", "company": "Firma GmbH"})
    second = submit({"email": "ANNA@firma.de", "first_name": "Annette", "job_title": "CFO"})
    assert (second.status, second.body["created"], second.body["id"]) == (200, False, first.lead.pk)
    lead = Lead.objects.get()
    assert (lead.first_name, lead.company, lead.job_title) == ("Anna", "Firma GmbH", "CFO")
    assert lead.activities.count() == 2
    assert list(Submission.objects.order_by("id").values_list("outcome", flat=True)) == ["created", "merged"]


def test_bad_input_names_every_field_and_writes_no_lead():
    result = submit({"email": "not-an-email", "phone": "12", "country": "Atlantis", "company_size": "many",
                     "first_name": 42, "last_name": "x" * 101, "website": "not a url", "source": "tv",
                     "campaign": "nope", "consent": "maybe", "activity": {"kind": "teleport"}, "colour": "red"})
    assert result.status == 400
    assert set(result.body["errors"]) == {
        "email", "phone", "country", "company_size", "first_name", "last_name", "website", "source",
        "campaign", "consent", "activity.kind", "colour",
    }
    assert not Lead.objects.exists()
    assert not Activity.objects.exists()
    rejected = Submission.objects.get()
    assert (rejected.outcome, rejected.response_status) == (Submission.Outcome.REJECTED, 400)


def test_missing_email_is_required():
    result = submit({"first_name": "Ohne"})
    assert result.body["errors"]["email"] == ["An e-mail address is required."]


def test_a_json_array_is_refused_clearly():
    result = submit(["email", "x@y.de"])
    assert result.status == 400
    assert "non_field_errors" in result.body["errors"]


def test_demo_request_makes_an_mql_in_the_same_request():
    result = submit({"email": "hot@kunde.de", "activity": {"kind": "demo_request"}})
    assert result.body["stage"] == "mql"
    assert LeadTransition.objects.get(lead_id=result.body["id"]).actor is None


def test_idempotency_key_replays_the_first_response_without_a_second_effect():
    payload = {"email": "idem@firma.de"}
    first = submit(payload, idempotency_key="k-1")
    again = submit(payload, idempotency_key="k-1")
    assert (again.status, again.body) == (first.status, first.body) == (201, again.body)
    assert Lead.objects.count() == 1
    assert Activity.objects.count() == 1
    assert Submission.objects.count() == 1


def test_idempotency_key_with_a_different_body_is_422():
    submit({"email": "idem@firma.de"}, idempotency_key="k-2")
    other = submit({"email": "other@firma.de"}, idempotency_key="k-2")
    assert other.status == 422
    assert Lead.objects.count() == 1


def test_idempotency_keys_are_scoped_per_form():
    form_a, form_b = CaptureFormFactory(), CaptureFormFactory()
    submit({"email": "a@firma.de"}, idempotency_key="same", form=form_a)
    other = submit({"email": "b@firma.de"}, idempotency_key="same", form=form_b)
    assert other.status == 201


def test_a_request_still_in_flight_answers_409():
    Submission.objects.create(channel="api", idempotency_scope="anonymous", idempotency_key="k-3",
                              payload_hash=capture.payload_hash({"email": "x@firma.de"}),
                              payload={"email": "x@firma.de"})
    with holding_key("anonymous", "k-3"):  # the first request's session is alive
        result = submit({"email": "x@firma.de"}, idempotency_key="k-3")
    assert result.status == 409
    assert not Lead.objects.exists()


def test_a_request_whose_key_another_live_request_holds_stores_nothing_and_answers_409():
    """The holder has the key but has not stored its submission yet: the second request must neither
    store one nor take over (two processings of one submission would capture twice)."""
    with holding_key("anonymous", "k-race"):
        result = submit({"email": "x@firma.de"}, idempotency_key="k-race")
    assert result.status == 409
    assert not Submission.objects.exists() and not Lead.objects.exists()


def test_a_processing_failure_finishes_the_submission_as_rejected_with_the_error(monkeypatch):
    """A bug or a value the database refuses must not leave the row `received` (it would poison recovery)."""
    def broken(*args, **kwargs):
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(capture, "clean_capture", broken)
    result = submit({"email": "x@firma.de"})
    assert result.status == 400
    submission = Submission.objects.get()
    assert submission.outcome == Submission.Outcome.REJECTED
    assert "TypeError" in submission.errors["non_field_errors"][0]
    assert not Lead.objects.exists()


def test_a_stale_in_flight_request_is_taken_over_and_finished(settings):
    settings.IDEMPOTENCY_STALE_SECONDS = 60
    Submission.objects.create(channel="api", idempotency_scope="anonymous", idempotency_key="k-4",
                              payload_hash=capture.payload_hash({"email": "x@firma.de"}),
                              payload={"email": "x@firma.de"},
                              received_at=timezone.now() - dt.timedelta(minutes=5))
    result = submit({"email": "x@firma.de"}, idempotency_key="k-4")
    assert result.status == 201
    assert Submission.objects.get().outcome == Submission.Outcome.CREATED


def test_recovery_finishes_submissions_whose_processing_died(settings):
    settings.IDEMPOTENCY_STALE_SECONDS = 60
    stuck = Submission.objects.create(channel="web_form", payload_hash="x", payload={"email": "lost@firma.de"},
                                      received_at=timezone.now() - dt.timedelta(minutes=3))
    fresh = Submission.objects.create(channel="web_form", payload_hash="y", payload={"email": "new@firma.de"})
    assert capture.recover_stale() == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert (stuck.outcome, stuck.lead.email) == (Submission.Outcome.CREATED, "lost@firma.de")
    assert fresh.outcome == Submission.Outcome.RECEIVED
    assert capture.recover_stale() == 0


def test_spam_is_recorded_and_creates_nothing():
    result = submit({"email": "bot@spam.de"}, is_spam=True, channel="web_form")
    assert result.status == 200
    assert Submission.objects.get().outcome == Submission.Outcome.SPAM
    assert not Lead.objects.exists()


def test_the_form_gives_source_campaign_and_consent_wording():
    campaign = CampaignFactory(slug="webinar")
    form = CaptureFormFactory(campaign=campaign, source="web_form", consent_wording="Ja, informiert mich.",
                              double_opt_in=True)
    result = submit({"email": "c@firma.de", "consent": True}, form=form, channel="web_form",
                    ip_address="203.0.113.9", user_agent="UA")
    lead = result.lead
    assert (lead.source, lead.campaign, lead.capture_form) == ("web_form", campaign, form)
    consent = ConsentEvent.objects.get(lead=lead, kind="given")
    assert (consent.wording, consent.ip_address, consent.channel) == ("Ja, informiert mich.", "203.0.113.9",
                                                                      "web_form")
    assert lead.consent_status == ConsentStatus.PENDING


def test_a_visitor_identifying_itself_brings_its_earlier_activity():
    visitor = Visitor.objects.create(anonymous_id="visitor-abc-123")
    Activity.objects.create(visitor=visitor, kind="pricing_view", url="https://x.de/preise")
    result = submit({"email": "v@firma.de", "visitor_id": "visitor-abc-123"})
    visitor.refresh_from_db()
    assert visitor.lead_id == result.lead.pk
    assert set(result.lead.activities.values_list("kind", flat=True)) == {"pricing_view", "form_submit"}


def test_a_disqualified_lead_gets_the_touchpoint_but_stays_disqualified_without_hot_intent():
    lead = LeadFactory(email="gone@firma.de", stage=Stage.DISQUALIFIED)
    result = submit({"email": "gone@firma.de", "activity": {"kind": "download"}})
    assert (result.status, result.body["stage"]) == (200, "disqualified")
    assert lead.activities.count() == 1


def test_a_disqualified_lead_asking_for_a_demo_is_reopened_and_handed_off():
    # was: "stays disqualified" (only an alert); issue 14 item 2 reopens it as the system
    lead = LeadFactory(email="gone@firma.de", stage=Stage.DISQUALIFIED)
    result = submit({"email": "gone@firma.de", "activity": {"kind": "demo_request"}})
    assert (result.status, result.body["stage"]) == (200, "mql")
    assert list(lead.transitions.exclude(name__in=["assign"]).values_list("name", "source", "target", "actor")) == [
        ("reopen", "disqualified", "known", None), ("mark_mql", "known", "mql", None),
    ]


def _anonymous_pricing_views(anonymous_id, days_ago):
    visitor = Visitor.objects.create(anonymous_id=anonymous_id)
    for days in days_ago:
        Activity.objects.create(visitor=visitor, kind="pricing_view", url="https://x.de/preise",
                                occurred_at=timezone.now() - dt.timedelta(days=days))


def test_stitched_pricing_views_count_for_hot_intent_at_identification(manager):
    from core.vocabulary import NotificationKind
    from leads.models import Notification

    _anonymous_pricing_views("visitor-hot-0001", [6, 3, 1])  # three in a week, all before the form
    result = submit({"email": "hot@firma.de", "visitor_id": "visitor-hot-0001"})
    assert result.body["stage"] == "mql"
    assert LeadTransition.objects.filter(lead=result.lead, name="mark_mql", actor=None).count() == 1
    assert Notification.objects.filter(lead=result.lead, kind=NotificationKind.HOT_INTENT).exists()


def test_stitched_pricing_views_spread_over_more_than_a_week_are_no_hot_intent():
    _anonymous_pricing_views("visitor-cool-001", [20, 10, 1])
    result = submit({"email": "cool@firma.de", "visitor_id": "visitor-cool-001"})
    assert result.body["stage"] == "known"
    assert not LeadTransition.objects.filter(lead=result.lead).exists()


def test_an_activity_time_in_the_future_is_refused():
    future = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    result = submit({"email": "f@firma.de", "activity": {"kind": "download", "occurred_at": future}})
    assert result.body["errors"] == {"activity.occurred_at": ["The time lies in the future."]}
