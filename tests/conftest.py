import os

import hypothesis
import pytest
from rest_framework.test import APIClient

from core.vocabulary import Role, Stage
from tests.factories import LeadFactory, UserFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Property tests check logic, not speed: no per-example deadline (a loaded CI machine would trip it), and a
# fixed derivation so a failure reproduces (benchmarks measure speed, see benchmarks/).
hypothesis.settings.register_profile("leadwerk", deadline=None, derandomize=True)
hypothesis.settings.load_profile("leadwerk")


@pytest.fixture(autouse=True)
def _q_sync(monkeypatch):
    """Run django-q2 tasks inline in tests (the frozen Conf ignores the settings fixture)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def _fresh_definitions():
    """The definitions are cached per process for a few seconds; a test's rolled-back change must not
    reach the next test."""
    from definitions import rules

    rules.forget()
    yield
    rules.forget()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Factories set a password for every user; PBKDF2 would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def marketing(db):
    return UserFactory(username="marketing", role=Role.MARKETING)


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", role=Role.MANAGER)


@pytest.fixture
def sdr(db):
    return UserFactory(username="sdr1", role=Role.SDR)


@pytest.fixture
def other_sdr(db):
    return UserFactory(username="sdr2", role=Role.SDR)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_superuser=True, is_staff=True)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def api_as(api):
    def login(user):
        api.force_authenticate(user=user)
        return api

    return login


@pytest.fixture
def own_mql(sdr):
    return LeadFactory(stage=Stage.MQL, owner=sdr)


@pytest.fixture
def pool_mql(db):
    return LeadFactory(stage=Stage.MQL, owner=None)


@pytest.fixture
def users(marketing, manager, sdr, other_sdr, admin_user):
    return {"marketing": marketing, "manager": manager, "sdr": sdr, "other_sdr": other_sdr, "admin": admin_user}


@pytest.fixture
def others_lead(other_sdr):
    return LeadFactory(stage=Stage.SAL, owner=other_sdr, first_name="Otto", last_name="Fremd")
