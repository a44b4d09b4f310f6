"""What people click, in a real browser: Playwright driving the system Chromium against the live server.

The first test also takes the README screenshot of the SDR queue: into a temporary file on every run (so
`make test` never dirties the working tree), and into docs/screenshot-queue.png when
UPDATE_SCREENSHOT=1 is set (see CONTRIBUTING). At most four
browser tests: they are the slowest; everything else is tested through the Django test client.

Every page these tests open must pass the Content-Security-Policy: Chromium reports each violation on
the console ("Refused to ..."), and the `page` fixture fails the test if one was reported.
Skipped, with the reason printed, only where /usr/bin/chromium is missing.
"""

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from core.vocabulary import Role, Stage
from leads.models import Lead, LeadTransition, SlaClock
from routing.models import Rep, SlaPolicy, Team
from tests.factories import ActivityFactory, CampaignFactory, LeadFactory, UserFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
PASSWORD = "pw-for-tests-123"
SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshot-queue.png"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}: install Debian's chromium to run browser tests"
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US",
                                  timezone_id="Europe/Berlin")
    context.set_default_timeout(15_000)
    page = context.new_page()
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert violations == [], violations


def log_in(page, live_server, username: str, next_path: str) -> None:
    page.goto(f"{live_server.url}{next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def ago(**delta) -> dt.datetime:
    return timezone.now() - dt.timedelta(**delta)


def address(first: str, last: str, company: str) -> str:
    local = f"{first}.{last}".lower()
    domain = company.split()[0].lower().replace("&", "")
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        local, domain = local.replace(umlaut, plain), domain.replace(umlaut, plain)
    return f"{local}@{domain}.de"


def realistic_queue(sdr) -> Lead:
    """A morning in an SDR's queue; returns the pool lead the test claims."""
    claimable = _realistic_leads(sdr)
    Lead.objects.filter(score__gte=75).update(temperature="hot")
    Lead.objects.filter(score__gte=60, score__lt=75).update(temperature="warm")
    return claimable


def _realistic_leads(sdr) -> Lead:
    webinar = CampaignFactory(slug="spring-webinar-2026", name="Spring webinar 2026")
    fair = CampaignFactory(slug="hannover-messe-2026", name="Hannover Messe 2026")
    ads = CampaignFactory(slug="search-routing", name="Search: lead routing")
    waiting = [
        ("Lena", "Vogel", "Head of Operations", "Vogel Technik GmbH", 72, "web_form", webinar, ago(hours=27)),
        ("Tobias", "Hartmann", "IT Director", "Hartmann Logistik AG", 64, "paid_search", ads, ago(hours=5)),
        ("Sophie", "Krüger", "VP Sales", "Nordlicht Energie GmbH", 58, "event", fair, ago(minutes=50)),
    ]
    accept_in_4_hours = SlaPolicy.objects.filter(stage=Stage.MQL, duration=4, unit="hours").first()
    for first, last, title, company, score, source, campaign, entered in waiting:
        lead = LeadFactory(first_name=first, last_name=last, job_title=title, company=company, score=score,
                           source=source, campaign=campaign, stage=Stage.MQL, owner=sdr, stage_entered_at=entered,
                           assigned_at=entered, email=address(first, last, company))
        if accept_in_4_hours:  # the seeded "MQL accepted within 4 business hours" clock
            SlaClock.objects.create(lead=lead, policy=accept_in_4_hours, stage=Stage.MQL, owner=sdr,
                                    started_at=entered, due_at=entered + dt.timedelta(hours=4))
    working = [
        ("Miriam", "Schulz", "Managing Partner", "Schulz & Partner Steuerberatung", 77, 2, ago(days=2)),
        ("Felix", "Wagner", "Head of Service", "Wagner Maschinenbau GmbH", 69, 1, ago(hours=20)),
    ]
    for first, last, title, company, score, attempts, entered in working:
        lead = LeadFactory(first_name=first, last_name=last, job_title=title, company=company, score=score,
                           stage=Stage.SAL, owner=sdr, stage_entered_at=entered, contact_attempts=attempts,
                           last_touch_at=entered + dt.timedelta(hours=3), source="web_form", campaign=webinar,
                           email=address(first, last, company))
        ActivityFactory(lead=lead, kind="call", outcome="no_answer", occurred_at=entered + dt.timedelta(hours=3),
                        created_by=sdr, next_step_on=timezone.localdate() if attempts == 2 else None,
                        note="Voicemail: call back after 14:00, she is at the plant in the morning"
                        if attempts == 2 else "")
    LeadFactory(first_name="Anna", last_name="Fischer", job_title="CFO", company="Fischer Medizintechnik GmbH",
                score=84, stage=Stage.SQL, owner=sdr, stage_entered_at=ago(days=6), email="anna@fischer-med.de",
                deal_value=None)
    LeadFactory(first_name="Markus", last_name="Weber", job_title="CEO", company="Weber Bau GmbH", score=91,
                stage=Stage.OPPORTUNITY, owner=sdr, stage_entered_at=ago(days=12), email="m.weber@weber-bau.de",
                deal_value=Decimal("48000"), close_date=timezone.localdate() + dt.timedelta(days=21))
    for first, last, company, score, entered in [
        ("Claudia", "Neumann", "Neumann Verpackung KG", 55, ago(hours=9)),
        ("David", "Schröder", "Schröder IT-Services", 61, ago(hours=2)),
    ]:
        LeadFactory(first_name=first, last_name=last, company=company, score=score, stage=Stage.MQL,
                    stage_entered_at=entered, email=address(first, last, company))
    return LeadFactory(first_name="Jonas", last_name="Becker", job_title="Head of Sales Operations",
                       company="Becker Automotive Systems", score=81, stage=Stage.MQL, source="web_form",
                       campaign=webinar, stage_entered_at=ago(hours=3), email="jonas.becker@becker-automotive.de")


@pytest.mark.django_db(transaction=True)
def test_sdr_claims_from_the_pool_accepts_and_finds_the_lead_in_the_queue(page, live_server, tmp_path):
    sdr = UserFactory(username="sdr1", first_name="Sarah", last_name="Richter", role=Role.SDR)
    lead = realistic_queue(sdr)

    log_in(page, live_server, "sdr1", "/pool/")
    row = page.locator(f"#pool-row-{lead.pk}")
    row.locator("[data-action=claim]").click()
    row.locator("[data-transition=accept]").click()  # appears when htmx swapped the claimed row in
    page.wait_for_url("**/queue/")

    working = page.locator("#working")
    assert working.locator(f"tr[data-lead='{lead.pk}']").count() == 1
    assert "SAL" in working.locator(f"tr[data-lead='{lead.pk}']").inner_text()
    assert page.locator("[data-testid=count-working]").inner_text() == "3"
    assert page.locator("[data-testid=count-follow-ups]").inner_text() == "1"
    assert page.locator("#waiting tr[data-lead]").count() == 3
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.stage, lead.owner_id) == (Stage.SAL, sdr.pk)
    assert list(LeadTransition.objects.filter(lead=lead).values_list("name", flat=True)) == ["claim", "accept"]

    page.reload()  # the README shows the queue without the flash message
    target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / "queue.png"
    page.screenshot(path=str(target))
    assert target.read_bytes().startswith(b"\x89PNG") and target.stat().st_size > 10_000


