"""The lead page's Edit (htmx): the fields the user may edit, errors per field keeping what was typed, a
warning with the current values instead of overwriting a concurrent change."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from core.vocabulary import Stage
from leads import edits
from leads.fields import COMPANY_FIELDS
from leads.models import Lead, LeadFieldEvent
from tests.factories import LeadFactory
from tests.pages import HTMX_PANEL, as_user, reload, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(sdr):
    return LeadFactory(stage=Stage.SAL, owner=sdr, country="DE", phone="+4989123456", city="München")


def form_data(lead, **changes) -> dict:
    values = {name: getattr(lead, name) for name in edits.EDITABLE_FIELDS}
    data = {name: "" if value is None else str(value) for name, value in values.items()}
    data["version"] = edits.version_of(lead)
    data.update(changes)
    return data


def post(client, lead, data, **headers):
    return client.post(reverse("leads:edit", args=[lead.pk]), data, **headers)


def test_the_lead_page_offers_edit_to_who_may_edit(client, marketing, sdr, lead):
    assert 'data-action="edit"' in text(as_user(client, marketing).get(reverse("leads:detail", args=[lead.pk])))
    assert 'data-action="edit"' in text(as_user(client, sdr).get(reverse("leads:detail", args=[lead.pk])))


def test_the_pool_lead_page_offers_no_edit_to_an_sdr(client, sdr, pool_mql):
    page = text(as_user(client, sdr).get(reverse("leads:detail", args=[pool_mql.pk])))
    assert 'data-action="edit"' not in page
    assert as_user(client, sdr).get(reverse("leads:edit", args=[pool_mql.pk])).status_code == 403


def test_staff_get_every_field_the_sdr_the_contact_fields(client, marketing, sdr, lead):
    staff = text(as_user(client, marketing).get(reverse("leads:edit", args=[lead.pk]), **HTMX_PANEL))
    assert 'name="company_size"' in staff and 'name="street"' in staff and 'name="version"' in staff
    own = text(as_user(client, sdr).get(reverse("leads:edit", args=[lead.pk]), **HTMX_PANEL))
    assert 'name="street"' in own and 'name="phone"' in own
    assert 'name="company_size"' not in own and 'name="country"' not in own


def test_another_sdr_gets_404(client, other_sdr, lead):
    client = as_user(client, other_sdr)
    assert client.get(reverse("leads:edit", args=[lead.pk])).status_code == 404
    assert post(client, lead, form_data(lead, first_name="Fremd")).status_code == 404
    assert reload(lead).first_name == lead.first_name


def test_saving_writes_the_changes_and_shows_them_in_the_timeline(client, marketing, lead):
    client = as_user(client, marketing)
    response = post(client, lead, form_data(lead, city="Köln", company_size="1.200", country="Deutschland"),
                    **HTMX_PANEL)
    assert response.status_code == 200
    page = text(response)
    assert "Saved" in page
    saved = reload(lead)
    assert (saved.city, saved.company_size, saved.country) == ("Köln", 1200, "DE")
    assert 'data-testid="field-change"' in page and "München" in page and "Köln" in page
    assert LeadFieldEvent.objects.filter(pgh_obj_id=lead.pk).count() == 1


def test_the_owning_sdr_saves_contact_fields(client, sdr, lead):
    client = as_user(client, sdr)
    data = form_data(lead, phone="0171 2345678")
    for name in COMPANY_FIELDS:
        data.pop(name)
    response = post(client, lead, data)
    assert response.status_code == 302
    assert reload(lead).phone == "+491712345678"


def test_the_sdr_cannot_slip_a_company_field_in(client, sdr, lead):
    response = post(as_user(client, sdr), lead, form_data(lead, company="Gekapert AG", job_title="CTO"))
    assert response.status_code == 302
    saved = reload(lead)
    assert (saved.company, saved.job_title) == (lead.company, "CTO")  # not on the SDR's form: never sent


@pytest.mark.parametrize(("field", "value", "message"), [
    ("phone", "12", "Enter a valid phone number"),
    ("country", "Atlantis", "Enter a country as its two-letter ISO code or its name"),
    ("company_size", "viele", "Enter the number of employees as a whole number"),
    ("email", "", "An e-mail address is required."),
    ("language", "deutsch!", "Enter a language code"),
])
def test_bad_input_shows_the_error_at_the_field_keeps_what_was_typed_and_writes_nothing(
    client, marketing, lead, field, value, message
):
    response = post(as_user(client, marketing), lead, form_data(lead, **{field: value}, city="Typed City"),
                    **HTMX_PANEL)
    assert response.status_code == 400
    page = text(response)
    assert escape(message) in page
    assert f'id="id_{field}-errors"' in page
    assert 'value="Typed City"' in page
    assert reload(lead).city == "München"
    assert not LeadFieldEvent.objects.filter(pgh_obj_id=lead.pk).exists()


def test_a_concurrent_change_shows_a_warning_with_the_current_values_instead_of_overwriting(client, marketing,
                                                                                          manager, lead):
    data = form_data(lead, city="Mine")
    edits.edit(lead_id=lead.pk, by=manager, changes={"city": "Theirs"})  # meanwhile
    response = post(as_user(client, marketing), lead, data, **HTMX_PANEL)
    assert response.status_code == 409
    page = text(response)
    assert 'data-testid="edit-conflict"' in page
    assert '<tr data-field="city"><td>City</td><td class="current">Theirs</td><td>Mine</td></tr>' in page
    assert 'value="Mine"' in page  # what was typed stays
    assert reload(lead).city == "Theirs"
    fresh = edits.version_of(reload(lead))
    assert f'name="version" value="{fresh}"' in page
    # saving again, knowingly, overwrites
    again = post(client, lead, {**data, "version": fresh}, **HTMX_PANEL)
    assert again.status_code == 200
    assert reload(lead).city == "Mine"


def test_a_duplicate_e_mail_names_the_other_lead_and_links_the_merge(client, marketing, lead):
    other = LeadFactory(email="taken@firma.de", email_normalized="taken@firma.de")
    response = post(as_user(client, marketing), lead, form_data(lead, email="taken@firma.de"), **HTMX_PANEL)
    assert response.status_code == 409
    page = text(response)
    assert f"#{other.pk}" in page
    assert f'href="/leads/{other.pk}/"' in page and 'href="/data/duplicates/"' in page
    assert Lead.objects.get(pk=lead.pk).email == lead.email
