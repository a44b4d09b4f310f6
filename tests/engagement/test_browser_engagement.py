"""In a real browser (Chromium, no CSP violation allowed): marketing builds a two-step programme in the step
editor, looks at the template preview, and enrols a lead from the lead page."""

import pytest

from core.vocabulary import Role
from engagement.models import Enrolment, Step
from tests.config.test_browser import browser, log_in, page, pytestmark  # noqa: F401  (fixtures, skip mark)
from tests.engagement.helpers import consenting_lead, template
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_marketing_builds_a_two_step_programme_and_enrols_a_lead(page, live_server):  # noqa: F811
    UserFactory(username="marketing", role=Role.MARKETING)
    welcome = template("Welcome")
    lead = consenting_lead(first_name="Ilse", last_name="Beispiel", language="de")
    log_in(page, live_server, "marketing", "/engagement/")

    page.fill("input[name=slug]", "onboarding")
    page.fill("input[name=name]", "Onboarding")
    page.click("#programme-form button[type=submit]")
    page.wait_for_url("**/engagement/programmes/onboarding/")

    page.select_option("select[name=kind]", "wait")
    page.fill("input[name=wait_days]", "0")
    page.click("#step-form button[type=submit]")
    assert "greater than zero" in page.inner_text("#step-form")  # refused, with the field named
    page.fill("input[name=wait_days]", "2")
    page.click("#step-form button[type=submit]")
    page.wait_for_selector("#step-1")
    page.select_option("select[name=kind]", "send_email")
    page.select_option("select[name=template]", str(welcome.pk))
    page.click("#step-form button[type=submit]")
    page.wait_for_selector("#step-2")
    assert list(Step.objects.order_by("position").values_list("kind", flat=True)) == ["wait", "send_email"]

    page.goto(f"{live_server.url}/engagement/templates/{welcome.pk}/?language=de")
    page.wait_for_selector("iframe.email-preview")
    assert "Willkommen" in page.frame_locator("iframe.email-preview").locator("h1").inner_text()

    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    page.select_option("#enrol-programme", "onboarding")
    page.click("#lead-engagement ~ form button[type=submit]")
    page.wait_for_selector("text=Enrolled in Onboarding")
    assert Enrolment.objects.get(lead=lead).programme.slug == "onboarding"
