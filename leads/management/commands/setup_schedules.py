"""Create or update the periodic jobs (idempotent; `make run` and deploys call it)."""

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule

SCHEDULES = [
    {
        "name": "leads.recover_submissions",
        "func": "leads.tasks.recover_submissions",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
]


class Command(BaseCommand):
    help = "Create or update Leadwerk's periodic jobs."

    def handle(self, *args, **options):
        for spec in SCHEDULES:
            defaults = {k: v for k, v in spec.items() if k != "name"} | {"repeats": -1}
            schedule, created = Schedule.objects.update_or_create(name=spec["name"], defaults=defaults)
            if created or schedule.next_run is None:
                Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now())
            self.stdout.write(f"{'created' if created else 'updated'} schedule {spec['name']}")
