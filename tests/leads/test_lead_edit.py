"""Editing a lead through PATCH /api/v1/leads/{id}/ (`leads.edits`): who edits which field, one validation,
ETag / If-Match, duplicates and suppression, rescoring, the outbox event and the field history."""

import pytest
from django.db import connection

from capture import submissions as capture
from core.errors import Stale
from core.vocabulary import EventType, Stage
from leads import edits, history, scores
from leads.models import Lead, LeadFieldEvent
from outbox.models import Event
from privacy import rights
from tests.factories import LeadFactory
from tests.leads.test_concurrency import race

pytestmark = pytest.mark.django_db


def url(lead) -> str:
    return f"/api/v1/leads/{lead.pk}/"


def patch(api, lead, body, **headers):
    return api.patch(url(lead), body, format="json", **headers)


@pytest.fixture
def sdr_lead(sdr):
    return LeadFactory(stage=Stage.SAL, owner=sdr, country="DE", phone="+4989123456", company_size=10)


def nothing_written(lead, before):
    after = Lead.objects.get(pk=lead.pk)
    assert {name: getattr(after, name) for name in before} == before
    assert not LeadFieldEvent.objects.filter(pgh_obj_id=lead.pk).exists()
    assert not Event.objects.filter(type=EventType.LEAD_UPDATED, lead_id=lead.pk).exists()


def snapshot(lead) -> dict:
    lead = Lead.objects.get(pk=lead.pk)
    return {name: getattr(lead, name) for name in (*edits.EDITABLE_FIELDS, "score", "updated_at")}


# --- who edits what -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["marketing", "manager", "admin"])
def test_staff_edit_contact_and_company_fields(api_as, users, sdr_lead, role):
    response = patch(api_as(users[role]), sdr_lead, {
        "phone": "+49 171 2345678", "company": "Neue Firma AG", "country": "Österreich", "company_size": "1.200",
        "street": "Ringstraße 1", "postcode": "1010", "city": "Wien", "region": "Wien", "language": "de-AT",
    })
    assert response.status_code == 200, response.json()
    lead = Lead.objects.get(pk=sdr_lead.pk)
    assert (lead.phone, lead.company, lead.country, lead.company_size) == ("+491712345678", "Neue Firma AG", "AT", 1200)
    assert (lead.street, lead.postcode, lead.city, lead.region, lead.language) == (
        "Ringstraße 1", "1010", "Wien", "Wien", "de-at")
    assert response.json()["city"] == "Wien"
    assert response["ETag"] == f'"{edits.version_of(lead)}"'


def test_the_owning_sdr_edits_the_contact_fields(api_as, sdr, sdr_lead):
    response = patch(api_as(sdr), sdr_lead, {"phone": "+43 1 5123456", "job_title": "CTO", "email": "neu@firma.de"})
    assert response.status_code == 200, response.json()
    lead = Lead.objects.get(pk=sdr_lead.pk)
    assert (lead.phone, lead.job_title, lead.email, lead.email_normalized) == (
        "+4315123456", "CTO", "neu@firma.de", "neu@firma.de")


def test_the_owning_sdr_may_not_edit_company_fields_and_nothing_is_written(api_as, sdr, sdr_lead):
    before = snapshot(sdr_lead)
    response = patch(api_as(sdr), sdr_lead, {"phone": "+43 1 5123456", "company_size": 500})
    assert response.status_code == 403
    assert "company_size" in response.json()["detail"]
    nothing_written(sdr_lead, before)


def test_an_sdr_gets_404_for_another_sdrs_lead(api_as, other_sdr, sdr_lead):
    before = snapshot(sdr_lead)
    assert patch(api_as(other_sdr), sdr_lead, {"phone": "+43 1 5123456"}).status_code == 404
    assert api_as(other_sdr).get(url(sdr_lead) + "history/").status_code == 404
    nothing_written(sdr_lead, before)


def test_an_sdr_may_see_but_not_edit_a_pool_mql(api_as, sdr, pool_mql):
    before = snapshot(pool_mql)
    assert patch(api_as(sdr), pool_mql, {"first_name": "Pool"}).status_code == 403
    nothing_written(pool_mql, before)


