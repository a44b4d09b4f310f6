"""The send tick: every queued, due message is claimed exactly once and mailed, or skipped with its reason.

Claim (one transaction): the message row `select_for_update(skip_locked=True)` where it is still `queued`
(a second worker skips it), the lead's row locked (unsubscribe and consent withdrawal lock it too, so they are
ordered with the claim), then `eligibility.problem(lead)` against the consent log, the suppression list and
hard bounces, at this moment. A lead that may not be mailed: the message is `skipped` with the reason and
the enrolment exits. Otherwise the message becomes `sending` and the transaction commits: from then on no
worker will take it again. The SMTP conversation follows; success -> `sent`; an error -> `queued` again with
back-off (`ENGAGEMENT_RETRY_MINUTES`), `failed` after the last try. A message left `sending` by a crashed
worker is marked `failed` (delivery unknown), never retried: never sent twice.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import smtplib

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import make_msgid
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from engagement import eligibility, engine, rendering
from engagement.models import Message, TemplateVersion
from leads.models import Lead
from privacy import consent

log = logging.getLogger(__name__)

TRACK_SALT = "leadwerk.engagement.track"
UNSUBSCRIBE_SALT = "leadwerk.engagement.unsubscribe"
STALE_SENDING = dt.timedelta(minutes=15)
HREF = re.compile(r'href="([^"]*)"')


# --- signed links ---------------------------------------------------------------------------------------------


def click_token(message_id: int, url: str) -> str:
    return signing.dumps({"m": message_id, "u": url}, salt=TRACK_SALT, compress=True)


def open_token(message_id: int) -> str:
    return signing.dumps({"m": message_id}, salt=TRACK_SALT)


def unsubscribe_token(message_id: int) -> str:
    return signing.dumps({"m": message_id}, salt=UNSUBSCRIBE_SALT)


def read_token(token: str, *, salt: str) -> dict | None:
    try:
        data = signing.loads(token, salt=salt)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("m"), int) or isinstance(data.get("m"), bool):
        return None
    return data


def unsubscribe_url(message_id: int) -> str:
    return settings.SITE_URL + reverse("engagement:unsubscribe", args=[unsubscribe_token(message_id)])


def unsubscribe_headers(message_id: int) -> dict[str, str]:
    """RFC 8058: the one-click POST goes to our endpoint, which unsubscribes from all marketing e-mail."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(message_id)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# --- building ---------------------------------------------------------------------------------------------------


def version_for(template_id: int, language: str) -> TemplateVersion | None:
    """The lead's language, else its base language (de-AT -> de), else the site's, else any version."""
    versions = {v.language: v for v in TemplateVersion.objects.filter(template_id=template_id)}
    site = settings.LANGUAGE_CODE.split("-")[0]
    for wanted in (language.lower(), language.split("-")[0].lower(), site):
        if wanted and wanted in versions:
            return versions[wanted]
    return next(iter(sorted(versions.values(), key=lambda v: v.pk)), None)


def merge_context(lead: Lead, message_id: int) -> dict:
    owner = lead.owner
    owner_name = (owner.get_full_name() or owner.username) if owner else ""
    return {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "company": lead.company,
        "owner_name": owner_name,
        "owner_signature": f"{owner_name}\n{owner.email}" if owner else "",
        "unsubscribe_url": unsubscribe_url(message_id),
        "preferences_url": settings.SITE_URL
        + reverse("privacy:preferences", args=[consent.unsubscribe_token(lead.pk)]),
    }


def _tracked(markup: str, message_id: int, context: dict) -> str:
    """Links through our signed redirect (only to the URL the template contained) and the open pixel."""
    own = {context["unsubscribe_url"], context["preferences_url"]}

    def wrap(match):
        url = html.unescape(match.group(1))
        if url in own or not url.lower().startswith(("http://", "https://")):
            return match.group(0)
        target = settings.SITE_URL + reverse("engagement:click", args=[click_token(message_id, url)])
        return f'href="{html.escape(target)}"'

    markup = HREF.sub(wrap, markup)
    pixel = settings.SITE_URL + reverse("engagement:open", args=[open_token(message_id)])
    return markup.replace(
        "</body>",
        f'<img src="{html.escape(pixel)}" width="1" height="1" alt="" style="display:block;border:0;"></body>'
    )


def build(message: Message, lead: Lead, version: TemplateVersion, *, track: bool = True) -> EmailMultiAlternatives:
    context = merge_context(lead, message.pk)
    rendered = rendering.render(
        subject=version.subject, preheader=version.preheader, body=version.body, context=context,
        language=version.language,
    )
    body_html = rendered.html
    if track and settings.ENGAGEMENT_TRACKING:
        body_html = _tracked(body_html, message.pk, context)
    programme = message.enrolment.programme
    headers = {**unsubscribe_headers(message.pk), "Content-Language": version.language}
    if message.message_id:
        headers["Message-ID"] = message.message_id
    mail = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=programme.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[lead.email],
        reply_to=[programme.reply_to] if programme.reply_to else None,
        headers=headers,
    )
    mail.attach_alternative(body_html, "text/html")
    return mail


