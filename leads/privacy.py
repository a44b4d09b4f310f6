"""Data subject rights: the personal-data registry, export, erasure, objection, suppression and retention.

`REGISTRY` is the one place that names every table and field holding personal data. Export reads it,
erasure anonymises it, docs/privacy.md is generated from it and the dump test proves it complete: a field
added to a model that holds personal data belongs here.

Erasure anonymises in place: the lead row, its stage history (`LeadTransition`) and its activities stay,
so funnel and velocity figures do not change; what identifies the person is overwritten.
"""

import csv
import io
import json
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from core.errors import Conflict, Refused
from core.vocabulary import ActivityKind
from leads import consent
from leads.models import (
    Activity,
    Consent,
    ConsentEvent,
    ConsentPurpose,
    Lead,
    LeadTransition,
    Notification,
    OptInRequest,
    PrivacyRequest,
    Submission,
    Suppression,
    Visitor,
)

ERASED = "erased"
EXPORT_SALT = "leadwerk.export"
EXPORT_LINK_DAYS = 7
# Activity.data keys that describe the touchpoint, not the person; everything else is dropped on erasure.
ACTIVITY_DATA_KEPT = ("submission", "channel", "source", "campaign", "utm_source", "utm_medium", "utm_campaign")


@dataclass(frozen=True)
class Table:
    """One table holding personal data: how to find a person's rows and which fields to show and erase."""

    model: type
    lookup: str  # the path from the model to the lead
    fields: tuple[str, ...]  # personal data, erased
    context: tuple[str, ...] = ()  # exported with it, kept on erasure (times, kinds)
    category: str = ""
    purpose: str = ""
    retention: str = ""
    recipients: str = field(default="Marketing, sales and administrators of this installation")

    @property
    def label(self) -> str:
        return self.model._meta.label


REGISTRY: tuple[Table, ...] = (
    Table(
        Lead,
        "pk",
        (
            "email",
            "email_normalized",
            "first_name",
            "last_name",
            "phone",
            "job_title",
            "company",
            "company_domain",
            "website",
            "country",
            "industry",
            "stage_reason",
            "budget",
            "authority",
            "need",
            "timeline",
            "metrics",
            "economic_buyer",
            "decision_criteria",
            "decision_process",
            "identify_pain",
            "champion",
            "utm_term",
            "utm_content",
        ),
        ("id", "stage", "source", "created_at", "first_touch_at", "last_touch_at", "consent_status", "score"),
        category="Contact data, company, qualification notes",
        purpose="Answering the request; marketing and sales as consented",
        retention="Per stage after the last activity (see below); on erasure at once",
    ),
    Table(
        Activity,
        "lead",
        ("url", "note", "data"),
        ("id", "kind", "outcome", "occurred_at"),
        category="Touchpoints: pages visited, messages, call notes",
        purpose="Scoring, sales follow-up",
        retention="With the lead",
    ),
    Table(
        Submission,
        "lead",
        ("payload", "errors", "ip_address", "user_agent", "payload_hash"),
        ("id", "channel", "outcome", "received_at"),
        category="Capture requests as they arrived, IP address, user agent",
        purpose="Proof of origin, no lost leads",
        retention="With the lead; IP address and user agent RETENTION_IP_DAYS days",
    ),
    Table(
        Consent,
        "lead",
        ("ip_address", "user_agent"),
        ("id", "purpose", "wording", "requested_at", "confirmed_at"),
        category="Consent requests (summary records)",
        purpose="Proof of consent",
        retention="With the lead",
    ),
    Table(
        ConsentEvent,
        "lead",
        ("ip_address", "user_agent", "page_url", "evidence_reference"),
        (
            "id",
            "purpose",
            "kind",
            "method",
            "legal_basis",
            "at",
            "wording",
            "wording_hash",
            "mail_sent_at",
            "confirmed_at",
        ),
        category="Consent log: wording, time, IP address, user agent, evidence",
        purpose="Proof of consent (GDPR Art. 7(1)); phone consent evidence 5 years after its last use (UWG § 7a)",
        retention=(
            "With the lead; the wording and times stay after erasure, without identifying data. Phone consent "
            "(`sales_phone`): on erasure its events keep wording, hash, time, method and evidence reference until "
            "5 years after the consent or the last call made under it, whichever is later (UWG § 7a; GDPR "
            "Art. 17(3)(b) and (e)); they stay attributable only through the keyed HMAC-SHA256 of the normalised "
            "phone and e-mail written into their note (the same hashes as the suppression list, never the values); "
            "the nightly retention job deletes them once the 5 years have passed"
        ),
    ),
    Table(
        OptInRequest,
        "lead",
        ("token_hash", "reminder_token_hash"),
        ("id", "purposes", "created_at", "confirmed_at"),
        category="Double-opt-in requests and sent confirmation mails (link hashes only)",
        purpose="Proof of consent for e-mail",
        retention="Unconfirmed: purged after DOI_PURGE_DAYS days",
    ),
    Table(
        Notification,
        "lead",
        ("message",),
        ("id", "kind", "created_at"),
        category="In-app and e-mail notifications to staff naming the lead",
        purpose="Sales follow-up",
        recipients="The notified staff member",
        retention="With the lead",
    ),
    Table(
        Visitor,
        "lead",
        ("anonymous_id",),
        ("id", "first_seen_at", "last_seen_at"),
        category="Browser id of the tracking script",
        purpose="Behavioural scoring",
        retention="With the lead",
    ),
    Table(
        LogEntry,
        "object_id",
        ("object_repr", "change_message"),
        ("id", "action_time"),
        category="Admin change log naming the lead",
        purpose="Audit of staff changes",
        recipients="Administrators",
        retention="With the lead",
    ),
)
# Not in the registry on purpose: LeadTransition (stage history kept for the figures; its free-text reasons,
# qualification answers and merge snapshots are scrubbed by `erase`),
# django-q2 task rows (tasks take ids only), Suppression (one-way hashes, kept to honour the erasure).


