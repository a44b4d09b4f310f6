"""The import's column-mapping step in a real browser (Playwright on the system Chromium): upload a German
Excel list, see the recognised columns and the first values, change one column, import, read the bad value in
the report and download the rejected rows. Fixtures from `tests/config/test_browser`."""

import pytest

from core.vocabulary import Role
from leads.models import Lead
from tests.config.test_browser import browser, log_in, page, pytestmark
from tests.factories import UserFactory

__all__ = ["browser", "page", "pytestmark"]  # the fixtures and the skip mark (no Chromium) of test_browser

GERMAN_EXCEL = (
    "Anrede;Vorname;Nachname;Firma;E-Mail;Telefon;Mitarbeiter;Info\r\n"
    "Frau;Anna;Schäfer;Nordwind Logistik GmbH;anna.schaefer@nordwind-logistik.de;089 1234567;1.200;Demo im Januar\r\n"
    "Herr;Bernd;Kaputt;Kaputt AG;kein-at-zeichen;030 1234567;250;\r\n"
).encode("cp1252")


@pytest.mark.django_db(transaction=True)
def test_marketing_maps_the_columns_of_a_german_file_imports_and_downloads_the_rejected_rows(
    page, live_server, tmp_path
):
    UserFactory(username="marketing", role=Role.MARKETING)
    upload = tmp_path / "messe.csv"
    upload.write_bytes(GERMAN_EXCEL)
    log_in(page, live_server, "marketing", "/leads/import/")
    assert page.locator("select[name=source] option[value=api]").count() == 0
    page.set_input_files("input[name=file]", str(upload))
    page.click(".form-card button[type=submit]")

    page.locator("[data-testid=mapping-form]").wait_for()
    assert "/leads/import/" in page.url and "anna" not in page.url
    assert page.input_value("select[name=column_0]") == ""  # Anrede: recognised, ignored
    assert page.input_value("select[name=column_4]") == "email"
    assert page.input_value("select[name=column_6]") == "company_size"
    assert page.input_value("select[name=column_7]") == ""  # "Info" is unknown: ignored unless chosen
    assert "anna.schaefer@nordwind-logistik.de" in page.locator("[data-testid=column-4]").inner_text()
    assert "Schäfer" in page.locator("[data-testid=column-2]").inner_text()  # Windows-1252 read right
    assert not Lead.objects.exists()

    page.select_option("select[name=column_7]", "message")  # the user makes "Info" the note
    page.click("[data-testid=import-button]")

    page.locator("[data-testid=created]").wait_for()
    assert page.locator("[data-testid=created]").inner_text() == "1"
    assert page.locator("[data-testid=rejected]").inner_text() == "1"
    assert "kein-at-zeichen" in page.locator("[data-testid=problem-value]").first.inner_text()
    anna = Lead.objects.get(email_normalized="anna.schaefer@nordwind-logistik.de")
    assert (anna.company_size, anna.activities.get().note) == (1200, "Demo im Januar")

    with page.expect_download() as download:
        page.click("[data-testid=rejected-download]")
    rows = open(download.value.path(), encoding="utf-8-sig").read().splitlines()
    assert rows[0].endswith(";Import problem") and rows[1].startswith("Herr;Bernd;Kaputt;Kaputt AG;kein-at-zeichen;")

    page.goto(f"{live_server.url}/leads/{anna.pk}/")
    assert page.locator("[data-testid=activity-label]").first.inner_text() == "Imported from messe.csv"
