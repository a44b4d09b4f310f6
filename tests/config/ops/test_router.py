"""The database router: report reads go to the replica only inside reads_from_replica() and only for the
replicated data; sessions, users, report runs and every write stay on the primary; a replica that does not
answer leaves the reports on the primary and the page says so."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import OperationalError
from django_q.models import Schedule

from config.db_router import ReplicaRouter
from core import replica
from core.vocabulary import Role
from leads.models import Lead, SlaClock
from reporting.models import ReportRun, ReportSubscription, StageBenchmark
from routing.models import Rep
from tests.factories import LeadFactory, UserFactory

router = ReplicaRouter()


@pytest.fixture
def configured_replica(monkeypatch):
    monkeypatch.setattr(replica, "is_configured", lambda: True)
    monkeypatch.setattr(replica, "lag_seconds", lambda: 0.0)


def test_outside_a_report_every_read_goes_to_the_primary(configured_replica):
    assert {router.db_for_read(model) for model in (Lead, SlaClock, Rep, StageBenchmark)} == {"default"}


def test_inside_a_report_the_replicated_data_is_read_from_the_replica(configured_replica):
    with replica.reads_from_replica() as status:
        assert status.used
        assert {router.db_for_read(model) for model in (Lead, SlaClock, Rep, StageBenchmark)} == {"replica"}
        assert replica.read_alias() == "replica"
    assert replica.read_alias() == "default"


def test_reads_that_must_see_their_own_writes_stay_on_the_primary(configured_replica):
    with replica.reads_from_replica():
        for model in (get_user_model(), Session, ReportRun, ReportSubscription, Schedule):
            assert router.db_for_read(model) == "default", model


def test_writes_and_migrations_always_go_to_the_primary(configured_replica):
    with replica.reads_from_replica():
        assert router.db_for_write(Lead) == "default"
    assert router.allow_migrate("default", "leads")
    assert not router.allow_migrate("replica", "leads")


def test_without_a_replica_nothing_changes():
    with replica.reads_from_replica() as status:
        assert not status.configured and not status.used
        assert router.db_for_read(Lead) == "default"


@pytest.fixture
def unreachable_replica(monkeypatch):
    def refuse():
        raise OperationalError("connection refused")

    monkeypatch.setattr(replica, "is_configured", lambda: True)
    monkeypatch.setattr(replica, "lag_seconds", refuse)


@pytest.mark.django_db
def test_a_replica_that_does_not_answer_leaves_the_report_on_the_primary(unreachable_replica, client):
    client.force_login(UserFactory(username="manager", role=Role.MANAGER))
    LeadFactory()
    with replica.reads_from_replica() as status:
        assert status.is_unreachable and router.db_for_read(Lead) == "default"
    response = client.get("/reports/")
    assert response.status_code == 200
    assert "The report replica does not answer" in response.content.decode()
    assert response.context["kpis"][0]["value"] == 1  # the primary's figure


@pytest.mark.django_db
def test_a_lagging_replica_is_named_on_the_reports_page(configured_replica, monkeypatch, client, settings):
    settings.REPLICA_LAG_WARNING_SECONDS = 30
    monkeypatch.setattr(replica, "read_alias", lambda: "default")  # the test database stands in for the replica
    monkeypatch.setattr(replica, "routes_to_replica", lambda *_names: False)
    monkeypatch.setattr(replica, "lag_seconds", lambda: 95.4)
    client.force_login(UserFactory(username="manager", role=Role.MANAGER))
    page = client.get("/reports/").content.decode()
    assert "which is 95 seconds behind the primary database" in page
    german = client.get("/reports/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "das 95 Sekunden hinter der Hauptdatenbank liegt" in german
    monkeypatch.setattr(replica, "lag_seconds", lambda: 29.0)
    assert 'id="replica-lag"' not in client.get("/reports/").content.decode()
