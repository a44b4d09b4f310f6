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
    assert {detail.label for detail in result.details} >= {"leads rescored", "wall time"}


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
