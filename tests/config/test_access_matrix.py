"""Every URL pattern the resolver knows x six roles (anonymous, marketing, manager, sdr, another sdr,
admin), generated from the URL configuration: a new URL without an entry in `RULES` fails the suite.

A rule names the roles that may use the URL (with the sample objects below: a SAL owned by sdr1, its
transition `recycle`, the rep sdr1, a notification of sdr1). Everyone else must be refused: a page sends
the anonymous visitor to the login, the API answers 401/403; a signed-in role gets 403 or 404 (404 for
what it may not even see). A role that may use it gets no refusal and no 5xx (a 400 for the empty body of
a write is fine). Writes are sent as POST with an empty body, each in a rolled-back transaction.
The admin's patterns are checked alike: only the superuser gets past the admin's login.
"""

from dataclasses import dataclass

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from core.vocabulary import Role, Stage
from engagement.models import Programme
from integrations.models import Delivery, DeliveryStatus, Subscription
from leads.models import Account, CaptureForm, Notification
from routing.models import Rep, Team
from sales import selectors as sales_selectors
from sales.models import Opportunity
from tests.factories import LeadFactory, UserFactory

ROLES = ("anonymous", "marketing", "manager", "sdr", "other_sdr", "admin")
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
ANYONE = frozenset(ROLES)
STAFF = frozenset({"marketing", "manager", "admin"})
MANAGERS = frozenset({"manager", "admin"})
PRIVACY = frozenset({"marketing", "admin"})
REPORTS = STAFF | {"sdr", "other_sdr"}
SEES_LEAD = STAFF | {"sdr"}  # the sample lead is sdr1's SAL
WORKS_LEAD = frozenset({"manager", "admin", "sdr"})  # fire recycle, claim
NOBODY = frozenset()
ADMINS = frozenset({"admin"})


@dataclass(frozen=True)
class Rule:
    allowed: frozenset
    method: str = "GET"
    found: bool = True  # an allowed role must not get a 404 (False: the sample is a junk token)
    may_be_503: bool = False  # a health check answers 503 when something is unhealthy (tests/config/ops)
    pk: str = "lead"  # which sample object a `<pk>` in the route names: lead, opportunity, account or webhook