def _rows(table: Table, lead: Lead):
    if table.model is LogEntry:
        return LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Lead), object_id=str(lead.pk))
    return table.model.objects.filter(**{table.lookup: lead.pk})


# --- suppression ------------------------------------------------------------------------------------------


def suppression_hash(kind: str, value: str) -> str:
    """A keyed one-way hash (HMAC-SHA256, key derived from SECRET_KEY) of a normalised e-mail or phone."""
    return suppression_hasher(kind)(value)


def suppression_hasher(kind: str):
    """`suppression_hash` for many values of one kind (an import): the keyed HMAC is derived once."""
    keyed = salted_hmac(f"leadwerk.suppression.{kind}", b"", algorithm="sha256")

    def digest(value: str) -> str:
        hashed = keyed.copy()
        hashed.update(normalise(kind, value).encode())
        return hashed.hexdigest()

    return digest


def normalise(kind: str, value: str) -> str:
    value = (value or "").strip().lower()
    if kind == Suppression.Kind.PHONE:
        return "+" + "".join(ch for ch in value if ch.isdigit())
    return value


def suppressed(*, email: str, phone: str = "") -> list[Suppression]:
    wanted = Q(kind=Suppression.Kind.EMAIL, value_hash=suppression_hash("email", email))
    if phone:
        wanted |= Q(kind=Suppression.Kind.PHONE, value_hash=suppression_hash("phone", phone))
    return list(Suppression.objects.filter(wanted, lifted_at__isnull=True))


def lift(entries: list[Suppression]) -> None:
    """Fresh consent: the person may be captured again."""
    Suppression.objects.filter(pk__in=[e.pk for e in entries], lifted_at__isnull=True).update(lifted_at=timezone.now())


# --- export -----------------------------------------------------------------------------------------------


def collect(lead: Lead) -> dict:
    """Everything held about the person, per registry table (personal fields and their context)."""
    data = {}
    for table in REGISTRY:
        names = [n for n in (*table.context, *table.fields) if n != "id"]
        data[table.label] = [
            {"id": row["pk"], **{n: row[n] for n in names}} for row in _rows(table, lead).values("pk", *names)
        ]
    data["consent_status"] = consent.statuses(lead.pk)
    return data


def export(*, lead_id: int, by=None, via: str = "page") -> dict:
    """The export of one person (GDPR Art. 15 and 20), logged."""
    with transaction.atomic():
        lead = Lead.objects.get(pk=lead_id)
        PrivacyRequest.objects.create(lead=lead, kind=PrivacyRequest.Kind.EXPORT, actor=_actor(by), via=via)
        return {"lead_id": lead.pk, "exported_at": timezone.now(), "data": collect(lead)}


