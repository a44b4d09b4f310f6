"""`manage.py health`: exit 0 when Leadwerk's database answers and the SLA sweep ran recently, else 1.

For monitoring and container health checks: `python manage.py health || alert`.
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from leads.sla import health as sla_health


class Command(BaseCommand):
    help = "Check the database and that the SLA sweep ran within the last minutes (exit 1 when not)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-age", type=int, default=int(sla_health.HEALTHY_SWEEP_AGE.total_seconds()),
            help="Seconds since the sweep's last run that are still healthy (default: 180).",
        )

    def handle(self, *args, max_age, **options):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as error:
            raise CommandError(f"The database does not answer: {error}")
        problem = sla_health.sweep_problem(max_age=dt.timedelta(seconds=max_age))
        if problem:
            raise CommandError(problem)
        run = sla_health.last_sweep()
        age = int((timezone.now() - run.last_finished_at).total_seconds())
        self.stdout.write(f"ok: database answers, SLA sweep ran {age} s ago ({run.last_result})")
