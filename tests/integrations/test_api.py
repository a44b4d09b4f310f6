"""The webhooks API: admins create (the secret once), read (never the secret), delete, rotate, read the
delivery log and redeliver; everyone else is refused; bad input is a 400 naming the field, nothing written."""

import pytest

from integrations import consumer, deliveries
from integrations.models import Delivery, DeliveryStatus, Subscription
from tests.integrations.receiver import Answer

pytestmark = pytest.mark.django_db


def _create(api, url, events=("lead.created",), **extra):
    return api.post("/api/v1/webhooks/", {"url": url, "events": list(events), **extra}, format="json")


def test_an_admin_subscribes_and_sees_the_secret_once(api_as, admin_user, receiver):
    api = api_as(admin_user)
    response = _create(api, receiver.url, ["lead.created", "sla.breached"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["url"] == receiver.url
    assert body["events"] == ["lead.created", "sla.breached"] and body["format"] == "standard"
    assert Subscription.objects.get().secret == body["secret"]
    listed = api.get("/api/v1/webhooks/").json()
    assert [item["id"] for item in listed] == [body["id"]]
    detail = api.get(f"/api/v1/webhooks/{body['id']}/").json()
    assert "secret" not in detail and "secret" not in listed[0]
    assert body["secret"] not in str(listed) + str(detail)


@pytest.mark.parametrize("data,field", [
    ({"url": "https://10.0.0.1/hook", "events": ["lead.created"]}, "url"),
    ({"url": "http://127.0.0.2/hook", "events": ["lead.created"]}, "url"),
    ({"url": "not a url", "events": ["lead.created"]}, "url"),
    ({"url": 7, "events": ["lead.created"]}, "url"),
    ({"events": ["lead.created"]}, "url"),
    ({"url": "RECEIVER", "events": []}, "events"),
    ({"url": "RECEIVER"}, "events"),
    ({"url": "RECEIVER", "events": "lead.created"}, "events"),
    ({"url": "RECEIVER", "events": ["lead.exploded"]}, "events"),
    ({"url": "RECEIVER", "events": ["lead.created"], "format": "fax"}, "format"),
    ({"url": "RECEIVER", "events": ["lead.created"], "format": "slack"}, "events"),
    ({"url": "RECEIVER", "events": ["lead.created"], "stages": ["limbo"]}, "stages"),
    ({"url": "RECEIVER", "events": ["lead.created"], "team": 999999}, "team"),
    ({"url": "RECEIVER", "events": ["lead.created"], "team": "one"}, "team"),
    ({"url": "RECEIVER", "events": ["lead.created"], "secret": "mine"}, "secret"),
])
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api_as, admin_user, receiver, data, field):
    data = {key: receiver.url if value == "RECEIVER" else value for key, value in data.items()}
    response = api_as(admin_user).post("/api/v1/webhooks/", data, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors and errors[field][0].endswith(".")
    assert Subscription.objects.count() == 0


def test_a_body_that_is_not_an_object_is_a_400(api_as, admin_user):
    response = api_as(admin_user).post("/api/v1/webhooks/", ["x"], format="json")
    assert response.status_code == 400 and Subscription.objects.count() == 0


@pytest.mark.parametrize("role", ["marketing", "manager", "sdr"])
def test_only_admins_manage_webhooks(api_as, users, role, receiver):
    api = api_as(users[role])
    assert _create(api, receiver.url).status_code == 403
    assert api.get("/api/v1/webhooks/").status_code == 403
    assert Subscription.objects.count() == 0


def test_anonymous_is_a_401(api, receiver):
    assert _create(api, receiver.url).status_code == 401


def test_delete_and_a_missing_id_is_a_404(api_as, admin_user, receiver):
    api = api_as(admin_user)
    pk = _create(api, receiver.url).json()["id"]
    assert api.delete(f"/api/v1/webhooks/{pk}/").status_code == 204
    assert Subscription.objects.count() == 0
    assert api.get(f"/api/v1/webhooks/{pk}/").status_code == 404
    assert api.delete(f"/api/v1/webhooks/{pk}/").status_code == 404
    assert api.post(f"/api/v1/webhooks/{pk}/rotate-secret/").status_code == 404


def test_rotating_the_secret_answers_the_new_one_and_keeps_the_old_for_a_day(api_as, admin_user, receiver):
    api = api_as(admin_user)
    created = _create(api, receiver.url).json()
    response = api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret/")
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_valid_until"]
    subscription = Subscription.objects.get()
    assert subscription.secrets() == [rotated["secret"], created["secret"]]


def test_the_delivery_log_and_redelivery_of_failed_and_one(api_as, admin_user, receiver, make_events):
    api = api_as(admin_user)
    pk = _create(api, receiver.url).json()["id"]
    receiver.default = Answer(410)
    consumer.consume(make_events({}, {}))
    deliveries.send_due(pk, budget_seconds=10)  # a 410 disables it and fails both
    log = api.get(f"/api/v1/webhooks/{pk}/deliveries/").json()
    assert [entry["status"] for entry in log] == ["failed", "failed"]
    assert log[0]["webhook_id"].startswith("evt_")
    assert api.get(f"/api/v1/webhooks/{pk}/").json()["is_active"] is False
    Subscription.objects.filter(pk=pk).update(is_active=True)  # an admin switched it on again
    receiver.default = Answer(200)
    one = log[0]["id"]
    response = api.post(f"/api/v1/webhooks/{pk}/deliveries/{one}/redeliver/")
    assert response.status_code == 200 and response.json() == {"queued": 1}
    assert Delivery.objects.get(pk=one).status == DeliveryStatus.PENDING
    assert api.post(f"/api/v1/webhooks/{pk}/redeliver/").json() == {"queued": 1}  # the other failed one
    assert deliveries.send_due(pk, budget_seconds=10) == 2
    assert api.post(f"/api/v1/webhooks/{pk}/deliveries/999999/redeliver/").status_code == 404


def test_another_subscriptions_delivery_is_a_404(api_as, admin_user, receiver, make_events, subscribe):
    first, _s = subscribe(receiver.url)
    second, _s = subscribe(receiver.url)
    consumer.consume(make_events({}))
    delivery = Delivery.objects.filter(subscription=first).get()
    response = api_as(admin_user).post(f"/api/v1/webhooks/{second.pk}/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["marketing", "manager", "sdr"])
def test_others_may_not_delete_rotate_or_redeliver(api_as, users, role, subscribe, receiver):
    subscription, secret = subscribe(receiver.url)
    api = api_as(users[role])
    assert api.delete(f"/api/v1/webhooks/{subscription.pk}/").status_code == 403
    assert api.post(f"/api/v1/webhooks/{subscription.pk}/rotate-secret/").status_code == 403
    assert api.post(f"/api/v1/webhooks/{subscription.pk}/redeliver/").status_code == 403
    assert api.get(f"/api/v1/webhooks/{subscription.pk}/deliveries/").status_code == 403
    subscription.refresh_from_db()
    assert subscription.secret == secret