@pytest.mark.django_db(transaction=True)
def test_sdr_works_a_lead_from_the_queue_to_sql_with_the_keyboard(page, live_server):
    sdr = UserFactory(username="sdr1", role=Role.SDR)
    lead = LeadFactory(stage=Stage.MQL, owner=sdr, first_name="Lena", last_name="Vogel", company="Vogel Technik GmbH",
                       score=72, stage_entered_at=ago(hours=2))

    log_in(page, live_server, "sdr1", "/queue/")
    page.click(f"#waiting tr[data-lead='{lead.pk}'] a.lead-name")
    page.wait_for_url(f"**/leads/{lead.pk}/")
    page.evaluate("window.stillTheSamePage = true")  # gone after any full page load

    page.keyboard.press("?")
    assert page.locator("#shortcut-help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#shortcut-help").is_visible()

    page.keyboard.press("a")  # accept
    page.locator("[data-testid=stage]", has_text="SAL").wait_for()
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SAL

    page.keyboard.press("q")  # the qualify form opens with the focus in its first field
    page.keyboard.type("40-60k EUR this year")
    page.click("button[data-transition=qualify]")
    refusal = page.locator("[data-testid=refusal]")
    refusal.wait_for()  # the 409 partial is swapped in
    assert refusal.locator("li").count() == 4  # authority, need, timeline, no conversation
    assert "No conversation is logged yet" in refusal.inner_text()
    assert page.input_value("#id_qualify-budget") == "40-60k EUR this year"

    page.locator("#id_qualify-budget").focus()
    page.keyboard.press("Escape")  # leave the field
    page.keyboard.press("l")  # log an activity: the focus lands on the channel
    assert page.evaluate("document.activeElement.name") == "activity-kind"
    form = page.locator("[data-testid=activity-form]")
    form.locator("select[name=activity-kind]").select_option("call")
    form.locator("select[name=activity-outcome]").select_option("connected")
    form.locator("textarea[name=activity-note]").fill("Talked to the head of sales")
    form.locator("button[type=submit]").click()
    page.locator(".timeline", has_text="Talked to the head of sales").wait_for()

    page.click("[data-transition-open=qualify]")
    page.fill("#id_qualify-budget", "40-60k EUR this year")
    page.fill("#id_qualify-authority", "Head of sales decides with the CFO")
    page.fill("#id_qualify-need", "Leads wait days for a first call")
    page.fill("#id_qualify-timeline", "Start in Q3")
    page.click("button[data-transition=qualify]")
    page.locator("[data-testid=stage]", has_text="SQL").wait_for()
    assert page.evaluate("window.stillTheSamePage") is True
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.stage, lead.budget) == (Stage.SQL, "40-60k EUR this year")
    assert list(LeadTransition.objects.filter(lead=lead).values_list("name", flat=True)) == ["accept", "qualify"]

    # The phone number learnt on the call: "e" opens the Edit form in place, a bad number is refused at the
    # field with what was typed kept, a good one is saved and shows in the timeline as a field change.
    page.keyboard.press("e")
    edit = page.locator("[data-testid=edit-form]")
    edit.wait_for()
    assert edit.locator("input[name=company_size]").count() == 0  # the SDR edits the contact fields only
    edit.locator("input[name=phone]").fill("12")
    edit.locator("input[name=city]").fill("Leipzig")
    edit.locator("button[data-action=save-edit]").click()
    page.locator("#id_phone-errors").wait_for()
    assert page.input_value("#id_city") == "Leipzig"
    page.fill("#id_phone", "0341 1234567")
    page.click("button[data-action=save-edit]")
    page.locator("[data-testid=field-change]", has_text="Leipzig").wait_for()
    assert page.evaluate("window.stillTheSamePage") is True
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.phone, lead.city) == ("+493411234567", "Leipzig")


