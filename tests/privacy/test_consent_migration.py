"""privacy 0002: the old consent summary records become events of the consent log, and the model goes.

Each test migrates back to the schema with the records (privacy 0001), writes rows there, and migrates forward.
"""

import datetime as dt
import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from core.vocabulary import ConsentStatus
from leads.models import Lead, LeadTransition, Submission
from leads.quality import dedupe
from privacy import consent
from privacy.models import ConsentEvent
from tests.factories import ActivityFactory, CaptureFormFactory, LeadFactory

BEFORE = [("privacy", "0001_initial")]
AFTER = [("privacy", "0002_consent_into_events")]
T0 = timezone.now().replace(microsecond=0) - dt.timedelta(days=30)
SECOND = dt.timedelta(seconds=1)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_apps(transactional_db):
    """The historical apps with the `Consent` model, its table back; forward to the latest schema afterwards."""
    yield migrate(BEFORE)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def summary_of(lead) -> str:
    return Lead.objects.values_list("consent_status", flat=True).get(pk=lead.pk)


def record(old_apps, lead, **fields):
    wording = fields.pop("wording", "Ja, ich möchte Informationen per E-Mail erhalten.")
    values = {"purpose": "marketing_email", "channel": "web_form", "requested_at": T0} | fields
    return old_apps.get_model("privacy", "Consent").objects.create(
        lead_id=lead.pk, wording=wording, wording_hash=hashlib.sha256(wording.encode()).hexdigest(), **values
    )


def test_a_record_without_events_becomes_its_given_confirmed_and_withdrawn_events(old_apps):
    form = CaptureFormFactory(double_opt_in=True)
    lead = LeadFactory(consent_status=ConsentStatus.CONFIRMED)
    old = record(
        old_apps, lead, capture_form_id=form.pk, channel="api", ip_address="203.0.113.5", user_agent="Client/1.0",
        confirmed_at=T0 + dt.timedelta(hours=1), withdrawn_at=T0 + dt.timedelta(days=2), token_hash="t" * 64,
    )

    migrate(AFTER)

    given, confirmed, withdrawn = ConsentEvent.objects.filter(lead=lead)
    assert (given.kind, given.purpose, given.at, given.requires_confirmation) == ("given", "marketing_email", T0, True)
    assert (given.wording, given.wording_hash, given.capture_form_id) == (old.wording, old.wording_hash, form.pk)
    assert (given.channel, given.method, given.ip_address, given.user_agent) == ("api", "api", "203.0.113.5",
                                                                                "Client/1.0")
    assert consent.proof_matches(given) and given.note == f"Carried over from consent record #{old.pk}"
    assert (confirmed.kind, confirmed.at, confirmed.method) == ("confirmed", old.confirmed_at, "email_link")
    assert (confirmed.token_hash, confirmed.confirmed_at) == ("t" * 64, old.confirmed_at)
    assert (withdrawn.kind, withdrawn.at, withdrawn.method) == ("withdrawn", old.withdrawn_at, "system")
    assert summary_of(lead) == ConsentStatus.WITHDRAWN == consent.summary(consent.statuses(lead.pk))
    assert "leads_consent" not in connection.introspection.table_names()


def test_a_record_from_a_double_opt_in_form_without_confirmation_stays_pending(old_apps):
    doi_lead, plain_lead = LeadFactory(), LeadFactory()
    record(old_apps, doi_lead, capture_form_id=CaptureFormFactory(double_opt_in=True).pk)
    record(old_apps, plain_lead, capture_form_id=CaptureFormFactory(double_opt_in=False).pk)

    migrate(AFTER)

    assert consent.statuses(doi_lead.pk)["marketing_email"] == ConsentStatus.PENDING
    assert consent.statuses(plain_lead.pk)["marketing_email"] == ConsentStatus.GIVEN
    assert (summary_of(doi_lead), summary_of(plain_lead)) == (ConsentStatus.PENDING, ConsentStatus.GIVEN)