def as_json(document: dict) -> str:
    return json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


def as_csv(document: dict) -> str:
    """One row per value: table, row id, field, value (nested values as JSON)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["table", "row", "field", "value"])
    for table, rows in document["data"].items():
        if isinstance(rows, dict):
            for name, value in rows.items():
                writer.writerow([table, "", name, value])
            continue
        for row in rows:
            for name, value in row.items():
                if name == "id":
                    continue
                text = json.dumps(value, cls=DjangoJSONEncoder) if isinstance(value, dict | list) else value
                writer.writerow([table, row["id"], name, "" if text is None else text])
    return out.getvalue()


def export_link_token(lead_id: int) -> str:
    """A signed link for the person's own export, valid EXPORT_LINK_DAYS days."""
    return signing.dumps({"l": lead_id}, salt=EXPORT_SALT, compress=True)


def lead_of_export_token(token: str) -> Lead | None:
    try:
        lead_id = signing.loads(token, salt=EXPORT_SALT, max_age=EXPORT_LINK_DAYS * 86400)["l"]
    except (signing.BadSignature, KeyError, TypeError):
        return None
    return Lead.objects.filter(pk=lead_id, erased_at__isnull=True).first()


# --- erasure and objection --------------------------------------------------------------------------------


def erase(*, lead_id: int, by=None, reason: str, via: str = "page", kind: str = PrivacyRequest.Kind.ERASE) -> Lead:
    """Anonymise the person everywhere in the registry (GDPR Art. 17), suppress their e-mail and phone, log it."""
    now = timezone.now()
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead_id)
        if lead.erased_at:
            raise Conflict(_("This lead was already erased."))
        for kind_, value in ((Suppression.Kind.EMAIL, lead.email), (Suppression.Kind.PHONE, lead.phone)):
            if value:
                Suppression.objects.get_or_create(
                    kind=kind_,
                    value_hash=suppression_hash(kind_, value),
                    lifted_at=None,
                    defaults={"reason": reason[:300], "created_at": now},
                )
        consent.withdraw(
            lead=lead, purposes=consent.ALL_PURPOSES, method=ConsentEvent.Method.SYSTEM, by=by, note=_("Erasure.")
        )
        _anonymise(lead, now)
        PrivacyRequest.objects.create(lead=lead, kind=kind, actor=_actor(by), via=via, reason=reason)
    return Lead.objects.get(pk=lead_id)


def _anonymise(lead: Lead, now) -> None:
    blank = {name: "" for name in REGISTRY[0].fields}
    blank.update(email=f"{ERASED}-{lead.pk}@{ERASED}.invalid", email_normalized=f"{ERASED}-{lead.pk}@{ERASED}.invalid")
    Lead.objects.filter(pk=lead.pk).update(**blank, erased_at=now, updated_at=now)
    for activity in Activity.objects.filter(lead=lead).only("pk", "data"):
        kept = {k: v for k, v in (activity.data or {}).items() if k in ACTIVITY_DATA_KEPT}
        Activity.objects.filter(pk=activity.pk).update(url="", note="", data=kept)
    Submission.objects.filter(lead=lead).update(
        payload={}, errors={}, ip_address=None, user_agent="", payload_hash=ERASED
    )
    Consent.objects.filter(lead=lead).update(ip_address=None, user_agent="")
    events = ConsentEvent.objects.filter(lead=lead)
    kept_until = phone_evidence_kept_until(lead.pk)
    if kept_until is not None and kept_until > now:
        _keep_phone_evidence(lead, kept_until)
        events = events.exclude(purpose=ConsentPurpose.SALES_PHONE)
    events.update(ip_address=None, user_agent="", page_url="", evidence_reference="")
    OptInRequest.objects.filter(lead=lead).update(token_hash="", reminder_token_hash="", purged_at=now)
    Notification.objects.filter(lead=lead).update(message=_("Lead #%(id)s (erased)") % {"id": lead.pk})
    for visitor in Visitor.objects.filter(lead=lead).only("pk"):
        Visitor.objects.filter(pk=visitor.pk).update(anonymous_id=f"{ERASED}-{visitor.pk}")
        Activity.objects.filter(visitor=visitor, lead__isnull=True).update(url="", note="", data={})
    _rows(REGISTRY[-1], lead).update(object_repr=_("Lead #%(id)s (erased)") % {"id": lead.pk}, change_message="")
    # The stage history stays; free-text reasons may name the person, so they go too, and so do the
    # qualification answers copied into `qualify` rows and the lead snapshots kept by merges (which
    # therefore cannot be undone after an erasure).
    LeadTransition.objects.filter(lead=lead).exclude(reason="").update(reason=ERASED)
    LeadTransition.objects.filter(lead=lead, name__in=["qualify", "merge", "unmerge"]).update(data={"erased": True})


