"""`make run`: set everything up, then serve the web app and the django-q2 worker together, supervised.

Migrates, creates roles (a migration) and demo data when there are no leads, sets up the schedules,
prints the URL and the demo logins, and runs gunicorn (or runserver with --reload) plus `qcluster`.

Production-like by default (DEBUG off, static files from whitenoise); `--debug` (or `make run
DEBUG=true`) switches DEBUG on for the web and worker processes.

Supervision (docs/security.md, "Faults"): every child runs in its own process group; the embedded
PostgreSQL (when DATABASE_URL is unset) is checked every second and started again if it stopped. One
signal stops everything `make run` started: Ctrl-C (SIGINT to the process group), SIGTERM or SIGHUP
stop web and worker (SIGTERM to their whole process groups, SIGKILL after STOP_SECONDS), then the
embedded PostgreSQL if `make run` started it. Nothing is left running. Should the supervisor itself be
killed with SIGKILL, the kernel sends each child SIGTERM (Linux, PR_SET_PDEATHSIG).
"""

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config import embedded_db
from leads.models import Lead

STOP_SECONDS = 15
READY_SECONDS = 60  # print the logins even when the web server is slow to answer
CHECK_SECONDS = 1.0


class Command(BaseCommand):
    help = "Set up and start Leadwerk (web + worker), supervised."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--reload", action="store_true", help="Use Django's auto-reloading dev server.")
        parser.add_argument("--no-worker", action="store_true")
        parser.add_argument("--no-demo", action="store_true", help="Do not load demo data into an empty database.")
        parser.add_argument("--debug", action="store_true",
                            help="DEBUG on for web and worker (tracebacks, no static file caching).")

    def handle(self, *args, port, reload, no_worker, no_demo, debug, **options):
        started = time.monotonic()
        if debug:
            os.environ["DEBUG"] = "true"
        call_command("migrate", interactive=False, verbosity=0)
        if not no_demo and not Lead.objects.exists():
            self.stdout.write("No leads yet: loading the demo data ...")
            call_command("seed_demo")
        call_command("setup_schedules")
        call_command("collectstatic", interactive=False, verbosity=0)
        ready = time.monotonic() - started

        url = f"http://127.0.0.1:{port}/"
        if not settings.SITE_URL_IS_SET:  # links in e-mails and snippets point where this serves
            os.environ["SITE_URL"] = url.rstrip("/")
        mode = "debug mode (DEBUG=true)" if debug or settings.DEBUG else "production-like (DEBUG=false)"

        def banner() -> None:
            """Printed last, once the web server answers, so the start-up lines do not scroll it away."""
            self.stdout.write(self.style.SUCCESS(f"\nLeadwerk is ready ({ready:.1f} s, {mode}): {url}"))
            self.stdout.write(f"  Log in as admin, marketing, manager or sdr1 ... sdr4 with the password "
                              f"{settings.DEMO_PASSWORD!r} (DEMO_PASSWORD).")
            self.stdout.write(f"  Admin: {url}admin/   API docs: {url}api/docs/   Stop: Ctrl-C\n")

        python = sys.executable
        if reload:
            web = [python, "manage.py", "runserver", f"127.0.0.1:{port}"]
        else:
            web = [python, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                   "--workers", str(os.environ.get("WEB_CONCURRENCY", "2")), "--access-logfile", "-",
                   "--graceful-timeout", "10"]
        commands = {"web": web}
        if not no_worker:
            commands["worker"] = [python, "manage.py", "qcluster"]
        Supervisor(commands, out=self.stdout, on_ready=banner, ready=lambda: _answers("127.0.0.1", port)).run()
        self.stdout.write("Leadwerk stopped.")


class Supervisor:
    """Run the children until a signal (or until one of them exits), keep the embedded PostgreSQL up."""

    def __init__(self, commands: dict[str, list[str]], *, out, on_ready=None, ready=None):
        self.commands = commands
        self.out = out
        self.on_ready = on_ready  # called once, when `ready()` first says yes (or after READY_SECONDS)
        self.ready = ready or (lambda: True)
        self.stopping = False
        self.children: dict[str, subprocess.Popen] = {}

    def _signal(self, signum, _frame):
        self.stopping = True

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._signal)
        try:
            for name, command in self.commands.items():
                # Own process group: Ctrl-C reaches only this supervisor, which stops each group whole. And
                # should the supervisor itself be killed (SIGKILL), the kernel sends the child SIGTERM.
                self.children[name] = subprocess.Popen(
                    command, start_new_session=True, preexec_fn=_terminate_with_parent
                )
            waiting_since = time.monotonic()
            while not self.stopping:
                if self.on_ready is not None and (self.ready() or time.monotonic() - waiting_since > READY_SECONDS):
                    self.on_ready()
                    self.on_ready = None
                exited = [name for name, child in self.children.items() if child.poll() is not None]
                if exited:
                    self.out.write(f"{', '.join(exited)} exited: stopping the rest.")
                    break
                self._keep_database_up()
                time.sleep(CHECK_SECONDS)
        finally:
            self._stop_children()
            embedded_db.stop()

    def _keep_database_up(self) -> None:
        try:
            if embedded_db.ensure_running():
                self.out.write("The embedded PostgreSQL had stopped: started it again.")
        except Exception as error:  # noqa: BLE001 - keep supervising; the next check tries again
            self.out.write(f"The embedded PostgreSQL could not be started: {error}")

    def _stop_children(self) -> None:
        for child in self.children.values():
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for child in self.children.values():  # whatever is left of each group (workers of a dead master too)
            _signal_group(child, signal.SIGKILL)
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def _answers(host: str, port: int) -> bool:
    """Whether something accepts connections on host:port (the web server is up)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _terminate_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:  # not Linux: the supervisor's own stop still covers every signal but SIGKILL
        pass


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
