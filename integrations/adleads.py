"""Inbound lead forms from ad platforms (Meta Lead Ads, LinkedIn Lead Gen Forms).

The platform posts a signed notification that names a lead (ids only); the endpoint checks the signature
(Meta: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body with the app secret>`; LinkedIn:
`X-LI-Signature: <hex HMAC-SHA256 of the body with the client secret>`), records one `InboundAdLead` per
named lead and enqueues a task; the task fetches the lead's answers from the platform (a `Fetcher`:
HTTP in production, recorded payloads in tests), maps them with the connected form's field mapping and
submits them through capture like every channel (the capture form gives source, campaign and the ad
form's consent wording; the platform's lead id is the idempotency key). A bad signature is a 401 and a
rejected record; a lead without e-mail is rejected by capture with the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from capture import submissions as capture
from core.tasks import enqueue_on_commit
from core.vocabulary import Channel
from integrations.models import AdForm, AdPlatform, InboundAdLead, InboundStatus
from leads.validation import CAPTURE_FIELDS

MAPPABLE = ("full_name", *[name for name in CAPTURE_FIELDS if name not in {
    "source", "campaign", "visitor_id", "consent", "activity", "message",
}])
FETCH_TIMEOUT_SECONDS = 10


# --- signatures -------------------------------------------------------------------------------------------


def _hex_hmac(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def meta_signature_ok(body: bytes, header: str) -> bool:
    secret = settings.META_APP_SECRET
    if not secret or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(header.removeprefix("sha256=").lower(), _hex_hmac(secret, body))


def linkedin_signature_ok(body: bytes, header: str) -> bool:
    secret = settings.LINKEDIN_CLIENT_SECRET
    if not secret or not header:
        return False
    return hmac.compare_digest(header.removeprefix("hmacsha256=").lower(), _hex_hmac(secret, body))


def linkedin_challenge(code: str) -> dict:
    """LinkedIn's endpoint validation: the challenge code signed with the client secret."""
    return {"challengeCode": code, "challengeResponse": _hex_hmac(settings.LINKEDIN_CLIENT_SECRET, code.encode())}


# --- notifications ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    platform_lead_id: str
    form_external_id: str


def meta_notices(payload) -> list[Notice]:
    """`{"object": "page", "entry": [{"changes": [{"field": "leadgen", "value": {"leadgen_id", "form_id"}}]}]}`"""
    notices = []
    for entry in payload.get("entry", []) if isinstance(payload, dict) else []:
        for change in entry.get("changes", []) if isinstance(entry, dict) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if isinstance(change, dict) and change.get("field") == "leadgen" and isinstance(value, dict):
                if value.get("leadgen_id"):
                    notices.append(Notice(str(value["leadgen_id"])[:100], str(value.get("form_id", ""))[:100]))
    return notices


def _urn_id(urn) -> str:
    return str(urn).rsplit(":", 1)[-1][:100] if urn else ""


def linkedin_notices(payload) -> list[Notice]:
    """`{"type": "LEAD_ACTION", "leadAction": "CREATED", "leadGenFormResponse": "urn:li:leadGenFormResponse:..",
    "leadGenForm": "urn:li:leadGenForm:.."}` (one per request; a list is accepted too)."""
    items = payload if isinstance(payload, list) else [payload]
    return [
        Notice(_urn_id(item.get("leadGenFormResponse")), _urn_id(item.get("leadGenForm")))
        for item in items
        if isinstance(item, dict) and item.get("leadAction", "CREATED") == "CREATED" and item.get("leadGenFormResponse")
    ]


@transaction.atomic
def receive(platform: str, notices: list[Notice]) -> list[InboundAdLead]:
    """Record each named lead once (a platform retries its notification) and fetch it after the commit."""
    recorded = []
    for notice in notices:
        try:
            with transaction.atomic():
                inbound = InboundAdLead.objects.create(
                    platform=platform, platform_lead_id=notice.platform_lead_id,
                    form_external_id=notice.form_external_id, status=InboundStatus.RECEIVED,
                )
        except IntegrityError:
            continue  # seen before
        recorded.append(inbound)
        enqueue_on_commit("integrations.tasks.ingest_ad_lead", inbound.pk)
    return recorded


