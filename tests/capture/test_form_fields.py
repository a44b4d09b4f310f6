"""Per capture form a chosen set of fields, required flags and labels per language, and progressive
profiling: a known visitor is asked for what the lead does not have yet. The hosted form and the capture API
validate against the form's configuration through `leads.validation` (`capture.profiling`)."""

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from leads.fields import FORM_FIELDS, AskedField, fields_to_ask
from leads.models import Activity, CaptureForm, CaptureFormField, Lead, Submission, Visitor
from tests.factories import CaptureFormFactory, LeadFactory, UserFactory

ORIGIN = "https://www.example.com"
API = "/api/v1/capture/"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db):
    cache.clear()


def chosen(form, *rows) -> CaptureForm:
    for position, row in enumerate(rows):
        name, required, *labels = row
        CaptureFormField.objects.create(form=form, name=name, required=required, position=position,
                                        label_en=labels[0] if labels else "", label_de=labels[1] if labels else "")
    return form


@pytest.fixture
def form(db):
    return chosen(
        CaptureFormFactory(allowed_origins=ORIGIN, progressive_fields=2, topic_choices="Routing\nScoring"),
        ("first_name", True), ("company", True, "Your company", "Ihre Firma"), ("company_size", False),
        ("job_title", False), ("phone", False), ("street", False), ("postcode", False), ("city", True),
        ("topic", False), ("message", False),
    )


def url(form, **query) -> str:
    path = reverse("capture:hosted_form", args=[form.key])
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def shown(response) -> set[str]:
    """The names of the fields the hosted form shows people (not the hidden ones, not the honeypot)."""
    form = response.context["form"]
    return {field.name for field in form.visible_fields_in_order}


def api(form, body):
    return APIClient().post(API, body, format="json", HTTP_X_FORM_KEY=form.key)


# --- the pure rule ---------------------------------------------------------------------------------------


CHOSEN = [AskedField("first_name", True), AskedField("company"), AskedField("phone"), AskedField("city", True),
          AskedField("message")]


def test_an_unknown_visitor_or_a_form_that_does_not_profile_is_asked_every_chosen_field():
    assert fields_to_ask(CHOSEN, known=None, limit=2) == CHOSEN
    assert fields_to_ask(CHOSEN, known={"first_name": "Lena"}, limit=0) == CHOSEN


def test_a_known_lead_is_asked_up_to_n_fields_it_lacks_required_first_in_the_forms_order():
    asked = fields_to_ask(CHOSEN, known={"first_name": "Lena", "company": "", "phone": "", "city": ""}, limit=2)
    assert [f.name for f in asked] == ["company", "city", "message"]  # city (required) before phone


def test_a_lead_that_has_every_field_is_asked_only_about_its_request():
    known = {"first_name": "Lena", "company": "Vogel", "phone": "+4930123456", "city": "Berlin"}
    assert [f.name for f in fields_to_ask(CHOSEN, known=known, limit=3)] == ["message"]


def test_the_admin_choices_are_the_form_fields():
    assert tuple(CaptureFormField.Name.values) == FORM_FIELDS


# --- the hosted form -------------------------------------------------------------------------------------


def test_a_form_without_chosen_fields_asks_the_standard_ones(client, db):
    response = client.get(url(CaptureFormFactory()))
    assert shown(response) == {"email", "first_name", "last_name", "company", "job_title", "phone", "country",
                               "message"}


def test_the_hosted_form_shows_the_chosen_fields_with_their_labels_and_required_marks(client, form):
    response = client.get(url(form))
    assert shown(response) == {"email", "first_name", "company", "company_size", "job_title", "phone", "street",
                               "postcode", "city", "topic", "message"}
    page = response.content.decode()
    assert "Your company" in page and "Ihre Firma" not in page
    assert 'name="city"' in page and 'name="last_name"' not in page
    assert '<option value="Routing">Routing</option>' in page  # the topics offered, as a choice
    city = response.context["form"]["city"]
    assert city.field.widget.attrs.get("required") is True


