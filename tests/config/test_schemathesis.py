"""Audit 13: schemathesis against the app's own OpenAPI schema, in-process (WSGI), as marketing and as an SDR.

Bounded: a fixed seed (derandomized Hypothesis), the generation phase only, MAX_EXAMPLES per operation
and role (18 operations x 2 roles x 6 = 216 generated cases, about 30 s on 2 cores). Path ids are pointed
at real leads most of the time, so the 200 responses are validated too, not only the 404s.

Checks: no 5xx, every status code, content type, header and body as the schema documents them. The
stricter acceptance checks (positive_data_acceptance, negative_data_rejection) are left out on purpose:
they also flag business validation the schema cannot express (unknown campaign slug, a lead in the wrong
stage); see /work/notes/audit-13.md for what they found.

Only tests.factories / tests.conftest and public libraries are imported; tokens come from the
create_api_token command, as an integration would get them.
"""

import zlib
from io import StringIO

import pytest
import schemathesis
from django.core.cache import cache
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, settings

from tests.factories import CaptureFormFactory, LeadFactory, UserFactory

MAX_EXAMPLES = 6

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


def _token(username: str) -> str:
    out = StringIO()
    call_command("create_api_token", username, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def world(transactional_db):
    """Users of every role, a form, and leads in several stages (owned by sdr1, by sdr2, in the pool)."""
    from django.contrib.auth.models import Group

    users = {}
    for username, role in (("marketing", "marketing"), ("manager", "manager"), ("sdr1", "sdr"), ("sdr2", "sdr")):
        users[username] = UserFactory(username=username)
        users[username].groups.add(Group.objects.get_or_create(name=role)[0])
    form = CaptureFormFactory()
    leads = []
    for index, stage in enumerate(["mql", "mql", "sal", "sql", "known", "opportunity", "recycled", "mql"]):
        owner = [None, users["sdr1"], users["sdr2"]][index % 3]
        leads.append(LeadFactory(stage=stage, owner=owner if stage != "known" else None))
    return {
        "tokens": {"marketing": _token("marketing"), "sdr": _token("sdr1")},
        "form_key": form.key,
        "lead_ids": [lead.pk for lead in leads],
    }


@pytest.mark.parametrize("role", ["marketing", "sdr"])
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_api_matches_its_schema(case, role, world):
    cache.clear()  # rate limits: this test is not about them
    # deterministic choice of a real lead for most cases (the seed decides the rest)
    digest = zlib.crc32(repr(sorted((case.path_parameters or {}).items())).encode())
    if case.path_parameters and "id" in case.path_parameters and digest % 4:
        case.path_parameters["id"] = world["lead_ids"][digest % len(world["lead_ids"])]
    if case.path_parameters and "username" in case.path_parameters and digest % 2:
        case.path_parameters["username"] = "sdr1"
    headers = {"Authorization": f"Token {world['tokens'][role]}"}
    if case.path in ("/api/v1/capture/", "/api/v1/track/") and (case.path == "/api/v1/track/" or digest % 2):
        headers = {"X-Form-Key": world["form_key"]}
    case.call_and_validate(headers=headers, checks=CHECKS)