RULES = {
    "healthz": Rule(ANYONE, may_be_503=True),
    "metrics": Rule(ANYONE),  # the test client is a loopback peer; tests/config/ops checks who else may read it
    "set_language": Rule(ANYONE, "POST"),
    "attention": Rule(frozenset({"admin"})),  # the admin's landing page
    "login": Rule(ANYONE),
    "logout": Rule(ANYONE, "POST"),  # then the login page, for everybody
    "password_change": Rule(SIGNED_IN),
    "password_change_done": Rule(SIGNED_IN),
    "password_reset": Rule(ANYONE),
    "password_reset_done": Rule(ANYONE),
    "password_reset_confirm": Rule(ANYONE, found=False),
    "password_reset_complete": Rule(ANYONE),
    "reporting-api:funnel": Rule(REPORTS),
    "reporting-api:velocity": Rule(REPORTS),
    "reporting-api:speed-to-lead": Rule(REPORTS),
    "reporting-api:sources": Rule(REPORTS),
    "reporting-api:reasons": Rule(REPORTS),
    "capture-api:capture": Rule(STAFF, "POST"),  # or a form key (tests/capture)
    "capture-api:track": Rule(NOBODY, "POST"),  # only with a form key (tests/capture)
    "privacy-api:lead-export": Rule(PRIVACY),
    "outbox-api:events": Rule(frozenset({"admin"})),
    "integrations-api:campaigns": Rule(STAFF),
    "integrations:lead_csv": Rule(SIGNED_IN),  # each gets the leads they may see (tests/integrations)
    "integrations:meta_leads": Rule(ANYONE, "POST"),  # signed by Meta (tests/integrations/test_ad_leads.py)
    "integrations:linkedin_leads": Rule(ANYONE, "POST"),  # signed by LinkedIn
    # the sample webhook subscription and one of its deliveries; admins only
    "integrations-api:webhooks": Rule(ADMINS),
    "integrations-api:webhook": Rule(ADMINS, pk="webhook"),
    "integrations-api:webhook-rotate-secret": Rule(ADMINS, "POST", pk="webhook"),
    "integrations-api:webhook-deliveries": Rule(ADMINS, pk="webhook"),
    "integrations-api:webhook-redeliver-failed": Rule(ADMINS, "POST", pk="webhook"),
    "integrations-api:webhook-redeliver": Rule(ADMINS, "POST", pk="webhook"),
    "privacy-api:lead-erase": Rule(PRIVACY, "POST"),
    "privacy-api:lead-object": Rule(PRIVACY, "POST"),
    "privacy-api:lead-consent": Rule(PRIVACY),
    "api:lead-list": Rule(SIGNED_IN),
    "api:lead-detail": Rule(SEES_LEAD),  # PATCH (edit): tests/leads/test_lead_edit.py
    "api:lead-history": Rule(SEES_LEAD),
    "leads:edit": Rule(SEES_LEAD),  # the owning SDR edits the contact fields; POST: tests/leads/test_lead_edit_page.py
    "api:lead-transition": Rule(WORKS_LEAD, "POST"),
    "api:lead-claim": Rule(WORKS_LEAD, "POST"),
    "api:lead-assign": Rule(STAFF, "POST"),
    "api:lead-activities": Rule(SEES_LEAD, "POST"),
    "api:rep-list": Rule(MANAGERS),
    "api:reason-codes": Rule(REPORTS),  # every role that works leads
    "api:rep-detail": Rule(MANAGERS, "PATCH"),
    "api:schema": Rule(ANYONE),
    "api:docs": Rule(ANYONE),
    "api:redoc": Rule(ANYONE),
    "reporting:dashboard": Rule(REPORTS),
    "reporting:funnel": Rule(REPORTS),
    "reporting:velocity": Rule(REPORTS),
    "reporting:stalls": Rule(REPORTS),
    "reporting:speed": Rule(REPORTS),
    "reporting:acceptance": Rule(REPORTS),
    "reporting:sources": Rule(REPORTS),
    "reporting:sla": Rule(REPORTS),
    "reporting:definitions": Rule(SIGNED_IN),
    "reporting:my_report": Rule(REPORTS),
    "reporting:email_preview": Rule(REPORTS),
    "capture:create": Rule(STAFF),
    "capture:import": Rule(STAFF),
    # an upload's steps: the uploader only (tests/capture/test_import_mapping.py); the sample token is junk
    "capture:import_mapping": Rule(STAFF, found=False),
    "capture:import_report": Rule(STAFF, found=False),
    "capture:import_rejected": Rule(STAFF, found=False),
    "capture:hosted_form": Rule(ANYONE),
    "privacy:consent_proof": Rule(SEES_LEAD),
    "privacy:consent_record": Rule(SEES_LEAD, "POST"),
    "privacy:privacy_export_link": Rule(PRIVACY, "POST"),
    "privacy:privacy_export": Rule(PRIVACY),
    "privacy:privacy_erase": Rule(PRIVACY, "POST"),
    "privacy:privacy_object": Rule(PRIVACY, "POST"),
    "privacy:confirm_opt_in": Rule(ANYONE, found=False),
    "privacy:unsubscribe": Rule(ANYONE, found=False),
    "privacy:preferences": Rule(ANYONE, found=False),
    "privacy:my_export": Rule(ANYONE, found=False),
    "leads:home": Rule(SIGNED_IN),
    "leads:queue": Rule(SIGNED_IN),
    "leads:pool": Rule(SIGNED_IN),
    "leads:list": Rule(SIGNED_IN),
    "leads:detail": Rule(SEES_LEAD),
    "leads:transition": Rule(WORKS_LEAD, "POST"),
    "leads:claim": Rule(WORKS_LEAD, "POST"),
    "leads:assign": Rule(STAFF, "POST"),
    "leads:log_activity": Rule(SEES_LEAD, "POST"),
    "leads:notification_badge": Rule(SIGNED_IN),
    "leads:notifications": Rule(SIGNED_IN),
    "leads:notifications_read": Rule(SIGNED_IN, "POST"),
    "leads:notification_read": Rule(frozenset({"sdr"}), "POST"),  # sdr1's own notification
    "leads:team": Rule(MANAGERS),
    "leads:team_rep": Rule(MANAGERS),
    "leads:team_availability": Rule(MANAGERS, "POST"),
    "leads:team_presence": Rule(MANAGERS, "POST"),
    "leads:team_reassign": Rule(MANAGERS, "POST"),
    "leads:routing_test": Rule(STAFF),
    "leads:data_health": Rule(STAFF),
    "leads:merge_candidates": Rule(STAFF),
    "leads:merge": Rule(STAFF, "POST", found=False),  # no pair posted
    "leads:unmerge": Rule(STAFF, "POST", found=False),  # the sample id is no merge
    # the sample opportunity: sourced by sdr1, closing team managed by the manager; its account is the lead's
    "sales:board": Rule(SIGNED_IN),
    "sales:pipeline": Rule(SIGNED_IN),
    "sales:opportunity": Rule(WORKS_LEAD, pk="opportunity"),
    "sales:move": Rule(WORKS_LEAD, "POST", pk="opportunity"),  # an empty move is a 409 with the reason
    "sales:accounts": Rule(SIGNED_IN),  # each sees the accounts they may (tests/sales/test_pages.py)
    "sales:account": Rule(SEES_LEAD, pk="account"),
    "sales:merge": Rule(MANAGERS, "POST", pk="account"),  # no account posted: a 400
    "sales:undo_merge": Rule(MANAGERS, "POST", found=False, pk="account"),  # the sample id is no merge
    "sales-api:accounts": Rule(SIGNED_IN),  # each sees the accounts they may (tests/sales)
    "sales-api:opportunities": Rule(SIGNED_IN),
    "sales-api:opportunity": Rule(WORKS_LEAD, pk="opportunity"),
    "sales-api:pipeline": Rule(SIGNED_IN),
    "engagement:programmes": Rule(STAFF),
    "engagement:programme": Rule(STAFF),  # the sample programme `welcome`
    "engagement:delete_step": Rule(STAFF, "POST", found=False),
    "engagement:templates": Rule(STAFF),
    "engagement:template": Rule(STAFF, found=False),  # the sample id is no template
    "engagement:preview": Rule(STAFF, found=False),
    "engagement:test_send": Rule(STAFF, "POST", found=False),
    "engagement:enrol": Rule(SEES_LEAD, "POST"),  # no programme posted: back to the lead with the error
    "engagement:end_enrolment": Rule(SEES_LEAD, "POST", found=False),
    "engagement:task_done": Rule(SIGNED_IN, "POST", found=False),
    "engagement:click": Rule(ANYONE, found=False),  # signed tokens (tests/engagement)
    "engagement:open": Rule(ANYONE, found=False),
    "engagement:unsubscribe": Rule(ANYONE, found=False),
    # E-mail service providers' tracking webhooks: basic auth checked by anymail; 404 without a secret
    **{f"engagement:esp_{esp}": Rule(ANYONE, "POST", found=False)
       for esp in ("postmark", "sendgrid", "brevo", "mailjet")},
    "engagement-api:programmes": Rule(SIGNED_IN),  # only staff and SDRs see programmes (tests/engagement)
    "engagement-api:enrolments": Rule(SIGNED_IN, "POST"),  # no lead posted: a 400
    "engagement-api:lead_messages": Rule(SEES_LEAD),
    "engagement-api:report": Rule(STAFF),
}
ADMIN = Rule(frozenset({"admin"}))


