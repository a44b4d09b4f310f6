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


def test_production_needs_a_secret_key():
    environment = {**os.environ, "DEBUG": "false", "DJANGO_SETTINGS_MODULE": "config.settings"}
    environment.pop("SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


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
