"""The events feed: admins page through every event in order with the `next` cursor; filters and limits
are checked and named when wrong; nobody else reads it."""

import time

import pytest
from django.db import transaction

from core.vocabulary import EventType, Role
from outbox import events
from tests.factories import CaptureFormFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin():
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def _positioned():
    """Wait until every committed event has its position: an open transaction of another test process on the
    same server holds positions back for a moment (docs/integrations.md)."""
    deadline = time.monotonic() + 30
    while True:
        events.assign_positions()
        if not events.waiting() or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def _write(*specs):
    with transaction.atomic():
        events.record_many([{"type": type_, "lead_id": lead} for type_, lead in specs])
    _positioned()


def test_an_admin_pages_through_every_event_in_order(api_as, admin):
    _write(*[(EventType.LEAD_CREATED, n) for n in range(5)])
    _write((EventType.ACTIVITY_LOGGED, 9))
    client, seen, after = api_as(admin), [], 0
    while True:
        body = client.get("/api/v1/events/", {"after": after, "limit": 2}).json()
        if not body["results"]:
            break
        seen.extend(body["results"])
        after = body["next"]
    assert [event["id"] for event in seen] == [1, 2, 3, 4, 5, 6]
    assert [event["lead"] for event in seen] == [0, 1, 2, 3, 4, 9]
    assert body["next"] == 6
    only = client.get("/api/v1/events/", {"types": "activity.logged"}).json()["results"]
    assert [(event["type"], event["lead"]) for event in only] == [("activity.logged", 9)]


def test_a_capture_shows_up_in_the_feed(api, api_as, admin):
    form = CaptureFormFactory()
    answer = api.post("/api/v1/capture/", {"email": "anna@kunde.de"}, format="json", HTTP_X_FORM_KEY=form.key)
    assert answer.status_code == 202
    _positioned()
    results = api_as(admin).get("/api/v1/events/").json()["results"]
    assert {"lead.created", "activity.logged"} <= {event["type"] for event in results}
    assert "anna" not in str(results)  # ids and field names, no personal data


@pytest.mark.parametrize(("query", "field"), [
    ({"after": "-1"}, "after"), ({"after": "x"}, "after"), ({"after": str(2**64)}, "after"),
    ({"limit": "0"}, "limit"), ({"limit": "5000"}, "limit"), ({"types": "lead.created,lead.exploded"}, "types"),
])
def test_bad_parameters_are_named(api_as, admin, query, field):
    response = api_as(admin).get("/api/v1/events/", query)
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize("role", [Role.MARKETING, Role.MANAGER, Role.SDR])
def test_only_admins_read_the_feed(api, api_as, role):
    assert api.get("/api/v1/events/").status_code in (401, 403)
    assert api_as(UserFactory(role=role)).get("/api/v1/events/").status_code == 403
