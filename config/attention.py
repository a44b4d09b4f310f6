"""What needs the admin's attention (the admin's landing page): failed background jobs, submissions that
never finished, outbox consumers that fell behind, breached SLA clocks, the data-quality queue and a sweep
that stopped. Reads only; each section a bounded query."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone
from django_q.models import Failure

from leads.models import Lead, Submission
from leads.quality import dedupe
from leads.sla import health as sla_health
from leads.sla import queries as sla_queries
from outbox import events as outbox_events
from outbox.models import Cursor

FAILED_JOBS_DAYS = 7
# The recovery job retries a submission still `received` after a while; younger ones are in flight.
SUBMISSION_GRACE = dt.timedelta(minutes=5)
SHOWN = 10


@dataclass
class Attention:
    failed_jobs: list = field(default_factory=list)
    failed_jobs_count: int = 0
    unfinished_submissions: list = field(default_factory=list)
    unfinished_submissions_count: int = 0
    consumers_behind: list = field(default_factory=list)
    breached_clocks: list = field(default_factory=list)
    breached_clocks_count: int = 0
    duplicate_count: int = 0
    health_issues: list = field(default_factory=list)
    sweep_problem: str | None = None

    @property
    def total(self) -> int:
        """How many sections have something in them."""
        return sum(bool(value) for value in (
            self.failed_jobs_count, self.unfinished_submissions_count, self.consumers_behind,
            self.breached_clocks_count, self.duplicate_count, any(issue["count"] for issue in self.health_issues),
            self.sweep_problem,
        ))


def attention(*, now: dt.datetime | None = None) -> Attention:
    now = now or timezone.now()
    found = Attention()

    failures = Failure.objects.filter(stopped__gte=now - dt.timedelta(days=FAILED_JOBS_DAYS))
    found.failed_jobs_count = failures.count()
    found.failed_jobs = list(
        failures.order_by("-stopped").values("id", "name", "func", "stopped", "attempt_count")[:SHOWN]
    )

    unfinished = Submission.objects.filter(
        outcome=Submission.Outcome.RECEIVED, received_at__lte=now - SUBMISSION_GRACE
    )
    found.unfinished_submissions_count = unfinished.count()
    found.unfinished_submissions = list(
        unfinished.order_by("received_at").values("id", "channel", "received_at")[:SHOWN]
    )

    last = outbox_events.last_position()
    found.consumers_behind = [
        {"name": name, "behind": last - position}
        for name, position in Cursor.objects.filter(position__lt=last).order_by("name").values_list("name", "position")
    ]

    breached = sla_queries.running_clocks().filter(due_at__lte=now)
    found.breached_clocks_count = breached.count()
    found.breached_clocks = list(
        breached.select_related("lead", "lead__owner", "policy").order_by("due_at")[:SHOWN]
    )

    found.duplicate_count = len(dedupe.candidates())
    counts = dedupe.health_counts(Lead.objects.all())
    found.health_issues = [
        {"key": key, "label": label, "count": counts[key]} for key, label in dedupe.HEALTH_ISSUES.items()
        if counts[key]
    ]
    found.sweep_problem = sla_health.sweep_problem(now=now)
    return found



