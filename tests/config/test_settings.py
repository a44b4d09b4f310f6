"""A missing or malformed setting fails at start-up with a sentence naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parents[2]


def test_boolean_names_the_variable(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env.boolean("SOME_FLAG", False)


def test_integer_names_the_variable_and_the_minimum(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be a whole number"):
        env.integer("SOME_NUMBER", 1)
    monkeypatch.setenv("SOME_NUMBER", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env.integer("SOME_NUMBER", 1, minimum=0)


def test_required_text_without_default_names_the_variable(monkeypatch):
    monkeypatch.delenv("SOME_SECRET", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SOME_SECRET must be set"):
        env.text("SOME_SECRET")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DEBUG", "perhaps", "DEBUG must be true or false"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL must be a postgresql:// URL"),
        ("MQL_SCORE_THRESHOLD", "high", "MQL_SCORE_THRESHOLD must be a whole number"),
        ("FORM_RATE", "lots", "FORM_RATE must look like 30/minute"),
        ("CAPTURE_RATE", "5/fortnight", "CAPTURE_RATE must look like 30/minute"),
    ],
)
def test_the_app_refuses_to_start_with_a_bad_value(variable, value, expected):
    environment = {**os.environ, variable: value, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert expected in result.stderr


def _start(**variables) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **variables}
    for name, value in variables.items():
        if value is None:
            environment.pop(name)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.SECRET_KEY)"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("key", [
    "dev-insecure-leadwerk-key-change-me", "django-insecure-abcdefghijklmnopqrstuvwxyz0123456789abcdefghijkl",
    "short-but-random-Zq8", "a" * 60,
])
def test_production_refuses_a_known_or_weak_secret_key(key):
    result = _start(DEBUG="false", SECRET_KEY=key)
    assert result.returncode != 0
    assert "The environment variable SECRET_KEY" in result.stderr


def test_debug_accepts_a_development_key():
    result = _start(DEBUG="true", SECRET_KEY="dev-insecure-leadwerk-key-change-me")
    assert result.returncode == 0, result.stderr


def test_without_a_secret_key_one_is_generated_once_and_kept(tmp_path):
    folder = tmp_path / "local"
    first = _start(DEBUG="false", SECRET_KEY=None, LOCAL_DATA_DIR=str(folder))
    assert first.returncode == 0, first.stderr
    key_file = folder / "secret_key"
    assert key_file.read_text().strip() == first.stdout.strip()
    assert len(first.stdout.strip()) >= 50
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    again = _start(DEBUG="false", SECRET_KEY=None, LOCAL_DATA_DIR=str(folder))
    assert again.stdout == first.stdout


def test_the_generated_key_file_is_ignored_by_git():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".leadwerk/secret_key"], cwd=ROOT, timeout=30)
    assert ignored.returncode == 0


def test_debug_is_off_unless_switched_on():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.DEBUG, settings.SESSION_COOKIE_SECURE)"],
        cwd=ROOT, env={k: v for k, v in {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}.items()
                       if k not in ("DEBUG", "SECURE_COOKIES", "SITE_URL")},
        capture_output=True, text=True, timeout=60,
    )
    assert result.stdout.split() == ["False", "False"]  # http://127.0.0.1: cookies without Secure


def test_secure_cookies_follow_an_https_site_url():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SECURE_PROXY_SSL_HEADER)"],
        cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "SITE_URL": "https://leads.example"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.stdout.split() == ["True", "True", "None"]  # no proxy configured: X-Forwarded-Proto untrusted


def test_env_example_lists_every_variable_the_code_reads():
    import re

    read = set()
    code = [ROOT / "config" / "settings.py", *sorted(ROOT.glob("*/management/commands/*.py"))]
    for path in code:
        read |= set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', path.read_text()))
        read |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', path.read_text()))
    listed = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert read == listed
    readme = (ROOT / "README.md").read_text()
    assert [name for name in sorted(listed) if f"`{name}`" not in readme] == []


def test_client_ip_trusts_only_the_configured_number_of_proxies(rf, settings):
    from core.http import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7", REMOTE_ADDR="10.0.0.2")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.7"
    settings.TRUSTED_PROXY_COUNT = 3
    assert client_ip(request) == "10.0.0.2"


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(env.KNOWN_KEYS))
def test_a_link_signed_with_a_guessable_key_is_refused(client, key):
    """With the generated (or a configured, checked) key, a data-export or unsubscribe link that someone
    signed with a published key opens nothing."""
    from django.core import signing

    from tests.factories import LeadFactory

    lead = LeadFactory()
    export = signing.dumps({"l": lead.pk}, key=key, salt="leadwerk.export", compress=True)
    unsubscribe = signing.dumps({"l": lead.pk}, key=key, salt="leadwerk.unsubscribe", compress=True)
    assert client.get(f"/privacy/export/{export}.json").status_code == 410
    assert client.get(f"/privacy/unsubscribe/{unsubscribe}/").status_code == 404
