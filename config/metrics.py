"""`GET /metrics`: Prometheus metrics, django-prometheus' own plus Leadwerk's domain gauges.

django-prometheus counts requests, responses and latencies (its middleware), database queries and errors per
alias (its PostgreSQL engine wrapper, `django_prometheus.db.backends.postgresql`, set for every database in
the settings). The gauges below are read from the database when scraped:

    leadwerk_pool_size                 MQLs in the pool (no owner)
    leadwerk_mqls_waiting              MQLs waiting for acceptance, pool included
    leadwerk_sla_clocks_breached       running SLA clocks past their due
    leadwerk_submissions_unfinished    submissions still `received` (processing died or is running)
    leadwerk_notifications_unmailed    notifications whose e-mail has not gone out (the e-mail backlog)
    leadwerk_tasks_queued              tasks waiting in the django-q2 broker
    leadwerk_job_age_seconds{job=...}  seconds since the SLA sweep / the submission recovery last finished
    leadwerk_replica_lag_seconds       how far the report replica is behind (only with DATABASE_REPLICA_URL)

Access: with METRICS_TOKEN set, only `Authorization: Bearer <token>`; without it, only a scraper on this
machine that talks to the app directly (loopback peer and no forwarding header: a request through a reverse
proxy is refused even when the proxy runs on the same host). Several gunicorn workers: set
PROMETHEUS_MULTIPROC_DIR (an empty folder, cleared at each start) so the counters of every worker are summed.
"""

from __future__ import annotations

import hmac
import ipaddress

import prometheus_client
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily

from capture import submissions
from config import health
from core import replica
from leads import selectors
from leads.models import JobRun
from leads.sla import health as sla_health

FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
GAUGES = {
    "pool_size": "MQLs in the pool (no owner).",
    "mqls_waiting": "MQLs waiting for acceptance, the pool included.",
    "breached_clocks": "Running SLA clocks past their due.",
    "submissions_unfinished": "Submissions not finished (outcome still received).",
    "notifications_unmailed": "Notifications whose e-mail has not gone out.",
}
NAMES = {"breached_clocks": "sla_clocks_breached"}
JOBS = (sla_health.SWEEP_JOB, submissions.RECOVERY_JOB)


@never_cache
@require_GET
def metrics(request):
    if not may_scrape(request):
        response = HttpResponse("Not allowed: send the METRICS_TOKEN as a bearer token.\n", status=401,
                                content_type="text/plain")
        response["WWW-Authenticate"] = "Bearer"
        return response
    body = prometheus_client.generate_latest(_process_registry()) + prometheus_client.generate_latest(_DOMAIN)
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)


def may_scrape(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        offered = request.headers.get("Authorization", "")
        return hmac.compare_digest(offered.encode(), f"Bearer {token}".encode())
    if any(request.META.get(header) for header in FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _process_registry():
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


class DomainCollector:
    """Leadwerk's gauges, read when scraped; a database that does not answer gives no domain gauges (the
    django-prometheus error counters and /healthz tell why)."""

    def collect(self):
        try:
            figures = selectors.operational_figures()
            runs = {run.name: run for run in JobRun.objects.filter(name__in=JOBS)}
        except DatabaseError:
            connection.close()
            return
        for key, help_text in GAUGES.items():
            yield GaugeMetricFamily(f"leadwerk_{NAMES.get(key, key)}", help_text, value=figures[key])
        broker = health.broker_check()
        if broker["ok"]:
            yield GaugeMetricFamily("leadwerk_tasks_queued", "Tasks waiting in the django-q2 broker.",
                                    value=broker["queued"])
        ages = GaugeMetricFamily("leadwerk_job_age_seconds", "Seconds since the periodic job last finished.",
                                 labels=["job"])
        now = timezone.now()
        for name in JOBS:
            run = runs.get(name)
            if run is not None and run.last_finished_at is not None:
                ages.add_metric([name], (now - run.last_finished_at).total_seconds())
        yield ages
        if replica.is_configured():
            try:
                lag = replica.lag_seconds()
            except DatabaseError:
                return
            if lag is not None:
                yield GaugeMetricFamily("leadwerk_replica_lag_seconds", "How far the report replica is behind.",
                                        value=lag)


_DOMAIN = CollectorRegistry(auto_describe=False)
_DOMAIN.register(DomainCollector())
