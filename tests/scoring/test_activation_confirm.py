"""Activating a scoring draft from its page asks first, with the what-if numbers; nothing changes until the
confirmation."""

import pytest
from django.urls import reverse

from scoring.models import ScoringModel
from tests.factories import UserFactory
from tests.scoring.test_scoring_admin import default_model, draft, what_if_provider

__all__ = ["default_model", "draft", "what_if_provider"]  # fixtures
pytestmark = pytest.mark.django_db


def test_the_activate_button_asks_first_with_the_what_if_numbers(admin_client, default_model, draft,
                                                                  what_if_provider):
    what_if_provider(lambda spec: [("Leads changing temperature", 89)])
    url = reverse("admin:scoring_scoringmodel_activate", args=[draft.pk])
    response = admin_client.post(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="activate-confirm"' in page and 'name="confirmed" value="yes"' in page
    assert "<th>Leads changing temperature</th><td>89</td>" in page
    assert ScoringModel.active() == default_model  # nothing changed yet

    response = admin_client.post(url, {"confirmed": "yes"}, follow=True)
    assert "Version 2 is now active." in response.content.decode()
    assert ScoringModel.active() == draft


def test_the_confirmation_needs_change_permission(client, default_model, draft):
    client.force_login(UserFactory(username="viewer", is_staff=True))
    response = client.post(reverse("admin:scoring_scoringmodel_activate", args=[draft.pk]), {"confirmed": "yes"})
    assert response.status_code in (302, 403)
    assert ScoringModel.active() == default_model
