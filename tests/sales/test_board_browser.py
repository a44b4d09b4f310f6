"""The opportunities board in a real browser (Playwright on the system Chromium, fixtures of
tests/config/test_browser.py): a card moves, a guarded stage is refused with the reason, and of two people
moving the same card one wins while the other sees the card as it is now."""

import os

import pytest

from core.vocabulary import Role
from sales import handoff
from sales.models import Opportunity
from tests.config.test_browser import CHROMIUM, browser, log_in, page  # noqa: F401 (fixtures)
from tests.factories import UserFactory
from tests.sales.helpers import closing_team, sql_lead

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")


def card_of(tab, opportunity):
    return tab.locator(f"#opportunity-{opportunity.pk}")


def move(card, stage_name):
    card.locator("select[name=stage]").select_option(label=stage_name)
    card.locator("button[type=submit]").click()


@pytest.mark.django_db(transaction=True)
def test_a_card_moves_a_guarded_stage_is_refused_and_of_two_movers_one_wins(page, browser, live_server):  # noqa: F811
    manager = UserFactory(username="boss", role=Role.MANAGER)
    _team, reps = closing_team("ae1", manager=manager)
    opportunity = handoff.hand_off(lead_id=sql_lead(UserFactory(username="sdr1", role=Role.SDR)).pk)
    Opportunity.objects.filter(pk=opportunity.pk).update(next_step="Book the demo")

    # The manager opens the board first: they will move the card as they saw it (version 1).
    other = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    other_page = other.new_page()
    log_in(other_page, live_server, "boss", "/sales/opportunities/")
    log_in(page, live_server, "ae1", "/sales/opportunities/")

    # A guarded stage: proposal needs the next step's date. Refused with the reason, nothing moved.
    move(card_of(page, opportunity), "proposal")
    card_of(page, opportunity).locator("[role=alert]").wait_for()
    assert "needs the next step's date" in card_of(page, opportunity).locator("[role=alert]").inner_text()
    assert Opportunity.objects.get(pk=opportunity.pk).stage.name == "discovery"

    # The AE moves the card to demo (its next step is there).
    move(card_of(page, opportunity), "demo")
    page.locator(f"#opportunity-{opportunity.pk}[data-stage=demo]").wait_for()
    assert card_of(page, opportunity).locator("[role=alert]").count() == 0
    assert Opportunity.objects.get(pk=opportunity.pk).stage.name == "demo"

    # The manager still sees discovery and moves it too: refused, and the card shows it as it is now.
    assert card_of(other_page, opportunity).get_attribute("data-stage") == "discovery"
    move(card_of(other_page, opportunity), "negotiation")
    other_page.locator(f"#opportunity-{opportunity.pk}[data-stage=demo]").wait_for()
    alert = card_of(other_page, opportunity).locator("[role=alert]").inner_text()
    assert "Someone else moved this opportunity" in alert and "demo" in alert
    assert card_of(other_page, opportunity).locator("select[name=stage] option:checked").inner_text() == "demo"
    assert Opportunity.objects.get(pk=opportunity.pk).stage.name == "demo"
    other.close()
