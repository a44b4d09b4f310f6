import pytest
from django.urls import reverse

from core.errors import NotFound, NotPermitted, Refused
from core.vocabulary import Stage
from leads import scores
from leads.models import Activity, Lead, LeadTransition, Notification, Submission, Visitor
from leads.quality import dedupe
from privacy.models import ConsentEvent
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def reload(lead):
    """A fresh copy (the protected FSM stage forbids refresh_from_db)."""
    return Lead.objects.get(pk=lead.pk)


def pairs():
    return {(c.first_id, c.second_id): c for c in dedupe.candidates()}


def pair_of(a, b):
    return (min(a.pk, b.pk), max(a.pk, b.pk))


# --- detection ------------------------------------------------------------------------------------------


def test_it_finds_leads_with_the_same_phone():
    a = LeadFactory(phone="+4989123456", company="Alpha")
    b = LeadFactory(phone="+4989123456", company="Beta", first_name="Hans")
    found = pairs()[pair_of(a, b)]
    assert found.reasons == (dedupe.SAME_PHONE,)
    assert found.score == 100


def test_it_finds_the_same_name_at_the_same_company_domain():
    a = LeadFactory(first_name="Erika", last_name="Mustermann", company_domain="acme.de", company="ACME")
    b = LeadFactory(first_name="erika ", last_name="MUSTERMANN", company_domain="acme.de", company="Acme GmbH")
    assert pairs()[pair_of(a, b)].reasons == (dedupe.SAME_NAME_AT_COMPANY,)


def test_it_finds_the_same_name_at_the_same_company_name_without_domain():
    a = LeadFactory(first_name="Erika", last_name="Mustermann", company="ACME GmbH")
    b = LeadFactory(first_name="Erika", last_name="Mustermann", company=" acme gmbh")
    assert dedupe.SAME_NAME_AT_COMPANY in pairs()[pair_of(a, b)].reasons


def test_it_finds_near_identical_names_at_the_same_company():
    a = LeadFactory(first_name="Erika", last_name="Mustermann", company_domain="acme.de")
    b = LeadFactory(first_name="Erika", last_name="Musterman", company_domain="acme.de")
    found = pairs()[pair_of(a, b)]
    assert found.reasons == (dedupe.SIMILAR_NAME_AT_COMPANY,)
    assert dedupe.SIMILAR_NAME_THRESHOLD <= found.score < 100


def test_it_finds_swapped_first_and_last_names():
    a = LeadFactory(first_name="Erika", last_name="Mustermann", company_domain="acme.de")
    b = LeadFactory(first_name="Mustermann", last_name="Erika", company_domain="acme.de")
    assert pair_of(a, b) in pairs()


def test_it_ignores_unrelated_leads():
    LeadFactory(first_name="Erika", last_name="Mustermann", company_domain="acme.de", phone="+4989123456")
    LeadFactory(first_name="Hans", last_name="Schmidt", company_domain="acme.de", phone="+4930123456")
    LeadFactory(first_name="Erika", last_name="Mustermann", company_domain="other.de", phone="")
    LeadFactory(first_name="", last_name="", company_domain="acme.de")
    LeadFactory(first_name="", last_name="", company_domain="acme.de")
    assert pairs() == {}


def test_it_orders_exact_matches_first_and_respects_the_limit():
    a = LeadFactory(first_name="Erika", last_name="Mustermann", company_domain="acme.de")
    b = LeadFactory(first_name="Erika", last_name="Musterman", company_domain="acme.de")
    c = LeadFactory(phone="+4989123456")
    d = LeadFactory(phone="+4989123456")
    found = dedupe.candidates()
    assert [(x.first_id, x.second_id) for x in found] == [pair_of(c, d), pair_of(a, b)]
    assert len(dedupe.candidates(limit=1)) == 1


def test_detection_runs_a_fixed_number_of_queries(django_assert_num_queries):
    for n in range(30):
        LeadFactory(first_name="Erika", last_name=f"Muster{n % 3}", company_domain=f"firma{n % 5}.de",
                    phone=f"+49891234{n % 4:02d}")
    with django_assert_num_queries(2):
        assert dedupe.candidates()