def object_to_marketing(*, lead_id: int, by=None, reason: str = "", via: str = "page") -> list[str]:
    """Objection to direct marketing (GDPR Art. 21): every marketing purpose withdrawn at once, logged."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead_id)
        method = ConsentEvent.Method.API if via == "api" else ConsentEvent.Method.MANUAL
        done = consent.withdraw(
            lead=lead, purposes=consent.ALL_PURPOSES, method=method, by=by, note=_("Objection to direct marketing.")
        )
        PrivacyRequest.objects.create(
            lead=lead, kind=PrivacyRequest.Kind.OBJECT, actor=_actor(by), via=via, reason=reason
        )
    return done


def _actor(by):
    return by if by is not None and by.is_authenticated else None


# --- retention --------------------------------------------------------------------------------------------


def retention_cutoffs(now=None) -> dict[str, object]:
    """Per stage: leads whose last activity is before this moment have expired (stages set to 0 never do)."""
    now = now or timezone.now()
    return {
        stage: now - timezone.timedelta(days=months * 30)
        for stage, months in settings.RETENTION_MONTHS.items()
        if months
    }


def expired_leads(now=None):
    wanted = Q(pk__in=[])
    for stage, cutoff in retention_cutoffs(now).items():
        wanted |= Q(stage=stage, last_touch_at__lt=cutoff)
    return Lead.objects.filter(wanted, erased_at__isnull=True)


def apply_retention(now=None, limit: int = 1000) -> dict:
    """Nightly: anonymise expired leads; drop IP address and user agent of old submissions."""
    now = now or timezone.now()
    erased = 0
    for lead_id in expired_leads(now).values_list("pk", flat=True)[:limit]:
        try:
            erase(
                lead_id=lead_id, reason=_("Retention period expired."), via="system", kind=PrivacyRequest.Kind.RETENTION
            )
        except Conflict:
            continue
        erased += 1
    ip_cutoff = now - timezone.timedelta(days=settings.RETENTION_IP_DAYS)
    cleared = (
        Submission.objects.filter(received_at__lt=ip_cutoff)
        .filter(~Q(ip_address=None) | ~Q(user_agent=""))
        .update(ip_address=None, user_agent="")
    )
    return {"erased": erased, "ip_cleared": cleared, "phone_evidence_purged": purge_phone_evidence(now)}


# --- phone consent evidence (UWG § 7a) ----------------------------------------------------------------------

PHONE_EVIDENCE_YEARS = 5


def _add_years(moment, years: int):
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def phone_evidence_kept_until(lead_id: int):
    """Until when the phone consent evidence of a lead must be kept: 5 years after the consent was given or the
    last call made at or after it, whichever is later (UWG § 7a: "ab Erteilung sowie nach jeder Verwendung").
    None when no phone consent was ever given (system events do not count)."""
    given = ConsentEvent.objects.filter(
        lead_id=lead_id, purpose=ConsentPurpose.SALES_PHONE, kind=ConsentEvent.Kind.GIVEN
    ).exclude(method=ConsentEvent.Method.SYSTEM)
    times = given.aggregate(first=Min("at"), last=Max("at"))
    if times["first"] is None:
        return None
    last_call = Activity.objects.filter(
        lead_id=lead_id, kind=ActivityKind.CALL, occurred_at__gte=times["first"]
    ).aggregate(last=Max("occurred_at"))["last"]
    anchor = max(times["last"], last_call) if last_call else times["last"]
    return _add_years(anchor, PHONE_EVIDENCE_YEARS)


def _redact(text: str, lead: Lead) -> str:
    """Evidence references are ids and note numbers; should one name the person anyway, the name goes."""
    values = [lead.email, lead.first_name, lead.last_name, lead.phone]
    digits = "".join(ch for ch in lead.phone or "" if ch.isdigit())
    values += [digits, digits[2:] if len(digits) > 6 else ""]
    for value in sorted({v.strip() for v in values if v and len(v.strip()) >= 3}, key=len, reverse=True):
        text = re.sub(re.escape(value), "[erased]", text, flags=re.IGNORECASE)
    return text


def _keep_phone_evidence(lead: Lead, kept_until) -> None:
    """On erasure: the phone consent events keep their proof; they are tied to the person only by the keyed
    hashes of the normalised phone and e-mail (compare with `suppression_hash`), not by clear values."""
    hashes = []
    if lead.phone:
        hashes.append(f"phone {suppression_hash(Suppression.Kind.PHONE, lead.phone)}")
    if lead.email:
        hashes.append(f"e-mail {suppression_hash(Suppression.Kind.EMAIL, lead.email)}")
    note = f"UWG 7a kept until {kept_until:%Y-%m-%d}; HMAC " + "; ".join(hashes)
    for event in ConsentEvent.objects.filter(lead=lead, purpose=ConsentPurpose.SALES_PHONE).only(
        "pk", "evidence_reference"
    ):
        ConsentEvent.objects.filter(pk=event.pk).update(
            ip_address=None,
            user_agent="",
            page_url="",
            evidence_reference=_redact(event.evidence_reference, lead)[:300],
            note=note[:300],
        )


def purge_phone_evidence(now=None) -> int:
    """Nightly: delete the phone consent events of erased leads whose 5 years have passed. Returns the leads."""
    now = now or timezone.now()
    done = 0
    lead_ids = (
        ConsentEvent.objects.filter(purpose=ConsentPurpose.SALES_PHONE, lead__erased_at__isnull=False)
        .order_by()
        .values_list("lead_id", flat=True)
        .distinct()
    )
    for lead_id in list(lead_ids):
        kept_until = phone_evidence_kept_until(lead_id)
        if kept_until is not None and kept_until > now:
            continue
        ConsentEvent.objects.filter(lead_id=lead_id, purpose=ConsentPurpose.SALES_PHONE).delete()
        done += 1
    return done


# --- the person's export link by e-mail ---------------------------------------------------------------------


def request_export_link(*, lead_id: int, by) -> PrivacyRequest:
    """Staff send the person a signed link to their own export (valid EXPORT_LINK_DAYS days). Logged now; the
    mail goes on commit through the worker."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead_id)
        if lead.erased_at:
            raise Refused(_("This lead was erased; there is nothing to export."))
        if not lead.email:
            raise Refused(_("This lead has no e-mail address."))
        logged = PrivacyRequest.objects.create(
            lead=lead,
            kind=PrivacyRequest.Kind.EXPORT,
            actor=_actor(by),
            via="email",
            reason=_("Export link e-mailed to the person (valid %(days)s days).") % {"days": EXPORT_LINK_DAYS},
        )
        transaction.on_commit(lambda: _enqueue("leads.privacy.send_export_link", lead.pk))
    return logged


