"""CSV import: every row through the capture service, a per-row report, the file refused as a whole."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from leads import capture, imports
from leads.imports import ImportFileInvalid, ImportOptionInvalid, Problem, import_csv
from leads.models import Activity, Lead, Submission
from tests.factories import CampaignFactory, LeadFactory

SAMPLE = Path(__file__).resolve().parent.parent / "docs" / "sample-import.csv"

GOOD = (
    "email,first_name,last_name,company,phone,country\n"
    "anna.schaefer@nordwind-logistik.de,Anna,Schäfer,Nordwind Logistik GmbH,089 1234567,DE\n"
    "jonas.weber@alpenblick.at,Jonas,Weber,Alpenblick AG,+43 1 5123456,AT\n"
)


@pytest.fixture
def fair(db):
    return CampaignFactory(slug="dmexco", name="DMEXCO")


def run(text: str | bytes, *, by=None, source="event", campaign_slug=None) -> imports.ImportReport:
    data = text.encode() if isinstance(text, str) else text
    return import_csv(data=data, by=by, source=source, campaign_slug=campaign_slug)


def test_good_rows_are_created_with_source_and_campaign(marketing, fair):
    report = run(GOOD, by=marketing, campaign_slug="dmexco")

    assert (report.total, report.created, report.merged, report.rejected) == (2, 2, 0, 0)
    assert report.problems == []
    lead = Lead.objects.get(email_normalized="anna.schaefer@nordwind-logistik.de")
    assert (lead.first_name, lead.company, lead.phone, lead.country) == (
        "Anna", "Nordwind Logistik GmbH", "+49891234567", "DE"
    )
    assert lead.source == "event"
    assert lead.campaign == fair


def test_every_row_is_a_recorded_submission_of_the_import_channel(marketing, fair):
    run(GOOD, by=marketing, campaign_slug="dmexco")

    submissions = Submission.objects.order_by("pk")
    assert [s.outcome for s in submissions] == ["created", "created"]
    assert {s.channel for s in submissions} == {"import"}
    assert {s.submitted_by for s in submissions} == {marketing}
    assert submissions[0].payload["source"] == "event"
    assert submissions[0].payload["campaign"] == "dmexco"
    assert Activity.objects.filter(lead__isnull=False).count() == 2


def test_bad_rows_are_reported_with_row_field_and_message_and_not_created(marketing):
    text = (
        "email,first_name,phone,company_size\n"
        "good@firma.de,Gina,,\n"
        "not-an-address,Bernd,,\n"
        "bad.phone@firma.de,Paula,12,\n"
        "bad.size@firma.de,Sven,,viele\n"
    )
    report = run(text, by=marketing)

    assert (report.total, report.created, report.merged, report.rejected) == (4, 1, 0, 3)
    assert [(p.row, p.field) for p in report.problems] == [(3, "email"), (4, "phone"), (5, "company_size")]
    assert all(p.message for p in report.problems)
    assert list(Lead.objects.values_list("email", flat=True)) == ["good@firma.de"]
    assert Submission.objects.filter(outcome="rejected").count() == 3


def test_a_row_without_e_mail_is_reported_on_the_e_mail_column(marketing):
    report = run("E-Mail;Vorname\n;Anna\n", by=marketing)

    assert report.rejected == 1
    assert [(p.row, p.field) for p in report.problems] == [(2, "E-Mail")]
    assert not Lead.objects.exists()


def test_the_same_address_twice_in_the_file_is_merged(marketing):
    text = "email,first_name,job_title\nanna@firma.de,Anna,\nANNA@firma.de ,,CMO\n"
    report = run(text, by=marketing)

    assert (report.created, report.merged, report.rejected) == (1, 1, 0)
    lead = Lead.objects.get()
    assert (lead.first_name, lead.job_title) == ("Anna", "CMO")
    assert lead.activities.count() == 2


def test_an_address_already_in_the_database_is_merged_without_overwriting(marketing):
    existing = LeadFactory(email="anna@firma.de", first_name="Anna", company="")
    report = run("email,first_name,company\nAnna@Firma.de,Annette,Firma GmbH\n", by=marketing)

    assert (report.created, report.merged) == (0, 1)
    lead = Lead.objects.get(pk=existing.pk)
    assert (lead.first_name, lead.company) == ("Anna", "Firma GmbH")
    assert Submission.objects.get().outcome == "merged"


def test_the_sample_file_semicolons_german_headers_and_excel_values(marketing):
    report = run(SAMPLE.read_bytes(), by=marketing)

    assert report.delimiter == ";"
    assert (report.total, report.created, report.merged, report.rejected) == (7, 6, 1, 0)
    assert report.problems == [Problem(1, "Anrede", "Unknown column, ignored.")]
    lukas = Lead.objects.get(email_normalized="lukas.brunner@rheintal-maschinenbau.ch")
    assert (lukas.country, lukas.phone, lukas.company_size, lukas.job_title) == (
        "CH", "+41442345678", 1200, "Geschäftsführer"
    )
    assert Lead.objects.get(email_normalized="petra.hoffmann@hansa-medtech.de").company_size == 500
    assert Lead.objects.get(email_normalized="j.weber@alpenblick-software.at").country == "AT"


def test_headers_are_matched_ignoring_case_spaces_and_punctuation(marketing):
    text = "E-Mail-Adresse;FIRST NAME;Last_Name;Unternehmen;Job Title;Telefonnummer;UTM Source\n" \
           "a@firma.de;Anna;Muster;Firma AG;CMO;+49 30 1234567;messe\n"
    report = run(text, by=marketing)

    assert report.problems == []
    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name, lead.company, lead.job_title, lead.phone, lead.utm_source) == (
        "Anna", "Muster", "Firma AG", "CMO", "+49301234567", "messe"
    )


def test_a_full_name_column_is_split(marketing):
    run("Name,Email\nAnna Maria Schäfer,a@firma.de\n\"Weber, Jonas\",j@firma.de\n", by=marketing)

    names = dict(Lead.objects.values_list("email", "last_name"))
    assert names == {"a@firma.de": "Schäfer", "j@firma.de": "Weber"}
    assert Lead.objects.get(email="a@firma.de").first_name == "Anna Maria"


def test_unknown_columns_are_reported_once_on_row_1_and_ignored(marketing):
    text = "email,Anrede,Lieblingsfarbe\na@firma.de,Frau,blau\nb@firma.de,Herr,rot\n"
    report = run(text, by=marketing)

    assert report.created == 2
    assert [(p.row, p.field) for p in report.problems] == [(1, "Anrede"), (1, "Lieblingsfarbe")]
    assert "Anrede" not in Submission.objects.first().payload


def test_empty_rows_are_skipped_and_row_numbers_are_file_lines(marketing):
    text = 'email,message\n\na@firma.de,"zwei\nZeilen"\n;\n,\nnot-valid,x\n'
    report = run(text, by=marketing)

    assert (report.total, report.created, report.rejected) == (3, 1, 2)
    assert [(p.row, p.field) for p in report.problems] == [(5, "email"), (7, "email")]
    assert Lead.objects.get().activities.get().note == "zwei\nZeilen"


def test_a_windows_1252_file_from_excel_is_read(marketing):
    data = "E-Mail;Nachname;Firma\r\nm@firma.de;Müller;Straßenbau Süd GmbH\r\n".encode("cp1252")
    report = run(data, by=marketing)

    assert report.encoding == "cp1252"
    assert Lead.objects.get().company == "Straßenbau Süd GmbH"


def test_a_utf8_file_with_byte_order_mark_is_read(marketing):
    report = run("\ufeffE-Mail;Nachname\r\nm@firma.de;Müller\r\n".encode(), by=marketing)

    assert report.created == 1
    assert report.problems == []


def test_a_row_with_more_values_than_columns_is_imported_and_reported(marketing):
    report = run("email,first_name\na@firma.de,Anna,extra\n", by=marketing)

    assert report.created == 1
    assert [p.row for p in report.problems] == [2]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", id="excel-workbook"),
        pytest.param(b"email,name\n\x81\x8d\x8f@firma.de,x\n", id="not-utf8"),
        pytest.param(b"email,name\n\x1b\x02\x03\xe4@firma.de,x\n", id="binary-not-utf8"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\n \n\r\n", id="blank-lines"),
        pytest.param(b"first_name,company\nAnna,Firma\n", id="no-email-column"),
        pytest.param(b"anna@firma.de,Anna,Firma\nbernd@firma.de,Bernd,Firma\n", id="no-header-row"),
        pytest.param(b'email,name\n"a@firma.de,Anna\n', id="broken-quotes"),
    ],
)
def test_an_unusable_file_is_refused_and_nothing_is_written(marketing, data):
    with pytest.raises(ImportFileInvalid) as refused:
        run(data, by=marketing)

    assert refused.value.message
    assert not Submission.objects.exists()
    assert not Lead.objects.exists()


def test_a_file_with_too_many_rows_is_refused_before_any_row(marketing, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 2)

    with pytest.raises(ImportFileInvalid, match="more than 2 rows"):
        run("email\na@firma.de\nb@firma.de\nc@firma.de\n", by=marketing)
    assert not Submission.objects.exists()


def test_a_file_over_the_size_limit_is_refused(marketing, monkeypatch):
    monkeypatch.setattr(imports, "MAX_BYTES", 20)

    with pytest.raises(ImportFileInvalid, match="larger than"):
        run(GOOD, by=marketing)
    assert not Submission.objects.exists()


def test_an_unknown_campaign_is_refused_before_any_row(marketing):
    with pytest.raises(ImportOptionInvalid) as refused:
        run(GOOD, by=marketing, campaign_slug="no-such-fair")

    assert refused.value.option == "campaign"
    assert isinstance(refused.value, ValueError)
    assert not Submission.objects.exists()


def test_an_unknown_source_is_refused(marketing):
    with pytest.raises(ImportOptionInvalid) as refused:
        run(GOOD, by=marketing, source="fax")

    assert refused.value.option == "source"
    assert not Submission.objects.exists()


def test_a_failing_row_does_not_stop_the_others(marketing, monkeypatch):
    real_submit = capture.submit

    def submit(**kwargs):
        if kwargs["payload"]["email"].startswith("boom"):
            raise RuntimeError("database went away")
        return real_submit(**kwargs)

    monkeypatch.setattr(capture, "submit", submit)
    report = run("email\na@firma.de\nboom@firma.de\nc@firma.de\n", by=marketing)

    assert (report.created, report.rejected) == (2, 1)
    assert [p.row for p in report.problems] == [3]
    assert Lead.objects.count() == 2


# --- manage.py import_leads -------------------------------------------------------------------------------


def test_the_command_prints_problems_and_a_summary(tmp_path, marketing, fair):
    path = tmp_path / "messe.csv"
    path.write_text("E-Mail;Vorname;Anrede\na@firma.de;Anna;Frau\nkaputt;Bernd;Herr\na@firma.de;;\n")
    out = StringIO()

    call_command("import_leads", str(path), "--campaign", "dmexco", "--as", "marketing", stdout=out)

    lines = out.getvalue().splitlines()
    assert "row 1\tAnrede\tUnknown column, ignored." in lines
    assert any(line.startswith("row 3\tE-Mail\t") for line in lines)
    assert lines[-1] == "3 rows: 1 created, 1 merged, 1 rejected."
    lead = Lead.objects.get()
    assert (lead.source, lead.campaign) == ("event", fair)
    assert Submission.objects.filter(submitted_by=marketing).count() == 3


def test_the_command_imports_without_a_user(tmp_path, db):
    path = tmp_path / "liste.csv"
    path.write_text(GOOD)
    out = StringIO()

    call_command("import_leads", str(path), "--source", "partner", stdout=out)

    assert out.getvalue().strip() == "2 rows: 2 created, 0 merged, 0 rejected."
    assert set(Lead.objects.values_list("source", flat=True)) == {"partner"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--campaign", "no-such-fair"], "--campaign"),
        (["--source", "fax"], "--source"),
        (["--as", "nobody"], "--as"),
    ],
)
def test_the_command_fails_on_bad_options(tmp_path, db, options, message):
    path = tmp_path / "liste.csv"
    path.write_text(GOOD)

    with pytest.raises(CommandError, match=message):
        call_command("import_leads", str(path), *options, stdout=StringIO())
    assert not Lead.objects.exists()


def test_the_command_fails_on_a_missing_file(tmp_path, db):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_leads", str(tmp_path / "missing.csv"), stdout=StringIO())


def test_the_command_fails_on_an_unusable_file(tmp_path, db):
    path = tmp_path / "liste.csv"
    path.write_text("Vorname;Nachname\nAnna;Muster\n")

    with pytest.raises(CommandError, match="no e-mail column"):
        call_command("import_leads", str(path), stdout=StringIO())
    assert not Submission.objects.exists()
