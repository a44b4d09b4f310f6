"""One validation for every channel: import, hosted form, manual entry and the capture API accept the same
values ("Deutschland", "1.200") and refuse the same values with the same message."""

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils.html import escape
from rest_framework.test import APIClient

from capture.imports import import_csv
from core.errors import Invalid
from leads import validation
from leads.models import Lead
from tests.factories import CaptureFormFactory
from tests.pages import as_user, text

pytestmark = pytest.mark.django_db

ORIGIN = "https://www.example.com"
COUNTRY_MESSAGE = "Enter a country as its two-letter ISO code or its name, e.g. DE, Germany or Deutschland."
SIZE_MESSAGE = "Enter the number of employees as a whole number, e.g. 1200 or 1.200."


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db):
    cache.clear()


@pytest.mark.parametrize(
    ("given", "code"),
    [("DE", "DE"), ("de", "DE"), ("Deutschland", "DE"), ("germany", "DE"), (" Österreich ", "AT"),
     ("Austria", "AT"), ("Schweiz", "CH"), ("Vereinigtes Königreich", "GB"), ("United Kingdom", "GB"),
     ("Niederlande", "NL"), ("Holland", "NL"), ("Frankreich", "FR"), ("USA", "US"), ("Polen", "PL")],
)
def test_a_country_is_taken_by_its_code_or_its_english_or_german_name(given, code):
    assert validation.clean_country(given, {}) == code


@pytest.mark.parametrize("given", ["Atlantis", "XX", "D", "Deutschlandd"])
def test_an_unknown_country_is_refused_by_name(given):
    errors = {}
    assert validation.clean_country(given, errors) == ""
    assert errors == {"country": [COUNTRY_MESSAGE]}


@pytest.mark.parametrize(
    ("given", "number"),
    [("1.200", 1200), ("1,200", 1200), ("1 200", 1200), ("1\u202f200", 1200), ("1'200", 1200), ("1200", 1200),
     ("1.200.000", 1_200_000), ("500+", 500), (" 42 ", 42), (250, 250)],
)
def test_a_company_size_may_have_thousands_separators(given, number):
    assert validation.clean_company_size(given, {}) == number


@pytest.mark.parametrize("given", ["1.5", "1,20", "1.200,000", "12.34.567", "-3", "viele", True, 1.5])
def test_a_company_size_that_is_not_a_head_count_is_refused(given):
    errors = {}
    assert validation.clean_company_size(given, errors) is None
    assert errors == {"company_size": [SIZE_MESSAGE]}


def test_the_import_takes_german_names_and_thousands(marketing):
    report = import_csv(
        data=b"E-Mail;Land;Mitarbeiter\nanna@nordwind.de;Deutschland;1.200\nbad@nordwind.de;Atlantis;viele\n",
        by=marketing, source="event",
    )
    lead = Lead.objects.get()
    assert (lead.country, lead.company_size) == ("DE", 1200)
    assert sorted((p.field, p.message) for p in report.problems) == [
        ("Land", COUNTRY_MESSAGE), ("Mitarbeiter", SIZE_MESSAGE),
    ]


def test_manual_entry_takes_german_names_and_thousands(client, marketing):
    response = as_user(client, marketing).post(
        reverse("capture:create"), {"email": "jana@example-firma.de", "country": "Deutschland", "company_size": "1.200"}
    )
    assert response.status_code == 302
    lead = Lead.objects.get()
    assert (lead.country, lead.company_size) == ("DE", 1200)


def test_manual_entry_refuses_with_the_same_messages(client, marketing):
    response = as_user(client, marketing).post(
        reverse("capture:create"), {"email": "jana@example-firma.de", "country": "Atlantis", "company_size": "viele"}
    )
    page = text(response)
    assert escape(COUNTRY_MESSAGE) in page and escape(SIZE_MESSAGE) in page
    assert 'value="Atlantis"' in page  # what was typed stays
    assert not Lead.objects.exists()


def test_the_hosted_form_takes_a_german_country_name(client):
    form = CaptureFormFactory(allowed_origins=ORIGIN)
    response = client.post(
        reverse("capture:hosted_form", args=[form.key]),
        {"email": "lena@vogel-technik.de", "country": "Deutschland", "phone": "030 1234567"}, HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code in (200, 302)
    lead = Lead.objects.get()
    assert (lead.country, lead.phone) == ("DE", "+49301234567")


def test_the_capture_api_takes_names_and_thousands_and_refuses_with_the_same_messages():
    form = CaptureFormFactory(allowed_origins=ORIGIN)
    api = APIClient()
    good = api.post("/api/v1/capture/", {"email": "a@firma.de", "country": "Germany", "company_size": "1,200"},
                    format="json", HTTP_X_FORM_KEY=form.key)
    assert good.status_code == 202
    assert Lead.objects.values_list("country", "company_size").get() == ("DE", 1200)
    bad = api.post("/api/v1/capture/", {"email": "b@firma.de", "country": "Atlantis", "company_size": "viele"},
                   format="json", HTTP_X_FORM_KEY=form.key)
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"country": [COUNTRY_MESSAGE], "company_size": [SIZE_MESSAGE]}
    assert Lead.objects.count() == 1


def test_the_edit_cleaner_gives_the_same_values_and_messages():
    assert validation.clean_edit({"country": "Deutschland", "company_size": "1.200", "phone": "089 123456"},
                                 country="") == {"country": "DE", "company_size": 1200, "phone": "+4989123456"}
    with pytest.raises(Invalid) as refused:
        validation.clean_edit({"country": "Atlantis", "company_size": "viele"}, country="DE")
    assert refused.value.errors == {"country": [COUNTRY_MESSAGE], "company_size": [SIZE_MESSAGE]}
