"""Report tables fit the page (no table scrolls sideways at 1280 px, the ROI and CAC columns in view), and a
count in a table opens the lead list with the same number, in a real browser. Fixtures from
`tests/config/test_browser`."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from core.vocabulary import Role, Stage
from leads.models import LeadTransition
from tests.config.test_browser import browser, log_in, page, pytestmark
from tests.factories import CampaignFactory, LeadFactory, UserFactory

__all__ = ["browser", "page", "pytestmark"]  # the fixtures and the skip mark (no Chromium) of test_browser

WIDE_TABLES = """() => [...document.querySelectorAll('.report-section .table-wrap')]
    .filter(wrap => wrap.scrollWidth > wrap.clientWidth + 1)
    .map(wrap => wrap.closest('.report-section').id + ':' + wrap.scrollWidth + '/' + wrap.clientWidth)"""


def sources_history():
    now = timezone.now()
    for index, source in enumerate(("paid_search", "paid_social", "web_form", "email", "organic_search", "event")):
        campaign = CampaignFactory(slug=f"kampagne-{index}", name=f"Kampagne Lead-Management {index}",
                                   cost=123456.78, channel=source) if source != "organic_search" else None
        for number in range(3):
            lead = LeadFactory(stage=Stage.CUSTOMER if number == 0 else Stage.MQL, source=source, campaign=campaign,
                               deal_value=98765.43 if number == 0 else None,
                               created_at=now - dt.timedelta(days=index + 2))
            LeadTransition.objects.create(lead=lead, name="mark_mql", source=Stage.KNOWN, target=Stage.MQL,
                                          at=now - dt.timedelta(days=index + 1))


@pytest.mark.django_db(transaction=True)
def test_the_report_tables_fit_the_page_and_a_table_count_opens_its_leads(page, live_server):
    UserFactory(username="marketing", role=Role.MARKETING)
    sources_history()
    log_in(page, live_server, "marketing", "/reports/sources/")
    assert page.evaluate(WIDE_TABLES) == []
    roi = page.locator("#table-by_source th", has_text="ROI").first.bounding_box()
    assert roi["x"] + roi["width"] <= 1280
    for path in ("/reports/", "/reports/speed-to-lead/", "/reports/sla/", "/reports/velocity/"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate(WIDE_TABLES) == [], path

    page.goto(f"{live_server.url}/reports/sources/")
    link = page.locator("#table-by_source a[data-count-link]").first
    number = int(link.inner_text().replace(",", ""))
    link.click()
    page.wait_for_url("**/leads/?*")
    shown = page.locator(".result-count").inner_text()
    assert int(re.search(r"(\d+) leads?", shown).group(1)) == number
