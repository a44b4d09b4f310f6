"""Capture in a real browser (Playwright on the system Chromium): the tracking script waits for the site's
consent, and a known visitor's form asks for what the lead does not have yet. Fixtures from `test_browser`,
the customer's website (another origin) from `test_browser_first_hour`."""

import pytest

from leads.models import Activity, CaptureForm, Visitor
from tests.config.test_browser import browser, page, pytestmark
from tests.config.test_browser_first_hour import _SitePages

__all__ = ["browser", "page", "pytestmark"]  # the fixtures and the skip mark (no Chromium) of test_browser

SCRIPT_LOADED = "() => window.leadwerk && typeof window.leadwerk.consent === 'function'"
STORED_ID = "() => window.localStorage.getItem('leadwerk_visitor_id')"


def _script_tag(live_server, form, extra: str = "") -> str:
    return (f'<script src="{live_server.url}/static/leads/track.js" data-form-key="{form.key}" '
            f'data-endpoint="{live_server.url}"{extra} async></script>')


def _nothing_sent_or_stored(page, context, track_requests) -> None:
    page.wait_for_function(SCRIPT_LOADED)
    page.wait_for_timeout(400)  # time enough for a page view the script would have sent at load
    assert track_requests == []
    assert page.evaluate("() => window.localStorage.length") == 0
    assert context.cookies() == []


@pytest.mark.django_db(transaction=True)
def test_tracking_waits_for_consent_and_forgets_the_visitor_when_it_is_withdrawn(page, live_server):
    pages: dict[str, str] = {}
    site = _SitePages(pages)
    track_requests: list[str] = []
    page.on("request", lambda request: track_requests.append(request.url)
            if "/api/v1/track/" in request.url else None)
    context = page.context
    try:
        form = CaptureForm.objects.create(name="Site", allowed_origins=site.origin)
        pages["/pricing"] = f"<!doctype html><title>Pricing</title><h1>Pricing</h1>{_script_tag(live_server, form)}"
        pages["/decided"] = ("<!doctype html><title>Home</title><h1>Home</h1>"
                             f'{_script_tag(live_server, form, " data-consent=granted")}')
        # A consent manager that answered before the async script loaded: its answer waits in the queue.
        pages["/queued"] = ("<!doctype html><title>About</title><script>window.leadwerk = {q: [['consent', true]]};"
                            f"</script><h1>About</h1>{_script_tag(live_server, form)}")

        page.goto(f"{site.origin}/pricing")
        _nothing_sent_or_stored(page, context, track_requests)
        assert Visitor.objects.count() == 0

        with page.expect_response(lambda response: "/api/v1/track/" in response.url):
            page.evaluate("() => leadwerk.consent(true)")
        visitor_id = page.evaluate(STORED_ID)
        assert visitor_id and len(track_requests) == 1
        visitor = Visitor.objects.get()
        assert visitor.anonymous_id == visitor_id
        assert list(Activity.objects.filter(visitor=visitor).values_list("kind", flat=True)) == ["pricing_view"]

        page.reload()  # the id is kept, but without this page's consent nothing is read or sent
        page.wait_for_function(SCRIPT_LOADED)
        page.wait_for_timeout(400)
        assert len(track_requests) == 1

        with page.expect_response(lambda response: "/api/v1/track/" in response.url):
            page.goto(f"{site.origin}/decided")  # the site decided on the server: data-consent="granted"
        assert page.evaluate(STORED_ID) == visitor_id
        with page.expect_response(lambda response: "/api/v1/track/" in response.url):
            page.goto(f"{site.origin}/queued")
        assert len(track_requests) == 3
        assert Activity.objects.filter(visitor=visitor).count() == 3

        assert page.evaluate("() => leadwerk.consent(false)") is False
        assert page.evaluate(STORED_ID) is None
        page.goto(f"{site.origin}/pricing")
        _nothing_sent_or_stored(page, context, track_requests[3:])
        assert len(track_requests) == 3
        with page.expect_response(lambda response: "/api/v1/track/" in response.url):
            page.evaluate("() => leadwerk.consent(true)")  # a new consent is a new, unrelated visitor
        assert page.evaluate(STORED_ID) not in (None, visitor_id)
    finally:
        site.close()
    assert Visitor.objects.count() == 2


