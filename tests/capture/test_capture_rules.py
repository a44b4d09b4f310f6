"""The capture rules have one home (`capture.rules`, `leads.fields`): the single submit and the bulk path
(the CSV import) leave the same leads, touchpoints and outcomes for the same submissions."""

import pytest
from django.db import transaction

from capture import bulk, rules
from capture import submissions as capture
from leads.fields import FILL_EMPTY
from leads.models import Account, Activity, Campaign, Lead, Submission
from privacy.models import Suppression
from privacy.suppression import suppression_hash
from tests.factories import CampaignFactory, LeadFactory

pytestmark = pytest.mark.django_db

PAYLOADS = [
    {"email": "neu@firma.de", "first_name": "Nora", "source": "event", "utm_source": "messe", "campaign": "dmexco"},
    {"email": "NEU@firma.de ", "first_name": "Nina", "company": "Neu AG", "utm_medium": "stand"},  # fills company
    {"email": "bekannt@firma.de", "company": "Zweite Firma", "country": "AT", "phone": "+49 89 123456"},
    {"email": "frei@gmail.com", "website": "www.kunde.de", "company_size": "250"},  # the website names the account
    {"email": "privat@gmx.de", "job_title": "CEO"},  # free mail: no company domain, no account
    {"email": "weg@firma.de", "first_name": "Erased"},  # asked to be erased: refused on consent
    {"email": "kaputt", "first_name": "Karl"},  # invalid e-mail
    {"email": "quelle@firma.de", "source": "fax"},  # unknown source
]


@pytest.fixture
def history(marketing):
    CampaignFactory(slug="dmexco")
    LeadFactory(email="bekannt@firma.de", company="Bekannt GmbH", country="", phone="", first_name="Berta")
    account = Account.objects.create(domain="kunde.de", name="Kunde AG")
    Suppression.objects.create(kind=Suppression.Kind.EMAIL, value_hash=suppression_hash("email", "weg@firma.de"))
    return account


def _state() -> dict:
    """What the captures left, without ids and clocks (the two runs write at different moments)."""
    submission_of = {pk: payload.get("email") for pk, payload in Submission.objects.values_list("pk", "payload")}
    leads = {
        lead["email_normalized"]: lead for lead in Lead.objects.values(
            "email_normalized", "email", "source", "campaign__slug", "company_domain", "account__domain", "stage",
            "score", *FILL_EMPTY,
        )
    }
    touchpoints = sorted((
        (activity.lead.email_normalized, activity.kind, activity.note,
         sorted({**activity.data, "submission": submission_of[activity.data["submission"]]}.items(), key=repr))
        for activity in Activity.objects.select_related("lead")
    ), key=repr)
    # A suppressed person's rejected submission keeps no personal data: it is named by its payload hash.
    outcomes = sorted(
        (submission.payload.get("email") or submission.payload_hash, submission.payload.get("suppressed", False),
         submission.outcome, submission.response_status, sorted(submission.errors))
        for submission in Submission.objects.all()
    )
    return {"leads": leads, "touchpoints": touchpoints, "outcomes": outcomes}


class _RolledBack(Exception):
    pass


def test_single_and_bulk_capture_leave_the_same_leads_touchpoints_and_outcomes(history, marketing):
    try:
        with transaction.atomic():
            for payload in PAYLOADS:
                capture.submit(channel="import", payload=payload, by=marketing)
            one_by_one = _state()
            raise _RolledBack
    except _RolledBack:
        pass
    assert not Submission.objects.exists()
    leads = one_by_one["leads"]
    assert set(leads) == {"neu@firma.de", "bekannt@firma.de", "frei@gmail.com", "privat@gmx.de"}
    assert (leads["neu@firma.de"]["first_name"], leads["neu@firma.de"]["company"]) == ("Nora", "Neu AG")
    assert (leads["bekannt@firma.de"]["company"], leads["bekannt@firma.de"]["country"]) == ("Bekannt GmbH", "AT")
    assert (leads["frei@gmail.com"]["company_domain"], leads["frei@gmail.com"]["account__domain"]) == (
        "kunde.de", "kunde.de")
    assert leads["privat@gmx.de"]["company_domain"] == ""
    assert [outcome for _email, _gone, outcome, _status, _errors in one_by_one["outcomes"]].count("rejected") == 3

    campaigns = {"dmexco": Campaign.objects.get(slug="dmexco")}
    bulk.capture_many(payloads=PAYLOADS, channel="import", by=marketing, campaigns=campaigns)
    assert _state() == one_by_one


def test_the_rules_give_the_expected_values(history):
    assert rules.company_domain(website="https://www.kunde.de/kontakt", email="x@gmail.com") == "kunde.de"
    assert rules.company_domain(website="", email="x@gmail.com") == ""
    assert rules.source_of(reported="", channel="import") == "import"
    assert rules.source_of(reported="fax", channel="import") == "other"
    assert list(rules.suppressed_errors()) == ["consent"]
