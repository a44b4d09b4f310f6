"""CSV import: every row gets what a capture would give it (in bulk), a per-row report, the file refused as a
whole."""

import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.crypto import salted_hmac

from capture import bulk, imports
from capture import submissions as capture
from capture.imports import import_csv
from core.errors import Invalid
from core.vocabulary import Role, Stage
from leads.models import Activity, Lead, LeadTransition, Notification, Submission
from privacy import rights, suppression
from privacy.models import ConsentEvent
from routing.models import Rep, RoutingRule, Team
from scoring.models import ScoringModel
from tests.factories import ActivityFactory, CampaignFactory, LeadFactory, UserFactory
from tests.leads.test_concurrency import race

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "sample-import.csv"

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
    assert report.problems == []  # the salutation (Anrede) is recognised and not imported: no problem
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


def test_unknown_columns_are_reported_once_on_row_1_and_ignored_the_salutation_is_no_problem(marketing):
    text = "email,Anrede,Lieblingsfarbe\na@firma.de,Frau,blau\nb@firma.de,Herr,rot\n"
    report = run(text, by=marketing)

    assert report.created == 2
    assert [(p.row, p.field) for p in report.problems] == [(1, "Lieblingsfarbe")]
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
    with pytest.raises(Invalid) as refused:
        run(data, by=marketing)

    assert refused.value.errors["file"]
    assert not Submission.objects.exists()
    assert not Lead.objects.exists()


def test_a_file_with_too_many_rows_is_refused_before_any_row(marketing, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 2)

    with pytest.raises(Invalid, match="more than 2 rows"):
        run("email\na@firma.de\nb@firma.de\nc@firma.de\n", by=marketing)
    assert not Submission.objects.exists()


def test_a_file_over_the_size_limit_is_refused(marketing, monkeypatch):
    monkeypatch.setattr(imports, "MAX_BYTES", 20)

    with pytest.raises(Invalid, match="larger than"):
        run(GOOD, by=marketing)
    assert not Submission.objects.exists()


def test_an_unknown_campaign_is_refused_before_any_row(marketing):
    with pytest.raises(Invalid) as refused:
        run(GOOD, by=marketing, campaign_slug="no-such-fair")

    assert list(refused.value.errors) == ["campaign"]
    assert not Submission.objects.exists()


def test_an_unknown_source_is_refused(marketing):
    with pytest.raises(Invalid) as refused:
        run(GOOD, by=marketing, source="fax")

    assert list(refused.value.errors) == ["source"]
    assert not Submission.objects.exists()


def test_a_failing_batch_is_rolled_back_and_its_rows_captured_one_by_one(marketing, monkeypatch):
    def broken_batch(rows, **kwargs):
        real_write_batch(rows, **kwargs)  # writes everything, then fails: nothing of it may remain
        raise RuntimeError("database went away")

    real_write_batch, real_submit = bulk.write_batch, capture.submit

    def submit(**kwargs):
        if kwargs["payload"]["email"].startswith("boom"):
            raise RuntimeError("still broken")
        return real_submit(**kwargs)

    monkeypatch.setattr(bulk, "write_batch", broken_batch)
    monkeypatch.setattr(capture, "submit", submit)
    report = run("email\na@firma.de\nboom@firma.de\nc@firma.de\n", by=marketing)

    assert (report.created, report.merged, report.rejected) == (2, 0, 1)
    assert [(p.row, p.field) for p in report.problems] == [(3, "")]
    assert sorted(Lead.objects.values_list("email", flat=True)) == ["a@firma.de", "c@firma.de"]
    assert Submission.objects.count() == 2
    assert Activity.objects.count() == 2


# --- manage.py import_leads -------------------------------------------------------------------------------


def test_the_command_prints_problems_and_a_summary(tmp_path, marketing, fair):
    path = tmp_path / "messe.csv"
    path.write_text("E-Mail;Vorname;Hobby\na@firma.de;Anna;Golf\nkaputt;Bernd;Tennis\na@firma.de;;\n")
    out = StringIO()

    call_command("import_leads", str(path), "--campaign", "dmexco", "--as", "marketing", stdout=out)

    lines = out.getvalue().splitlines()
    assert "row 1\tHobby\tUnknown column, ignored." in lines
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


