"""The webhook fan-out benchmark works at a tiny size (only that figures come out; never how fast)."""

import pytest

from benchmarks import webhooks
from benchmarks.common import Context
from integrations.models import Delivery, Subscription
from outbox.models import Event


@pytest.mark.django_db(transaction=True)
def test_the_webhook_benchmark_delivers_every_event_to_every_subscription():
    result = webhooks.run(Context(leads=0, quick=True), events=30)
    assert result.status == "ok"
    details = {detail.label: detail.value for detail in result.details}
    assert details["deliveries written"] == details["deliveries delivered"] == details["receiver got"] == 90
    assert result.figure.value > 0 and result.reference.value > 0
    assert Subscription.objects.count() == Delivery.objects.count() == Event.objects.count() == 0  # cleaned up
