"""REDIS_URL for real: start-up checks the server, the cache is shared by processes, and a capture made in a
gunicorn process is routed and its notification e-mailed by a qcluster in another process, through Redis."""

import json
import subprocess
import sys

import pytest
import redis
from django.core.cache import caches
from django_q.models import OrmQ, Success

from leads.models import Lead, Notification
from tests.config.ops import processes
from tests.config.ops.servers import free_port
from tests.factories import CaptureFormFactory
from tests.leads.test_routing_integration import make_team

QUEUE = "django_q:leadwerk:q"  # django-q2's Redis list for the cluster name "leadwerk"


def setup_django(env: dict, code: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=processes.PROJECT,
                          env=env, capture_output=True, text=True, timeout=60)


def test_start_up_stops_with_a_sentence_naming_redis_url_when_no_redis_answers():
    url = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"
    result = setup_django(processes.environment(REDIS_URL=url, DJANGO_SETTINGS_MODULE="config.settings"))
    assert result.returncode != 0
    assert f"No Redis server answers at redis://127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/0" in result.stderr
    assert "(the environment variable REDIS_URL)" in result.stderr
    assert "s3cret-pass" not in result.stderr


def test_start_up_refuses_a_redis_url_that_is_not_one():
    result = setup_django(processes.environment(REDIS_URL="http://127.0.0.1:6379/0",
                                                DJANGO_SETTINGS_MODULE="config.settings"))
    assert result.returncode != 0
    assert "REDIS_URL must be a redis://, rediss:// or unix:// URL" in result.stderr


@pytest.mark.django_db
def test_the_cache_on_redis_is_shared_between_processes(redis_url, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": redis_url, "KEY_PREFIX": "leadwerk"}}
    cache = caches["default"]
    cache.set("shared-figure", {"leads": 42}, 60)
    result = setup_django(
        processes.environment(REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="config.settings"),
        "from django.core.cache import cache; import json; print(json.dumps(cache.get('shared-figure'))); "
        "cache.set('from-the-other', 7, 60)",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"leads": 42}
    assert cache.get("from-the-other") == 7
    assert cache.incr("from-the-other") == 8
    assert redis.Redis.from_url(redis_url).exists(":1:".join(["leadwerk", "shared-figure"]))


@pytest.mark.django_db(transaction=True)
def test_a_capture_in_gunicorn_is_notified_by_a_qcluster_through_the_redis_broker(redis_url, tmp_path):
    make_team(reps=1)
    form = CaptureFormFactory()
    mail_dir = tmp_path
    env = processes.environment(mail_dir=mail_dir, REDIS_URL=redis_url)
    queue = redis.Redis.from_url(redis_url)
    body = json.dumps({"email": "anna@kunde.de", "first_name": "Anna", "activity": {"kind": "demo_request"}})

    with processes.gunicorn(env) as port:
        status, answer = processes.request(port, "POST", "/api/v1/capture/", body.encode(), {
            "Content-Type": "application/json", "X-Form-Key": form.key, "Idempotency-Key": "redis-e2e-1"})
        assert status == 202, answer[:2000]  # a form key learns nothing about the lead
        assert Lead.objects.get(email_normalized="anna@kunde.de").owner.username == "sdr1"
        # The web process enqueued the notification's e-mail on Redis; nothing went to the ORM broker.
        notes = Notification.objects.count()
        assert notes >= 1
        # one e-mail task per notification, and one dispatch of the capture's outbox events
        assert processes.wait_for(lambda: queue.llen(QUEUE) == notes + 1, seconds=10)
        assert not OrmQ.objects.exists()

        worker = processes.qcluster(env)
        with processes.running(worker) as outputs:
            sent = processes.wait_for(
                lambda: Success.objects.filter(func="leads.tasks.email_notification").count() == notes, seconds=45)
        assert sent, outputs

    lead = Lead.objects.get(email_normalized="anna@kunde.de")
    assert lead.owner.username == "sdr1"
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    sent = processes.mails(mail_dir)
    assert sorted(processes.subject(mail) for mail in sent) == sorted(
        f"[Leadwerk] {message}" for message in Notification.objects.values_list("message", flat=True))
    assert {mail["To"] for mail in sent} == {"sdr1@leadwerk.test"}
    assert queue.llen(QUEUE) == 0
