"""The first hour, in a real browser (Playwright on the system Chromium): each role's landing page, the lead
filter round trip, the phone layout, live notifications. Fixtures and helpers from `test_browser`."""

import datetime as dt

import pytest
from django.utils import timezone

from core.vocabulary import Role, Stage
from leads import lifecycle
from leads.models import Lead, Notification, SlaClock
from routing.models import Rep, Team
from tests.config.test_browser import PASSWORD, browser, log_in, page, pytestmark, realistic_queue
from tests.factories import LeadFactory, UserFactory
from tests.sla_helpers import ACCEPT, policy

__all__ = ["browser", "page", "pytestmark"]  # the fixtures and the skip mark (no Chromium) of test_browser


def sign_in(page, live_server, username: str) -> None:
    """Log in from the bare login page: no `next`, so the role's landing page follows."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role, landing, marker", [
    ("marketing", "/reports/", "nav.report-tabs, .report-tabs"),
    ("manager", "/team/", "[data-testid=breach-list]"),
    ("sdr", "/queue/", "#waiting"),
    ("admin", "/attention/", "[data-testid=attention-summary]"),
])
def test_each_role_lands_on_its_own_page(page, live_server, role, landing, marker):
    if role == "admin":
        user = UserFactory(username="admin", is_superuser=True, is_staff=True)
    else:
        user = UserFactory(username=role, role={"marketing": Role.MARKETING, "manager": Role.MANAGER,
                                                "sdr": Role.SDR}[role])
    if role == "manager":
        team = Team.objects.create(name="Inside Sales", slug="inside-sales", manager=user)
        rep = UserFactory(username="sdr1", first_name="Sarah", last_name="Richter", role=Role.SDR)
        Rep.objects.create(user=rep, team=team, capacity=10)
        lead = LeadFactory(stage=Stage.MQL, owner=rep, first_name="Lena", last_name="Vogel")
        now = timezone.now()
        SlaClock.objects.create(lead=lead, policy=policy(ACCEPT), stage=Stage.MQL, owner=rep,
                                started_at=now - dt.timedelta(hours=6), due_at=now - dt.timedelta(hours=2))
    sign_in(page, live_server, user.username)
    page.wait_for_url(f"**{landing}")
    page.locator(marker).first.wait_for()
    if role == "manager":
        assert page.locator("#breaches tr[data-breached=true]").count() == 1
        assert "Lena Vogel" in page.locator("#breaches").inner_text()


@pytest.mark.django_db(transaction=True)
def test_the_filter_round_trip_keeps_the_ticked_stage_and_shows_no_error(page, live_server):
    UserFactory(username="marketing", role=Role.MARKETING)
    LeadFactory(stage=Stage.SAL, first_name="Sara", last_name="Sal", email="sara@kunde.de")
    LeadFactory(stage=Stage.MQL, first_name="Max", last_name="Mql", email="max@kunde.de")
    log_in(page, live_server, "marketing", "/leads/")
    page.click("#stage-summary")
    page.check("input[name=stage][value=sal]")
    page.click("#stage-summary")  # close the dropdown, then filter
    page.click("button[type=submit]:has-text('Filter')")
    page.locator("[data-testid=filtered-by]", has_text="Stage: SAL").wait_for()
    assert page.locator("#lead-table").inner_text().count("sara@kunde.de") == 1
    assert "max@kunde.de" not in page.locator("#lead-table").inner_text()
    assert page.locator("#stage-summary").inner_text() == "SAL"
    assert page.is_checked("input[name=stage][value=sal]")
    assert page.locator("[data-testid=filter-errors]").count() == 0
    page.reload()  # the pushed URL gives the same page
    assert page.locator("#stage-summary").inner_text() == "SAL"
    assert page.is_checked("input[name=stage][value=sal]")
    assert page.locator("[data-testid=filter-errors]").count() == 0


PHONE = {"width": 390, "height": 844}


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def visible_without_sideways_scroll(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


@pytest.mark.django_db(transaction=True)
def test_the_phone_layout_has_no_sideways_scroll_and_the_actions_in_reach(page, live_server, tmp_path):
    manager = UserFactory(username="manager", first_name="Mona", last_name="Manager", role=Role.MANAGER)
    sdr = UserFactory(username="sdr1", first_name="Sarah", last_name="Richter", role=Role.SDR)
    team = Team.objects.create(name="Inside Sales", slug="inside-sales", manager=manager)
    Rep.objects.create(user=sdr, team=team, capacity=10)
    realistic_queue(sdr)
    waiting = Lead.objects.filter(owner=sdr, stage=Stage.MQL).order_by("stage_entered_at").first()
    Notification.objects.create(user=sdr, lead=waiting, key="phone-test", message="A long message " * 12)
    page.set_viewport_size(PHONE)

    log_in(page, live_server, "sdr1", "/queue/")
    assert fits(page)
    assert page.locator("#main-menu").is_hidden()
    page.click("[data-menu-toggle]")
    assert page.locator("#main-menu a", has_text="Pool").is_visible()
    assert visible_without_sideways_scroll(page, "#waiting [data-transition=accept]")
    for path in ("/pool/", "/notifications/", "/leads/"):
        page.goto(f"{live_server.url}{path}")
        assert fits(page), path

    page.goto(f"{live_server.url}/leads/{waiting.pk}/")
    assert fits(page)
    accept = page.locator("button[data-transition=accept]").first
    assert visible_without_sideways_scroll(page, "button[data-transition=accept]")
    assert accept.bounding_box()["y"] < page.locator(".history").bounding_box()["y"]  # before the timeline
    assert visible_without_sideways_scroll(page, "[data-testid=activity-form] button[type=submit]")
    assert page.locator("[data-testid=activity-form]").bounding_box()["y"] < page.locator(
        ".history").bounding_box()["y"]

    page.click("form[action$='/logout/'] button")
    log_in(page, live_server, "manager", "/team/")
    assert fits(page)
    page.goto(f"{live_server.url}/team/reps/sdr1/")
    assert fits(page)


@pytest.mark.django_db(transaction=True)
def test_a_notification_created_on_the_server_appears_without_a_reload(page, live_server, settings):
    settings.LIVE_REFRESH_SECONDS = 1
    manager = UserFactory(username="manager", first_name="Bea", last_name="Boss", role=Role.MANAGER)
    sdr = UserFactory(username="sdr1", role=Role.SDR)
    lead = LeadFactory(stage=Stage.MQL, first_name="Lena", last_name="Vogel", owner=None)
    log_in(page, live_server, "sdr1", "/queue/")
    page.evaluate("window.stillTheSamePage = true")  # gone after any full page load
    assert page.locator("#notification-badge .count").count() == 0
    assert page.locator(f"#waiting tr[data-lead='{lead.pk}']").count() == 0

    lifecycle.assign(lead_id=lead.pk, owner_username=sdr.username, by=manager)  # the server side

    page.locator("#notification-badge .count", has_text="1").wait_for(timeout=10_000)
    page.locator(f"#waiting tr[data-lead='{lead.pk}']").wait_for(timeout=10_000)  # the queue too
    assert page.evaluate("window.stillTheSamePage") is True
    page.click("#notification-badge")
    page.wait_for_url("**/notifications/")
    assert "Lena Vogel was assigned to you by Bea Boss." in page.locator("#notification-list").inner_text()


class _SitePages:
    """A customer's website on another origin (its own port), serving the pages it is given."""

    def __init__(self, pages: dict[str, str]):
        import http.server
        import threading

        served = pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the standard library's name)
                body = served.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.django_db(transaction=True)
