"""Manual entry and the import page."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead, Submission
from tests.factories import CampaignFactory, LeadFactory
from tests.pages import as_user, reload, text

pytestmark = pytest.mark.django_db


# --- manual entry ---------------------------------------------------------------------------------------


def test_marketing_creates_a_lead_by_hand(client, marketing):
    CampaignFactory(slug="fair", name="Fair")
    response = as_user(client, marketing).post(
        reverse("capture:create"),
        {"email": "Jana.Berg@Example-Firma.de", "first_name": "Jana", "last_name": "Berg", "company": "Example",
         "phone": "089 123456", "country": "DE", "campaign": "fair", "source": "event"},
    )
    lead = Lead.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:detail", args=[lead.pk])
    assert lead.email_normalized == "jana.berg@example-firma.de"
    assert lead.phone == "+4989123456"
    assert lead.source == "event" and lead.campaign.slug == "fair"
    submission = Submission.objects.get()
    assert submission.channel == "manual" and submission.submitted_by == marketing


def test_manual_entry_of_a_known_address_merges_and_says_so(client, manager):
    existing = LeadFactory(email="known@firma.de", email_normalized="known@firma.de", job_title="")
    response = as_user(client, manager).post(
        reverse("capture:create"), {"email": "KNOWN@firma.de", "job_title": "CTO"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("leads:detail", args=[existing.pk])
    assert "already belonged to a lead" in text(response)
    assert Lead.objects.count() == 1
    assert reload(existing).job_title == "CTO"


def test_manual_entry_with_bad_input_shows_errors_keeps_input_and_creates_nothing(client, marketing):
    response = as_user(client, marketing).post(
        reverse("capture:create"),
        {"email": "not-an-address", "first_name": "Kept", "phone": "12", "country": "Atlantis",
         "company_size": "many"},
    )
    assert response.status_code == 400
    page = text(response)
    assert page.count('aria-invalid="true"') == 4
    assert 'value="Kept"' in page and 'value="not-an-address"' in page
    assert not Lead.objects.exists()
    assert Submission.objects.get().outcome == "rejected"


def test_manual_entry_without_email_says_it_is_required(client, marketing):
    response = as_user(client, marketing).post(reverse("capture:create"), {"first_name": "Nomail"})
    assert response.status_code == 400
    assert "An e-mail address is required." in text(response)
    assert not Lead.objects.exists()


def test_sdr_cannot_post_manual_entry_or_import(client, sdr):
    client = as_user(client, sdr)
    assert client.post(reverse("capture:create"), {"email": "x@firma.de"}).status_code == 403
    assert client.post(reverse("capture:import"), {}).status_code == 403
    assert not Lead.objects.exists()


# --- import ---------------------------------------------------------------------------------------------

def _csv(content: str, name: str = "fair.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def test_import_reports_counts_and_problems(client, marketing):
    LeadFactory(email="known@firma.de", email_normalized="known@firma.de")
    CampaignFactory(slug="fair-2026")
    content = "email,first_name,company\nnew@firma.de,Nina,Firma\nknown@firma.de,,\nbroken,Bert,\n"
    client = as_user(client, marketing)
    uploaded = client.post(
        reverse("capture:import"), {"file": _csv(content), "source": "event", "campaign": "fair-2026"}
    )
    assert uploaded.status_code == 302
    assert not Lead.objects.filter(email_normalized="new@firma.de").exists()  # nothing before the mapping step
    mapping = {"column_0": "email", "column_1": "first_name", "column_2": "company"}
    response = client.post(uploaded["Location"], mapping, follow=True)
    assert response.status_code == 200
    page = text(response)
    assert 'data-testid="total">3<' in page
    assert 'data-testid="created">1<' in page
    assert 'data-testid="merged">1<' in page
    assert 'data-testid="rejected">1<' in page
    assert "<td class=\"num\">4</td>" in page  # the bad row's line number
    assert "<code>broken</code>" in page  # and its bad value
    assert Lead.objects.filter(email_normalized="new@firma.de", source="event").exists()


def test_import_of_an_unreadable_file_shows_the_reason(client, marketing):
    response = as_user(client, marketing).post(
        reverse("capture:import"), {"file": _csv("PK\x03\x04\x00\x00 workbook"), "source": "event"}
    )
    assert response.status_code == 400
    assert 'aria-invalid="true"' in text(response) and "Excel workbook" in text(response)
    assert not Lead.objects.exists()


def test_the_lead_page_shows_consent_per_purpose_and_links_the_proof(client, marketing):
    from capture import submissions as capture
    from tests.factories import CaptureFormFactory

    form = CaptureFormFactory(consent_wording="Ja, Newsletter.", consent_purposes=["newsletter"])
    lead = capture.submit(channel="web_form", form=form, payload={"email": "c@firma.de", "consent": True}).lead
    client.force_login(marketing)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert f"/leads/{lead.pk}/consent/" in page
    assert "Newsletter:" in page and "consent-given" in page and "consent-none" in page


def test_a_huge_list_says_more_than_the_cap_instead_of_counting_everything(client, marketing, monkeypatch):
    from leads.pagination import CappedPaginator
    from tests.factories import LeadFactory

    monkeypatch.setattr(CappedPaginator, "CAP", 3)
    for _ in range(5):
        LeadFactory()
    client.force_login(marketing)
    page = client.get("/leads/").content.decode()
    assert "More than 3 leads" in page
    assert "5 leads" not in page


def test_the_created_date_filter_uses_local_day_bounds(client, marketing):


    from tests.factories import LeadFactory

    day = dt.date(2026, 11, 2)
    late = timezone.make_aware(dt.datetime(2026, 11, 2, 23, 30))  # Berlin time: still the 2nd
    LeadFactory(last_name="Spaet", created_at=late)
    LeadFactory(last_name="Frueh", created_at=late + dt.timedelta(hours=1))
    client.force_login(marketing)
    page = client.get("/leads/", {"created_after": day.isoformat(), "created_before": day.isoformat()})
    assert "Spaet" in page.content.decode() and "Frueh" not in page.content.decode()
