"""A real streaming replica of the embedded PostgreSQL serves the reports (pages, API, e-mail) while writes
stay on the primary; the reports page says when the replica is behind. Skipped, saying why, where no
replica can be started (a PostgreSQL of DATABASE_URL, no pg_basebackup)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from core.vocabulary import Role
from leads.models import Lead
from reporting.models import ReportRun
from tests.config.ops import processes, servers
from tests.factories import LeadFactory, UserFactory


@pytest.fixture
def replica(transactional_db):
    try:
        with servers.streaming_replica(connection.settings_dict) as standby:
            yield standby
    except servers.Unavailable as why:
        pytest.skip(f"no streaming replica: {why}")


def primary_lsn() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def wait_until(replica, condition_sql: str, lsn: str, seconds: float = 30) -> None:
    with replica.connect() as conn:
        deadline = time.monotonic() + seconds
        while not conn.execute(condition_sql, [lsn]).fetchone()[0]:
            assert time.monotonic() < deadline, f"the replica did not get to {lsn}"
            time.sleep(0.1)


def replayed(replica):
    wait_until(replica, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", primary_lsn())


def received(replica):
    wait_until(replica, "SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn", primary_lsn())


def probe(replica, username: str, mail_dir: Path) -> dict:
    env = processes.environment(mail_dir=mail_dir,
                                DATABASE_REPLICA_URL=replica.url(connection.settings_dict["NAME"]),
                                REPLICA_LAG_WARNING_SECONDS="1")
    result = subprocess.run([sys.executable, "-m", "tests.config.ops.replica_probe", username], cwd=processes.PROJECT,
                            env=env, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_reports_are_read_from_the_replica_and_say_when_it_lags(replica, tmp_path):
    manager = UserFactory(username="manager", role=Role.MANAGER)
    LeadFactory.create_batch(2)  # written on the primary
    replayed(replica)

    seen = probe(replica, "manager", tmp_path)
    assert (seen["page"], seen["api"], seen["mail"]) == (200, 200, "sent")
    assert seen["known"] == 2
    assert not seen["lag_notice"]
    assert seen["replica_statements"] > 10
    on_primary = " ".join(seen["primary_statements"])
    assert Lead._meta.db_table not in on_primary  # no figure was read from the primary
    assert "reporting_reportrun" in on_primary  # the e-mail claims its period on the primary

    with replica.connect() as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    LeadFactory()  # the primary has 3 now; the paused replica receives it but does not apply it
    received(replica)
    time.sleep(1.5)  # more than REPLICA_LAG_WARNING_SECONDS behind
    behind = probe(replica, "manager", tmp_path)
    assert (behind["known"], Lead.objects.count()) == (2, 3)
    assert behind["lag_notice"]

    with replica.connect() as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    replayed(replica)
    probes = 3
    caught_up = probe(replica, "manager", tmp_path)
    while caught_up["lag_notice"] and probes < 8:  # other test processes write to the same primary meanwhile
        time.sleep(0.5)
        replayed(replica)
        caught_up, probes = probe(replica, "manager", tmp_path), probes + 1
    assert caught_up["known"] == 3
    assert not caught_up["lag_notice"]
    assert ReportRun.objects.get(user=manager).attempts == probes  # every probe's e-mail was claimed on the primary
