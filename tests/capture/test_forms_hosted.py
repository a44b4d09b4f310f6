"""The public hosted / embedded web form at /f/<key>/."""

import pytest
from django.urls import reverse

from core.vocabulary import Stage
from leads.models import Activity, Lead, Submission, Visitor
from privacy.models import ConsentEvent
from tests.factories import CampaignFactory, CaptureFormFactory, LeadFactory

pytestmark = pytest.mark.django_db

ALLOWED = "https://www.example.com"


@pytest.fixture
def capture_form(db):
    return CaptureFormFactory(
        name="Demo request", title="Book a demo", allowed_origins=f"{ALLOWED}\nhttps://shop.example.com",
        campaign=CampaignFactory(slug="spring-webinar"), consent_wording="Yes, e-mail me about Leadwerk.",
    )


def url(form, **query) -> str:
    path = reverse("capture:hosted_form", args=[form.key])
    if query:
        path += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return path


def post(client, form, data, *, origin=ALLOWED, path=None, **headers):
    if origin is not None:
        headers["HTTP_ORIGIN"] = origin
    return client.post(path or url(form), data, **headers)


def text(response) -> str:
    return response.content.decode()


GOOD = {"email": "Lena.Vogel@Vogel-Technik.de", "first_name": "Lena", "last_name": "Vogel",
        "company": "Vogel Technik", "phone": "+49 30 1234567", "country": "DE", "message": "Call me"}


# --- showing the form -----------------------------------------------------------------------------------


def test_hosted_form_renders_with_consent_wording_and_a_hidden_honeypot(client, capture_form):
    response = client.get(url(capture_form))
    page = text(response)
    assert response.status_code == 200
    assert "Book a demo" in page
    assert "Yes, e-mail me about Leadwerk." in page
    assert 'name="website_url"' in page and 'tabindex="-1"' in page and 'autocomplete="off"' in page
    assert 'class="hp" aria-hidden="true"' in page
    assert 'name="visitor_id"' in page
    assert "leads/track.js" in page
    assert 'class="topbar"' not in page  # no staff navigation for visitors


def test_hosted_form_may_be_framed_by_its_allowed_origins_only(client, capture_form):
    response = client.get(url(capture_form, embed=1))
    assert "X-Frame-Options" not in response
    directives = dict(d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";"))
    assert directives["frame-ancestors"] == "'self' https://www.example.com https://shop.example.com"
    assert directives["script-src"] == "'self'"  # the rest of the site's policy holds here too


def test_embed_renders_without_site_chrome(client, capture_form):
    page = text(client.get(url(capture_form, embed=1)))
    assert 'class="public embed"' in page
    assert "<h1>" not in page
    assert "Form by Leadwerk" not in page


def test_form_without_consent_wording_has_no_consent_box(client):
    form = CaptureFormFactory(consent_wording="")
    page = text(client.get(url(form)))
    assert 'name="consent"' not in page


def test_visitor_id_and_utm_parameters_from_the_link_are_kept(client, capture_form):
    page = text(client.get(url(capture_form, visitor_id="abcDEF123_-xyz7890", utm_source="newsletter")))
    assert 'value="abcDEF123_-xyz7890"' in page
    assert 'value="newsletter"' in page


def test_a_malformed_visitor_id_in_the_link_is_dropped(client, capture_form):
    page = text(client.get(url(capture_form, visitor_id="<script>")))
    assert "&lt;script&gt;" not in page and "<script>\"" not in page


def test_inactive_form_is_404(client):
    form = CaptureFormFactory(is_active=False)
    assert client.get(url(form)).status_code == 404
    assert post(client, form, GOOD).status_code == 404
    assert not Submission.objects.exists()


def test_unknown_form_key_is_404(client):
    assert client.get("/f/no-such-key/").status_code == 404


def test_staff_see_the_embed_snippet(client, capture_form, marketing):
    client.force_login(marketing)
    page = text(client.get(url(capture_form)))
    assert "data-leadwerk-form" in page
    assert f'data-form-key="{capture_form.key}"' in page


# --- submitting -----------------------------------------------------------------------------------------


def test_hosted_form_creates_a_lead_with_the_forms_source_and_campaign(client, capture_form):
    response = post(client, capture_form, {**GOOD, "consent": "on", "utm_source": "newsletter"})
    assert response.status_code == 200
    assert "Thank you" in text(response)
    lead = Lead.objects.get()
    assert lead.email_normalized == "lena.vogel@vogel-technik.de"
    assert (lead.source, lead.campaign.slug, lead.capture_form) == ("web_form", "spring-webinar", capture_form)
    assert lead.phone == "+49301234567"
    assert lead.utm_source == "newsletter"
    submission = Submission.objects.get()
    assert (submission.channel, submission.outcome, submission.lead) == ("web_form", "created", lead)
    assert submission.ip_address == "127.0.0.1"
    consent = ConsentEvent.objects.get(lead=lead, kind="given")
    assert consent.wording == "Yes, e-mail me about Leadwerk."
    assert Activity.objects.get(lead=lead).note == "Call me"


