"""Reason codes: the lists admins keep per transition, required by reject, recycle, disqualify and lose."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.errors import Invalid
from core.vocabulary import Stage
from definitions import rules
from definitions.models import ReasonCode
from leads import lifecycle
from leads.models import Lead, LeadTransition
from tests.factories import LeadFactory, UserFactory
from tests.pages import HTMX_PANEL, as_user, text

pytestmark = pytest.mark.django_db


def reload(lead):
    return Lead.objects.get(pk=lead.pk)


def test_every_reason_transition_has_its_shipped_codes_with_other_last():
    for name in ("reject", "recycle", "disqualify", "lose"):
        codes = [r.code for r in rules.reason_codes(name)]
        assert len(codes) >= 4 and codes[-1] == "other", name
    assert "no_contact" in [r.code for r in rules.reason_codes("recycle")]
    assert "price" in [r.code for r in rules.reason_codes("lose")]


def test_reject_with_a_code_keeps_the_code_and_its_label(own_mql, sdr):
    lifecycle.fire(lead_id=own_mql.pk, name="reject", by=sdr, inputs={"reason_code": "too_early"})
    lead = reload(own_mql)
    entry = LeadTransition.objects.get(lead=lead, name="reject")
    assert (lead.stage, lead.stage_reason) == (Stage.RECYCLED, "Too early: nurture first")
    assert (entry.data["reason_code"], entry.reason) == ("too_early", "Too early: nurture first")


def test_a_code_with_words_keeps_the_words_as_the_reason(own_mql, sdr):
    lifecycle.fire(lead_id=own_mql.pk, name="reject", by=sdr,
                   inputs={"reason_code": "not_a_fit", "reason": "Ten employees"})
    entry = LeadTransition.objects.get(lead=own_mql, name="reject")
    assert (entry.data["reason_code"], entry.reason, reload(own_mql).stage_reason) == (
        "not_a_fit", "Ten employees", "Ten employees")


def test_a_free_text_alone_counts_as_other(own_mql, sdr):
    lifecycle.fire(lead_id=own_mql.pk, name="reject", by=sdr, inputs={"reason": "Student"})
    assert LeadTransition.objects.get(lead=own_mql, name="reject").data["reason_code"] == "other"


def test_an_unknown_code_is_invalid_naming_it_and_writes_nothing(own_mql, sdr):
    with pytest.raises(Invalid) as invalid:
        lifecycle.fire(lead_id=own_mql.pk, name="reject", by=sdr, inputs={"reason_code": "price", "reason": "x"})
    assert list(invalid.value.errors) == ["reason_code"]
    assert "price" in invalid.value.errors["reason_code"][0]  # "price" is a code of lose, not of reject
    assert reload(own_mql).stage == Stage.MQL
    assert not LeadTransition.objects.filter(lead=own_mql).exists()


def test_a_code_no_longer_offered_is_refused(own_mql, sdr):
    ReasonCode.objects.filter(transition="reject", code="duplicate").update(is_active=False)
    rules.forget()
    assert "duplicate" not in [r.code for r in rules.reason_codes("reject")]
    with pytest.raises(Invalid):
        lifecycle.fire(lead_id=own_mql.pk, name="reject", by=sdr, inputs={"reason_code": "duplicate"})
    assert reload(own_mql).stage == Stage.MQL


def test_other_without_words_is_refused(own_mql, sdr):
    with pytest.raises(lifecycle.TransitionRefused) as refused:
        lifecycle.fire(lead_id=own_mql.pk, name="reject", by=sdr, inputs={"reason_code": "other"})
    assert [u.code for u in refused.value.unmet] == ["reason_text_missing"]
    assert reload(own_mql).stage == Stage.MQL
    assert not LeadTransition.objects.filter(lead=own_mql).exists()


def test_no_code_and_no_words_is_refused(sdr):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=sdr)
    with pytest.raises(lifecycle.TransitionRefused) as refused:
        lifecycle.fire(lead_id=lead.pk, name="lose", by=sdr, inputs={"reason_code": ""})
    assert [u.code for u in refused.value.unmet] == ["reason_missing"]


# --- API ------------------------------------------------------------------------------------------------


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_lists_the_codes_of_one_transition(sdr):
    response = api(sdr).get("/api/v1/reason-codes/", {"transition": "lose"})
    assert response.status_code == 200
    body = response.json()
    assert {row["transition"] for row in body} == {"lose"}
    assert body[0] == {"transition": "lose", "code": "price", "label": "Price", "needs_text": False}
    assert body[-1] == {"transition": "lose", "code": "other", "label": "Other", "needs_text": True}


def test_api_lists_every_transitions_codes_without_a_filter(marketing):
    body = api(marketing).get("/api/v1/reason-codes/").json()
    assert {row["transition"] for row in body} == {"reject", "recycle", "disqualify", "lose"}


def test_api_refuses_an_unknown_transition_naming_the_parameter(sdr):
    response = api(sdr).get("/api/v1/reason-codes/", {"transition": "accept"})
    assert response.status_code == 400
    assert "transition" in response.json()["errors"]


def test_api_reason_codes_need_a_role():
    response = api(UserFactory()).get("/api/v1/reason-codes/")
    assert response.status_code == 403


def test_api_transition_with_an_unknown_code_is_400_naming_it(sdr):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=sdr)
    response = api(sdr).post(f"/api/v1/leads/{lead.pk}/transitions/lose/", {"reason_code": "nope"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["reason_code"]
    assert reload(lead).stage == Stage.OPPORTUNITY
    assert not LeadTransition.objects.filter(lead=lead).exists()


def test_api_transition_with_a_code(sdr):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=sdr)
    response = api(sdr).post(f"/api/v1/leads/{lead.pk}/transitions/lose/",
                             {"reason_code": "competitor", "reason": "Went with X"}, format="json")
    assert response.status_code == 200, response.content
    assert reload(lead).stage == Stage.LOST
    assert LeadTransition.objects.get(lead=lead, name="lose").data["reason_code"] == "competitor"


# --- the lead page --------------------------------------------------------------------------------------


def test_the_lead_page_offers_the_reason_list(client, sdr, own_mql):
    page = text(as_user(client, sdr).get(reverse("leads:detail", args=[own_mql.pk])))
    assert 'name="reject-reason_code"' in page
    assert 'value="too_early"' in page and 'value="other"' in page


def test_the_lead_page_fires_with_the_chosen_code(client, sdr, own_mql):
    response = as_user(client, sdr).post(
        reverse("leads:transition", args=[own_mql.pk, "reject"]), {"reject-reason_code": "duplicate"}, **HTMX_PANEL,
    )
    assert response.status_code == 200
    assert LeadTransition.objects.get(lead=own_mql, name="reject").data["reason_code"] == "duplicate"


def test_the_lead_page_shows_an_unknown_code_as_a_field_error(client, sdr, own_mql):
    response = as_user(client, sdr).post(
        reverse("leads:transition", args=[own_mql.pk, "reject"]), {"reject-reason_code": "bogus"}, **HTMX_PANEL,
    )
    assert response.status_code in (400, 409, 422)
    assert reload(own_mql).stage == Stage.MQL
    assert not LeadTransition.objects.filter(lead=own_mql).exists()

