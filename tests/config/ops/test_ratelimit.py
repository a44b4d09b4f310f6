"""core.ratelimit: exactly the limit passes under concurrency, on the database and on a real Redis; every
429 says when to come back."""

import threading

import pytest
import redis
from django.db import connection
from rest_framework.test import APIClient

from core import ratelimit
from leads.models import Lead
from tests.factories import CaptureFormFactory

THREADS = 12
HITS_PER_THREAD = 6
LIMIT = 29  # of 72 hits


def hammer(function, *, threads: int = THREADS) -> list:
    """Run `function()` in `threads` threads released at once; each thread has its own database connection."""
    barrier = threading.Barrier(threads)
    results: list = []
    lock = threading.Lock()

    def run():
        try:
            barrier.wait()
            outcome = function()
        except Exception as error:  # noqa: BLE001 - the outcome is what we count
            outcome = error
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return results


def hits(key: str, *, now: float):
    return [ratelimit.hit(key, limit=LIMIT, period=60, now=now) for _ in range(HITS_PER_THREAD)]


@pytest.fixture(params=["database", "redis"])
def store(request, settings):
    """Each test once with the database counter and once with a real Redis."""
    if request.param == "redis":
        settings.REDIS_URL = request.getfixturevalue("redis_url")
    else:
        settings.REDIS_URL = ""
    return request.param


@pytest.mark.django_db(transaction=True)
def test_exactly_the_limit_passes_when_threads_hit_one_key_at_once(store):
    results = hammer(lambda: hits("race", now=1_000_010.0))
    decisions = [decision for batch in results for decision in batch]
    assert len(decisions) == THREADS * HITS_PER_THREAD
    assert sum(decision.allowed for decision in decisions) == LIMIT
    assert sorted(decision.count for decision in decisions) == list(range(1, THREADS * HITS_PER_THREAD + 1))


@pytest.mark.django_db(transaction=True)
def test_exactly_the_capture_rate_passes_when_requests_arrive_at_once(store, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "capture": "5/minute"},
    }
    form = CaptureFormFactory()
    numbers = iter(range(100))
    lock = threading.Lock()

    def capture():
        with lock:
            number = next(numbers)
        response = APIClient().post("/api/v1/capture/", {"email": f"race{number}@firma.de"}, format="json",
                                    HTTP_X_FORM_KEY=form.key)
        return response.status_code, response.headers.get("Retry-After")

    results = hammer(capture, threads=8)
    assert sorted(status for status, _retry in results) == [202] * 5 + [429] * 3  # 202: a form key's answer
    assert all(0 < int(retry) <= 60 for status, retry in results if status == 429)
    assert Lead.objects.count() == 5


@pytest.mark.django_db
def test_retry_after_is_the_time_left_in_the_window(store):
    first = ratelimit.hit("window", limit=1, period=60, now=1_000_000.5)  # window 999,960 .. 1,000,020
    second = ratelimit.hit("window", limit=1, period=60, now=1_000_001.0)
    assert (first.allowed, first.retry_after) == (True, 20)
    assert (second.allowed, second.count, second.retry_after) == (False, 2, 19)


@pytest.mark.django_db
def test_a_new_window_starts_counting_again(store):
    for _ in range(3):
        ratelimit.hit("reset", limit=2, period=60, now=1_000_000.0)
    assert not ratelimit.hit("reset", limit=2, period=60, now=1_000_019.0).allowed
    fresh = ratelimit.hit("reset", limit=2, period=60, now=1_000_020.0)
    assert (fresh.allowed, fresh.count) == (True, 1)


@pytest.mark.django_db
def test_keys_count_apart(store):
    assert not [ratelimit.hit("one", limit=1, period=60, now=5_000.0) for _ in range(2)][-1].allowed
    assert ratelimit.hit("two", limit=1, period=60, now=5_000.0).allowed


@pytest.mark.django_db
def test_a_straggler_from_an_older_window_counts_in_the_newer_one(settings):
    settings.REDIS_URL = ""
    ratelimit.hit("skew", limit=5, period=60, now=1_000_021.0)  # a machine in the newer window
    late = ratelimit.hit("skew", limit=5, period=60, now=1_000_019.0)  # a slow clock, previous window
    assert late.count == 2


@pytest.mark.django_db
def test_purge_deletes_only_counters_of_windows_that_are_over(settings):
    settings.REDIS_URL = ""
    ratelimit.hit("old", limit=5, period=60, now=1_000_000.0)
    ratelimit.hit("current", limit=5, period=60, now=1_000_100.0)
    ratelimit.purge_expired(now=1_000_100.0)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key FROM {ratelimit.TABLE} WHERE key IN ('old:60', 'current:60')")  # noqa: S608
        assert [row[0] for row in cursor.fetchall()] == ["current:60"]


def test_a_redis_that_does_not_answer_lets_the_request_through(settings, caplog):
    from tests.config.ops.servers import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    decision = ratelimit.hit("down", limit=1, period=60)
    assert decision.allowed
    assert "Redis did not answer" in caplog.text


def test_the_redis_keys_expire_with_their_window(redis_url, settings):
    settings.REDIS_URL = redis_url
    ratelimit.hit("ttl", limit=1, period=60, now=1_000_000.0)
    client = redis.Redis.from_url(redis_url)
    (key,) = client.keys(f"{ratelimit.REDIS_PREFIX}*")
    assert key.decode() == f"{ratelimit.REDIS_PREFIX}ttl:60:999960"
    assert 20 <= client.ttl(key) <= 21  # the 20 s left in the window, plus one
