"""Login throttling (django-axes) and the throttled password reset: per user name and client IP."""

import pytest
from django.core import mail
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"


def attempt(client, username, password, path="/accounts/login/", ip="203.0.113.5"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_wrong_passwords_lock_the_user_out_from_that_address_even_with_the_right_one(settings):
    UserFactory(username="sdr1")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "sdr1", "wrong").status_code == 200  # the form again
    locked = attempt(client, "sdr1", "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    right = attempt(client, "sdr1", PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_out_is_per_user_and_address(settings):
    UserFactory(username="sdr1")
    UserFactory(username="sdr2")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), "sdr1", "wrong")
    assert attempt(Client(), "sdr1", PASSWORD, ip="198.51.100.9").status_code == 302  # another address
    assert attempt(Client(), "sdr2", PASSWORD).status_code == 302  # a colleague in the same office


def test_the_admin_login_is_throttled_too(settings):
    UserFactory(username="admin", is_superuser=True, is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), "admin", "wrong", path="/admin/login/")
    response = attempt(Client(), "admin", PASSWORD, path="/admin/login/")
    assert response.status_code == 429


def test_a_successful_login_resets_the_count(settings):
    UserFactory(username="sdr1")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(Client(), "sdr1", "wrong")
    assert attempt(Client(), "sdr1", PASSWORD).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(Client(), "sdr1", "wrong")
    assert attempt(Client(), "sdr1", PASSWORD).status_code == 302


def test_password_reset_sends_at_most_the_rate_then_says_so(settings):
    from django.core.cache import cache

    cache.clear()
    settings.PASSWORD_RESET_RATE = "3/hour"
    UserFactory(username="sdr1", email="sdr1@leadwerk.test")
    statuses = [
        Client().post("/accounts/password_reset/", {"email": "sdr1@leadwerk.test"}, REMOTE_ADDR="203.0.113.5")
        .status_code for _ in range(5)
    ]
    assert statuses == [302, 302, 302, 429, 429]
    assert len(mail.outbox) == 3
    refused = Client().post("/accounts/password_reset/", {"email": "sdr1@leadwerk.test"}, REMOTE_ADDR="203.0.113.5")
    assert "Too many password reset requests" in refused.content.decode()