def _patterns(patterns=None, prefix="", namespace=""):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), namespace + (entry.name or ""), entry


PATTERNS = sorted({(route, name) for route, name, _entry in _patterns()})


def test_every_url_pattern_has_an_access_rule():
    names = {name for _route, name in PATTERNS if not name.startswith("admin:")}
    assert sorted(names - set(RULES)) == [], "add an access rule for each new URL"
    assert sorted(set(RULES) - names) == []


@pytest.fixture
def world(db):
    users = {
        "marketing": UserFactory(username="marketing", role=Role.MARKETING),
        "manager": UserFactory(username="manager", role=Role.MANAGER),
        "sdr": UserFactory(username="sdr1", role=Role.SDR),
        "other_sdr": UserFactory(username="sdr2", role=Role.SDR),
        "admin": UserFactory(username="admin", is_superuser=True, is_staff=True),
    }
    team = Team.objects.create(name="Inside Sales", slug="inside-sales", manager=users["manager"])
    Rep.objects.create(user=users["sdr"], team=team, capacity=10)
    account = Account.objects.create(domain="acme.de", name="Acme")
    lead = LeadFactory(stage=Stage.SAL, owner=users["sdr"], account=account)
    form = CaptureForm.objects.create(name="Form")
    note = Notification.objects.create(user=users["sdr"], lead=lead, key="n-1", kind="assignment", message="x")
    pipeline = sales_selectors.default_pipeline()
    opportunity = Opportunity.objects.create(
        name="Deal", account=lead.account, lead=lead, pipeline=pipeline, stage=sales_selectors.stages_of(pipeline)[0],
        currency="EUR", sourced_by=users["sdr"], team=team,
    )
    Programme.objects.create(slug="welcome", name="Welcome")
    webhook = Subscription.objects.create(url="https://hooks.example.com/in", event_types=["lead.created"])
    delivery = Delivery.objects.create(
        subscription=webhook, event_position=1, event_type="lead.created", event_at=timezone.now(),
        status=DeliveryStatus.FAILED,
    )
    values = {
        "webhook_pk": webhook.pk, "delivery_id": delivery.pk,
        "opportunity_pk": opportunity.pk, "account_pk": lead.account_id, "merge_id": 999999,
        "lead_id": lead.pk, "pk": lead.pk, "name": "recycle", "username": "sdr1", "notification_id": note.pk,
        "transition_id": 999999, "key": form.key, "token": "junk-token", "fmt": "json", "uidb64": "MQ",
        "slug": "welcome",
        "object_id": str(lead.pk), "app_label": "leads", "content_type_id": "1", "model_name": "lead",
    }
    return users, values


