"""Consent with proof: the append-only log (`ConsentEvent`), wordings, double opt-in and withdrawal.

The status of a lead per purpose is derived from the log (`fold`), never stored by hand; `Lead.consent_status`
is a summary of the e-mail marketing purposes kept for lists and filters, rewritten from the log after each
event. E-mail marketing needs a confirmed double opt-in: `may_send_marketing` is the one place that says so.
"""

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Refused, Unmet
from core.tasks import enqueue_on_commit
from core.vocabulary import ConsentPurpose, ConsentStatus, EventType
from leads.models import Lead
from outbox import events as outbox_events
from privacy.models import ConsentEvent, ConsentWording, OptInRequest

MARKETING_PURPOSES = (ConsentPurpose.NEWSLETTER, ConsentPurpose.MARKETING_EMAIL)
EMAIL_PURPOSES = (ConsentPurpose.NEWSLETTER, ConsentPurpose.MARKETING_EMAIL, ConsentPurpose.SALES_EMAIL)
ALL_PURPOSES = tuple(ConsentPurpose.values)

UNSUBSCRIBE_SALT = "leadwerk.unsubscribe"
DEFAULT_WORDING = "I agree that my data may be used to contact me about this request and related offers."


# --- status, derived from the log ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One event as the fold needs it (a `ConsentEvent` has these attributes too)."""

    kind: str
    requires_confirmation: bool = False
    purpose: str = ""


def fold(events: Iterable) -> str:
    """The status of one purpose after these events (oldest first).

    given -> `pending` when it needs double opt-in, else `given`; confirmed counts only on a pending consent;
    withdrawn always wins until consent is given again.
    """
    status = ConsentStatus.NONE
    for event in events:
        if event.kind == ConsentEvent.Kind.GIVEN:
            if status == ConsentStatus.CONFIRMED:
                continue  # a repeated sign-up keeps the confirmed double opt-in
            status = ConsentStatus.PENDING if event.requires_confirmation else ConsentStatus.GIVEN
        elif event.kind == ConsentEvent.Kind.CONFIRMED:
            if status == ConsentStatus.PENDING:
                status = ConsentStatus.CONFIRMED
        elif event.kind == ConsentEvent.Kind.WITHDRAWN:
            status = ConsentStatus.WITHDRAWN
    return status


def by_purpose(events: Iterable) -> dict[str, str]:
    """The status per purpose after these events of one lead (oldest first; every purpose, `none` when nothing
    was recorded). Events are `ConsentEvent` rows or `Step`s with their purpose."""
    grouped: dict[str, list] = {purpose: [] for purpose in ALL_PURPOSES}
    for event in events:
        grouped.setdefault(event.purpose, []).append(event)
    return {purpose: fold(steps) for purpose, steps in grouped.items()}


def statuses(lead_id: int) -> dict[str, str]:
    """The status per purpose (every purpose, `none` when nothing was recorded)."""
    return by_purpose(ConsentEvent.objects.filter(lead_id=lead_id).only("purpose", "kind", "requires_confirmation"))


def is_contactable(status: str) -> bool:
    """E-mail marketing may go out: the double opt-in is confirmed (the proof for e-mail)."""
    return status == ConsentStatus.CONFIRMED


def may_send_marketing(lead, purpose: str | None = None) -> bool:
    """May this lead receive marketing e-mail (for `purpose`, or for any marketing purpose)?"""
    if getattr(lead, "erased_at", None):
        return False
    current = statuses(lead.pk)
    wanted = [purpose] if purpose else list(MARKETING_PURPOSES)
    return any(is_contactable(current[p]) for p in wanted)


def may_contact_for_sales(lead, *, channel: str) -> bool:
    """Sales contact follows the purposes actually given: `email` or `phone`. Sales consent needs no DOI."""
    purpose = ConsentPurpose.SALES_PHONE if channel == "phone" else ConsentPurpose.SALES_EMAIL
    return statuses(lead.pk)[purpose] in (ConsentStatus.GIVEN, ConsentStatus.CONFIRMED)


