"""Report reads on a streaming replica (DATABASE_REPLICA_URL), everything else on the primary.

Reporting wraps the reads of a report page, the report API and the report e-mail in `reads_from_replica()`.
Inside it, the router (`config.db_router.ReplicaRouter`) sends ORM reads of the replicated apps to the
replica and raw SQL asks `read_alias()`; outside it, and for every write, the primary serves. Reads that must
see their own writes (sessions, users and their groups, the report runs and subscriptions that claim a
period) are never routed to the replica, see `PRIMARY_ONLY`.

On entry the replica's lag is measured: `ReplicaStatus` says whether it was used and how far behind it is.
When it does not answer, the block reads from the primary instead and the status says so.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
REPLICATED_APPS = frozenset({"leads", "routing", "scoring", "reporting"})
PRIMARY_ONLY = frozenset({"reporting.reportrun", "reporting.reportsubscription"})

# Seconds the replica is behind: 0 while it has replayed everything it received (an idle primary writes no
# WAL, so the age of the last replayed transaction alone would grow forever); NULL on a primary.
LAG_SQL = """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN NULL
        WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
        ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)
    END
"""

_active: contextvars.ContextVar[bool] = contextvars.ContextVar("leadwerk_replica_reads", default=False)


@dataclass(frozen=True)
class ReplicaStatus:
    configured: bool = False
    used: bool = False
    lag_seconds: float | None = None
    error: str = ""

    @property
    def is_lagging(self) -> bool:
        return self.lag_seconds is not None and self.lag_seconds > settings.REPLICA_LAG_WARNING_SECONDS

    @property
    def is_unreachable(self) -> bool:
        return self.configured and not self.used


def is_configured() -> bool:
    return REPLICA in connections.settings


def is_active() -> bool:
    """Inside `reads_from_replica()` with a replica that answered."""
    return _active.get()


def read_alias() -> str:
    """The database alias raw report SQL runs on."""
    return REPLICA if is_active() else DEFAULT_DB_ALIAS


def routes_to_replica(label_lower: str, app_label: str) -> bool:
    """Whether a read of this model goes to the replica right now (`label_lower` like 'leads.lead')."""
    return is_active() and app_label in REPLICATED_APPS and label_lower not in PRIMARY_ONLY


def lag_seconds() -> float | None:
    """How far the replica is behind, in seconds (raises DatabaseError when it does not answer)."""
    standby = connections[REPLICA]
    try:
        with standby.cursor() as cursor:
            cursor.execute(LAG_SQL)
            value = cursor.fetchone()[0]
    except DatabaseError:
        standby.close()  # the next request connects afresh
        raise
    return float(value) if value is not None else None


@contextlib.contextmanager
def reads_from_replica() -> Iterator[ReplicaStatus]:
    """Report reads in this block go to the replica when one is configured and answers."""
    if not is_configured():
        yield ReplicaStatus()
        return
    try:
        lag = lag_seconds()
    except DatabaseError as error:
        logger.warning("The report replica does not answer; reading from the primary: %s", error)
        yield ReplicaStatus(configured=True, used=False, error=type(error).__name__)
        return
    token = _active.set(True)
    try:
        yield ReplicaStatus(configured=True, used=True, lag_seconds=lag)
    finally:
        _active.reset(token)