# --- claiming and sending ---------------------------------------------------------------------------------------


def _skip(message: Message, reason: str) -> None:
    message.status, message.reason = Message.Status.SKIPPED, reason[:300]
    message.save(update_fields=["status", "reason"])
    if reason in eligibility.EXITS or reason.startswith("reached") or reason.startswith("stage"):
        engine.end(enrolment=message.enrolment, reason=reason)


def claim(message_id: int, *, now: dt.datetime) -> tuple[Message, EmailMultiAlternatives] | None:
    """The claiming transaction (see the module). Returns the message and its e-mail, or None (taken or skipped)."""
    lead_id = Message.objects.filter(pk=message_id).values_list("enrolment__lead_id", flat=True).first()
    if lead_id is None:
        return None
    with transaction.atomic():
        # The lead first, then the message: the order unsubscribe and erasure lock them in (no deadlock).
        lead = Lead.objects.select_for_update(of=("self",)).select_related("owner").filter(pk=lead_id).first()
        message = (
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("enrolment__programme")
            .filter(pk=message_id, status=Message.Status.QUEUED, due_at__lte=now)
            .first()
        )
        if message is None or lead is None:
            return None
        reason = eligibility.problem(lead) or engine.reached_exit(message.enrolment.programme, lead)
        if reason:
            _skip(message, reason)
            return None
        version = version_for(message.template_id, lead.language or "")
        if version is None:
            _skip(message, "template has no version")
            return None
        message.status, message.attempts = Message.Status.SENDING, message.attempts + 1
        message.language = version.language
        message.message_id = message.message_id or make_msgid(domain=settings.ENGAGEMENT_MESSAGE_ID_DOMAIN)
        mail = build(message, lead, version)
        message.subject = mail.subject[:200]
        message.due_at = now  # when it was claimed: a message still "sending" long after is stale (fail_stale)
        message.save(update_fields=["status", "attempts", "language", "subject", "message_id", "due_at"])
        return message, mail


def deliver(message: Message, mail: EmailMultiAlternatives, *, connection=None, now: dt.datetime) -> str:
    """Hand the claimed message to the backend; record sent, or queue a retry, or fail after the last try."""
    try:
        mail.connection = connection or get_connection()
        mail.send()
    except (smtplib.SMTPException, OSError) as error:
        log.warning("engagement: message %s not sent: %s", message.pk, type(error).__name__)  # no address
        retries = settings.ENGAGEMENT_RETRY_MINUTES
        reason = f"{type(error).__name__}: {error}"[:300]
        if message.attempts > len(retries):
            Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
                status=Message.Status.FAILED, reason=reason
            )
            return Message.Status.FAILED
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            status=Message.Status.QUEUED, reason=reason,
            due_at=now + dt.timedelta(minutes=retries[message.attempts - 1]),
        )
        return Message.Status.QUEUED
    except Exception as error:  # noqa: BLE001 - the backend refused it for good (an ESP's error, a bad header)
        log.warning("engagement: message %s refused by the backend: %s", message.pk, type(error).__name__)
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            status=Message.Status.FAILED, reason=f"{type(error).__name__}: {error}"[:300]
        )
        return Message.Status.FAILED
    status = getattr(mail, "anymail_status", None)  # set by django-anymail's backends
    esp_id = getattr(status, "message_id", None)
    Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
        status=Message.Status.SENT, sent_at=timezone.now(), reason="",
        esp_message_id="" if esp_id is None else str(esp_id)[:255],
    )
    return Message.Status.SENT


def send_one(message_id: int, *, now: dt.datetime | None = None, connection=None) -> str:
    now = now or timezone.now()
    claimed = claim(message_id, now=now)
    if claimed is None:
        return Message.objects.filter(pk=message_id).values_list("status", flat=True).first() or ""
    return deliver(*claimed, connection=connection, now=now)


def budget(now: dt.datetime) -> int:
    """Messages this tick may send: the per-minute cap less what went out in the last minute."""
    recent = Message.objects.filter(sent_at__gt=now - dt.timedelta(minutes=1)).count()
    return max(0, settings.ENGAGEMENT_RATE_PER_MINUTE - recent)


def fail_stale(now: dt.datetime) -> int:
    return Message.objects.filter(status=Message.Status.SENDING, due_at__lt=now - STALE_SENDING).update(
        status=Message.Status.FAILED, reason="interrupted while sending; not retried (delivery unknown)"
    )


def send_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Claim and send what is due, within the rate cap, on one backend connection."""
    now = now or timezone.now()
    fail_stale(now)
    ids = list(
        Message.objects.filter(status=Message.Status.QUEUED, due_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[: budget(now)]
    )
    counts: dict[str, int] = {}
    if not ids:
        return counts
    connection = get_connection()
    try:
        connection.open()
    except (smtplib.SMTPException, OSError):
        connection = None  # each message tries (and records) on its own
    try:
        for message_id in ids:
            outcome = send_one(message_id, now=now, connection=connection)
            counts[outcome] = counts.get(outcome, 0) + 1
    finally:
        if connection is not None:
            connection.close()
    return counts