# --- merging --------------------------------------------------------------------------------------------


@pytest.fixture
def twins(sdr):
    survivor = LeadFactory(
        email="erika@acme.de", email_normalized="erika@acme.de", first_name="Erika", last_name="Mustermann",
        company="ACME", phone="", job_title="CEO", stage=Stage.SAL, owner=sdr,
    )
    merged = LeadFactory(
        email="e.mustermann@acme.de", email_normalized="e.mustermann@acme.de", first_name="Erika",
        last_name="Musterman", company="ACME GmbH", phone="+4989123456", industry="Software",
    )
    return survivor, merged


def _rows_of(merged):
    ActivityFactory(lead=merged, kind="page_view")
    ActivityFactory(lead=merged, kind="email", outcome="bounced")
    LeadTransition.objects.create(lead=merged, name="mark_mql", source=Stage.KNOWN, target=Stage.MQL)
    ConsentEvent.objects.create(lead=merged, purpose="marketing_email", kind="given", method="web_form", wording="Yes")
    Submission.objects.create(lead=merged, channel="web_form", payload_hash="p")
    Visitor.objects.create(anonymous_id="visitor-123456", lead=merged)


def test_merge_moves_every_row_and_writes_the_audit_row(twins, marketing, sdr):
    survivor, merged = twins
    _rows_of(merged)
    Notification.objects.create(user=sdr, lead=merged, key="n1", message="hi")
    ActivityFactory(lead=survivor, kind="call")
    before = {a.pk: a.occurred_at for a in Activity.objects.all()}
    merged_id = merged.pk

    entry = dedupe.merge(survivor_id=survivor.pk, merged_id=merged_id, by=marketing)

    assert not Lead.objects.filter(pk=merged_id).exists()
    assert survivor.activities.count() == 3
    assert {a.pk: a.occurred_at for a in Activity.objects.all()} == before
    assert survivor.transitions.filter(name="mark_mql").count() == 1
    assert survivor.consent_events.count() == 1 and survivor.submissions.count() == 1
    assert survivor.visitors.count() == 1
    assert Notification.objects.get(key="n1").lead_id == survivor.pk
    assert entry.name == "merge" and entry.lead_id == survivor.pk and entry.actor == marketing
    assert entry.source == entry.target == Stage.SAL
    assert entry.data["merged_lead"]["pk"] == merged_id
    assert entry.data["merged_lead"]["fields"]["email"] == "e.mustermann@acme.de"
    assert dedupe.merged_lead_email(entry) == "e.mustermann@acme.de"
    assert sorted(entry.data["moved"]) == [
        "leads.activity", "leads.leadtransition", "leads.notification", "leads.submission", "leads.visitor",
        "privacy.consentevent",
    ]
    assert len(entry.data["moved"]["leads.activity"]) == 2


def test_merge_fills_empty_fields_and_keeps_the_survivors_values(twins, manager):
    survivor, merged = twins
    dedupe.merge(survivor_id=survivor.pk, merged_id=merged.pk, by=manager)
    survivor = reload(survivor)
    assert survivor.phone == "+4989123456"
    assert survivor.industry == "Software"
    assert survivor.company == "ACME"
    assert survivor.last_name == "Mustermann"
    assert survivor.email == "erika@acme.de"
    assert survivor.stage == Stage.SAL


def test_merge_keeps_chosen_values_of_the_merged_lead_including_its_email(twins, manager):
    survivor, merged = twins
    dedupe.merge(survivor_id=survivor.pk, merged_id=merged.pk, by=manager, keep_from_merged=["company", "email"])
    survivor = reload(survivor)
    assert survivor.company == "ACME GmbH"
    assert survivor.email == survivor.email_normalized == "e.mustermann@acme.de"


def _nothing_written(survivor, merged):
    assert Lead.objects.filter(pk__in=[survivor.pk, merged.pk]).count() == 2
    assert not LeadTransition.objects.filter(name="merge").exists()
    assert merged.activities.count() == 2