def test_anonymous_is_refused(api, sdr_lead):
    assert patch(api, sdr_lead, {"first_name": "X"}).status_code in (401, 403)


# --- bad input: 400 naming the field, nothing written ---------------------------------------------------


def test_unknown_and_read_only_fields_are_refused_by_name(api_as, marketing, sdr_lead):
    before = snapshot(sdr_lead)
    response = patch(api_as(marketing), sdr_lead, {"first_name": "Ok", "colour": "red", "stage": "customer",
                                                   "score": 99, "owner": "marketing", "lead_type": "mql"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"colour", "stage", "score", "owner", "lead_type"}
    assert errors["colour"] == ["Unknown field."]
    assert "cannot be edited" in errors["stage"][0]
    nothing_written(sdr_lead, before)


@pytest.mark.parametrize(("field", "value"), [
    ("email", "not-an-address"), ("email", ""), ("phone", "12"), ("country", "Atlantis"), ("company_size", "viele"),
    ("company_size", -5), ("website", "not a url"), ("first_name", "x" * 101), ("postcode", "1" * 17),
    ("language", "deutsch!"), ("city", 42), ("street", "a\x00b"),
])
def test_a_bad_value_is_refused_naming_its_field_and_nothing_is_written(api_as, marketing, sdr_lead, field, value):
    before = snapshot(sdr_lead)
    response = patch(api_as(marketing), sdr_lead, {"first_name": "Changed", field: value})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    nothing_written(sdr_lead, before)


def test_a_body_that_is_no_object_or_empty_is_refused(api_as, marketing, sdr_lead):
    assert patch(api_as(marketing), sdr_lead, [1, 2]).status_code == 400
    assert patch(api_as(marketing), sdr_lead, {}).status_code == 400


# --- versions -------------------------------------------------------------------------------------------


def test_get_gives_an_etag_and_a_matching_if_match_edits(api_as, marketing, sdr_lead):
    api = api_as(marketing)
    tag = api.get(url(sdr_lead))["ETag"]
    first = patch(api, sdr_lead, {"first_name": "Eins"}, HTTP_IF_MATCH=tag)
    assert first.status_code == 200
    assert first["ETag"] != tag
    stale = patch(api, sdr_lead, {"first_name": "Zwei"}, HTTP_IF_MATCH=tag)
    assert stale.status_code == 412
    assert Lead.objects.get(pk=sdr_lead.pk).first_name == "Eins"
    assert patch(api, sdr_lead, {"first_name": "Zwei"}, HTTP_IF_MATCH=first["ETag"]).status_code == 200


def test_a_malformed_if_match_is_412(api_as, marketing, sdr_lead):
    before = snapshot(sdr_lead)
    assert patch(api_as(marketing), sdr_lead, {"first_name": "X"}, HTTP_IF_MATCH='"1", "2"').status_code == 412
    assert patch(api_as(marketing), sdr_lead, {"first_name": "X"}, HTTP_IF_MATCH='"garbage"').status_code == 412
    nothing_written(sdr_lead, before)


def test_a_capture_that_fills_a_field_meanwhile_makes_the_if_match_stale(api_as, marketing):
    lead = LeadFactory(email="anna@firma.de", email_normalized="anna@firma.de")
    tag = api_as(marketing).get(url(lead))["ETag"]
    capture.submit(channel="api", payload={"email": "anna@firma.de", "job_title": "CFO"})
    assert patch(api_as(marketing), lead, {"job_title": "CEO"}, HTTP_IF_MATCH=tag).status_code == 412
    assert Lead.objects.get(pk=lead.pk).job_title == "CFO"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_edits_with_the_same_version_one_wins_one_is_412(marketing, manager):
    lead = LeadFactory(stage=Stage.KNOWN)
    version = edits.version_of(lead)
    results = race([
        lambda: edits.edit(lead_id=lead.pk, by=marketing, changes={"job_title": "Marketing wins"}, version=version),
        lambda: edits.edit(lead_id=lead.pk, by=manager, changes={"job_title": "Manager wins"}, version=version),
    ])
    winners = [r for r in results if isinstance(r, edits.EditResult)]
    stale = [r for r in results if isinstance(r, Stale)]
    assert (len(winners), len(stale)) == (1, 1), results
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.job_title == winners[0].lead.job_title
    assert LeadFieldEvent.objects.filter(pgh_obj_id=lead.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_patches_over_http_with_the_same_if_match(marketing, manager):
    from rest_framework.test import APIClient

    lead = LeadFactory(stage=Stage.KNOWN)
    first, second = APIClient(), APIClient()
    first.force_authenticate(marketing)
    second.force_authenticate(manager)
    tag = first.get(url(lead))["ETag"]
    results = race([
        lambda: patch(first, lead, {"industry": "Maschinenbau"}, HTTP_IF_MATCH=tag).status_code,
        lambda: patch(second, lead, {"industry": "Software"}, HTTP_IF_MATCH=tag).status_code,
    ])
    assert sorted(results) == [200, 412], results
    assert LeadFieldEvent.objects.filter(pgh_obj_id=lead.pk).count() == 1


# --- e-mail: duplicates and suppression -----------------------------------------------------------------


def test_an_e_mail_of_another_lead_is_409_naming_it_with_the_merge_link(api_as, marketing, sdr_lead):
    other = LeadFactory(email="taken@firma.de", email_normalized="taken@firma.de")
    before = snapshot(sdr_lead)
    response = patch(api_as(marketing), sdr_lead, {"email": " Taken@Firma.de "})
    assert response.status_code == 409
    body = response.json()
    assert body["duplicate"]["id"] == other.pk and body["field"] == "email"
    assert body["duplicate"]["url"] == f"/leads/{other.pk}/"
    assert body["duplicate"]["merge"] == {"url": "/data/duplicates/merge/", "first_id": min(sdr_lead.pk, other.pk),
                                          "second_id": max(sdr_lead.pk, other.pk)}
    assert f"#{other.pk}" in body["detail"]
    nothing_written(sdr_lead, before)


def test_the_same_address_in_other_case_is_no_duplicate_of_itself(api_as, marketing):
    lead = LeadFactory(email="anna@firma.de", email_normalized="anna@firma.de")
    assert patch(api_as(marketing), lead, {"email": "Anna@Firma.de"}).status_code == 200
    assert Lead.objects.get(pk=lead.pk).email == "Anna@Firma.de"


def test_an_erased_persons_e_mail_or_phone_cannot_be_written_onto_a_lead(api_as, marketing, sdr_lead):
    erased = LeadFactory(email="gone@firma.de", email_normalized="gone@firma.de", phone="+4930999999")
    rights.erase(lead_id=erased.pk, by=marketing, reason="request")
    before = snapshot(sdr_lead)
    response = patch(api_as(marketing), sdr_lead, {"email": "gone@firma.de", "phone": "030 999999"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"email", "phone"}
    nothing_written(sdr_lead, before)


def test_an_erased_lead_cannot_be_edited(api_as, marketing, sdr_lead):
    rights.erase(lead_id=sdr_lead.pk, by=marketing, reason="request")
    assert patch(api_as(marketing), sdr_lead, {"first_name": "Back"}).status_code == 409
    assert Lead.objects.get(pk=sdr_lead.pk).first_name == ""


# --- rescoring, outbox, history -------------------------------------------------------------------------


def test_editing_a_fit_field_rescores_the_lead(api_as, marketing):
    lead = LeadFactory(company_size=None)
    scores.rescore(lead)
    before = Lead.objects.get(pk=lead.pk).score
    response = patch(api_as(marketing), lead, {"company_size": "1.200"})
    assert response.status_code == 200
    assert response.json()["score"] > before
    assert Lead.objects.get(pk=lead.pk).score == response.json()["score"]


def test_editing_a_contact_field_does_not_rescore(marketing):
    lead = LeadFactory()
    result = edits.edit(lead_id=lead.pk, by=marketing, changes={"first_name": "Ohne"})
    assert (result.changed, result.rescored) == (["first_name"], False)


def test_an_edit_records_lead_updated_with_the_changed_fields(api_as, marketing, sdr_lead):
    patch(api_as(marketing), sdr_lead, {"first_name": "Neu", "last_name": sdr_lead.last_name, "city": "Köln"})
    event = Event.objects.get(type=EventType.LEAD_UPDATED, lead_id=sdr_lead.pk)
    assert event.payload == {"fields": ["first_name", "city"], "by": "edit"}
    assert event.actor_id == marketing.pk


def test_an_edit_that_changes_nothing_writes_nothing(api_as, marketing, sdr_lead):
    before = snapshot(sdr_lead)
    assert patch(api_as(marketing), sdr_lead, {"first_name": sdr_lead.first_name, "country": "de"}).status_code == 200
    nothing_written(sdr_lead, before)


def test_the_history_names_who_changed_which_field_from_what_to_what(api_as, marketing, manager, sdr, sdr_lead):
    patch(api_as(marketing), sdr_lead, {"phone": "030 1234567", "city": "Berlin"})
    patch(api_as(sdr), sdr_lead, {"city": "Potsdam"})
    capture.submit(channel="api", payload={"email": sdr_lead.email, "industry": "Software"})  # fills an empty field
    response = api_as(manager).get(url(sdr_lead) + "history/")
    assert response.status_code == 200
    entries = response.json()
    assert [(entry["actor"], entry["via"]) for entry in entries] == [(None, ""), ("sdr1", "edit"),
                                                                       ("marketing", "edit")]
    assert [(c["field"], c["old"], c["new"]) for c in entries[0]["fields"]] == [("industry", "", "Software")]
    assert [(c["field"], c["old"], c["new"]) for c in entries[1]["fields"]] == [("city", "Berlin", "Potsdam")]
    assert [(c["field"], c["old"], c["new"]) for c in entries[2]["fields"]] == [
        ("phone", "+4989123456", "+49301234567"), ("city", "", "Berlin")]


def test_refused_edits_leave_no_history(api_as, marketing, sdr, other_sdr, sdr_lead):
    patch(api_as(marketing), sdr_lead, {"phone": "12"})
    patch(api_as(sdr), sdr_lead, {"company": "Nope"})
    patch(api_as(other_sdr), sdr_lead, {"first_name": "Nope"})
    patch(api_as(marketing), sdr_lead, {"first_name": "Nope"}, HTTP_IF_MATCH='"0"')
    assert api_as(marketing).get(url(sdr_lead) + "history/").json() == []


def test_rescoring_writes_no_history_rows():
    leads = [LeadFactory(company_size=500, job_title="CEO") for _ in range(5)]
    scores.rescore_many([lead.pk for lead in leads])
    with connection.cursor() as cursor:  # raw SQL on the score columns, as the bulk rescoring writes them
        cursor.execute("UPDATE leads_lead SET score = score + 1, fit_score = fit_score + 1")
    assert LeadFieldEvent.objects.count() == 0
    with connection.cursor() as cursor:  # and raw SQL on a tracked field is recorded
        cursor.execute("UPDATE leads_lead SET city = 'Raw' WHERE id = %s", [leads[0].pk])
    assert LeadFieldEvent.objects.filter(pgh_obj_id=leads[0].pk).count() == 1


def test_attribution_covers_its_block_only(manager):
    lead = LeadFactory(city="Alt")
    with edits.attributed(manager, via="admin"):  # as the admin's save_model does
        Lead.objects.filter(pk=lead.pk).update(city="Admin")
    Lead.objects.filter(pk=lead.pk).update(city="Later")  # the same transaction, another writer
    changes = history.changes_of(Lead.objects.get(pk=lead.pk))
    assert [(c.actor, c.via, c.fields[0].old, c.fields[0].new) for c in changes] == [
        (None, "", "Admin", "Later"), (manager, "admin", "Alt", "Admin"),
    ]
