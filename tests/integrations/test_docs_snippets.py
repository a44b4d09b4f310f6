"""The verification code in docs/integrations.md verifies a real delivery (Python with the library, the
JavaScript with Node when it is installed), and refuses a tampered one."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from integrations import consumer, deliveries

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def _block(language: str, after: str) -> str:
    text = DOC.read_text()
    return re.search(rf"{re.escape(after)}.*?```{language}\n(.*?)```", text, re.S).group(1)


@pytest.fixture
def delivered(receiver, subscribe, make_events):
    subscription, secret = subscribe(receiver.url)
    consumer.consume(make_events({"lead_id": 1, "payload": {"source": "api"}}))
    deliveries.send_due(subscription.pk, budget_seconds=10)
    [request] = receiver.requests
    return secret, request


def test_the_python_example_verifies_and_refuses(delivered):
    secret, request = delivered
    namespace = {"already_processed": lambda webhook_id: False, "handle": lambda event: None}
    exec(_block("python", "#### Verifying in Python"), namespace)  # noqa: S102 (our own docs)
    assert namespace["receive"](request.body, request.headers, secret) == 200
    assert namespace["receive"](request.body + b" ", request.headers, secret) == 401


def test_the_javascript_example_verifies_and_refuses(delivered, tmp_path):
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    secret, request = delivered
    script = tmp_path / "verify.js"
    script.write_text(_block("javascript", "#### Verifying in JavaScript") + """
const [secret, headers, body] = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
try { console.log(JSON.stringify(verifyWebhook(secret, headers, body))); }
catch (e) { console.log("REFUSED " + e.message); }
""")

    def run(body: str) -> str:
        given = json.dumps([secret, request.headers, body])
        return subprocess.run(["node", str(script)], input=given, capture_output=True, text=True, check=True).stdout

    assert json.loads(run(request.body.decode()))["data"] == {"source": "api"}
    assert run(request.body.decode().replace("api", "API")).startswith("REFUSED no matching signature")
