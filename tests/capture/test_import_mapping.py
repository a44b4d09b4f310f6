"""The Import page's guided steps: upload, column mapping with a preview, the report with the bad values, the
rejected rows as CSV to fix and upload again; notes not doubled by a re-import; the timeline's wording;
the upload's short life and its erasure."""

import datetime as dt
import re

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from capture import bulk, imports
from capture import submissions as capture
from capture.models import ImportUpload
from core.errors import Invalid
from leads.models import Activity, Lead, Submission
from privacy import rights
from tests.factories import CampaignFactory, UserFactory
from tests.pages import as_user, text

pytestmark = pytest.mark.django_db

GERMAN = (
    "Anrede;Vorname;Nachname;Firma;E-Mail;Telefon;Mitarbeiter;Info\n"
    "Frau;Anna;Schäfer;Nordwind GmbH;anna@nordwind.de;089 1234567;250;Demo im Januar\n"
    "Herr;Bernd;Kaputt;Kaputt AG;kein-at-zeichen;+49 30 1234567;viele;Rückruf\n"
    "Herr;Jonas;Weber;Alpenblick AG;jonas@alpenblick.at;;80;\n"
)
GERMAN_MAPPING = ["", "first_name", "last_name", "company", "email", "phone", "company_size", "message"]


def csv_file(content: str, name: str = "messe.csv", encoding: str = "utf-8"):
    return SimpleUploadedFile(name, content.encode(encoding), content_type="text/csv")


def upload(client, content: str = GERMAN, **fields):
    return client.post(reverse("capture:import"), {"file": csv_file(content, **fields), "source": "event"})


def mapping_post(mapping: list[str]) -> dict:
    return {f"column_{index}": name for index, name in enumerate(mapping)}


@pytest.fixture
def staff(client, marketing):
    return as_user(client, marketing)


# --- upload and mapping step ----------------------------------------------------------------------------


def test_an_upload_leads_to_the_mapping_step_with_recognised_german_headers_and_writes_no_lead(staff):
    response = upload(staff)

    assert response.status_code == 302
    stored = ImportUpload.objects.get()
    assert response["Location"] == reverse("capture:import_mapping", args=[stored.token])
    assert "anna" not in response["Location"].lower() and "messe" not in response["Location"]  # a token only
    assert stored.mapping == ["", "first_name", "last_name", "company", "email", "phone", "company_size", ""]
    assert not Lead.objects.exists() and not Submission.objects.exists()

    page = text(staff.get(response["Location"]))
    assert '<option value="email" selected>' in page
    assert "Anrede" in page and "Frau" in page  # the salutation column, shown and ignored
    assert "anna@nordwind.de" in page and "Demo im Januar" in page  # the first values as a preview
    assert "Import 3 rows" in page


def test_the_chosen_mapping_is_imported_ignored_columns_stay_out(staff):
    location = upload(staff)["Location"]
    mapping = list(GERMAN_MAPPING)
    mapping[3] = ""  # Firma: ignored this time

    response = staff.post(location, mapping_post(mapping))

    stored = ImportUpload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("capture:import_report", args=[stored.token])
    anna = Lead.objects.get(email_normalized="anna@nordwind.de")
    assert (anna.first_name, anna.company, anna.company_size) == ("Anna", "", 250)
    assert anna.activities.get().note == "Demo im Januar"  # "Info" became the note by the user's choice
    assert stored.text == "" and stored.imported_at is not None  # the file itself goes once imported
    assert stored.mapping == mapping


def test_the_report_shows_each_bad_value_and_offers_the_rejected_rows(staff):
    location = upload(staff)["Location"]
    page = text(staff.post(location, mapping_post(GERMAN_MAPPING), follow=True))

    assert 'data-testid="rejected">1<' in page
    values = re.findall(r'data-testid="problem-value">(.*?)</td>', page)
    assert "<code>kein-at-zeichen</code>" in values and "<code>viele</code>" in values
    assert "Download the rejected rows" in page


