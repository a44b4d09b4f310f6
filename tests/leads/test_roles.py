"""Roles: the groups and their admin permissions exist after migrate (and after a flush)."""

import pytest
from django.contrib.auth.models import Group

from core.vocabulary import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_three_roles_exist():
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.ALL)


def test_marketing_may_edit_capture_forms_and_scoring_but_not_routing():
    perms = set(Group.objects.get(name=Role.MARKETING).permissions.values_list("codename", flat=True))
    assert {"change_captureform", "add_campaign", "change_scoringmodel"} <= perms
    assert "change_routingrule" not in perms


def test_managers_may_edit_routing_but_sdrs_nothing():
    perms = set(Group.objects.get(name=Role.MANAGER).permissions.values_list("codename", flat=True))
    assert {"change_rep", "add_routingrule", "change_team"} <= perms
    assert not Group.objects.get(name=Role.SDR).permissions.exists()


def test_a_staff_marketing_user_reaches_the_capture_forms_admin(client):
    user = UserFactory(username="mk", role=Role.MARKETING, is_staff=True)
    client.force_login(user)
    assert client.get("/admin/leads/captureform/").status_code == 200
    assert client.get("/admin/routing/routingrule/add/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_roles_come_back_after_a_flush():
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    assert Group.objects.get(name=Role.MANAGER).permissions.filter(codename="change_rep").exists()