def _url(route: str, values: dict) -> str | None:
    import re

    def value(match):
        converter, _sep, name = match.group(1).rpartition(":")
        if name not in values and name != "path":
            raise KeyError(name)
        return str(values.get(name, "leads/lead/"))

    if route.startswith("^") or "(?P" in route:  # regex patterns (the admin's app index)
        route = re.sub(r"\(\?P<app_label>[^)]*\)", "leads", route).lstrip("^").rstrip("$")
        if "(" in route:
            return None
        return "/" + route
    try:
        return "/" + re.sub(r"<([^>]+)>", value, route)
    except KeyError:
        return None


def _client(users, role):
    client = Client(raise_request_exception=False)
    if role != "anonymous":
        client.force_login(users[role])
    return client


def _request(client, method: str, url: str):
    with transaction.atomic():
        if method == "PATCH":
            response = client.generic("PATCH", url, b"{}", content_type="application/json")
        elif method == "POST" and url.startswith("/api/"):
            response = client.post(url, b"{}", content_type="application/json")
        elif method == "POST":
            response = client.post(url, {})
        else:
            response = client.get(url)
        transaction.set_rollback(True)
    return response


def _verdict(route: str, name: str, rule: Rule, role: str, response) -> str | None:
    status = response.status_code
    location = response.get("Location", "")
    is_api = route.startswith("api/")
    to_login = status == 302 and ("/accounts/login/" in location or "/admin/login/" in location)
    if status >= 500 and not (rule.may_be_503 and status == 503):
        return f"{status}"
    if rule.allowed == ANYONE:
        return None
    if role in rule.allowed:
        if status in (401, 403) or to_login or (rule.found and status == 404):
            return f"refused {status} {location}"
        return None
    if role == "anonymous":
        ok = status in (401, 403) if is_api else (to_login or status in (403, 404))
    elif name.startswith("admin:"):
        ok = to_login or status in (403, 404)
    else:
        ok = status in (401, 403, 404) if is_api else status in (403, 404)
    return None if ok else f"let through {status} {location}"


@pytest.mark.parametrize("route,name", [p for p in PATTERNS if not p[1].startswith("admin:")])
def test_each_url_refuses_every_role_its_rule_does_not_name(world, route, name):
    users, values = world
    rule = RULES[name]
    url = _url(route, {**values, "pk": values.get(f"{rule.pk}_pk", values["pk"])})
    assert url is not None, f"no sample value for {route}"
    problems = {}
    for role in ROLES:
        verdict = _verdict(route, name, rule, role, _request(_client(users, role), rule.method, url))
        if verdict:
            problems[role] = verdict
    assert problems == {}, url


def test_the_admin_lets_only_the_superuser_in(world):
    users, values = world
    public = {"admin:login", "admin:logout"}  # the admin's own door
    urls = sorted({url for route, name in PATTERNS if name.startswith("admin:") and name not in public
                   if (url := _url(route, values)) is not None})
    assert len(urls) > 100
    problems = {}
    for role in ROLES:
        client = _client(users, role)
        for url in urls:
            verdict = _verdict(url.lstrip("/"), "admin:", ADMIN, role, _request(client, "GET", url))
            # the superuser may still meet the admin's own per-model refusals (no "add" for log models)
            if verdict and not (role == "admin" and verdict.split()[:2] in (["refused", "404"], ["refused", "403"])):
                problems[(role, url)] = verdict
    assert problems == {}
