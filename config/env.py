"""Small strict readers for environment variables.

A missing or malformed value stops start-up with a sentence that names the variable.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def text(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} must be set.")
        return default
    return value


def boolean(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"The environment variable {name} must be true or false, not {value!r}.")


def integer(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"The environment variable {name} must be a whole number, not {value!r}.")
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"The environment variable {name} must be at least {minimum}, not {number}.")
    return number


RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def rate(name: str, default: str) -> str:
    """A rate such as 30/minute (per second, minute, hour or day)."""
    value = text(name, default)
    number, _sep, period = value.replace(" ", "").partition("/")
    if not number.isdigit() or period not in RATE_PERIODS:
        raise ImproperlyConfigured(
            f"The environment variable {name} must look like 30/minute (per second, minute, hour or day), "
            f"not {value!r}."
        )
    return f"{int(number)}/{period}"


def clock_time(name: str, default: str) -> str:
    """A local time of day as HH:MM."""
    value = text(name, default).strip()
    hours, sep, minutes = value.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ImproperlyConfigured(f"The environment variable {name} must be a time like 07:00, not {value!r}.")
    return f"{int(hours):02d}:{int(minutes):02d}"


def redis_url(name: str, *, wait_seconds: float = 3.0) -> str:
    """A Redis URL (redis://, rediss:// or unix://) of a server that answers, or "" when unset.

    Start-up waits up to `wait_seconds` for the server (a restart of both at once), then stops with a
    sentence that names the variable; the password, if any, is never shown."""
    import time
    from urllib.parse import urlsplit

    value = text(name, "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(
            f"The environment variable {name} must be a redis://, rediss:// or unix:// URL, not {parts.scheme!r}."
        )
    shown = f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
    import redis

    client = redis.Redis.from_url(value, socket_timeout=1, socket_connect_timeout=1)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                client.ping()
                return value
            except redis.AuthenticationError as error:
                raise ImproperlyConfigured(f"The Redis server of {name} ({shown}) refused the credentials: {error}.")
            except (redis.RedisError, OSError) as error:
                if time.monotonic() >= deadline:
                    raise ImproperlyConfigured(
                        f"No Redis server answers at {shown} (the environment variable {name}): {error}. Start "
                        f"Redis or correct {name}; unset it to use the database for the cache and the task queue."
                    )
                time.sleep(0.2)
    finally:
        client.close()


def choice(name: str, default: str, choices: list[str]) -> str:
    value = text(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(
            f"The environment variable {name} must be one of {', '.join(choices)}, not {value!r}."
        )
    return value


def folder(name: str, default: str) -> str:
    """An existing folder, or "" when unset."""
    from pathlib import Path

    value = text(name, default).strip()
    if value and not Path(value).is_dir():
        raise ImproperlyConfigured(f"The environment variable {name} must name an existing folder, not {value!r}.")
    return value


def text_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in text(name, default).split(",") if item.strip()]


def integer_list(name: str, default: str, *, minimum: int | None = None) -> list[int]:
    """A comma-separated list of whole numbers (e.g. retry back-offs); every item checked like `integer`."""
    numbers = []
    for item in text_list(name, default):
        if not item.isdigit() or (minimum is not None and int(item) < minimum):
            raise ImproperlyConfigured(
                f"The environment variable {name} must list whole numbers of at least {minimum or 0}, not {item!r}."
            )
        numbers.append(int(item))
    return numbers


def load_dotenv(path) -> None:
    """Read KEY=VALUE lines from a .env file into the environment; real environment variables win."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ImproperlyConfigured(f"{path.name} line {number} is not KEY=VALUE: {line!r}")
        os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


# Keys that were ever shipped or suggested somewhere: a deployment with one of them signs links anybody
# can forge (data exports, unsubscribe links), so they never pass with DEBUG off.
KNOWN_KEYS = frozenset({
    "dev-insecure-leadwerk-key-change-me",
    "change-me",
    "changeme",
    "secret",
    "your-secret-key",
})
MIN_KEY_LENGTH = 50


def key_problem(key: str) -> str | None:
    """Why a SECRET_KEY is not fit for use without DEBUG, or None."""
    if key in KNOWN_KEYS or key.startswith("django-insecure") or "change-me" in key or "insecure" in key:
        return "is a known, published value"
    if len(key) < MIN_KEY_LENGTH:
        return f"is shorter than {MIN_KEY_LENGTH} characters"
    if len(set(key)) < 5:
        return "has fewer than 5 different characters"
    return None


def secret_key(name: str, path, *, debug: bool) -> str:
    """SECRET_KEY from the environment; unset, a random key generated once into `path` (kept, git-ignored,
    readable by the owner only). A known or weak key stops start-up unless `debug` is on."""
    value = os.environ.get(name)
    if not value:  # unset, or empty as in a copied .env.example
        return _stored_key(path)
    problem = key_problem(value)
    if problem and not debug:
        raise ImproperlyConfigured(
            f"The environment variable {name} {problem}: set a random value of at least {MIN_KEY_LENGTH} "
            f"characters (python -c 'import secrets; print(secrets.token_urlsafe(50))'), or unset it to use "
            f"the key generated in {path}."
        )
    return value


def _stored_key(path) -> str:
    import secrets

    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key and not key_problem(key):
        return key
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh = secrets.token_urlsafe(64)
    try:  # exclusive create: of two processes starting at once, one writes and both read its key
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _attempt in range(50):
            key = path.read_text().strip()
            if key:
                break
            import time

            time.sleep(0.05)
        if key_problem(key):
            raise ImproperlyConfigured(f"{path} holds no usable key: delete it and start again.")
        return key
    with os.fdopen(descriptor, "w") as file:
        file.write(fresh + "\n")
    return fresh
