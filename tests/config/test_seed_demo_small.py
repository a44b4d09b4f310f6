"""seed_demo on small demos (each test loads its own): users and passwords, refusals, idempotence, determinism."""

import datetime as dt
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.utils import timezone

from config.demo import build_plan
from core.vocabulary import Role
from leads.models import Account, Activity, Campaign, CaptureForm, Lead, LeadTransition, Submission, Visitor
from tests.factories import UserFactory


def test_it_creates_the_demo_users_with_the_demo_password_and_roles(db):
    call_command("seed_demo", "--leads", "20", stdout=StringIO())
    expected = {
        "admin": set(), "marketing": {"marketing"}, "manager": {"manager"},
        "sdr1": {"sdr"}, "sdr2": {"sdr"}, "sdr3": {"sdr"}, "sdr4": {"sdr"},
    }
    for username, groups in expected.items():
        login = RequestFactory().post("/accounts/login/")
        user = authenticate(login, username=username, password=settings.DEMO_PASSWORD)
        assert user is not None, username
        assert set(user.groups.values_list("name", flat=True)) == groups
        assert user.email == f"{username}@leadwerk.example"
        assert user.is_superuser == (username == "admin")
        assert user.is_staff == (username in ("admin", "marketing", "manager"))  # they edit rules in the admin


def test_a_second_run_does_nothing(db):
    call_command("seed_demo", "--leads", "30", stdout=StringIO())
    counts = (Lead.objects.count(), LeadTransition.objects.count(), Activity.objects.count())
    out = StringIO()

    call_command("seed_demo", "--leads", "30", stdout=out)

    assert (Lead.objects.count(), LeadTransition.objects.count(), Activity.objects.count()) == counts
    assert "already has 30 leads" in out.getvalue()


def test_the_same_seed_gives_the_same_data_in_a_fresh_database(db):
    def snapshot():
        return sorted(Lead.objects.values_list("email", "stage", "company", "score"))

    call_command("seed_demo", "--seed", "7", "--leads", "40", stdout=StringIO())
    first = snapshot()
    for model in (Lead, Visitor, Submission, Account, CaptureForm, Campaign):
        model.objects.all().delete()

    call_command("seed_demo", "--seed", "7", "--leads", "40", stdout=StringIO())

    assert snapshot() == first


def test_it_refuses_too_few_leads(db):
    with pytest.raises(CommandError, match="--leads"):
        call_command("seed_demo", "--leads", "5", stdout=StringIO())
    assert not Lead.objects.exists()


def test_existing_demo_users_get_the_demo_password_and_role_back(db):
    sdr1 = UserFactory(username="sdr1", role=Role.MANAGER)
    sdr1.set_password("something-else-123")
    sdr1.save()

    call_command("seed_demo", "--leads", "20", stdout=StringIO())

    user = authenticate(RequestFactory().post("/accounts/login/"), username="sdr1", password=settings.DEMO_PASSWORD)
    assert user is not None and user.pk == sdr1.pk
    assert list(user.groups.values_list("name", flat=True)) == ["sdr"]


def test_the_plan_depends_on_the_seed_only():
    now = timezone.now()
    first = build_plan(seed=3, leads=80, now=now)

    assert build_plan(seed=3, leads=80, now=now) == first
    later = build_plan(seed=3, leads=80, now=now + dt.timedelta(days=10))
    assert [(p.fields["email"], p.fields["stage"]) for p in later.leads] == [
        (p.fields["email"], p.fields["stage"]) for p in first.leads
    ]
    other = build_plan(seed=4, leads=80, now=now)
    assert [p.fields["email"] for p in other.leads] != [p.fields["email"] for p in first.leads]
