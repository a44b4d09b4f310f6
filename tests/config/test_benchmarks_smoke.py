"""The benchmark code works: the generator at a tiny size, then one benchmark in quick mode.

Only that figures come out is checked, never how fast anything was (benchmarks are not tests).
"""

import pytest

from benchmarks import generate, rescoring
from benchmarks.common import Context
from leads.models import Activity, Lead, LeadTransition


@pytest.mark.django_db
def test_it_generates_a_tiny_history_and_measures_rescoring():
    meta = generate.generate(leads=300, seed=7, verbose=False)

    assert Lead.objects.count() == 300
    assert Activity.objects.count() >= 300
    assert LeadTransition.objects.exists()
    assert set(Lead.objects.values_list("stage", flat=True)) >= {"known", "mql", "sal", "customer"}

    result = rescoring.run(Context(leads=300, quick=True, meta=meta))

    assert result.status == "ok"
    assert result.figure.value > 0
    assert result.reference.value > 0
    labels = {detail.label for detail in result.details}
    assert labels >= {"all changed: leads rescored", "all changed: wall time", "few changed: leads rescored",
                      "few changed: lead rows whose score changed (written)"}
    changed = next(d.value for d in result.details if d.label == "all changed: lead rows whose score changed (written)")
    assert changed == 300  # every stored score was moved first: every lead row is rewritten
    history = next(d.value for d in result.details if d.label == "field history rows the rescoring wrote (goal 0)")
    assert history == 0  # the field history tracks the editable fields only


@pytest.mark.django_db
def test_a_recorded_capture_replays_the_same_writes_with_fresh_values():
    from django.db import connection

    from benchmarks import same_writes
    from capture import submissions as capture
    from leads.models import Submission
    from privacy.models import ConsentEvent

    payload = {"email": "swtoken1@firma.example", "first_name": "Q", "company": "Firma GmbH", "consent": True,
               "activity": {"kind": "form_submit"}}
    _result, recording = same_writes.record(
        lambda: capture.submit(channel="api", payload=payload, idempotency_key="swtoken1-key"), token="swtoken1")
    before = {"leads": Lead.objects.count(), "activities": Activity.objects.count(),
              "submissions": Submission.objects.count(), "consent": ConsentEvent.objects.count()}

    with connection.cursor() as cursor:
        recording.replay(cursor, token="swtoken2")
        recording.replay(cursor, token="swtoken3")

    assert "leads_lead" in recording.tables_written()
    replayed = Lead.objects.get(email_normalized="swtoken2@firma.example")
    assert Lead.objects.filter(email_normalized="swtoken3@firma.example").exists()
    assert Activity.objects.filter(lead=replayed).count() == 1  # the new lead's id went into its activity
    assert Submission.objects.filter(lead=replayed).exists()
    assert Lead.objects.count() == before["leads"] + 2
    assert Submission.objects.count() == before["submissions"] + 2
    assert ConsentEvent.objects.count() == before["consent"] + 2


@pytest.mark.django_db
def test_the_generated_consent_is_a_consent_log_its_summaries_agree_with():
    from privacy import consent
    from privacy.models import ConsentEvent

    generate.generate(leads=100, seed=7, verbose=False)

    events = ConsentEvent.objects.all()
    assert 0 < events.count() < 100 and set(events.values_list("kind", "method")) == {("given", "web_form")}
    assert all(consent.proof_matches(event) for event in events)
    for lead_id, summary in Lead.objects.values_list("pk", "consent_status"):
        assert summary == consent.summary(consent.statuses(lead_id)), lead_id
