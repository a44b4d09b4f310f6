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