def test_the_rejected_rows_download_as_csv_to_fix_and_upload_again(staff):
    location = upload(staff)["Location"]
    staff.post(location, mapping_post(GERMAN_MAPPING))
    token = ImportUpload.objects.get().token

    response = staff.get(reverse("capture:import_rejected", args=[token]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="messe-rejected.csv"' in response["Content-Disposition"]
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[0] == "Anrede;Vorname;Nachname;Firma;E-Mail;Telefon;Mitarbeiter;Info;Import problem"
    assert len(lines) == 2 and lines[1].startswith("Herr;Bernd;Kaputt;Kaputt AG;kein-at-zeichen;'+49 30 1234567;")
    assert "E-Mail: " in lines[1] and "Mitarbeiter: " in lines[1]

    fixed = body.replace("kein-at-zeichen", "bernd@kaputt.de").replace(";viele;", ";12;")
    again = upload(staff, fixed, name="messe-rejected.csv")["Location"]
    assert ImportUpload.objects.get(token=again.split("/")[-2]).mapping[-1] == ""  # the problem column is ignored
    staff.post(again, mapping_post([*GERMAN_MAPPING, ""]))
    bernd = Lead.objects.get(email_normalized="bernd@kaputt.de")
    assert (bernd.phone, bernd.company_size) == ("+49301234567", 12)  # the apostrophe before + went again


def test_only_sources_that_make_sense_for_a_file_are_offered_and_accepted(staff):
    page = text(staff.get(reverse("capture:import")))
    assert 'value="event"' in page and 'value="partner"' in page
    assert 'value="api"' not in page and 'value="tracking"' not in page and 'value="manual"' not in page

    response = staff.post(reverse("capture:import"), {"file": csv_file(GERMAN), "source": "api"})

    assert response.status_code == 400
    assert 'aria-invalid="true"' in text(response)
    assert not ImportUpload.objects.exists()
    with pytest.raises(Invalid) as refused:
        imports.import_csv(data=GERMAN.encode(), by=None, source="tracking")
    assert list(refused.value.errors) == ["source"]


# --- bad input: nothing written ---------------------------------------------------------------------------


def test_a_mapping_without_an_e_mail_column_is_refused_naming_it_and_writes_nothing(staff):
    location = upload(staff)["Location"]
    mapping = list(GERMAN_MAPPING)
    mapping[4] = ""

    response = staff.post(location, mapping_post(mapping))

    assert response.status_code == 400
    assert "No column is imported as E-mail" in text(response)
    assert '<option value="" selected>' in text(response)  # the user's choice is kept on the page
    assert not Lead.objects.exists() and not Submission.objects.exists()
    assert ImportUpload.objects.get().imported_at is None


def test_an_unknown_field_in_the_mapping_is_a_form_error_and_writes_nothing(staff):
    location = upload(staff)["Location"]
    response = staff.post(location, {**mapping_post(GERMAN_MAPPING), "column_1": "password"})

    assert response.status_code == 400
    assert 'aria-invalid="true"' in text(response) or "Select a valid choice" in text(response)
    assert not Lead.objects.exists() and not Submission.objects.exists()


def test_the_service_refuses_a_mapping_of_the_wrong_length_or_with_unknown_fields(marketing):
    stored = imports.upload(data=GERMAN.encode(), file_name="messe.csv", by=marketing, source="event",
                            campaign_slug=None)
    for bad in (["email"], [*GERMAN_MAPPING[:-1], "is_superuser"], "email"):
        with pytest.raises(Invalid) as refused:
            imports.import_upload(token=stored.token, by=marketing, mapping=bad)
        assert list(refused.value.errors) == ["mapping"]
    assert not Lead.objects.exists() and not Submission.objects.exists()


@pytest.mark.parametrize("content", ["", "Vorname;Nachname\n", "anna@nordwind.de;Anna\nbernd@x.de;Bernd\n"])
def test_an_unusable_file_is_refused_at_the_upload_and_nothing_is_stored(staff, content):
    response = staff.post(reverse("capture:import"), {"file": csv_file(content or " "), "source": "event"})

    assert response.status_code == 400
    assert 'aria-invalid="true"' in text(response)
    assert not ImportUpload.objects.exists()


def test_a_second_import_of_the_same_upload_shows_the_report_and_imports_nothing_again(staff):
    location = upload(staff)["Location"]
    staff.post(location, mapping_post(GERMAN_MAPPING))
    submissions = Submission.objects.count()

    response = staff.post(location, mapping_post(GERMAN_MAPPING))

    assert response.status_code == 302 and response["Location"].endswith("/report/")
    assert Submission.objects.count() == submissions == 3


# --- who may see an upload, and for how long ----------------------------------------------------------


def test_another_users_upload_is_not_found_and_an_sdr_is_refused(client, staff, manager, sdr):
    location = upload(staff)["Location"]
    token = ImportUpload.objects.get().token
    staff.post(location, mapping_post(GERMAN_MAPPING))
    urls = [location, reverse("capture:import_report", args=[token]), reverse("capture:import_rejected", args=[token])]

    other = as_user(client, manager)
    assert [other.get(url).status_code for url in urls] == [404, 404, 404]
    assert other.post(location, mapping_post(GERMAN_MAPPING)).status_code == 404
    assert [as_user(client, sdr).get(url).status_code for url in urls] == [403, 403, 403]


def test_an_expired_upload_is_gone_and_purged(staff):
    location = upload(staff)["Location"]
    later = timezone.now() + dt.timedelta(hours=imports.UPLOAD_HOURS, minutes=1)
    with time_machine.travel(later):
        assert staff.get(location).status_code == 404
        assert staff.post(location, mapping_post(GERMAN_MAPPING)).status_code == 404
        assert imports.purge_expired() == 1
    assert not ImportUpload.objects.exists() and not Lead.objects.exists()


def test_a_new_upload_purges_the_expired_ones(marketing):
    old = imports.upload(data=GERMAN.encode(), file_name="alt.csv", by=marketing, source="event",
                         campaign_slug=None)
    ImportUpload.objects.filter(pk=old.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    imports.upload(data=GERMAN.encode(), file_name="neu.csv", by=marketing, source="event", campaign_slug=None)
    assert list(ImportUpload.objects.values_list("file_name", flat=True)) == ["neu.csv"]


def test_erasing_a_person_deletes_every_upload_naming_their_address(marketing):
    lead = capture.submit(channel="api", payload={"email": "anna@nordwind.de"}).lead
    pending = imports.upload(data=GERMAN.encode(), file_name="messe.csv", by=marketing, source="event",
                             campaign_slug=None)
    other = imports.upload(data=b"email\nsomeone@else.de\n", file_name="other.csv", by=marketing, source="event",
                           campaign_slug=None)

    rights.erase(lead_id=lead.pk, by=marketing, reason="Asked")

    assert list(ImportUpload.objects.values_list("pk", flat=True)) == [other.pk]
    assert not ImportUpload.objects.filter(pk=pending.pk).exists()
    assert "capture.ImportUpload" not in rights.collect(Lead.objects.get(pk=lead.pk))  # never exported


# --- notes and timeline -----------------------------------------------------------------------------------


def test_importing_the_same_file_twice_does_not_add_its_notes_again(marketing):
    content = "email;Notiz\nanna@nordwind.de;Demo im Januar\nanna@nordwind.de;Demo im Januar\nb@firma.de;Rückruf\n"
    imports.import_csv(data=content.encode(), by=marketing)
    imports.import_csv(data=content.encode(), by=marketing)

    notes = list(Activity.objects.exclude(note="").values_list("note", flat=True))
    assert sorted(notes) == ["Demo im Januar", "Rückruf"]
    assert Activity.objects.count() == 6  # every row is still a touchpoint, with its submission


def test_a_new_note_for_a_known_lead_is_added(marketing):
    imports.import_csv(data=b"email;Notiz\nanna@nordwind.de;Demo im Januar\n", by=marketing)
    imports.import_csv(data=b"email;Notiz\nanna@nordwind.de;Zweiter Scan\n", by=marketing)
    assert sorted(Activity.objects.exclude(note="").values_list("note", flat=True)) == ["Demo im Januar",
                                                                                        "Zweiter Scan"]


def test_a_form_sent_twice_with_the_same_message_keeps_one_note():
    for _ in range(2):
        capture.submit(channel="api", payload={"email": "anna@nordwind.de", "message": "Bitte Rückruf"})
    assert list(Activity.objects.exclude(note="").values_list("note", flat=True)) == ["Bitte Rückruf"]
    assert Activity.objects.count() == 2


def test_the_rows_captured_one_by_one_after_a_failed_batch_also_name_their_file(marketing, monkeypatch):
    def broken_batch(rows, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(bulk, "write_batch", broken_batch)
    imports.import_csv(data=b"email;Notiz\na@firma.de;Hallo\na@firma.de;Hallo\n", by=marketing,
                       file_name="messe.csv")

    assert [a.data.get("file") for a in Activity.objects.order_by("pk")] == ["messe.csv", "messe.csv"]
    assert list(Activity.objects.exclude(note="").values_list("note", flat=True)) == ["Hallo"]


def test_the_timeline_says_imported_from_the_file_and_entered_by_the_user(staff, marketing):
    marketing.first_name, marketing.last_name = "Mara", "Kett"
    marketing.save()
    location = upload(staff)["Location"]
    staff.post(location, mapping_post(GERMAN_MAPPING))
    imported = Lead.objects.get(email_normalized="anna@nordwind.de")
    staff.post(reverse("capture:create"), {"email": "hand@firma.de"})
    entered = Lead.objects.get(email_normalized="hand@firma.de")
    web = capture.submit(channel="api", payload={"email": "api@firma.de"}).lead

    def labels(lead):
        page = text(staff.get(reverse("leads:detail", args=[lead.pk])))
        return re.findall(r'data-testid="activity-label">(.*?)</strong>', page)

    assert labels(imported) == ["Imported from messe.csv"]
    assert labels(entered) == ["Entered by Mara Kett"]
    assert labels(web) == ["Form submitted"]


def test_the_campaign_chosen_at_the_upload_is_imported(staff):
    fair = CampaignFactory(slug="dmexco", name="DMEXCO")
    response = staff.post(reverse("capture:import"),
                          {"file": csv_file(GERMAN), "source": "partner", "campaign": "dmexco"})
    page = text(staff.get(response["Location"]))
    assert "DMEXCO" in page
    staff.post(response["Location"], mapping_post(GERMAN_MAPPING))
    anna = Lead.objects.get(email_normalized="anna@nordwind.de")
    assert (anna.source, anna.campaign) == ("partner", fair)


def test_other_staff_see_nothing_of_anothers_upload_on_the_import_page(client, staff):
    other = UserFactory(username="marketing2", role="marketing")
    upload(staff)
    page = text(as_user(client, other).get(reverse("capture:import")))
    assert "messe.csv" not in page and "anna@nordwind.de" not in page


def test_every_recognised_header_can_be_chosen_in_the_mapping_step():
    # A header the step recognises (e.g. "Straße") must be a field the mapping form offers and accepts.
    assert set(imports.HEADER_ALIASES) <= set(imports.FIELD_LABELS)
