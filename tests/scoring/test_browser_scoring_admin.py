"""The scoring model's rules editor in a real browser (Playwright on the system Chromium): it fits the screen
(no sideways scroll at 1280 px, every rule's fields reachable at 390 px) and shows list values as lists.
Fixtures from `tests/config/test_browser`."""

import pytest
from django.urls import reverse

from scoring import versioning
from scoring.models import ScoringModel
from tests.config.test_browser import PASSWORD, browser, page, pytestmark
from tests.factories import UserFactory

__all__ = ["browser", "page", "pytestmark"]  # the fixtures and the skip mark (no Chromium) of test_browser

PHONE = {"width": 390, "height": 844}


def admin_log_in(page, live_server, path: str) -> None:
    page.goto(f"{live_server.url}{path}")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.locator("input[type=submit], button[type=submit]").first.click()
    page.wait_for_url(f"**{path}")


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def inside(page, selector: str, width: int) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


@pytest.mark.django_db(transaction=True)
def test_the_rules_editor_fits_the_screen_and_shows_lists_as_lists(page, live_server):
    UserFactory(username="admin", is_superuser=True, is_staff=True)
    draft = versioning.new_draft_from(ScoringModel.objects.get(version=1))
    listed = draft.rules.exclude(value=None).filter(operator="in_list").first()
    assert listed is not None and isinstance(listed.value, list)
    url = reverse("admin:scoring_scoringmodel_change", args=[draft.pk])

    admin_log_in(page, live_server, url)
    assert fits(page)
    index = list(draft.rules.order_by("position", "id")).index(listed)
    value = page.input_value(f"input[name=rules-{index}-value]")
    assert value == ", ".join(str(item) for item in listed.value)  # not JSON
    assert "[" not in value and '"' not in value
    for name in ("name", "field", "operator", "value", "points", "window_days"):
        assert inside(page, f"[name=rules-0-{name}]", 1280), name

    page.set_viewport_size(PHONE)
    page.reload()
    assert fits(page)
    for name in ("name", "field", "operator", "value", "points"):
        assert inside(page, f"[name=rules-0-{name}]", PHONE["width"]), name

    page.set_viewport_size({"width": 1280, "height": 800})
    page.fill(f"input[name=rules-{index}-value]", "Software, SaaS, Fintech")
    page.locator("input[name=_continue]").first.click()
    page.locator(".messagelist .success").wait_for()
    listed.refresh_from_db()
    assert listed.value == ["Software", "SaaS", "Fintech"]
    assert page.input_value(f"input[name=rules-{index}-value]") == "Software, SaaS, Fintech"
