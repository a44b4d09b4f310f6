"""A live holder of an Idempotency-Key: another database session that holds the key's advisory lock, as
the process handling the first request does (`capture.submissions.HOLD_KEY_SQL`)."""

from contextlib import contextmanager

import psycopg
from django.db import connection

from capture.submissions import HOLD_KEY_SQL


@contextmanager
def holding_key(scope: str, key: str):
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        assert other.execute(HOLD_KEY_SQL, [f"{scope}\n{key}"]).fetchone()[0]
        yield