def _enqueue(func: str, *args) -> None:
    from django_q.tasks import async_task

    async_task(func, *args)


def send_export_link(lead_id: int) -> bool:
    """The worker task: the mail holds only the links to the export, no advertising."""
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string
    from django.urls import reverse

    lead = Lead.objects.filter(pk=lead_id, erased_at__isnull=True).exclude(email="").first()
    if lead is None:
        return False
    token = export_link_token(lead.pk)
    context = {
        "json_url": settings.SITE_URL + reverse("leads:my_export", args=[token, "json"]),
        "csv_url": settings.SITE_URL + reverse("leads:my_export", args=[token, "csv"]),
        "days": EXPORT_LINK_DAYS,
        "expires_at": timezone.now() + timezone.timedelta(days=EXPORT_LINK_DAYS),
    }
    EmailMultiAlternatives(
        subject=_("Your personal data held by us"),
        body=render_to_string("privacy/email/export_link.txt", context),
        to=[lead.email],
        headers=consent.unsubscribe_headers(lead.pk),
    ).send()
    return True


def may_handle_requests(user) -> bool:
    """Export, erasure and objection (pages and API): marketing and admins. Managers and SDRs see the consent
    proof but do not answer data-subject requests."""
    from leads import roles

    return roles.is_marketing(user)
