"""`GET /healthz`: is this Leadwerk healthy? JSON for load balancers and monitors, no login, no secrets.

    {"status": "ok", "checks": {"database": {"ok": true}, "migrations": {"ok": true, "unapplied": 0},
     "broker": {"ok": true, "kind": "orm", "queued": 0},
     "sla_sweep": {"ok": true, "age_seconds": 21}, "recovery": {"ok": true, "age_seconds": 33}}}

200 when every check passes, else 503 with `"status": "fail"` and the failing checks' `ok` false (an error
is named by its type only: connection strings and host names stay out). `?checks=web` runs only what a web
process needs (database, migrations, broker), for a load balancer: a stopped worker must not take every web
instance out of rotation, while a monitor polls the full set and sees the stale jobs. Rate-limited per client
address (HEALTHZ_RATE); a 429 carries `Retry-After`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from capture import submissions
from core import ratelimit
from core.http import client_ip
from leads.models import JobRun
from leads.sla import health as sla_health

WEB_CHECKS = ("database", "migrations", "broker")
_migrated = False  # once every migration is applied it stays so for this process (new code: new process)


@never_cache
@require_GET
def healthz(request):
    limit, period = ratelimit.parse(settings.HEALTHZ_RATE)
    rate = _rate(f"healthz:{client_ip(request)}", limit, period)
    if rate is not None and not rate.allowed:
        response = JsonResponse({"status": "limited", "detail": "Too many health checks; retry later."}, status=429)
        response["Retry-After"] = str(rate.retry_after)
        return response
    only_web = request.GET.get("checks") == "web"
    checks = run_checks(only_web=only_web)
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "fail", "checks": checks}, status=200 if healthy else 503)


def run_checks(*, only_web: bool = False) -> dict[str, dict]:
    checks = {"database": _database()}
    database_up = checks["database"]["ok"]
    checks["migrations"] = _migrations() if database_up else _skipped()
    checks["broker"] = broker_check(database_up=database_up)
    if not only_web:
        for name, job, max_age in (("sla_sweep", sla_health.SWEEP_JOB, sla_health.HEALTHY_SWEEP_AGE),
                                   ("recovery", submissions.RECOVERY_JOB, submissions.HEALTHY_RECOVERY_AGE)):
            checks[name] = _job(job, max_age) if database_up else _skipped()
    return checks


def _rate(key: str, limit: int, period: int):
    try:
        return ratelimit.hit(key, limit=limit, period=period)
    except DatabaseError:  # the counter's database is down: answer anyway, the checks say why
        connection.close()
        return None


def _skipped() -> dict:
    return {"ok": False, "error": "database unavailable"}


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except DatabaseError as error:
        connection.close()
        return {"ok": False, "error": type(error).__name__}


def _migrations() -> dict:
    global _migrated
    if _migrated:
        return {"ok": True, "unapplied": 0}
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    unapplied = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    _migrated = unapplied == 0
    return {"ok": unapplied == 0, "unapplied": unapplied}


def broker_check(*, database_up: bool = True) -> dict:
    """The django-q2 broker: reachable, and how many tasks wait in it."""
    kind = "redis" if settings.REDIS_URL else "orm"
    if kind == "orm" and not database_up:
        return {"ok": False, "kind": kind, "error": "database unavailable"}
    try:
        broker = _broker()
        broker.ping()
        return {"ok": True, "kind": kind, "queued": int(broker.queue_size() or 0)}
    except Exception as error:  # any broker failure is a failed check, named by its type
        return {"ok": False, "kind": kind, "error": type(error).__name__}


_brokers: dict = {}


def _broker():
    from django_q.brokers import get_broker

    if "broker" not in _brokers:
        _brokers["broker"] = get_broker()
    return _brokers["broker"]


def _job(name: str, max_age) -> dict:
    run = JobRun.objects.filter(name=name).first()
    if run is None or run.last_finished_at is None:
        return {"ok": False, "age_seconds": None, "error": "never ran"}
    age = timezone.now() - run.last_finished_at
    return {"ok": age <= max_age, "age_seconds": int(age.total_seconds())}
