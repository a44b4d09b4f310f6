"""Run by tests/config/ops/test_replica.py in a process of its own, configured with DATABASE_REPLICA_URL: as the
given user, open the reports overview, the funnel API and send the report e-mail; print what was seen and
which statements ran on which database, as one JSON line."""

import json
import sys

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from reporting import email  # noqa: E402


def main(username: str) -> None:
    user = get_user_model().objects.get(username=username)
    client = Client()
    client.force_login(user)
    with CaptureQueriesContext(connections["default"]) as primary, \
            CaptureQueriesContext(connections["replica"]) as replica:
        page = client.get("/reports/")
        funnel = client.get("/api/v1/reports/funnel/")
        sent = email.send_to(username, force=True)
    stages = {row["stage"]: row["count"] for row in funnel.json()["stages"]}
    print(json.dumps({
        "page": page.status_code, "api": funnel.status_code, "mail": sent, "known": stages.get("known"),
        "lag_notice": 'id="replica-lag"' in page.content.decode(),
        "replica_statements": len(replica.captured_queries),
        "primary_statements": [query["sql"] for query in primary.captured_queries],
    }))


if __name__ == "__main__":
    main(sys.argv[1])