# --- the bulk path: what a capture would give each row, in a fixed number of statements --------------------


MIXED = (
    "E-Mail;Vorname;Firma;Land\n"
    "neu@firma.de;Nora;;DE\n"  # row 2: new
    "bekannt@firma.de;Bea;Bekannt GmbH;DE\n"  # row 3: already in the database
    "NEU@firma.de ;Nina;Neu AG;\n"  # row 4: repeats row 2
    "kaputt;Karl;;DE\n"  # row 5: bad e-mail
    "land@firma.de;Lena;;Atlantis\n"  # row 6: bad country
    "bekannt@firma.de;;Zweite Firma;AT\n"  # row 7: repeats row 3
)


def test_new_known_repeated_and_bad_rows_get_exactly_the_capture_outcomes(marketing):
    known = LeadFactory(email="bekannt@firma.de", first_name="Berta", company="", country="")

    report = run(MIXED, by=marketing)

    assert (report.total, report.created, report.merged, report.rejected) == (6, 1, 3, 2)
    assert [(p.row, p.field) for p in report.problems] == [(5, "E-Mail"), (6, "Land")]
    assert Lead.objects.count() == 2
    new = Lead.objects.get(email_normalized="neu@firma.de")
    assert (new.email, new.first_name, new.company, new.country, new.source) == (
        "neu@firma.de", "Nora", "Neu AG", "DE", "event"
    )  # the first row created it; the repeat filled what was still empty, and overwrote nothing
    known = Lead.objects.get(pk=known.pk)
    assert (known.first_name, known.company, known.country) == ("Berta", "Bekannt GmbH", "DE")
    submissions = list(Submission.objects.order_by("pk"))
    assert [(s.payload["email"].strip(), s.outcome, s.response_status, s.lead_id) for s in submissions] == [
        ("neu@firma.de", "created", 201, new.pk),
        ("bekannt@firma.de", "merged", 200, known.pk),
        ("NEU@firma.de", "merged", 200, new.pk),
        ("kaputt", "rejected", 400, None),
        ("land@firma.de", "rejected", 400, None),
        ("bekannt@firma.de", "merged", 200, known.pk),
    ]
    assert set(submissions[3].errors) == {"email"} and set(submissions[4].errors) == {"country"}
    assert submissions[0].response_body == {
        "id": new.pk, "created": True, "stage": "known", "score": new.score, "owner": None,
    }
    assert submissions[2].response_body["created"] is False
    assert new.activities.count() == 2 and known.activities.count() == 2
    touchpoint = new.activities.order_by("pk").first()
    assert (touchpoint.kind, touchpoint.created_by, touchpoint.data) == (
        "form_submit", marketing,
        {"submission": submissions[0].pk, "channel": "import", "source": "event", "campaign": None},
    )


def test_a_bad_row_names_its_column_and_nothing_but_its_rejected_submission_is_written(marketing):
    report = run("E-Mail;Telefon;Mitarbeiter\nanna@firma.de;12;viele\n", by=marketing)

    assert report.rejected == 1
    assert [(p.row, p.field) for p in report.problems] == [(2, "Telefon"), (2, "Mitarbeiter")]
    assert all(p.message for p in report.problems)
    assert not Lead.objects.exists()
    assert not Activity.objects.exists()
    submission = Submission.objects.get()
    assert (submission.outcome, submission.lead, set(submission.errors)) == (
        "rejected", None, {"phone", "company_size"}
    )


