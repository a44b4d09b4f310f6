import pytest
from django.urls import reverse

from core.vocabulary import ConsentStatus
from leads.models import Lead
from leads.quality import dedupe
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def lead(email, **fields):
    defaults = {
        "phone": "+4989123456", "company": "ACME", "consent_status": ConsentStatus.GIVEN,
        "first_name": email.split("@")[0], "last_name": "",  # distinct names: no near-identical pairs
    }
    return LeadFactory(email=email, email_normalized=email.lower(), **(defaults | fields))


@pytest.fixture
def messy(db):
    lead("clean@acme.de", phone="+4989100001")
    lead("nophone@acme.de", phone="")
    lead("badphone@acme.de", phone="089 123")
    bounced = lead("bounced@acme.de", phone="+4989100002")
    ActivityFactory(lead=bounced, kind="email", outcome="bounced")
    ActivityFactory(lead=bounced, kind="email", outcome="bounced")  # counted once
    ActivityFactory(lead=lead("called@acme.de", phone="+4989100003"), kind="call", outcome="connected")
    lead("nocompany@acme.de", phone="+4989100004", company="")
    lead("Someone@GMAIL.com", phone="+4989100005")
    lead("x@gmail.company.de", phone="+4989100006")  # not free mail
    lead("noconsent@acme.de", phone="+4989100007", consent_status=ConsentStatus.NONE)
    lead("dup1@acme.de", phone="+4930111111")
    lead("dup2@acme.de", phone="+4930111111")


def test_counts_are_exact(messy):
    assert dedupe.health_counts(Lead.objects.all()) == {
        "missing_phone": 1, "invalid_phone": 1, "bounced_email": 1, "missing_company": 1, "free_mail": 1,
        "no_consent": 1,
    }


def test_each_issue_lists_its_leads(messy):
    leads = Lead.objects.all()
    listed = {issue: [x.email for x in dedupe.leads_with_issue(leads, issue)] for issue in dedupe.HEALTH_ISSUES}
    assert listed == {
        "missing_phone": ["nophone@acme.de"], "invalid_phone": ["badphone@acme.de"],
        "bounced_email": ["bounced@acme.de"], "missing_company": ["nocompany@acme.de"],
        "free_mail": ["Someone@GMAIL.com"], "no_consent": ["noconsent@acme.de"],
    }


def test_page_needs_login(client):
    response = client.get(reverse("leads:data_health"))
    assert response.status_code == 302 and "login" in response.url


def test_page_is_forbidden_for_sdrs(client, sdr):
    client.force_login(sdr)
    assert client.get(reverse("leads:data_health")).status_code == 403


@pytest.mark.parametrize("role", ["marketing", "manager", "admin_user"])
def test_page_shows_counts_and_duplicates(client, request, role, messy):
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("leads:data_health"))
    assert response.status_code == 200
    assert response.context["duplicate_count"] == 1
    assert {row["key"]: row["count"] for row in response.context["issues"]}["bounced_email"] == 1
    assert reverse("leads:data_health") in response.content.decode()  # the nav entry appears


def test_page_lists_the_leads_of_one_issue(client, marketing, messy):
    client.force_login(marketing)
    response = client.get(reverse("leads:data_health"), {"issue": "invalid_phone"})
    assert [x.email for x in response.context["page"].object_list] == ["badphone@acme.de"]
    assert "badphone@acme.de" in response.content.decode()


def test_page_ignores_an_unknown_issue(client, marketing, messy):
    client.force_login(marketing)
    response = client.get(reverse("leads:data_health"), {"issue": "nonsense"})
    assert response.status_code == 200 and response.context["page"] is None


def _queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_page_runs_a_fixed_number_of_queries(client, marketing, messy, django_assert_max_num_queries):
    client.force_login(marketing)
    url = reverse("leads:data_health") + "?issue=no_consent"
    few = _queries(client, url)
    for n in range(30):
        lead(f"more{n}@gmail.com", phone="", company="", consent_status=ConsentStatus.NONE)
        ActivityFactory(lead=lead(f"b{n}@acme.de", phone="+4930222222"), kind="email", outcome="bounced")
    assert _queries(client, url) == few
    with django_assert_max_num_queries(12):
        client.get(url)
