"""A capture's tasks add no commit: the tasks it needs (the rep's notification e-mail) are rows of the django-q2 ORM
broker written in the capture's own transaction (core.tasks), so none is lost after the commit and none is
enqueued for a capture that rolls back.

These tests run with real transactions (`transaction=True`) and the real ORM broker, not django-q2's sync
mode (which runs tasks inline and so still defers them to the commit).

A capture commits twice by design (capture/submissions.py): the submission as it arrived, so a failure of
the processing can never lose it, then the processing in one transaction. Before this change every task
enqueued after the processing's commit was a third (fourth ...) commit of its own.
"""

import pytest
from django.db import connection, transaction
from django_q.conf import Conf
from django_q.models import OrmQ

from capture import submissions as capture
from core import tasks
from core.vocabulary import Role, Stage
from leads.models import Lead, Notification
from routing.models import Rep, RoutingRule, Team
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(monkeypatch):
    """The ORM broker as in production (the autouse fixture turns sync mode on for other tests)."""
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", "default")


@pytest.fixture
def team():
    team = Team.objects.create(name="Inside Sales", slug="inside-sales")
    for number in range(1, 3):
        Rep.objects.create(user=UserFactory(username=f"sdr{number}", role=Role.SDR, email=f"sdr{number}@x.example"),
                           team=team, capacity=50)
    RoutingRule.objects.create(name="Everyone to inside sales", position=10, target_type="team", target_team=team,
                               method="round_robin")
    return team


def hot(email):
    return {"email": email, "first_name": "Q", "company": "Firma GmbH", "country": "DE", "company_size": 120,
            "industry": "Software", "consent": True, "activity": {"kind": "demo_request"}}


class Commits:
    """Counts the commits this connection makes: top-level transactions that end in COMMIT, and writing
    statements run in autocommit mode (each its own transaction)."""

    def __init__(self):
        self.count = 0
        self.autocommit_writes = []

    def __call__(self, execute, sql, params, many, context):
        if connection.get_autocommit() and not sql.lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE")):
            self.count += 1
            self.autocommit_writes.append(sql[:80])
        return execute(sql, params, many, context)


@pytest.fixture
def commits(monkeypatch):
    counter = Commits()
    real_commit = connection.commit

    def commit():
        counter.count += 1
        return real_commit()

    monkeypatch.setattr(connection, "commit", commit)
    with connection.execute_wrapper(counter):
        yield counter


def email_tasks():
    return [task for task in OrmQ.objects.all() if task.func() == "leads.tasks.email_notification"]


def test_a_hot_capture_writes_its_notification_tasks_in_its_own_transaction_and_commits_no_more(broker, team, commits):
    capture.submit(channel="api", payload=hot("warm@kunde.example"))  # caches warm, as in a running server
    OrmQ.objects.all().delete()
    commits.count, commits.autocommit_writes = 0, []

    result = capture.submit(channel="api", payload=hot("hot@kunde.example"), idempotency_key="one-commit",
                            ip_address="10.9.9.9")

    assert result.status == 201
    lead = Lead.objects.get(email_normalized="hot@kunde.example")
    assert lead.stage == Stage.MQL and lead.owner_id
    assert Notification.objects.filter(lead=lead, kind="assignment").exists()
    notes = sorted(Notification.objects.filter(lead=lead).values_list("pk", flat=True))
    assert sorted(task.args()[0] for task in email_tasks()) == notes  # one e-mail task per notification
    # the receipt and the processing; no commit per task, no write in autocommit mode
    assert commits.count == 2, commits.autocommit_writes
    assert commits.autocommit_writes == []


def test_a_capture_that_rolls_back_leaves_no_task_row(broker, team):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        capture.submit(channel="api", payload=hot("gone@kunde.example"))
        assert len(email_tasks()) == Notification.objects.count() > 0  # written in the transaction ...
        raise Abort
    assert email_tasks() == []  # ... and gone with it
    assert not Lead.objects.filter(email_normalized="gone@kunde.example").exists()
    assert not Notification.objects.exists()


def test_a_task_enqueued_in_a_transaction_exists_exactly_when_it_commits(broker):
    with transaction.atomic():
        tasks.enqueue_on_commit("math.floor", 1.5)
    assert [task.func() for task in OrmQ.objects.all()] == ["math.floor"]
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        tasks.enqueue_on_commit("math.floor", 2.5)
        1 / 0  # noqa: B018
    assert OrmQ.objects.count() == 1


def test_with_redis_or_in_sync_mode_the_task_waits_for_the_commit(monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", None)  # the Redis broker: the queue is outside the database
    with transaction.atomic():
        assert not tasks.writes_in_transaction()
    monkeypatch.setattr(Conf, "ORM", "default")
    monkeypatch.setattr(Conf, "SYNC", True)
    with transaction.atomic():
        assert not tasks.writes_in_transaction()
    monkeypatch.setattr(Conf, "SYNC", False)
    with transaction.atomic():
        assert tasks.writes_in_transaction()
    assert not tasks.writes_in_transaction()  # outside a transaction: enqueued at once
