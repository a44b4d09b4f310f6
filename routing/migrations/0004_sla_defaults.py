"""The default SLA setup from the seeds (DOMAIN.md); every number is edited in the admin afterwards.

Created once by this migration, and again by `routing.apps.ensure_default` after a database flush (as in
transactional tests). Each part is created only while its table is empty, so edits and deletions stay.
"""

from django.conf import settings
from django.db import migrations

BUSINESS_HOURS = "Business hours (Mon-Fri 09:00-17:00)"
AROUND_THE_CLOCK = "Around the clock (24/7)"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

# name, stage, starts_on, stops_on, counts_from, duration, unit, calendar, steps (after, unit, action, reason)
POLICIES = (
    ("Speed to lead: first contact within 5 minutes of assignment", "mql", "owner_assigned", "contact_attempt",
     "event", 5, "minutes", BUSINESS_HOURS, (
         (0, "minutes", "warn_owner", ""),
         (30, "minutes", "notify_manager", ""),
     )),
    ("MQL accepted within 4 business hours", "mql", "owner_assigned", "stage_exit", "event", 4, "hours",
     BUSINESS_HOURS, (
         (0, "hours", "warn_owner", ""),
         (2, "hours", "notify_manager", ""),
         (4, "hours", "reassign", ""),
     )),
    ("SAL qualified or recycled within 10 business days", "sal", "stage_entered", "stage_exit", "event", 10, "days",
     BUSINESS_HOURS, (
         (0, "days", "warn_owner", ""),
         (2, "days", "notify_manager", ""),
     )),
    ("SQL to opportunity within 6 weeks", "sql", "stage_entered", "stage_exit", "event", 42, "days",
     AROUND_THE_CLOCK, (
         (0, "days", "warn_owner", ""),
         (7, "days", "notify_manager", ""),
     )),
    ("Stale opportunity: 30 days past its close date", "opportunity", "stage_entered", "stage_exit", "close_date",
     30, "days", AROUND_THE_CLOCK, (
         (0, "days", "warn_owner", ""),
         (7, "days", "notify_manager", ""),
     )),
    # The pool: nobody claimed the MQL (issue 14: 32 waited, the oldest 8 weeks). Added to databases made
    # before it by 0007_pool_sla; listed here so a flushed database (post_migrate) gets it too.
    ("MQL in the pool picked up within 1 business hour", "mql", "pool_entered", "stage_exit", "event", 1, "hours",
     BUSINESS_HOURS, (
         (0, "hours", "notify_manager", ""),
         (3, "hours", "reassign", ""),
     )),
)

# The upper end of each stage's typical time (seed 000): longer than this is a stall.
STALL_DAYS = (("known", 30), ("mql", 3), ("sal", 14), ("sql", 42), ("opportunity", 180))


def create_defaults(apps, schema_editor):
    BusinessCalendar = apps.get_model("routing", "BusinessCalendar")
    SlaPolicy = apps.get_model("routing", "SlaPolicy")
    EscalationStep = apps.get_model("routing", "EscalationStep")
    RecyclingRule = apps.get_model("routing", "RecyclingRule")
    StallThreshold = apps.get_model("routing", "StallThreshold")

    if not BusinessCalendar.objects.exists():
        BusinessCalendar.objects.create(
            name=BUSINESS_HOURS, time_zone=settings.TIME_ZONE, holiday_country="DE",
            working_hours={day: [["09:00", "17:00"]] for day in WEEKDAYS},
        )
        BusinessCalendar.objects.create(name=AROUND_THE_CLOCK, time_zone=settings.TIME_ZONE, is_always_open=True)
    if not SlaPolicy.objects.exists():
        calendars = {c.name: c for c in BusinessCalendar.objects.filter(name__in=[BUSINESS_HOURS, AROUND_THE_CLOCK])}
        for name, stage, starts_on, stops_on, counts_from, duration, unit, calendar, steps in POLICIES:
            if calendar not in calendars:
                continue
            policy = SlaPolicy.objects.create(
                name=name, stage=stage, starts_on=starts_on, stops_on=stops_on, counts_from=counts_from,
                duration=duration, unit=unit, calendar=calendars[calendar],
            )
            for position, (after, step_unit, action, reason) in enumerate(steps, start=1):
                EscalationStep.objects.create(
                    policy=policy, position=position, after=after, unit=step_unit, action=action, reason=reason
                )
    if not RecyclingRule.objects.exists():
        RecyclingRule.objects.create(is_enabled=True, attempts=6, days=14)
    if not StallThreshold.objects.exists():
        StallThreshold.objects.bulk_create([StallThreshold(stage=stage, days=days) for stage, days in STALL_DAYS])


class Migration(migrations.Migration):
    dependencies = [("routing", "0003_sla_calendars_policies")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
