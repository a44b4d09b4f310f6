"""`manage.py setup_schedules` run on several machines at once (every deploy runs it) leaves one schedule per
job: a second row of the same job would run it twice per period."""

import io
from collections import Counter

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from config.schedules import declared
from tests.config.ops.test_ratelimit import hammer


@pytest.mark.django_db(transaction=True)
def test_concurrent_setup_schedules_leave_one_row_per_job():
    for _round in range(3):
        Schedule.objects.all().delete()
        results = hammer(lambda: call_command("setup_schedules", stdout=io.StringIO()), threads=4)
        assert all(result is None for result in results), results
        assert Counter(Schedule.objects.values_list("name", flat=True)) == {spec["name"]: 1 for spec in declared()}


@pytest.mark.django_db
def test_setup_schedules_removes_a_duplicate_left_by_an_older_version():
    call_command("setup_schedules", stdout=io.StringIO())
    first = Schedule.objects.get(name="leads.sla_sweep")
    Schedule.objects.create(name="leads.sla_sweep", func="leads.tasks.sla_sweep", schedule_type=Schedule.MINUTES,
                            minutes=1)
    call_command("setup_schedules", stdout=io.StringIO())
    assert list(Schedule.objects.filter(name="leads.sla_sweep").values_list("pk", flat=True)) == [first.pk]