def _form_frame(page):
    """The embedded form once the script has handed it the visitor id (the iframe loads again with it)."""
    page.wait_for_function(
        "() => (document.querySelector('iframe[data-leadwerk-form]') || {src: ''}).src.includes('visitor_id=')")
    frame = None
    for attempt in range(300):
        frame = next((f for f in page.frames if "visitor_id=" in f.url), None)
        if frame is not None:
            break
        if attempt == 100:  # a navigation Chromium dropped while the first load was still running: load it again
            page.eval_on_selector("iframe[data-leadwerk-form]", "el => { el.src = el.src; }")
        page.wait_for_timeout(100)
    assert frame is not None, "the form never loaded with the visitor id"
    frame.wait_for_load_state()
    frame.wait_for_selector("input[name=email]")
    return frame


def _visible_fields(frame) -> list[str]:
    return frame.locator("form input:visible, form select:visible, form textarea:visible").evaluate_all(
        "elements => elements.map(e => e.name).filter(n => n && n !== 'website_url')")


@pytest.mark.django_db(transaction=True)
def test_a_returning_visitor_is_asked_what_the_lead_does_not_have_yet(page, live_server):
    from leads.models import CaptureFormField, Lead

    pages: dict[str, str] = {}
    site = _SitePages(pages)
    try:
        form = CaptureForm.objects.create(name="Whitepaper", allowed_origins=site.origin, progressive_fields=2)
        for position, (name, required) in enumerate([("first_name", True), ("company", True), ("job_title", False),
                                                     ("phone", False), ("company_size", False)]):
            CaptureFormField.objects.create(form=form, name=name, required=required, position=position)
        pages["/whitepaper"] = (
            "<!doctype html><title>Whitepaper</title><h1>Whitepaper</h1>"
            f'<iframe src="{live_server.url}/f/{form.key}/?embed=1" data-leadwerk-form title="Whitepaper"></iframe>'
            f'{_script_tag(live_server, form, " data-consent=granted")}'
        )
        every = ["email", "first_name", "company", "job_title", "phone", "company_size"]

        page.goto(f"{site.origin}/whitepaper")
        frame = _form_frame(page)
        assert _visible_fields(frame) == every
        frame.locator("input[name=email]").fill("eva.profil@kunde.de")
        frame.locator("input[name=first_name]").fill("Eva")
        frame.locator("button[type=submit]").click()  # the company is required: asked again, named
        frame.locator(".field-errors", has_text="This field is required.").wait_for()
        assert not Lead.objects.exists()
        frame.locator("input[name=company]").fill("Kunde GmbH")
        frame.locator("button[type=submit]").click()
        frame.locator("body", has_text="Thank").wait_for()

        page.goto(f"{site.origin}/whitepaper")  # the same browser: its visitor id is the lead's now
        frame = _form_frame(page)
        assert _visible_fields(frame) == ["email", "job_title", "phone"]
        frame.locator("input[name=email]").fill("eva.profil@kunde.de")
        frame.locator("input[name=job_title]").fill("Head of Marketing")
        frame.locator("button[type=submit]").click()
        frame.locator("body", has_text="Thank").wait_for()

        page.goto(f"{site.origin}/whitepaper")
        frame = _form_frame(page)
        assert _visible_fields(frame) == ["email", "phone", "company_size"]
    finally:
        site.close()
    lead = Lead.objects.get()
    assert (lead.first_name, lead.company, lead.job_title) == ("Eva", "Kunde GmbH", "Head of Marketing")