def test_imported_leads_are_scored_like_captured_ones(marketing):
    row = {"email": "ceo@maschinenbau.de", "job_title": "Geschäftsführer", "company_size": "250",
           "industry": "Software", "source": "event"}
    captured = capture.submit(channel="import", payload={**row, "email": "twin@maschinenbau.de"}, by=marketing)

    run("email,job_title,company_size,industry\nceo@maschinenbau.de,Geschäftsführer,250,Software\n", by=marketing)

    imported = Lead.objects.get(email_normalized="ceo@maschinenbau.de")
    twin = Lead.objects.get(pk=captured.lead.pk)
    assert imported.score > 0
    assert (imported.score, imported.fit_score, imported.engagement_score, imported.temperature) == (
        twin.score, twin.fit_score, twin.engagement_score, twin.temperature
    )
    assert imported.score_model_version == twin.score_model_version
    assert imported.score_breakdown == twin.score_breakdown


def test_the_score_a_new_lead_is_inserted_with_is_corrected_by_the_rescoring(marketing, monkeypatch):
    monkeypatch.setattr(bulk, "_score_estimator", lambda spec, now: lambda first, values, source: (99, 90, 9, "hot"))
    captured = capture.submit(channel="import", payload={"email": "twin@firma.de", "job_title": "CEO"}, by=marketing)

    run("email,job_title\nceo@firma.de,CEO\n", by=marketing)

    imported = Lead.objects.get(email_normalized="ceo@firma.de")
    twin = Lead.objects.get(pk=captured.lead.pk)
    assert (imported.score, imported.fit_score, imported.engagement_score, imported.temperature) == (
        twin.score, twin.fit_score, twin.engagement_score, twin.temperature
    ) != (99, 90, 9, "hot")
    assert imported.score_model_version == twin.score_model_version


def make_inside_sales():
    team = Team.objects.create(name="Inside Sales", slug="inside-sales")
    rep = Rep.objects.create(user=UserFactory(username="rep1", role=Role.SDR), team=team, capacity=10)
    RoutingRule.objects.create(name="Everyone to inside sales", position=10, target_type="team", target_team=team,
                               method="round_robin")
    return rep


def test_an_imported_row_that_lifts_a_lead_over_the_threshold_makes_an_mql_routed_to_a_rep(marketing):
    rep = make_inside_sales()
    engaged = LeadFactory(email="engaged@firma.de", company_size=None, industry="", job_title="")
    cold = LeadFactory(email="cold@firma.de", company_size=None, industry="", job_title="")
    for days in (1, 3):
        ActivityFactory(lead=engaged, kind="webinar_attended", occurred_at=timezone.now() - dt.timedelta(days=days))
    threshold = ScoringModel.active().mql_threshold
    text = (
        "email,job_title,company_size,industry\n"
        "engaged@firma.de,Geschäftsführer,500,Software\n"
        "cold@firma.de,Geschäftsführer,500,Software\n"
    )

    report = run(text, by=marketing)

    assert report.merged == 2
    engaged = Lead.objects.get(pk=engaged.pk)
    assert engaged.score >= threshold
    assert (engaged.stage, engaged.owner) == (Stage.MQL, rep.user)
    assert LeadTransition.objects.get(lead=engaged, name="mark_mql").actor is None
    assert LeadTransition.objects.get(lead=engaged, name="assign").data["to_owner"] == "rep1"
    assert Notification.objects.filter(user=rep.user, lead=engaged, kind="assignment").count() == 1
    assert Submission.objects.get(lead=engaged).response_body["owner"] == "rep1"
    assert Submission.objects.get(lead=engaged).response_body["stage"] == "mql"
    cold = Lead.objects.get(pk=cold.pk)
    assert cold.score < threshold
    assert (cold.stage, cold.owner) == (Stage.KNOWN, None)
    assert not LeadTransition.objects.filter(lead=cold).exists()


def test_importing_the_same_file_again_merges_every_row_and_duplicates_nothing(marketing, fair):
    first = run(SAMPLE.read_bytes(), by=marketing, campaign_slug="dmexco")
    leads = Lead.objects.count()

    again = run(SAMPLE.read_bytes(), by=marketing, campaign_slug="dmexco")

    assert (first.created, again.created, again.merged, again.rejected) == (6, 0, 7, 0)
    assert Lead.objects.count() == leads == 6
    assert Submission.objects.filter(outcome="merged").count() == 1 + 7
    assert Activity.objects.count() == 14