def test_the_labels_follow_the_visitors_language(client, form):
    page = client.get(url(form), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Ihre Firma" in page and "Your company" not in page
    assert "Straße und Hausnummer" in page  # no label of its own: the standard one, translated


def test_a_required_field_left_empty_is_refused_next_to_it_and_nothing_is_captured(client, form):
    response = client.post(url(form), {"email": "lena@vogel-technik.de", "first_name": "Lena",
                                       "company": "Vogel Technik"}, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 400
    assert response.context["form"].errors["city"] == ["This field is required."]
    assert not Lead.objects.exists() and not Activity.objects.exists()
    assert Submission.objects.get().outcome == Submission.Outcome.REJECTED


def test_the_hosted_form_stores_the_address_and_the_topic(client, form):
    response = client.post(url(form), {
        "email": "lena@vogel-technik.de", "first_name": "Lena", "company": "Vogel Technik", "company_size": "1.200",
        "street": "Hauptstr. 5", "postcode": "10115", "city": "Berlin", "topic": "Scoring",
    }, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200, response.context["form"].errors
    lead = Lead.objects.get()
    assert (lead.street, lead.postcode, lead.city, lead.company_size) == ("Hauptstr. 5", "10115", "Berlin", 1200)
    assert Activity.objects.get(lead=lead).data["topic"] == "Scoring"


def test_an_address_in_the_url_is_ignored_so_no_personal_data_travels_in_urls(client, form):
    LeadFactory(email="lena@vogel-technik.de", first_name="Lena", company="Vogel Technik", city="Berlin",
                company_size=None, job_title="", phone="")
    every = shown(client.get(url(form)))
    response = client.get(url(form, email="lena@vogel-technik.de", embed=1))
    assert shown(response) == every  # not profiled by the address
    assert not response.context["form"]["email"].value()  # and not prefilled from it


def test_a_visitor_stitched_to_a_lead_is_asked_what_the_lead_lacks(client, form):
    lead = LeadFactory(first_name="Lena", company="", city="", company_size=None, job_title="", phone="")
    Visitor.objects.create(anonymous_id="visitor-known-1", lead=lead)
    response = client.get(url(form, visitor_id="visitor-known-1"))
    assert shown(response) == {"email", "company", "city", "topic", "message"}  # the required ones first


def test_an_anonymous_visitor_id_or_an_unknown_email_gets_every_field(client, form):
    Visitor.objects.create(anonymous_id="visitor-anon-1")
    every = shown(client.get(url(form)))
    assert shown(client.get(url(form, visitor_id="visitor-anon-1"))) == every
    assert shown(client.get(url(form, email="nobody@firma.de"))) == every


def test_a_known_lead_is_not_refused_for_required_fields_the_form_did_not_ask(client, form):
    lead = LeadFactory(email="lena@vogel-technik.de", first_name="Lena", company="Vogel Technik", city="Berlin",
                       company_size=None, job_title="", phone="")
    response = client.post(url(form), {"email": "lena@vogel-technik.de", "company_size": "50",
                                       "job_title": "CTO"}, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.company_size, lead.job_title, lead.first_name, lead.city) == (50, "CTO", "Lena", "Berlin")


# --- the capture API -------------------------------------------------------------------------------------


def test_the_api_refuses_a_submission_without_the_forms_required_fields_naming_them(form):
    response = api(form, {"email": "lena@vogel-technik.de", "company": "Vogel Technik"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"first_name", "city"}
    assert not Lead.objects.exists()


def test_the_api_takes_the_address_fields(form):
    response = api(form, {"email": "lena@vogel-technik.de", "first_name": "Lena", "company": "Vogel",
                          "city": "Berlin", "region": "Berlin", "postcode": "10115"})
    assert response.status_code == 202
    assert Lead.objects.filter(city="Berlin", region="Berlin", postcode="10115").exists()


def test_a_topic_the_form_does_not_offer_is_refused(form):
    response = api(form, {"email": "lena@vogel-technik.de", "first_name": "Lena", "company": "Vogel",
                          "city": "Berlin", "topic": "Knitting"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["topic"]
    assert not Lead.objects.exists()


def test_bad_address_values_are_refused_naming_the_field(form):
    response = api(form, {"email": "lena@vogel-technik.de", "first_name": "Lena", "company": "Vogel",
                          "city": "x" * 101, "postcode": ["10115"]})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"city", "postcode"}
    assert not Lead.objects.exists()


def test_a_staff_token_without_a_form_is_not_held_to_any_forms_fields(db):
    from io import StringIO

    from django.core.management import call_command

    user = UserFactory(username="mkt", role="marketing")
    out = StringIO()
    call_command("create_api_token", user.username, stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    assert client.post(API, {"email": "lena@vogel-technik.de"}, format="json").status_code == 201


# --- the admin -------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    return client


def admin_post(form, **changes) -> dict:
    data = {
        "name": form.name, "key": form.key, "source": form.source, "activity_kind": form.activity_kind,
        "title": "", "consent_wording": "Yes", "allowed_origins": ORIGIN, "thank_you_text": "",
        "progressive_fields": "2", "topic_choices": "", "is_active": "on",
        "consent_purposes": ["newsletter", "sales_phone"],
        "field_choices-TOTAL_FORMS": "2", "field_choices-INITIAL_FORMS": "0",
        "field_choices-MIN_NUM_FORMS": "0", "field_choices-MAX_NUM_FORMS": "1000",
        "field_choices-0-position": "0", "field_choices-0-name": "street", "field_choices-0-required": "on",
        "field_choices-0-label_en": "", "field_choices-0-label_de": "Straße",
        "field_choices-1-position": "1", "field_choices-1-name": "topic",
        "field_choices-1-label_en": "", "field_choices-1-label_de": "",
    }
    data.update(changes)
    return data


def test_the_admin_edits_fields_and_consent_purposes_without_json(admin_client, db):
    form = CaptureFormFactory()
    change = reverse("admin:leads_captureform_change", args=[form.pk])
    page = admin_client.get(change).content.decode()
    assert 'type="checkbox" name="consent_purposes" value="sales_phone"' in page
    response = admin_client.post(change, admin_post(form))
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.consent_purposes == ["newsletter", "sales_phone"]
    assert [(f.name, f.required, f.label_de) for f in form.chosen_fields()] == [
        ("street", True, "Straße"), ("topic", False, "")]


@pytest.mark.parametrize("changes, field", [
    ({"field_choices-1-name": "street"}, "inline:__all__"),  # one field twice
    ({"field_choices-1-name": "password"}, "inline:name"),  # not a form field
    ({"progressive_fields": "-1"}, "progressive_fields"),
    ({"progressive_fields": "21"}, "progressive_fields"),
    ({"consent_purposes": ["everything"]}, "consent_purposes"),
])
def test_the_admin_refuses_a_bad_configuration_and_saves_nothing(admin_client, db, changes, field):
    form = CaptureFormFactory()
    change = reverse("admin:leads_captureform_change", args=[form.pk])
    response = admin_client.post(change, admin_post(form, **changes))
    assert response.status_code == 200
    if field.startswith("inline:"):
        formset = response.context["inline_admin_formsets"][0].formset
        assert field.removeprefix("inline:") in formset.errors[1], formset.errors
    else:
        assert field in response.context["adminform"].form.errors
    form.refresh_from_db()
    assert form.consent_purposes == ["marketing_email"] and not form.field_choices.exists()


# --- the CSV import takes the address too (the same validation) -----------------------------------------


def test_the_import_takes_german_address_columns_and_refuses_a_too_long_postcode(db):
    from capture.imports import import_csv

    marketing = UserFactory(username="mkt", role="marketing")
    data = ("E-Mail;Vorname;Straße;PLZ;Ort;Bundesland\n"
            "anna@nordwind.de;Anna;Hafenstr. 1;20457;Hamburg;Hamburg\n"
            "jonas@alpenblick.at;Jonas;Ring 2;12345678901234567;Wien;Wien\n").encode()
    report = import_csv(data=data, by=marketing, source="event", campaign_slug=None)
    assert (report.created, report.rejected) == (1, 1)
    assert [(p.row, p.field) for p in report.problems] == [(3, "PLZ")]
    lead = Lead.objects.get()
    assert (lead.street, lead.postcode, lead.city, lead.region) == ("Hafenstr. 1", "20457", "Hamburg", "Hamburg")


def test_staff_see_how_to_give_the_tracking_consent_in_their_language(admin_client, db):
    form = CaptureFormFactory()
    hint = 'data-testid="consent-hint"'
    page = admin_client.get(url(form)).content.decode()
    assert hint in page and "<code>leadwerk.consent(true)</code>" in page
    german = admin_client.get(url(form), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Das Skript erfasst nichts, bis der Besucher einwilligt" in german


def test_the_api_asks_a_known_lead_only_the_required_fields_the_form_asks_it(form):
    LeadFactory(email="lena@vogel-technik.de", first_name="Lena", company="", city="", company_size=None)
    response = api(form, {"email": "lena@vogel-technik.de"})  # progressive: company and city are asked
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"company", "city"}
    assert api(form, {"email": "lena@vogel-technik.de", "company": "Vogel", "city": "Berlin"}).status_code == 202


@pytest.mark.parametrize("email", ["lena\x00@vogel-technik.de", "a" * 300 + "@x.de"])
def test_an_address_that_cannot_be_one_is_refused_by_a_profiling_form_not_a_500(client, form, email):
    response = client.post(url(form), {"email": email, "first_name": "Lena"}, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 400
    assert response.context["form"].errors["email"]
    assert not Lead.objects.exists()