def test_merge_with_itself_is_refused(twins, manager):
    survivor, merged = twins
    _rows_of(merged)
    with pytest.raises(Refused):
        dedupe.merge(survivor_id=survivor.pk, merged_id=survivor.pk, by=manager)
    _nothing_written(survivor, merged)


def test_merge_with_an_unknown_lead_is_refused(twins, manager):
    survivor, merged = twins
    _rows_of(merged)
    with pytest.raises(NotFound):
        dedupe.merge(survivor_id=survivor.pk, merged_id=999_999, by=manager)
    _nothing_written(survivor, merged)


def test_merge_by_an_sdr_is_refused(twins, sdr):
    survivor, merged = twins
    _rows_of(merged)
    with pytest.raises(NotPermitted):
        dedupe.merge(survivor_id=survivor.pk, merged_id=merged.pk, by=sdr)
    _nothing_written(survivor, merged)


def test_merge_refuses_to_take_open_work_from_its_owner(twins, manager, other_sdr):
    survivor, merged = twins
    Lead.objects.filter(pk=merged.pk).update(owner=other_sdr, stage=Stage.MQL)
    _rows_of(merged)
    with pytest.raises(Refused):
        dedupe.merge(survivor_id=survivor.pk, merged_id=merged.pk, by=manager)
    _nothing_written(survivor, merged)


def test_unmerge_restores_the_lead_its_rows_and_the_survivors_fields(twins, manager):
    survivor, merged = twins
    _rows_of(merged)
    merged_id = merged.pk
    moved_activity_ids = set(merged.activities.values_list("pk", flat=True))
    entry = dedupe.merge(survivor_id=survivor.pk, merged_id=merged_id, by=manager, keep_from_merged=["email"])
    later = ActivityFactory(lead=survivor, kind="call")  # after the merge: stays on the survivor

    restored = dedupe.unmerge(transition_id=entry.pk, by=manager)

    assert restored.pk == merged_id
    assert restored.email == "e.mustermann@acme.de" and restored.phone == "+4989123456"
    assert set(restored.activities.values_list("pk", flat=True)) == moved_activity_ids
    assert restored.transitions.filter(name="mark_mql").count() == 1
    assert restored.consent_events.count() == 1 and restored.visitors.count() == 1
    survivor = reload(survivor)
    assert survivor.email == "erika@acme.de" and survivor.phone == "" and survivor.industry == ""
    assert list(survivor.activities.values_list("pk", flat=True)) == [later.pk]
    undo = survivor.transitions.get(name="unmerge")
    assert undo.data["merge_transition_id"] == entry.pk and undo.actor == manager


def test_unmerge_of_a_merge_that_moved_rows_of_a_removed_model_skips_them(twins, manager):
    survivor, merged = twins
    _rows_of(merged)
    moved_activity_ids = set(merged.activities.values_list("pk", flat=True))
    entry = dedupe.merge(survivor_id=survivor.pk, merged_id=merged.pk, by=manager)
    # Merges recorded before the consent summary records were removed name them by both of their labels.
    entry.data["moved"] |= {"leads.consent": [4711], "privacy.consent": [4712]}
    LeadTransition.objects.filter(pk=entry.pk).update(data=entry.data)

    restored = dedupe.unmerge(transition_id=entry.pk, by=manager)

    assert set(restored.activities.values_list("pk", flat=True)) == moved_activity_ids
    assert restored.consent_events.count() == 1
    undo = reload(survivor).transitions.get(name="unmerge")
    assert not {"leads.consent", "privacy.consent"} & set(undo.data["moved_back"])


def test_unmerge_twice_is_refused(twins, manager):
    survivor, merged = twins
    entry = dedupe.merge(survivor_id=survivor.pk, merged_id=merged.pk, by=manager)
    dedupe.unmerge(transition_id=entry.pk, by=manager)
    with pytest.raises(Refused):
        dedupe.unmerge(transition_id=entry.pk, by=manager)
    assert LeadTransition.objects.filter(name="unmerge").count() == 1


# --- pages ----------------------------------------------------------------------------------------------