def test_the_admins_snippet_pasted_on_another_origin_joins_earlier_page_views_to_the_lead(page, live_server):
    import html

    from leads.models import Activity, CaptureForm

    UserFactory(username="admin", is_superuser=True, is_staff=True)
    pages: dict[str, str] = {}
    site = _SitePages(pages)
    try:
        form = CaptureForm.objects.create(name="Demo request", title="Book a demo", allowed_origins=site.origin,
                                          consent_wording="Yes, e-mail me.")
        log_in(page, live_server, "admin", "/attention/")
        page.goto(f"{live_server.url}/admin/leads/captureform/{form.pk}/change/")
        snippet = html.unescape(page.locator("[data-testid=embed-snippet]").inner_text())
        assert live_server.url in snippet and "data-leadwerk-form" in snippet
        # the site decided on the server that this visitor consented to tracking (README: tracking waits)
        snippet = snippet.replace(" async></script>", ' data-consent="granted" async></script>')
        script_line = next(line for line in snippet.splitlines() if line.startswith("<script"))
        pages["/pricing"] = f"<!doctype html><title>Pricing</title><h1>Pricing</h1>{script_line}"
        pages["/contact"] = f"<!doctype html><title>Contact</title><h1>Contact</h1>{snippet}"

        page.goto(f"{site.origin}/pricing")
        page.wait_for_function(
            "() => performance.getEntriesByType('resource').some(e => e.name.includes('/api/v1/track/'))")
        page.goto(f"{site.origin}/contact")
        frame = page.frame_locator("iframe[data-leadwerk-form]")
        frame.locator("input[name=email]").fill("eva.embed@kunde.de")
        frame.locator("button[type=submit]").click()
        frame.locator("body", has_text="Thank").wait_for()
    finally:
        site.close()

    lead = Lead.objects.get(email="eva.embed@kunde.de")
    # the visits tracked before the form (a pricing page counts as a pricing view) are the lead's now
    tracked = dict(Activity.objects.filter(lead=lead, visitor__isnull=False).values_list("url", "kind"))
    assert tracked == {f"{site.origin}/pricing": "pricing_view", f"{site.origin}/contact": "page_view"}
