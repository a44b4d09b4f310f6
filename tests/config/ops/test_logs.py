"""Structured logs: LOG_FORMAT=json writes one JSON object per line with the request id; every response
answers its request id."""

import json
import os
import subprocess
import sys

import pytest

from tests.config.ops import processes


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz?checks=web")["X-Request-ID"]
    second = client.get("/healthz?checks=web")["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.django_db
def test_a_plain_request_id_from_the_proxy_is_kept_and_a_strange_one_replaced(client):
    assert client.get("/healthz?checks=web", HTTP_X_REQUEST_ID="lb-7f3a.42")["X-Request-ID"] == "lb-7f3a.42"
    replaced = client.get("/healthz?checks=web", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert replaced != "<script>" and len(replaced) == 32


def test_json_logs_carry_the_request_id():
    code = (
        "import django, logging; django.setup(); from django.test import Client; "
        "from django.urls import path; import config.urls as u; "
        "u.urlpatterns.insert(0, path('log-me', lambda r: (logging.getLogger('leads').warning('hello %s', 'there'), "
        "__import__('django.http').http.HttpResponse('ok'))[1])); "
        "r = Client().get('/log-me', HTTP_X_REQUEST_ID='req-123'); print('status', r.status_code)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-c", code], cwd=processes.PROJECT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    hello = next(line for line in lines if line["event"] == "hello there")
    assert (hello["level"], hello["logger"], hello["request_id"]) == ("warning", "leads", "req-123")
    assert "timestamp" in hello
    finished = next(line for line in lines if line["event"] == "request finished")
    assert (finished["request_id"], finished["status"], finished["route"]) == ("req-123", 200, "/log-me")


def test_a_wrong_log_format_names_the_variable():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_FORMAT": "xml"}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=processes.PROJECT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "LOG_FORMAT must be one of text, json, not 'xml'" in result.stderr
