"""Webhooks in the admin: a refused URL is a message on the form (nothing saved), a new subscription shows
its secret once, the delivery log lists attempts, and the redeliver action queues failed ones again."""

import pytest
from django.utils import timezone

from integrations.models import Attempt, Delivery, DeliveryStatus, Subscription

pytestmark = pytest.mark.django_db


def _form(url, **extra):
    return {"url": url, "description": "", "format": "standard", "event_types": ["lead.created"], "is_active": "on",
            **extra}


def test_a_private_url_is_refused_on_the_form(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/admin/integrations/subscription/add/", _form("https://10.0.0.1/hook"))
    assert response.status_code == 200
    assert "private" in response.content.decode()
    assert Subscription.objects.count() == 0


def test_a_chat_target_with_an_unformatted_event_is_refused(client, admin_user, receiver):
    client.force_login(admin_user)
    response = client.post("/admin/integrations/subscription/add/", _form(receiver.url, format="slack"))
    assert response.status_code == 200 and "A chat target formats only" in response.content.decode()
    assert Subscription.objects.count() == 0


def test_a_new_subscription_shows_its_secret_once(client, admin_user, receiver):
    client.force_login(admin_user)
    response = client.post("/admin/integrations/subscription/add/", _form(receiver.url), follow=True)
    subscription = Subscription.objects.get()
    assert subscription.secret.startswith("whsec_")
    assert subscription.secret in response.content.decode()
    page = client.get(f"/admin/integrations/subscription/{subscription.pk}/change/").content.decode()
    assert subscription.secret not in page


def test_the_delivery_log_shows_attempts_and_redelivers(client, admin_user):
    subscription = Subscription.objects.create(url="https://hooks.example.com/", event_types=["lead.created"])
    delivery = Delivery.objects.create(
        subscription=subscription, event_position=7, event_type="lead.created", event_at=timezone.now(),
        status=DeliveryStatus.FAILED, attempts=8, last_status_code=500,
    )
    Attempt.objects.create(delivery=delivery, status_code=500, response_excerpt="upstream exploded")
    client.force_login(admin_user)
    listing = client.get(f"/admin/integrations/delivery/?subscription__id__exact={subscription.pk}")
    assert listing.status_code == 200 and "lead.created" in listing.content.decode()
    page = client.get(f"/admin/integrations/delivery/{delivery.pk}/change/").content.decode()
    assert "upstream exploded" in page
    client.post("/admin/integrations/delivery/", {"action": "redeliver", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
