"""`make run`: set everything up, then serve the web app and the django-q2 worker together.

Migrates, creates roles (a migration) and demo data when there are no leads, sets up the schedules,
prints the URL and the demo logins, and runs gunicorn (or runserver with --reload) plus `qcluster`.
Ctrl-C stops both; the embedded PostgreSQL stops when the last process using it exits.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from leads.models import Lead


class Command(BaseCommand):
    help = "Set up and start Leadwerk (web + worker)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--reload", action="store_true", help="Use Django's auto-reloading dev server.")
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args, port, reload, no_worker, **options):
        started = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        if not Lead.objects.exists():
            self.stdout.write("No leads yet: loading the demo data ...")
            call_command("seed_demo")
        call_command("setup_schedules")
        call_command("collectstatic", interactive=False, verbosity=0)
        ready = time.monotonic() - started

        url = f"http://127.0.0.1:{port}/"
        self.stdout.write(self.style.SUCCESS(f"\nLeadwerk is ready ({ready:.1f} s): {url}"))
        self.stdout.write(f"  Log in as admin, marketing, manager or sdr1 ... sdr4 with the password "
                          f"{settings.DEMO_PASSWORD!r} (DEMO_PASSWORD).")
        self.stdout.write(f"  Admin: {url}admin/   API docs: {url}api/docs/   Stop: Ctrl-C\n")

        python = sys.executable
        if reload:
            web = [python, "manage.py", "runserver", f"127.0.0.1:{port}"]
        else:
            web = [python, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                   "--workers", str(os.environ.get("WEB_CONCURRENCY", "2")), "--access-logfile", "-"]
        processes = [subprocess.Popen(web)]
        if not no_worker:
            processes.append(subprocess.Popen([python, "manage.py", "qcluster"]))
        self._wait(processes)

    def _wait(self, processes):
        def stop(*_):
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        stop()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.stdout.write("Leadwerk stopped.")
