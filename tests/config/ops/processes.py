"""Start and stop the real processes of the operations tests (gunicorn, qcluster), bounded in time."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

from django.db import connection

from tests.config.ops.servers import free_port

PROJECT = Path(__file__).resolve().parents[3]


def environment(*, mail_dir: Path | None = None, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("Q_SYNC", "REDIS_URL")}
    env |= {"DJANGO_SETTINGS_MODULE": "tests.config.ops.process_settings", "PYTHONUNBUFFERED": "1",
            "LEADWERK_QCLUSTER_DATABASE": connection.settings_dict["NAME"]}
    if mail_dir is not None:
        env["LEADWERK_TEST_MAIL_DIR"] = str(mail_dir)
    return env | extra


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def stop(process: subprocess.Popen) -> str:
    """SIGTERM to the process (a qcluster finishes its task and stops its children), SIGKILL to its whole
    process group after 20 s; returns what it printed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output or ""


def qcluster(env: dict[str, str]) -> subprocess.Popen:
    return start([sys.executable, "manage.py", "qcluster"], env)


@contextlib.contextmanager
def running(*processes: subprocess.Popen) -> Iterator[dict[str, str]]:
    """Stop every process at the end; the yielded dict receives their output (for assertion messages)."""
    outputs: dict[str, str] = {}
    try:
        yield outputs
    finally:
        for number, process in enumerate(processes):
            outputs[f"process {number}"] = stop(process)[-3000:]


@contextlib.contextmanager
def gunicorn(env: dict[str, str]) -> Iterator[int]:
    port = free_port()
    process = start([sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                     "--workers", "1", "--timeout", "60", "--log-level", "warning"], env)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{stop(process)[-3000:]}")
            try:
                status, _body = request(port, "GET", "/accounts/login/")
                if status < 500:
                    break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        stop(process)


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def mails(folder: Path) -> list:
    """Every e-mail the processes wrote (the file backend puts one or more messages in each file)."""
    found = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                found.append(message_from_bytes(chunk.strip(), policy=email_policy.default))
    return found


def subject(mail) -> str:
    """The decoded subject, its folding undone."""
    return " ".join(str(mail["Subject"]).split())


def wait_for(condition, *, seconds: float, step: float = 0.3) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())
