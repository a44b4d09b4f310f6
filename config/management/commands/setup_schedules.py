"""Create or update the periodic jobs (idempotent; `make run` and deploys call it). Each app declares its
own (`config/schedules.py` collects them).

Several machines may run it at the same moment (each deploy, each `make run`): one transaction under a
PostgreSQL advisory lock makes them take turns, and a second row of a job (left by an older version that
had no lock) is deleted, because django-q2 would run each row, so the job twice per period.
"""

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule

from config.schedules import OWN_PREFIXES, declared

LOCK_KEY = 0x1EAD5C4E  # pg_advisory_xact_lock key of this command


def _next_cron(cron: str):
    from croniter import croniter

    return croniter(cron, timezone.localtime()).get_next(type(timezone.localtime()))


class Command(BaseCommand):
    help = "Create or update Leadwerk's periodic jobs."

    def handle(self, *args, **options):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            self._set_up()

    def _set_up(self):
        specs = declared()
        for spec in specs:
            rows = list(Schedule.objects.filter(name=spec["name"]).order_by("pk").values_list("pk", flat=True))
            if len(rows) > 1:
                Schedule.objects.filter(pk__in=rows[1:]).delete()
                self.stdout.write(f"removed {len(rows) - 1} duplicate schedule(s) {spec['name']}")
            defaults = {k: v for k, v in spec.items() if k != "name"} | {"repeats": -1}
            previous = Schedule.objects.filter(name=spec["name"]).values("cron", "minutes").first()
            schedule, created = Schedule.objects.update_or_create(name=spec["name"], defaults=defaults)
            changed = previous and (previous["cron"], previous["minutes"]) != (schedule.cron, schedule.minutes)
            if created or changed or schedule.next_run is None:
                # django-q2 does not recompute next_run when the timing changes: do it here.
                Schedule.objects.filter(pk=schedule.pk).update(next_run=self._first_run(schedule))
            self.stdout.write(f"{'created' if created else 'updated'} schedule {spec['name']}")
        ours = Q()
        for prefix in OWN_PREFIXES:
            ours |= Q(name__startswith=prefix)
        stale = Schedule.objects.filter(ours).exclude(name__in=[spec["name"] for spec in specs])
        for name in stale.values_list("name", flat=True):
            self.stdout.write(f"removed schedule {name} (no app declares it any more)")
        stale.delete()

    @staticmethod
    def _first_run(schedule):
        if schedule.schedule_type == Schedule.CRON:
            return _next_cron(schedule.cron)
        return timezone.now()
