import pytest

from tests.config.ops import servers


@pytest.fixture(scope="session")
def redis_server_url():
    """One real Redis server per test process; tests that need it skip, saying why, where none starts."""
    server = servers.redis_server()
    try:
        url = server.__enter__()
    except servers.Unavailable as why:
        pytest.skip(f"no Redis for this test: {why}")
    yield url
    server.__exit__(None, None, None)


@pytest.fixture
def redis_url(redis_server_url):
    """The server's URL, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server_url)
    client.flushall()
    client.close()
    return redis_server_url