def test_an_erased_person_in_the_file_is_rejected_on_consent_and_not_recreated(marketing):
    lead = capture.submit(channel="api", payload={"email": "weg@firma.de"}).lead
    rights.erase(lead_id=lead.pk, by=marketing, reason="Asked by mail")

    report = run("email,first_name\nweg@firma.de,Wieder\nda@firma.de,Neu\n", by=marketing)

    assert (report.created, report.rejected) == (1, 1)
    assert [(p.row, p.field) for p in report.problems] == [(2, "consent")]
    assert not Lead.objects.filter(first_name="Wieder").exists()
    assert Submission.objects.filter(channel="import", outcome="rejected").get().errors.keys() == {"consent"}


def test_the_statements_of_an_import_do_not_grow_with_its_rows(marketing, fair):
    def statements(rows: int, prefix: str) -> int:
        text = "email,company\n" + "".join(f"{prefix}{i}@firma{i}.de,Firma {i}\n" for i in range(rows))
        with CaptureQueriesContext(connection) as queries:
            report = run(text, by=marketing, campaign_slug="dmexco")
        assert report.created == rows
        return len(queries)

    assert statements(3, "klein") == statements(60, "gross")


def test_batches_split_a_file_and_a_later_batch_merges_into_an_earlier_one(marketing, monkeypatch):
    monkeypatch.setattr(bulk, "BATCH", 2)
    text = "email,first_name,company\na@firma.de,Anna,\nb@firma.de,Ben,\nc@firma.de,,\nA@firma.de,,Firma A\n"

    with CaptureQueriesContext(connection) as queries:
        report = run(text, by=marketing)

    assert sum('"email_normalized" = ANY' in query["sql"] for query in queries) == 2  # two batches
    assert (report.created, report.merged) == (3, 1)
    assert Lead.objects.get(email_normalized="a@firma.de").company == "Firma A"
    assert Submission.objects.get(payload__email="A@firma.de").outcome == "merged"


def test_a_payload_with_consent_still_goes_through_the_capture_service(marketing):
    results = bulk.capture_many(
        payloads=[{"email": "ja@firma.de", "consent": "true"}, {"email": "nein@firma.de"}],
        channel="import", by=marketing,
    )

    assert [r.status for r in results] == [201, 201]
    assert ConsentEvent.objects.get(kind="given").lead.email == "ja@firma.de"
    assert Lead.objects.get(email="nein@firma.de").consent_events.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_import_and_a_capture_of_the_same_new_address_at_once_make_one_lead(caplog):
    for round_ in range(4):
        email = f"gleichzeitig{round_}@firma.de"
        rows = "".join(f"vorher{round_}.{i}@firma.de\n" for i in range(30))  # the import locks them too
        results = race([
            lambda text=f"email\n{rows}{email}\n": run(text),
            lambda email=email: capture.submit(channel="api", payload={"email": email}),
        ])
        assert not any(isinstance(result, Exception) for result in results), results
        assert Lead.objects.filter(email_normalized=email).count() == 1
        outcomes = sorted(Submission.objects.filter(lead__email_normalized=email).values_list("outcome", flat=True))
        assert outcomes == ["created", "merged"]
    assert "one by one" not in caplog.text  # the advisory locks serialised them: no batch hit the constraint


@pytest.mark.parametrize(("kind", "value"), [("email", " Anna.Schaefer@Firma.de"), ("phone", "+49 89 1234567"),
                                             ("email", "jörg@straße.de")])
def test_the_batch_suppression_hasher_matches_hashes_stored_before(kind, value):
    # Suppressions already stored were hashed in one go; the batch hasher (key derived once) must agree.
    one_shot = salted_hmac(f"leadwerk.suppression.{kind}", suppression.normalise(kind, value), algorithm="sha256")
    assert suppression.suppression_hasher(kind)(value) == one_shot.hexdigest()
    assert suppression.suppression_hash(kind, value) == one_shot.hexdigest()
