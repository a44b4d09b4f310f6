"""Sales rows in the privacy registry: an erased person leaves no trace in contacts, opportunities, their log
or an account made for them alone; export shows them; the figures stay."""

import pytest

from capture import submissions as capture
from core.vocabulary import Role, SalesOutcome, Stage
from leads.models import Account, Lead
from privacy import registry, rights
from sales import handoff, services
from sales.models import Contact, Opportunity, OpportunityStageChange, Stakeholder
from tests.factories import LeadFactory, UserFactory
from tests.privacy.test_privacy_erase import dump_database
from tests.sales.helpers import closing_team

PERSON = {
    "email": "zebulon@zebulon-quixotewski.de",
    "first_name": "Zebulon",
    "last_name": "Quixotewski",
    "company": "Zebulon Quixotewski Beratung",
    "phone": "+49 89 7654321",
}
TRACES = ("zebulon", "quixotewski", "7654321")


def handed_off_person(sdr, payload=PERSON):
    """A captured person (their private domain makes an account) qualified, handed to an AE, worked, lost."""
    lead = capture.submit(channel="api", payload=payload).lead
    Lead.objects.filter(pk=lead.pk).update(stage=Stage.SQL, owner=sdr)
    closing_team("ae1")
    opportunity = handoff.hand_off(lead_id=lead.pk)
    ae = opportunity.owner
    contact = Contact.objects.get(lead=lead)
    services.update_opportunity(
        opportunity_id=opportunity.pk,
        by=ae,
        data={
            "next_step": "Zebulon Quixotewski anrufen",
            "stakeholders": [{"contact": contact.pk, "role": "champion"}],
        },
    )
    services.lose(opportunity_id=opportunity.pk, by=ae, reason="Zebulon Quixotewski chose to wait")
    return Lead.objects.get(pk=lead.pk), Opportunity.objects.get(pk=opportunity.pk)


@pytest.mark.django_db(transaction=True)
def test_after_erasure_the_dump_holds_no_trace_of_the_person_in_sales_rows(sdr):
    lead, opportunity = handed_off_person(sdr)
    account = Account.objects.get(pk=lead.account_id)
    assert (account.domain, account.made_at_capture) == ("zebulon-quixotewski.de", True)
    assert "quixotewski" in opportunity.name.lower()
    assert any(trace in dump_database().lower() for trace in TRACES)

    rights.erase(lead_id=lead.pk, reason="Request")

    dump = dump_database().lower()
    assert [trace for trace in TRACES if trace in dump] == []
    # The figures stay: the opportunity, its value, stage, outcome and its log rows.
    kept = Opportunity.objects.get(pk=opportunity.pk)
    assert (kept.outcome, kept.value, kept.owner_id, kept.stage_id) == (
        SalesOutcome.LOST,
        opportunity.value,
        opportunity.owner_id,
        opportunity.stage_id,
    )
    assert OpportunityStageChange.objects.filter(opportunity=kept).count() == 2  # assign, lost
    assert not Contact.objects.filter(lead=lead).exists() and not Stakeholder.objects.exists()
    assert Account.objects.get(pk=account.pk).domain.endswith(".invalid")


@pytest.mark.django_db
def test_an_account_with_another_person_or_made_by_hand_keeps_its_data(sdr):
    colleague = capture.submit(channel="api", payload={"email": "kollege@zebulon-quixotewski.de"}).lead
    lead, _opportunity = handed_off_person(sdr)
    assert lead.account_id == colleague.account_id
    by_hand = Account.objects.create(domain="handmade.de", name="Handmade AG")
    other = LeadFactory(email="solo@handmade.de", account=by_hand)

    rights.erase(lead_id=lead.pk, reason="Request")
    rights.erase(lead_id=other.pk, reason="Request")

    assert Account.objects.get(pk=lead.account_id).domain == "zebulon-quixotewski.de"
    assert Account.objects.get(pk=by_hand.pk).domain == "handmade.de"


@pytest.mark.django_db
def test_erasing_the_colleague_too_anonymises_the_account_made_at_capture(sdr):
    colleague = capture.submit(channel="api", payload={"email": "kollege@zebulon-quixotewski.de"}).lead
    lead, _opportunity = handed_off_person(sdr)
    rights.erase(lead_id=lead.pk, reason="Request")
    rights.erase(lead_id=colleague.pk, reason="Request")
    assert Account.objects.get(pk=lead.account_id).domain == f"erased-{lead.account_id}.invalid"


@pytest.mark.django_db
def test_the_undo_record_of_a_merge_that_moved_only_the_person_is_erased(sdr):
    manager = UserFactory(username="boss", role=Role.MANAGER)
    lead = capture.submit(channel="api", payload=PERSON).lead
    kept = Account.objects.create(domain="konzern.de", name="Konzern AG")
    merge = services.merge_accounts(keep_id=kept.pk, merge_id=lead.account_id, by=manager)
    assert merge.merged_domain == "zebulon-quixotewski.de"

    rights.erase(lead_id=lead.pk, reason="Request")

    merge.refresh_from_db()
    assert "quixotewski" not in (merge.merged_domain + merge.merged_name).lower()
    assert Account.objects.get(pk=kept.pk).domain == "konzern.de"  # the account made by hand stays


@pytest.mark.django_db
def test_the_export_holds_the_sales_rows(sdr):
    lead, opportunity = handed_off_person(sdr)
    document = rights.export(lead_id=lead.pk)
    for model in (Contact, Stakeholder, Opportunity, OpportunityStageChange, Account):
        table = registry.table_of(model)
        rows = document["data"][table.label]
        assert rows, table.label
        assert set(table.fields) <= set(rows[0]), table.label
    assert document["data"]["sales.Opportunity"][0]["next_step"] == "Zebulon Quixotewski anrufen"