def summary(current: dict[str, str]) -> str:
    """`Lead.consent_status`: the best state among the e-mail marketing purposes."""
    order = [ConsentStatus.CONFIRMED, ConsentStatus.GIVEN, ConsentStatus.PENDING, ConsentStatus.WITHDRAWN]
    states = {current[p] for p in MARKETING_PURPOSES}
    for state in order:
        if state in states:
            return state
    return ConsentStatus.NONE


def summary_of(events: Iterable) -> str:
    """`Lead.consent_status` after these events of one lead (oldest first): what writers of many events at
    once (demo data, benchmark data, migrations) store, so the summary agrees with the log."""
    return summary(by_purpose(events))


def _update_summary(lead_id: int) -> None:
    Lead.objects.filter(pk=lead_id).update(consent_status=summary(statuses(lead_id)), updated_at=timezone.now())


# --- wordings ---------------------------------------------------------------------------------------------


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def publish_wording(*, purpose: str, text: str) -> ConsentWording:
    """A new version of the wording for `purpose` (wordings are never edited in place)."""
    with transaction.atomic():
        last = ConsentWording.objects.select_for_update().filter(purpose=purpose).order_by("-version").first()
        return ConsentWording.objects.create(
            purpose=purpose, version=(last.version + 1) if last else 1, text=text, text_hash=sha256(text)
        )


def current_wording(purpose: str) -> ConsentWording | None:
    return ConsentWording.objects.filter(purpose=purpose).order_by("-version").first()


def wording_for(form, purpose: str) -> tuple[str, ConsentWording | None]:
    """The exact text the person saw for `purpose`: the form's own text, else the current published wording."""
    if form is not None and form.consent_wording:
        return form.consent_wording, None
    wording = current_wording(purpose)
    if wording is not None:
        return wording.text, wording
    return _(DEFAULT_WORDING), None


def proof_matches(event: ConsentEvent) -> bool:
    """The stored hash matches the stored wording (and the published version, when there is one)."""
    if sha256(event.wording) != event.wording_hash:
        return False
    return event.wording_version is None or event.wording_version.text_hash == event.wording_hash


# --- recording events -------------------------------------------------------------------------------------


@transaction.atomic  # the event, the lead's summary and the outbox event commit together
def record(
    *,
    lead: Lead,
    purpose: str,
    kind: str,
    method: str,
    by=None,
    channel: str = "",
    form=None,
    submission=None,
    wording: str | None = None,
    wording_version: ConsentWording | None = None,
    requires_confirmation: bool = False,
    page_url: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    evidence_reference: str = "",
    note: str = "",
    **proof,
) -> ConsentEvent:
    """Append one event to the log and refresh the lead's summary."""
    if kind == ConsentEvent.Kind.GIVEN and wording is None:
        wording, wording_version = wording_for(form, purpose)
    text = wording or ""
    event = ConsentEvent.objects.create(
        lead=lead,
        purpose=purpose,
        kind=kind,
        method=method,
        recorded_by=by if by and by.is_authenticated else None,
        channel=channel,
        capture_form=form,
        submission=submission,
        wording=text,
        wording_hash=sha256(text) if text else "",
        wording_version=wording_version,
        requires_confirmation=requires_confirmation,
        page_url=page_url[:2000],
        ip_address=ip_address,
        user_agent=(user_agent or "")[:400],
        evidence_reference=evidence_reference,
        note=note[:300],
        **proof,
    )
    _update_summary(lead.pk)
    outbox_events.record(
        EventType.CONSENT_CHANGED, lead_id=lead.pk, actor_id=event.recorded_by_id,
        payload={"purpose": purpose, "kind": kind, "consent_event": event.pk},
    )
    return event