def test_candidates_page_needs_login(client):
    response = client.get(reverse("leads:merge_candidates"))
    assert response.status_code == 302 and "login" in response.url


def test_candidates_page_is_forbidden_for_sdrs(client, sdr):
    client.force_login(sdr)
    assert client.get(reverse("leads:merge_candidates")).status_code == 403


@pytest.mark.parametrize("role", ["marketing", "manager", "admin_user"])
def test_candidates_page_shows_pairs(client, request, role, twins):
    client.force_login(request.getfixturevalue(role))
    LeadFactory(phone="+4930111111", email="a@x.de", email_normalized="a@x.de")
    LeadFactory(phone="+4930111111", email="b@y.de", email_normalized="b@y.de")
    response = client.get(reverse("leads:merge_candidates"))
    assert response.status_code == 200
    assert "a@x.de" in response.content.decode() and "b@y.de" in response.content.decode()


def test_candidates_page_runs_a_fixed_number_of_queries(client, marketing, django_assert_max_num_queries):
    client.force_login(marketing)
    for n in range(40):
        LeadFactory(phone=f"+49301111{n % 10:02d}")
    with django_assert_max_num_queries(12):
        assert client.get(reverse("leads:merge_candidates")).status_code == 200


def test_merging_through_the_page(client, manager, twins):
    survivor, merged = twins
    client.force_login(manager)
    response = client.post(reverse("leads:merge"), {
        "first_id": survivor.pk, "second_id": merged.pk, "survivor_id": survivor.pk, "keep_company": merged.pk,
    })
    assert response.status_code == 302 and response.url == reverse("leads:detail", args=[survivor.pk])
    survivor = reload(survivor)
    assert survivor.company == "ACME GmbH"
    assert not Lead.objects.filter(pk=merged.pk).exists()


def test_merging_through_the_page_is_forbidden_for_sdrs(client, sdr, twins):
    survivor, merged = twins
    client.force_login(sdr)
    response = client.post(reverse("leads:merge"), {
        "first_id": survivor.pk, "second_id": merged.pk, "survivor_id": survivor.pk,
    })
    assert response.status_code == 403
    assert Lead.objects.filter(pk=merged.pk).exists()
    assert not LeadTransition.objects.filter(name="merge").exists()


def test_merging_an_unknown_lead_through_the_page_is_404(client, manager, twins):
    survivor, _merged = twins
    client.force_login(manager)
    response = client.post(reverse("leads:merge"), {
        "first_id": survivor.pk, "second_id": 999_999, "survivor_id": survivor.pk,
    })
    assert response.status_code == 404
    assert not LeadTransition.objects.filter(name="merge").exists()


def test_undo_through_the_page(client, manager, twins):
    survivor, merged = twins
    merged_id = merged.pk
    entry = dedupe.merge(survivor_id=survivor.pk, merged_id=merged_id, by=manager)
    client.force_login(manager)
    page = client.get(reverse("leads:merge_candidates")).content.decode()
    assert reverse("leads:unmerge", args=[entry.pk]) in page
    response = client.post(reverse("leads:unmerge", args=[entry.pk]))
    assert response.status_code == 302 and response.url == reverse("leads:detail", args=[merged_id])
    assert Lead.objects.filter(pk=merged_id).exists()


def test_merge_and_undo_rescore_both_leads(twins, manager):
    survivor, merged = twins
    ActivityFactory(lead=merged, kind="demo_request")
    scores.rescore(survivor)
    scores.rescore(merged)
    before = reload(survivor).score
    merged_score = reload(merged).score
    assert merged_score > 0

    entry = dedupe.merge(survivor_id=survivor.pk, merged_id=merged.pk, by=manager)
    survivor = reload(survivor)
    assert survivor.score > before  # the demo request counts for the survivor now
    assert survivor.score == scores.evaluate(survivor.pk, spec=scores.active_spec(), at=survivor.scored_at).score
    assert survivor.score_breakdown and survivor.score_model_version

    restored = dedupe.unmerge(transition_id=entry.pk, by=manager)
    assert reload(survivor).score == before
    assert reload(restored).score == merged_score and reload(restored).score_model_version