def reject_unsigned(platform: str, reason: str) -> InboundAdLead:
    return InboundAdLead.objects.create(
        platform=platform, status=InboundStatus.REJECTED, reason=reason[:300], processed_at=timezone.now()
    )


# --- fetching the answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchedLead:
    answers: dict[str, str]  # question name (Meta) or id (LinkedIn) -> answer
    consented: bool  # a consent checkbox of the ad form was ticked
    form_external_id: str = ""
    extra: dict = field(default_factory=dict)


class Fetcher(Protocol):
    def fetch(self, platform_lead_id: str) -> FetchedLead: ...


def parse_meta_lead(data: dict) -> FetchedLead:
    """A Graph API lead (`GET /{leadgen_id}?fields=field_data,form_id,custom_disclaimer_responses`)."""
    answers = {
        str(item.get("name")): str((item.get("values") or [""])[0])
        for item in data.get("field_data", []) if isinstance(item, dict) and item.get("name")
    }
    consented = any(
        str(item.get("is_checked")) in ("1", "true", "True")
        for item in data.get("custom_disclaimer_responses", []) if isinstance(item, dict)
    )
    return FetchedLead(answers, consented, str(data.get("form_id", "")))


def parse_linkedin_lead(data: dict) -> FetchedLead:
    """A LinkedIn lead form response (`GET /rest/leadFormResponses/{id}`): answers by question id."""
    answers = {}
    for answer in (data.get("formResponse") or {}).get("answers", []):
        if not isinstance(answer, dict):
            continue
        details = answer.get("answerDetails") or {}
        text = (details.get("textQuestionAnswer") or {}).get("answer")
        if text is None:
            choices = (details.get("multipleChoiceAnswer") or {}).get("options") or []
            text = ", ".join(str(option) for option in choices)
        answers[str(answer.get("questionId"))] = str(text)
    consents = (data.get("formResponse") or {}).get("consentResponses", [])
    consented = any(isinstance(item, dict) and item.get("accepted") is True for item in consents)
    form = re.search(r"leadGenForm:(\d+)", str(data.get("leadGenForm") or data.get("versionedLeadGenFormUrn") or ""))
    return FetchedLead(answers, consented, form.group(1) if form else "")


class MetaGraphFetcher:
    """Meta's Graph API (needs META_ACCESS_TOKEN, a page access token with leads_retrieval)."""

    url = "https://graph.facebook.com/v21.0/{id}?"

    def fetch(self, platform_lead_id: str) -> FetchedLead:
        query = urllib.parse.urlencode({"fields": "field_data,form_id,custom_disclaimer_responses",
                                        "access_token": settings.META_ACCESS_TOKEN})
        return parse_meta_lead(_get_json(self.url.format(id=urllib.parse.quote(platform_lead_id)) + query, {}))


class LinkedInFetcher:
    """LinkedIn's Lead Sync API (needs LINKEDIN_ACCESS_TOKEN with r_marketing_leadgen_automation)."""

    url = "https://api.linkedin.com/rest/leadFormResponses/{id}"

    def fetch(self, platform_lead_id: str) -> FetchedLead:
        headers = {"Authorization": f"Bearer {settings.LINKEDIN_ACCESS_TOKEN}", "LinkedIn-Version": "202410",
                   "X-Restli-Protocol-Version": "2.0.0"}
        return parse_linkedin_lead(_get_json(self.url.format(id=urllib.parse.quote(platform_lead_id)), headers))


def _get_json(url: str, headers: dict) -> dict:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (a fixed https URL of the platform)
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
        return json.loads(response.read(2 * 1024 * 1024))