def give(
    *, lead: Lead, purposes: Iterable[str], method: str, double_opt_in: bool, by=None, **proof
) -> OptInRequest | None:
    """Record consent for `purposes`; e-mail purposes on a double-opt-in path open a request whose mail is sent
    on commit by the worker. Returns the request, if one was opened."""
    purposes = [p for p in purposes if p in ALL_PURPOSES]
    needs_confirmation = [p for p in purposes if double_opt_in and p in EMAIL_PURPOSES]
    for purpose in purposes:
        record(
            lead=lead,
            purpose=purpose,
            kind=ConsentEvent.Kind.GIVEN,
            method=method,
            by=by,
            requires_confirmation=purpose in needs_confirmation,
            **proof,
        )
    if not needs_confirmation:
        return None
    now = timezone.now()
    request = OptInRequest.objects.create(
        lead=lead,
        purposes=needs_confirmation,
        created_at=now,
        expires_at=now + timezone.timedelta(days=settings.DOI_EXPIRY_DAYS),
    )
    enqueue_on_commit("privacy.tasks.send_opt_in", request.pk)
    return request


def withdraw(*, lead: Lead, purposes: Iterable[str], method: str, by=None, note: str = "", **proof) -> list[str]:
    """Withdraw every purpose given that is not already withdrawn or absent. Returns the purposes withdrawn."""
    current = statuses(lead.pk)
    done = []
    for purpose in purposes:
        if current.get(purpose, ConsentStatus.NONE) in (ConsentStatus.NONE, ConsentStatus.WITHDRAWN):
            continue
        record(lead=lead, purpose=purpose, kind=ConsentEvent.Kind.WITHDRAWN, method=method, by=by, note=note, **proof)
        done.append(purpose)
    return done


# --- double opt-in ----------------------------------------------------------------------------------------


class ConfirmRefused(Refused):
    """The link cannot confirm: unknown, used, expired. `reason` is one of those words (the page says more)."""

    def __init__(self, reason: str):
        super().__init__(reason, [Unmet(reason, reason)])
        self.reason = reason


def token_hash(token: str) -> str:
    return sha256(token)


def new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def confirm(*, token: str, ip_address: str | None, user_agent: str) -> OptInRequest:
    """Confirm a double opt-in from its link: single use, until it expires. Records one event per purpose."""
    digest = token_hash(token or "")
    now = timezone.now()
    with transaction.atomic():
        request = (
            OptInRequest.objects.select_for_update()
            .filter(Q(token_hash=digest) | Q(reminder_token_hash=digest))
            .select_related("lead")
            .first()
        )
        if request is None or request.lead.erased_at:
            raise ConfirmRefused("unknown")
        if request.confirmed_at is not None:
            raise ConfirmRefused("used")
        if request.purged_at is not None or request.expires_at <= now:
            raise ConfirmRefused("expired")
        request.confirmed_at = now
        request.save(update_fields=["confirmed_at"])
        for purpose in request.purposes:
            record(
                lead=request.lead,
                purpose=purpose,
                kind=ConsentEvent.Kind.CONFIRMED,
                method=ConsentEvent.Method.EMAIL_LINK,
                ip_address=ip_address,
                user_agent=user_agent,
                token_hash=digest,
                mail_sent_at=request.mail_sent_at,
                confirmed_at=now,
            )
    return request


def purge_unconfirmed(*, now=None) -> int:
    """Requests unconfirmed after DOI_PURGE_DAYS: closed, their pending consent withdrawn by the system."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(days=settings.DOI_PURGE_DAYS)
    done = 0
    for request_id in OptInRequest.objects.filter(
        confirmed_at__isnull=True, purged_at__isnull=True, created_at__lt=cutoff
    ).values_list("pk", flat=True):
        with transaction.atomic():
            claimed = OptInRequest.objects.filter(
                pk=request_id, purged_at__isnull=True, confirmed_at__isnull=True
            ).update(purged_at=now, token_hash="", reminder_token_hash="")
            if not claimed:
                continue
            request = OptInRequest.objects.select_related("lead").get(pk=request_id)
            pending = [
                p for p, s in statuses(request.lead_id).items() if p in request.purposes and s == ConsentStatus.PENDING
            ]
            withdraw(
                lead=request.lead,
                purposes=pending,
                method=ConsentEvent.Method.SYSTEM,
                note=_("Not confirmed within %(days)s days.") % {"days": settings.DOI_PURGE_DAYS},
            )
            done += 1
    return done


def due_reminders(*, now=None) -> list[int]:
    """Ids of requests to remind: unconfirmed, sent, not reminded, older than DOI_REMINDER_DAYS, not expired."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(days=settings.DOI_REMINDER_DAYS)
    return list(
        OptInRequest.objects.filter(
            confirmed_at__isnull=True,
            purged_at__isnull=True,
            reminded_at__isnull=True,
            mail_sent_at__isnull=False,
            created_at__lt=cutoff,
        ).values_list("pk", flat=True)
    )