def test_records_capture_wrote_next_to_their_events_add_nothing(old_apps):
    by_time, by_submission = LeadFactory(), LeadFactory()
    ConsentEvent.objects.create(lead=by_time, purpose="marketing_email", kind="given", method="web_form",
                                at=T0 + SECOND * 0.4)
    record(old_apps, by_time)
    # A capture that waited for the lock: its event is seconds after the record, but from the same submission.
    submission = Submission.objects.create(channel="web_form", lead=by_submission, payload_hash="p",
                                           received_at=T0 - 5 * SECOND, processed_at=T0 + 10 * SECOND)
    ConsentEvent.objects.create(lead=by_submission, purpose="marketing_email", kind="given", method="web_form",
                                submission=submission, at=T0 + 8 * SECOND)
    record(old_apps, by_submission)

    migrate(AFTER)

    assert ConsentEvent.objects.count() == 2
    assert not ConsentEvent.objects.filter(note__startswith="Carried over").exists()


def test_a_record_is_carried_when_the_log_has_only_another_purpose_or_another_time(old_apps):
    lead = LeadFactory()
    ConsentEvent.objects.create(lead=lead, purpose="newsletter", kind="given", method="web_form", at=T0)
    ConsentEvent.objects.create(lead=lead, purpose="marketing_email", kind="given", method="web_form",
                                at=T0 - dt.timedelta(days=3))
    old = record(old_apps, lead)

    migrate(AFTER)

    carried = ConsentEvent.objects.get(note=f"Carried over from consent record #{old.pk}")
    assert (carried.purpose, carried.kind, carried.at) == ("marketing_email", "given", T0)
    assert ConsentEvent.objects.filter(lead=lead).count() == 3


def test_an_undo_of_an_earlier_merge_moves_the_carried_events_back(old_apps, manager):
    survivor, merged = LeadFactory(email="a@firma.de"), LeadFactory(email="b@firma.de")
    ActivityFactory(lead=merged, kind="page_view")
    entry = dedupe.merge(survivor_id=survivor.pk, merged_id=merged.pk, by=manager)
    moved_record = record(old_apps, survivor)  # the merged lead's record, moved to the survivor by that merge
    entry.data["moved"]["privacy.consent"] = [moved_record.pk]
    LeadTransition.objects.filter(pk=entry.pk).update(data=entry.data)

    migrate(AFTER)
    restored = dedupe.unmerge(transition_id=entry.pk, by=manager)

    assert restored.consent_events.get().note == f"Carried over from consent record #{moved_record.pk}"
    assert not survivor.consent_events.exists()


def test_a_record_with_a_purpose_the_log_does_not_know_stops_the_migration_with_a_sentence(old_apps):
    lead = LeadFactory()
    odd = record(old_apps, lead, purpose="Newsletter ")

    with pytest.raises(RuntimeError, match="purposes the consent log does not know: 'Newsletter ' \\(1\\)"):
        migrate(AFTER)

    assert not ConsentEvent.objects.exists()
    consent_model = old_apps.get_model("privacy", "Consent")
    assert consent_model.objects.get().pk == odd.pk
    consent_model.objects.filter(pk=odd.pk).update(purpose="newsletter")  # what the sentence asks for
    migrate(AFTER)
    assert ConsentEvent.objects.get(lead=lead).purpose == "newsletter"


def test_migrating_back_rebuilds_one_record_per_given_event_and_forward_again_adds_nothing(old_apps):
    lead, other = LeadFactory(), LeadFactory()
    record(old_apps, lead, confirmed_at=T0 + dt.timedelta(hours=2), token_hash="t" * 64)
    migrate(AFTER)
    consent.give(lead=other, purposes=["newsletter", "sales_phone"], method="phone", double_opt_in=False,
                 wording="Ja, gern.")
    consent.withdraw(lead=other, purposes=["sales_phone"], method="manual")
    events = ConsentEvent.objects.count()

    rebuilt = migrate(BEFORE).get_model("privacy", "Consent").objects
    assert sorted(rebuilt.values_list("lead_id", "purpose", "confirmed_at", "withdrawn_at", "token_hash")) == sorted([
        (lead.pk, "marketing_email", T0 + dt.timedelta(hours=2), None, "t" * 64),
        (other.pk, "newsletter", None, None, ""),
        (other.pk, "sales_phone", None, ConsentEvent.objects.get(kind="withdrawn").at, ""),
    ])
    assert rebuilt.get(lead_id=lead.pk).requested_at == T0
    assert ConsentEvent.objects.count() == events  # the log keeps every event

    migrate(AFTER)
    assert ConsentEvent.objects.count() == events