FETCHERS: dict[str, Fetcher] = {AdPlatform.META: MetaGraphFetcher(), AdPlatform.LINKEDIN: LinkedInFetcher()}


# --- into capture -------------------------------------------------------------------------------------------


def map_answers(answers: dict[str, str], mapping: dict) -> dict:
    payload: dict[str, str] = {}
    for question, target in mapping.items():
        value = (answers.get(question) or "").strip()
        if not value or target not in MAPPABLE:
            continue
        if target == "full_name":
            first, _sep, last = value.rpartition(" ")
            payload.setdefault("first_name", first or last)
            if first:
                payload.setdefault("last_name", last)
        else:
            payload[target] = value
    return payload


def _done(inbound_id: int, status: str, reason: str = "", **fields) -> None:
    InboundAdLead.objects.filter(pk=inbound_id).update(
        status=status, reason=reason[:300], processed_at=timezone.now(), **fields
    )


def ingest(inbound_id: int) -> str | None:
    """Fetch one recorded lead and pass it through capture. Idempotent: a processed record is left alone, and
    capture's idempotency key (the platform's lead id) returns the first answer for a repeat."""
    inbound = InboundAdLead.objects.filter(pk=inbound_id, status=InboundStatus.RECEIVED).first()
    if inbound is None:
        return None
    fetched = FETCHERS[inbound.platform].fetch(inbound.platform_lead_id)  # a failure: the task is retried
    form_id = inbound.form_external_id or fetched.form_external_id
    ad_form = AdForm.objects.select_related("capture_form").filter(
        platform=inbound.platform, external_id=form_id, is_active=True
    ).first()
    if ad_form is None:
        _done(inbound.pk, InboundStatus.REJECTED, _("No connected ad form with the id %(id)s.") % {"id": form_id})
        return InboundStatus.REJECTED
    payload = map_answers(fetched.answers, ad_form.field_mapping)
    if fetched.consented and ad_form.capture_form.consent_wording:
        payload["consent"] = True
    result = capture.submit(
        channel=Channel.API, payload=payload, form=ad_form.capture_form,
        idempotency_key=f"{inbound.platform}-lead-{inbound.platform_lead_id}",
        user_agent=f"Leadwerk ad lead ({inbound.platform})",
    )
    submission_id = result.submission.pk if result.submission else None
    if result.status in (200, 201):
        _done(inbound.pk, InboundStatus.ACCEPTED, ad_form=ad_form, lead_id=result.body.get("id"),
              submission_id=submission_id)
        return InboundStatus.ACCEPTED
    errors = result.body.get("errors") or {}
    reason = "; ".join(f"{name}: {' '.join(map(str, texts))}" for name, texts in errors.items()) or str(result.body)
    _done(inbound.pk, InboundStatus.REJECTED, reason, ad_form=ad_form, submission_id=submission_id)
    return InboundStatus.REJECTED


RETRY_AFTER = dt.timedelta(minutes=2)
GIVE_UP_AFTER = dt.timedelta(days=1)


def retry_stale(*, limit: int = 100) -> int:
    """Records whose fetch failed (the platform was down, a token expired) are tried again by the minute
    sweep; after GIVE_UP_AFTER they are rejected with the reason. Returns how many were queued again."""
    now = timezone.now()
    InboundAdLead.objects.filter(status=InboundStatus.RECEIVED, received_at__lt=now - GIVE_UP_AFTER).update(
        status=InboundStatus.REJECTED, processed_at=now,
        reason=_("The details could not be fetched from the platform for a day."),
    )
    stale = list(
        InboundAdLead.objects.filter(status=InboundStatus.RECEIVED, received_at__lt=now - RETRY_AFTER)
        .order_by("received_at").values_list("pk", flat=True)[:limit]
    )
    for inbound_id in stale:
        enqueue_on_commit("integrations.tasks.ingest_ad_lead", inbound_id)
    return len(stale)
