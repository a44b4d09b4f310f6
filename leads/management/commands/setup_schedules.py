"""Create or update the periodic jobs (idempotent; `make run` and deploys call it)."""

from django.conf import settings
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
    {
        # SLA clocks: breaches and escalation steps, each exactly once; `manage.py health` watches it.
        "name": "leads.sla_sweep",
        "func": "leads.tasks.sla_sweep",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
    {
        # Decay: engagement points lose weight with time, so scores are recomputed every night.
        "name": "leads.nightly_rescore",
        "func": "leads.tasks.rescore_all",
        "schedule_type": Schedule.CRON,
        "cron": "30 2 * * *",
    },
    {
        # Double opt-in: one reminder, then unconfirmed requests are purged (DOI_REMINDER_DAYS, DOI_PURGE_DAYS).
        "name": "leads.opt_in_housekeeping",
        "func": "leads.tasks.opt_in_housekeeping",
        "schedule_type": Schedule.MINUTES,
        "minutes": 60,
    },
    {
        # Retention: anonymise leads whose period has expired (RETENTION_*_MONTHS); see docs/privacy.md.
        "name": "leads.apply_retention",
        "func": "leads.tasks.apply_retention",
        "schedule_type": Schedule.CRON,
        "cron": "15 3 * * *",
    },
]


def schedules() -> list[dict]:
    """The schedules, with the report time read from the settings (REPORT_SEND_TIME)."""
    hours, minutes = settings.REPORT_SEND_TIME.split(":")
    return [
        *SCHEDULES,
        {
            # One report per recipient and period (ReportRun is unique), whatever runs twice.
            "name": "reporting.send_due_reports",
            "func": "reporting.tasks.send_due_reports",
            "schedule_type": Schedule.CRON,
            "cron": f"{int(minutes)} {int(hours)} * * *",
        },
    ]


def _next_cron(cron: str):
    from croniter import croniter

    return croniter(cron, timezone.localtime()).get_next(type(timezone.localtime()))


class Command(BaseCommand):
    help = "Create or update Leadwerk's periodic jobs."

    def handle(self, *args, **options):
        for spec in schedules():
            defaults = {k: v for k, v in spec.items() if k != "name"} | {"repeats": -1}
            previous = Schedule.objects.filter(name=spec["name"]).values("cron", "minutes").first()
            schedule, created = Schedule.objects.update_or_create(name=spec["name"], defaults=defaults)
            changed = previous and (previous["cron"], previous["minutes"]) != (schedule.cron, schedule.minutes)
            if created or changed or schedule.next_run is None:
                # django-q2 does not recompute next_run when the timing changes: do it here.
                Schedule.objects.filter(pk=schedule.pk).update(next_run=self._first_run(schedule))
            self.stdout.write(f"{'created' if created else 'updated'} schedule {spec['name']}")

    @staticmethod
    def _first_run(schedule):
        if schedule.schedule_type == Schedule.CRON:
            return _next_cron(schedule.cron)
        return timezone.now()
