"""Where webhooks may go: https only in production, never private/loopback/link-local/reserved addresses
(every resolved address checked, at subscription and at send time), except WEBHOOK_ALLOWED_HOSTS."""

import socket

import pytest

from integrations import consumer, deliveries, urls_check
from integrations.models import Delivery, DeliveryStatus, Subscription

PUBLIC = "93.184.215.14"


@pytest.fixture
def dns(monkeypatch):
    """The network's name service, faked: names map to addresses (mocking the network only)."""
    table = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in table[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False
    settings.WEBHOOK_ALLOWED_HOSTS = []


@pytest.mark.parametrize("url", [
    "https://10.0.0.1/hook", "https://127.0.0.1/hook", "https://169.254.169.254/latest/meta-data/",
    "https://localhost/hook", "https://[::1]/hook", "https://0.0.0.0/hook", "https://192.168.1.10/hook",
    "https://[::ffff:127.0.0.1]/hook", "https://100.64.0.1/hook", "https://224.0.0.1/hook",
])
def test_private_loopback_link_local_and_reserved_addresses_are_refused(url):
    with pytest.raises(urls_check.Refused) as refused:
        urls_check.check(url)
    assert list(refused.value.errors) == ["url"]
    assert "private" in refused.value.message


def test_a_host_name_resolving_to_a_private_address_among_public_ones_is_refused(dns):
    dns["hooks.example.com"] = [PUBLIC, "10.1.2.3"]
    with pytest.raises(urls_check.Refused):
        urls_check.check("https://hooks.example.com/in")


def test_a_public_https_url_passes_with_its_checked_addresses(dns):
    dns["hooks.example.com"] = [PUBLIC]
    target = urls_check.check("https://hooks.example.com:8443/in?x=1")
    assert (target.scheme, target.host, target.port, target.path, target.addresses) == (
        "https", "hooks.example.com", 8443, "/in?x=1", (PUBLIC,)
    )


@pytest.mark.parametrize("url,words", [
    ("http://hooks.example.com/in", "https"),
    ("ftp://hooks.example.com/in", "http or https"),
    ("not a url", "http or https"),
    ("https://user:pw@hooks.example.com/in", "user name"),
    ("https://nonexistent.invalid/in", "does not resolve"),
    ("https://hooks.example.com:99999/in", "not a valid URL"),
    ("", "required"),
])
def test_bad_urls_are_refused_with_a_sentence(dns, url, words):
    dns["hooks.example.com"] = [PUBLIC]
    with pytest.raises(urls_check.Refused) as refused:
        urls_check.check(url)
    assert words in refused.value.message


def test_an_allowed_host_may_use_http_and_a_private_address(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    assert urls_check.check("http://127.0.0.1:9000/hook").addresses == ("127.0.0.1",)
    with pytest.raises(urls_check.Refused):
        urls_check.check("http://10.0.0.1/hook")  # another host is still refused


def test_http_is_allowed_in_debug_but_not_to_private_addresses(settings, dns):
    settings.DEBUG = True
    dns["hooks.example.com"] = [PUBLIC]
    assert urls_check.check("http://hooks.example.com/in").scheme == "http"
    with pytest.raises(urls_check.Refused):
        urls_check.check("http://127.0.0.1/in")


@pytest.mark.django_db
def test_the_send_checks_again_and_sends_nothing_to_a_host_no_longer_allowed(
    settings, receiver, subscribe, make_events
):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    subscription, _secret = subscribe(receiver.url)
    settings.WEBHOOK_ALLOWED_HOSTS = []  # the setting changed (or the name now resolves elsewhere)
    settings.DEBUG = True  # http would pass: the address is what is refused
    consumer.consume(make_events({}))
    deliveries.send_due(subscription.pk, budget_seconds=10)
    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and "private" in delivery.last_error


@pytest.mark.django_db
def test_the_send_connects_to_the_checked_address_with_the_url_host_name(
    settings, dns, receiver, subscribe, make_events
):
    settings.WEBHOOK_ALLOWED_HOSTS = ["crm.internal"]
    dns["crm.internal"] = ["127.0.0.1"]
    port = receiver.server.server_address[1]
    subscription, _secret = subscribe(f"http://crm.internal:{port}/hook")
    consumer.consume(make_events({}))
    assert deliveries.send_due(subscription.pk, budget_seconds=10) == 1
    assert receiver.requests[0].headers["host"] == f"crm.internal:{port}"


@pytest.mark.django_db
def test_a_refused_url_writes_no_subscription(admin_user):
    from core.errors import Invalid
    from integrations import services

    with pytest.raises(Invalid) as refused:
        services.create_subscription(
            by=admin_user, data={"url": "https://169.254.169.254/", "events": ["lead.created"]}
        )
    assert "url" in refused.value.errors
    assert Subscription.objects.count() == 0
