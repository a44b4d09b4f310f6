"""Notifications that say what happened, by whom and why, and the badge the header polls (docs/live.md)."""

import pytest
from django.urls import reverse

from core.vocabulary import Stage
from leads import lifecycle
from leads.models import Notification
from tests.factories import LeadFactory, UserFactory
from tests.leads.test_routing_integration import hot_capture, make_team
from tests.pages import as_user, text

pytestmark = pytest.mark.django_db


def test_an_assignment_by_a_person_names_who_assigned(manager, sdr):
    manager.first_name, manager.last_name = "Bea", "Boss"
    manager.save()
    lead = LeadFactory(stage=Stage.MQL, first_name="Lena", last_name="Vogel")
    lifecycle.assign(lead_id=lead.pk, owner_username="sdr1", by=manager)
    note = Notification.objects.get(user=sdr, lead=lead)
    assert note.message == "Lena Vogel was assigned to you by Bea Boss."


def test_an_assignment_by_routing_names_the_rule_and_the_reason():
    make_team(reps=1)
    hot_capture(1)
    note = Notification.objects.get(kind="assignment")
    assert note.message.startswith(f"{note.lead.display_name} was assigned to you by routing: ")
    assert "Everyone to inside sales" in note.message and note.lead.assignment["reason"] in note.message


def test_the_badge_answers_with_the_unread_count_and_polls_again(client, sdr, settings):
    settings.LIVE_REFRESH_SECONDS = 7
    Notification.objects.create(user=sdr, key="one", message="one")
    Notification.objects.create(user=sdr, key="two", message="two")
    Notification.objects.create(user=UserFactory(username="else"), key="three", message="three")
    response = as_user(client, sdr).get(reverse("leads:notification_badge"))
    body = text(response)
    assert response.status_code == 200
    assert body.startswith('<a href="/notifications/" id="notification-badge"')
    assert '<span class="count">2</span>' in body
    assert 'hx-trigger="every 7s"' in body and 'hx-get="/notifications/badge/"' in body
    assert "<html" not in body


def test_the_queue_and_the_list_poll_their_own_region(client, sdr, settings):
    settings.LIVE_REFRESH_SECONDS = 9
    client = as_user(client, sdr)
    queue = text(client.get(reverse("leads:queue")))
    assert 'id="queue-live" hx-get="/queue/" hx-trigger="every 9s" hx-select="#queue-live"' in queue
    notes = text(client.get(reverse("leads:notifications")))
    assert 'hx-trigger="every 9s" hx-select="#notification-list"' in notes


def test_the_badge_is_for_signed_in_users_only(client):
    response = client.get(reverse("leads:notification_badge"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
