import itertools

import pytest
from django.db.models import Max

from integrations import services
from integrations.models import Subscription
from outbox.models import Event
from tests.integrations.receiver import Receiver


@pytest.fixture(autouse=True)
def _receiver_allowed(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_TIMEOUT_SECONDS = 2


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def subscribe(admin_user):
    def make(url, events=("lead.created", "lead.stage_changed"), **extra) -> tuple[Subscription, str]:
        return services.create_subscription(by=admin_user, data={"url": url, "events": list(events), **extra})

    return make


@pytest.fixture
def make_events(db):
    """Positioned events, as the outbox hands them to consumers."""
    counter = itertools.count((Event.objects.aggregate(last=Max("position"))["last"] or 0) + 1)

    def make(*specs):
        return [
            Event.objects.create(
                position=next(counter), type=spec.get("type", "lead.created"), lead_id=spec.get("lead_id"),
                actor_id=spec.get("actor_id"), payload=spec.get("payload", {}),
            )
            for spec in specs
        ]

    return make
