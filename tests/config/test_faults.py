"""Faults, through the real `manage.py run` (what `make run` starts) on its own embedded PostgreSQL:

- PostgreSQL dies (an immediate shutdown: every connection cut) in the middle of captures: the
  supervisor starts it again, the app answers again by itself within 30 s, and no acknowledged lead is
  lost (each client retries its Idempotency-Key until it gets a 2xx, as an integration would);
- one Ctrl-C (SIGINT to the process group) stops everything `make run` started: web, worker processes and
  the embedded PostgreSQL; nothing is left.

One test for both (starting the stack costs the migrations of a fresh database cluster). Not a timing
test: the 30 s is the issue's bound for recovering, far above what it takes.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
RECOVERY_BOUND = 30.0
CAPTURES = 40
KILL_AFTER = 10  # acknowledged captures before PostgreSQL is killed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def stack(tmp_path):
    if settings.DATABASES["default"]["HOST"] and not settings.DATABASES["default"]["HOST"].startswith("/"):
        pytest.skip("runs only with the embedded PostgreSQL (DATABASE_URL unset)")
    data_dir = Path(".leadwerk") / f"faults-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update({
        "EMBEDDED_DB_DIR": str(data_dir), "DEBUG": "false", "LOCAL_DATA_DIR": str(tmp_path / "local"),
        "WEB_CONCURRENCY": "2", "Q_WORKERS": "1", "CAPTURE_RATE": "100000/minute", "IDEMPOTENCY_STALE_SECONDS": "10",
        "PYTHONUNBUFFERED": "1",
    })
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115 - closed below
    run = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--port", str(port), "--no-demo"], cwd=ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,  # its own group, like a terminal's
    )
    children = []
    try:
        wait_for(lambda: status(f"http://127.0.0.1:{port}/accounts/login/") == 200, 240, run, tmp_path)
        children = psutil.Process(run.pid).children()
        yield {"run": run, "port": port, "env": env, "data_dir": ROOT / data_dir, "log": tmp_path / "run.log"}
    finally:
        if run.poll() is None:  # the test failed half-way: stop what it started, children's groups too
            for child in children:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
        log.close()
        _kill_leftovers(ROOT / data_dir)
        shutil.rmtree(ROOT / data_dir, ignore_errors=True)


def _kill_leftovers(data_dir: Path) -> None:
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
        except (ProcessLookupError, ValueError):
            pass


def wait_for(condition, seconds, run, tmp_path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if run.poll() is not None:
            pytest.fail("manage.py run exited:\n" + (tmp_path / "run.log").read_text()[-3000:])
        if condition():
            return
        time.sleep(0.5)
    pytest.fail("manage.py run did not answer in time:\n" + (tmp_path / "run.log").read_text()[-3000:])


def status(url, body=None, headers=None) -> int:
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL
        url, data=body, headers=headers or {}, method="POST" if body else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - a loopback URL
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def manage(stack, code: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT,
                            env=stack["env"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def postmaster_pid(stack) -> int:
    return int((stack["data_dir"] / "postmaster.pid").read_text().split()[0])


@pytest.mark.django_db(transaction=True)
def test_a_postgresql_restart_during_captures_loses_nothing_and_one_signal_stops_everything(stack):
    form_key = manage(stack, "from leads.models import CaptureForm; print(CaptureForm.objects.create(name='f').key)")
    url = f"http://127.0.0.1:{stack['port']}/api/v1/capture/"
    acknowledged: dict[str, float] = {}
    killed_at: list[float] = []

    def capture(index: int) -> None:
        key = f"fault-{index}"
        body = json.dumps({"email": f"fault{index}@firma.de"}).encode()
        headers = {"Content-Type": "application/json", "X-Form-Key": form_key, "Idempotency-Key": key}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if 200 <= status(url, body, headers) < 300:
                acknowledged[key] = time.monotonic()
                return
            time.sleep(0.3)

    def client() -> None:
        for index in range(CAPTURES):
            capture(index)

    sender = threading.Thread(target=client)
    sender.start()
    while len(acknowledged) < KILL_AFTER and sender.is_alive():
        time.sleep(0.1)
    first_pid = postmaster_pid(stack)
    os.kill(first_pid, signal.SIGQUIT)  # immediate shutdown: every connection is cut, nothing is flushed politely
    killed_at.append(time.monotonic())
    sender.join(timeout=300)
    assert not sender.is_alive()

    assert len(acknowledged) == CAPTURES  # every key was acknowledged in the end
    after = sorted(at for at in acknowledged.values() if at > killed_at[0])
    assert after and after[0] - killed_at[0] < RECOVERY_BOUND, after[:1]
    print(f"first capture acknowledged {after[0] - killed_at[0]:.1f} s after PostgreSQL was killed")
    assert postmaster_pid(stack) != first_pid  # the supervisor started it again
    assert "started it again" in stack["log"].read_text()

    manage(stack, "from capture.submissions import recover_stale; recover_stale(older_than_seconds=0)")
    counts = json.loads(manage(stack, (
        "import json; from leads.models import Lead, Submission; print(json.dumps({"
        "'leads': Lead.objects.filter(email_normalized__startswith='fault').count(), "
        "'keys': Submission.objects.filter(idempotency_key__startswith='fault-').count(), "
        "'unfinished': Submission.objects.filter(outcome='received').count()}))"
    )))
    assert counts == {"leads": CAPTURES, "keys": CAPTURES, "unfinished": 0}

    run = psutil.Process(stack["run"].pid)
    started = [run, *run.children(recursive=True)]
    database = psutil.Process(postmaster_pid(stack))
    started += [database, *database.children(recursive=True)]
    os.killpg(stack["run"].pid, signal.SIGINT)  # Ctrl-C in the terminal
    stack["run"].wait(timeout=60)
    time.sleep(1)
    left = [process for process in started if process.is_running() and process.status() != psutil.STATUS_ZOMBIE]
    assert left == [], [(p.pid, p.cmdline()[:3]) for p in left]
    assert not (stack["data_dir"] / "postmaster.pid").exists()


def test_children_end_when_the_supervisor_itself_is_killed():
    """SIGKILL cannot be handled: the kernel tells each child instead (PR_SET_PDEATHSIG)."""
    code = ("import sys; from config.management.commands.run import Supervisor; "
            "Supervisor({'child': ['sleep', '300']}, out=sys.stdout).run()")
    supervisor = subprocess.Popen([sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT,
                                  start_new_session=True)
    deadline = time.monotonic() + 60
    children = []
    while time.monotonic() < deadline and not children:
        children = [p for p in psutil.Process(supervisor.pid).children(recursive=True) if p.name() == "sleep"]
        time.sleep(0.2)
    assert children, "the supervisor did not start its child"
    supervisor.kill()
    supervisor.wait(10)
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