# --- unsubscribe and preferences --------------------------------------------------------------------------


def unsubscribe_token(lead_id: int) -> str:
    """A signed, non-expiring token naming the lead: unsubscribe must keep working for old e-mails."""
    return signing.dumps({"l": lead_id}, salt=UNSUBSCRIBE_SALT, compress=True)


def lead_of_token(token: str) -> Lead | None:
    try:
        lead_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)["l"]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if not isinstance(lead_id, int) or isinstance(lead_id, bool):  # a signed token names a lead by its id
        return None
    return Lead.objects.filter(pk=lead_id, erased_at__isnull=True).first()


def unsubscribe_headers(lead_id: int) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe: every e-mail to a lead carries these headers."""
    from django.urls import reverse

    token = unsubscribe_token(lead_id)
    url = settings.SITE_URL + reverse("privacy:unsubscribe", args=[token])
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def unsubscribe(*, lead: Lead, ip_address: str | None, user_agent: str) -> list[str]:
    """One click: every marketing purpose withdrawn."""
    with transaction.atomic():
        Lead.objects.select_for_update().filter(pk=lead.pk).first()
        return withdraw(
            lead=lead,
            purposes=MARKETING_PURPOSES,
            method=ConsentEvent.Method.EMAIL_LINK,
            ip_address=ip_address,
            user_agent=user_agent,
            note=_("One-click unsubscribe."),
        )


def set_preferences(*, lead: Lead, wanted: Iterable[str], ip_address: str | None, user_agent: str) -> None:
    """The preference page: withdraw what is no longer wanted; newly wanted e-mail purposes need a double opt-in."""
    wanted = {p for p in wanted if p in ALL_PURPOSES}
    with transaction.atomic():
        Lead.objects.select_for_update().filter(pk=lead.pk).first()
        current = statuses(lead.pk)
        active = {ConsentStatus.GIVEN, ConsentStatus.PENDING, ConsentStatus.CONFIRMED}
        withdraw(
            lead=lead,
            purposes=[p for p in ALL_PURPOSES if p not in wanted and current[p] in active],
            method=ConsentEvent.Method.EMAIL_LINK,
            ip_address=ip_address,
            user_agent=user_agent,
            note=_("Preference page."),
        )
        new = [p for p in ALL_PURPOSES if p in wanted and current[p] not in active]
        if new:
            give(
                lead=lead,
                purposes=new,
                method=ConsentEvent.Method.EMAIL_LINK,
                double_opt_in=True,
                ip_address=ip_address,
                user_agent=user_agent,
            )


def send_opt_in_mail(*, request: OptInRequest, token: str, reminder: bool) -> None:
    """The confirmation mail: only the request to confirm, no advertising; one-click unsubscribe headers."""
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string
    from django.urls import reverse

    lead = request.lead
    context = {
        "lead": lead,
        "purposes": [ConsentPurpose(p).label for p in request.purposes],
        "confirm_url": settings.SITE_URL + reverse("privacy:confirm_opt_in", args=[token]),
        "unsubscribe_url": settings.SITE_URL + reverse("privacy:unsubscribe", args=[unsubscribe_token(lead.pk)]),
        "expires_at": request.expires_at,
        "reminder": reminder,
    }
    subject = _("Reminder: please confirm your subscription") if reminder else _("Please confirm your subscription")
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("privacy/email/opt_in.txt", context),
        to=[lead.email],
        headers=unsubscribe_headers(lead.pk),
    )
    message.send()


def may_record(user, lead) -> bool:
    """Staff-recorded consent (phone, manual): marketing, managers and admins on any lead; an SDR only on leads
    they own (not on pool leads they merely see)."""
    from leads import roles

    if roles.is_staff_role(user):
        return True
    return roles.is_sdr(user) and lead.owner_id == user.pk
