"""Same-writes references: record the SQL a real operation runs, then replay its writes without the logic.

`record(fn)` runs `fn()` against the bench database and keeps every statement it ran (SQL, parameters and
what a `RETURNING` gave back). `Recording.replay(cursor)` runs the recorded INSERT / UPDATE / DELETE
statements again, in the caller's transaction, with fresh values where the database would refuse the same
ones twice:
- strings that contain the recording's `token` (the e-mail, the Idempotency-Key) get a new token;
- integers that a recorded `RETURNING` gave (new ids) become the ids the replay's own `RETURNING` gives,
  also inside strings (notification keys such as `assign:<lead id>`);
- UUIDs get new UUIDs (the same new one for the same old one).
So a replay writes the same rows into the same tables with the same indexes and constraints, in the order
the operation wrote them, and runs none of the reading, deciding and serialising around them: what
PostgreSQL needs for that operation's writes is its limit. `Recording.replay_reads(cursor)` runs the
recorded SELECTs again as they were (a page's own SQL).

A recording pickles to a file (`save` / `load`), so gunicorn workers of the capture benchmark replay the
recording the benchmark process made.
"""

from __future__ import annotations

import pickle
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SAME_WRITES_DIR = Path(__file__).resolve().parent / ".same_writes"  # not committed (.gitignore)
WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE", "WITH")  # WITH: a data-modifying CTE is checked below
READ_PREFIXES = ("SELECT",)


class JsonText(str):
    """A jsonb parameter as its JSON text (psycopg's Jsonb wrapper does not pickle)."""


@dataclass
class Statement:
    sql: str
    params: object
    many: bool
    returned: list | None  # rows a RETURNING gave back while recording

    @property
    def verb(self) -> str:
        return self.sql.lstrip().split(None, 1)[0].upper() if self.sql.strip() else ""

    @property
    def is_write(self) -> bool:
        if self.verb == "WITH":
            return bool(re.search(r"\b(INSERT|UPDATE|DELETE)\b", self.sql, re.IGNORECASE))
        return self.verb in WRITE_PREFIXES

    @property
    def is_read(self) -> bool:
        return self.verb in READ_PREFIXES or (self.verb == "WITH" and not self.is_write)


@dataclass
class Recording:
    token: str
    statements: list[Statement] = field(default_factory=list)

    def writes(self) -> list[Statement]:
        return [s for s in self.statements if s.is_write]

    def reads(self) -> list[Statement]:
        return [s for s in self.statements if s.is_read]

    def tables_written(self) -> list[str]:
        found = []
        for statement in self.writes():
            match = re.search(r'\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([\w.]+)"?', statement.sql, re.I)
            if match and match.group(1) not in found:
                found.append(match.group(1))
        return found

    def replay(self, cursor, *, token: str | None = None) -> int:
        """Run the recorded writes again on a psycopg cursor (inside the caller's transaction) with fresh
        unique values; returns the number of statements run."""
        new_token = token or uuid.uuid4().hex[:12]
        ids: dict[int, int] = {}
        uuids: dict[uuid.UUID, uuid.UUID] = {}
        id_pattern: list[re.Pattern | None] = [None]

        def fresh(value):
            if isinstance(value, bool) or value is None:
                return value
            if isinstance(value, int):
                return ids.get(value, value)
            if isinstance(value, JsonText | str):
                text = value.replace(self.token, new_token) if self.token in value else value
                if ids and id_pattern[0] is not None:
                    text = id_pattern[0].sub(lambda m: str(ids[int(m.group(0))]), text)
                if isinstance(value, JsonText):
                    from psycopg.types.json import Jsonb

                    return Jsonb(text, dumps=_identity)
                return text
            if isinstance(value, uuid.UUID):
                return uuids.setdefault(value, uuid.uuid4())
            if isinstance(value, list | tuple):
                return type(value)(fresh(v) for v in value)
            if isinstance(value, dict):
                return {k: fresh(v) for k, v in value.items()}
            return value

        count = 0
        for statement in self.writes():
            params = fresh(statement.params)
            if statement.many:
                cursor.executemany(statement.sql, params)
            else:
                cursor.execute(statement.sql, params)
            count += 1
            if statement.returned:
                new_rows = cursor.fetchall()
                if _UNREFERENCED.search(statement.sql):
                    continue  # nothing later names these rows' ids: mapping them would clash with real ids
                for old, new in zip(statement.returned, new_rows, strict=False):
                    for old_value, new_value in zip(old, new, strict=False):
                        if isinstance(old_value, int) and not isinstance(old_value, bool) and old_value != new_value:
                            ids[old_value] = new_value
                if ids:
                    alternatives = "|".join(str(old) for old in sorted(ids, key=lambda v: -len(str(v))))
                    id_pattern[0] = re.compile(rf"(?<!\d)(?:{alternatives})(?!\d)")
        return count

    def replay_reads(self, cursor) -> int:
        for statement in self.reads():
            if statement.many:
                cursor.executemany(statement.sql, statement.params)
            else:
                cursor.execute(statement.sql, statement.params)
                if cursor.description is not None:
                    cursor.fetchall()
        return len(self.reads())

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(self))
        return path


# Tables whose returned ids no later statement refers to (the outbox's events, django-q2's queue rows).
_UNREFERENCED = re.compile(r'^\s*INSERT INTO "(outbox_event|django_q_ormq)"')


def _identity(value):
    return value


def load(path: Path) -> Recording:
    return pickle.loads(path.read_bytes())  # noqa: S301 - a file this benchmark run wrote itself


def _plain(value):
    """Parameters as picklable plain values."""
    from psycopg.types.json import Json, Jsonb

    if isinstance(value, Jsonb | Json):
        return JsonText(value.dumps(value.obj))
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def record(fn: Callable[[], object], *, token: str) -> tuple[object, Recording]:
    """Run `fn()` and record every statement it runs on the default connection."""
    from django.db import connection

    recording = Recording(token=token)

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        text = sql if isinstance(sql, str) else sql.as_string(context["connection"].connection)  # psycopg sql.SQL
        returned = None
        if not many and re.search(r"\bRETURNING\b", text, re.IGNORECASE):
            raw = context["cursor"].cursor
            if raw.description is not None:
                returned = raw.fetchall()
                raw.scroll(0, mode="absolute")  # client-side result: the caller reads it again
        recording.statements.append(Statement(text, _plain(params), many, returned))
        return result

    with connection.execute_wrapper(wrapper):
        result = fn()
    return result, recording