@pytest.mark.django_db(transaction=True)
def test_manager_marks_a_rep_away_and_moves_their_waiting_leads(page, live_server):
    manager = UserFactory(username="manager", role=Role.MANAGER)
    team = Team.objects.create(name="Inside Sales", slug="inside-sales", manager=manager)
    away, stays = (UserFactory(username=name, role=Role.SDR) for name in ("sdr1", "sdr2"))
    for user in (away, stays):
        Rep.objects.create(user=user, team=team, capacity=10)
    leads = [LeadFactory(stage=Stage.MQL, owner=away, stage_entered_at=ago(hours=hours)) for hours in (6, 3)]

    log_in(page, live_server, "manager", "/team/")
    row = page.locator("tr[data-rep=sdr1]")
    assert row.locator("[data-testid=load]").inner_text() == "2/10"
    row.locator("[data-action=toggle-availability]").click()
    page.locator("tr[data-rep=sdr1] [data-action=toggle-availability][aria-checked=false]").wait_for()
    assert Rep.objects.get(user=away).is_available is False

    page.locator("tr[data-rep=sdr1] [data-action=open-rep]").click()
    page.wait_for_url("**/team/reps/sdr1/")
    page.check("input[data-check-all=leads]")
    page.select_option("[data-testid=reassign-target]", "rep:sdr2")
    page.click("[data-action=reassign]")
    page.locator("[data-testid=outcomes]").wait_for()
    assert page.locator("[data-testid=outcomes] li[data-ok=true]").count() == 2
    assert set(Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("owner__username", flat=True)) == {
        "sdr2"
    }


@pytest.mark.django_db(transaction=True)
def test_the_pages_pass_the_content_security_policy(page, live_server):
    """The pages with scripts, charts, forms and the API docs, opened for real: no CSP violation (the
    fixture asserts), scripts ran (htmx loaded, charts drawn), and the headers are there."""
    from tests.factories import CaptureFormFactory

    UserFactory(username="marketing", role=Role.MARKETING, is_staff=True)
    lead = LeadFactory(stage=Stage.MQL, score=60)
    form = CaptureFormFactory(consent_wording="Yes, send me news.")
    response = page.goto(f"{live_server.url}/accounts/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src-attr")[0]
    assert "camera=()" in response.headers["permissions-policy"]
    log_in(page, live_server, "marketing", "/leads/")
    assert page.evaluate("typeof window.htmx") == "object"
    for path in ("/reports/", "/reports/funnel/", "/reports/sources/", f"/leads/{lead.pk}/",
                 f"/leads/{lead.pk}/consent/", "/routing/test/", "/leads/new/", "/admin/", "/api/docs/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/reports/")
    page.wait_for_function("document.querySelector('canvas[data-chart]')?.dataset.drawn === '1'")
    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui").wait_for()
    page.goto(f"{live_server.url}/f/{form.key}/")
    page.fill("input[name=email]", "csp@firma.de")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