def test_hosted_form_shows_the_forms_thank_you_text(client):
    form = CaptureFormFactory(thank_you_text="Danke! Wir melden uns.")
    response = post(client, form, GOOD, origin="https://www.example.com")
    assert "Danke! Wir melden uns." in text(response)


def test_hosted_form_merges_a_known_address_into_its_lead(client, capture_form):
    existing = LeadFactory(email="lena.vogel@vogel-technik.de", email_normalized="lena.vogel@vogel-technik.de",
                           stage=Stage.SAL, job_title="")
    response = post(client, capture_form, {**GOOD, "job_title": "Head of Sales"})
    assert response.status_code == 200
    assert Lead.objects.count() == 1
    assert Lead.objects.get(pk=existing.pk).job_title == "Head of Sales"
    assert Submission.objects.get().outcome == "merged"


def test_hosted_form_with_bad_input_shows_errors_keeps_input_and_creates_nothing(client, capture_form):
    response = post(client, capture_form, {**GOOD, "email": "lena at vogel", "phone": "123", "country": "Atlantis"})
    assert response.status_code == 400
    page = text(response)
    assert page.count('aria-invalid="true"') == 3
    assert 'value="lena at vogel"' in page and 'value="Vogel Technik"' in page
    assert "Call me" in page
    assert not Lead.objects.exists()
    assert Submission.objects.get().outcome == "rejected"


def test_honeypot_records_spam_shows_thanks_and_creates_no_lead(client, capture_form):
    response = post(client, capture_form, {**GOOD, "website_url": "http://cheap-pills.example"})
    assert response.status_code == 200
    assert "Thank you" in text(response)
    assert not Lead.objects.exists()
    submission = Submission.objects.get()
    assert submission.outcome == "spam"
    assert submission.payload["website_url"] == "http://cheap-pills.example"


def test_post_from_a_disallowed_origin_is_403_and_records_nothing(client, capture_form):
    response = post(client, capture_form, GOOD, origin="https://evil.example")
    assert response.status_code == 403
    assert not Submission.objects.exists()
    assert not Lead.objects.exists()


def test_post_with_a_null_origin_is_403(client, capture_form):
    assert post(client, capture_form, GOOD, origin="null").status_code == 403
    assert not Submission.objects.exists()


def test_referer_of_an_allowed_origin_is_accepted_when_origin_is_missing(client, capture_form):
    response = post(client, capture_form, GOOD, origin=None, HTTP_REFERER="https://shop.example.com/kontakt?x=1")
    assert response.status_code == 200
    assert Lead.objects.count() == 1


def test_referer_of_another_site_is_403(client, capture_form):
    response = post(client, capture_form, GOOD, origin=None, HTTP_REFERER="https://evil.example/page")
    assert response.status_code == 403


def test_post_from_this_site_is_accepted(client, capture_form):
    response = post(client, capture_form, GOOD, origin="http://testserver")
    assert response.status_code == 200
    assert Lead.objects.count() == 1


def test_embedded_post_keeps_the_embed_layout(client, capture_form):
    response = post(client, capture_form, GOOD, path=url(capture_form, embed=1))
    assert 'class="public embed"' in text(response)
    assert "frame-ancestors 'self' https://www.example.com" in response["Content-Security-Policy"]


def test_visitor_is_stitched_to_the_new_lead(client, capture_form):
    visitor = Visitor.objects.create(anonymous_id="visitor-1234567890")
    Activity.objects.create(visitor=visitor, kind="pricing_view", url="https://www.example.com/preise")
    post(client, capture_form, {**GOOD, "visitor_id": "visitor-1234567890"})
    lead = Lead.objects.get()
    assert Activity.objects.filter(lead=lead, kind="pricing_view").exists()


def test_too_many_submissions_from_one_address_get_429(client, capture_form, settings):
    settings.FORM_RATE = "2/minute"
    for number in range(2):
        assert post(client, capture_form, {**GOOD, "email": f"lena{number}@vogel-technik.de"}).status_code == 200
    response = post(client, capture_form, {**GOOD, "email": "lena9@vogel-technik.de"})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert Lead.objects.count() == 2
    assert Submission.objects.count() == 2


def test_rate_limit_counts_per_form(client, capture_form, settings):
    settings.FORM_RATE = "1/minute"
    other = CaptureFormFactory(allowed_origins=ALLOWED)
    assert post(client, capture_form, GOOD).status_code == 200
    assert post(client, other, {**GOOD, "email": "other@vogel-technik.de"}).status_code == 200
    assert post(client, capture_form, {**GOOD, "email": "third@vogel-technik.de"}).status_code == 429
