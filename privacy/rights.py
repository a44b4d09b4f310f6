"""Data subject rights: export, erasure and objection, the person's export link, phone consent evidence.

Erasure anonymises in place: the lead row, its stage history (`LeadTransition`) and its activities stay,
so funnel and velocity figures do not change; what identifies the person is overwritten (every table in
`privacy.registry`).
"""

import io
import json
import re

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.core import signing
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from core import csv
from core.errors import Conflict, Refused
from core.tasks import enqueue_on_commit
from core.vocabulary import ActivityKind, ConsentPurpose, EventType, TransitionName
from leads import roles
from leads.models import (
    Activity,
    Lead,
    LeadFieldEvent,
    LeadPrediction,
    LeadTransition,
    Notification,
    Submission,
    Visitor,
)
from outbox import events as outbox_events
from privacy import consent
from privacy.models import ConsentEvent, OptInRequest, PrivacyRequest, Suppression
from privacy.registry import ACTIVITY_DATA_KEPT, ERASED, REGISTRY, rows_of, table_of
from privacy.suppression import suppression_hash

EXPORT_SALT = "leadwerk.export"
EXPORT_LINK_DAYS = 7


# --- export -----------------------------------------------------------------------------------------------


def collect(lead: Lead) -> dict:
    """Everything held about the person, per registry table (personal fields and their context)."""
    data = {}
    for table in REGISTRY:
        names = [n for n in (*table.context, *table.fields) if n != "id"]
        data[table.label] = [
            {"id": row["pk"], **{n: row[n] for n in names}} for row in rows_of(table, lead).values("pk", *names)
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
    """One row per value: table, row id, field, value (nested values as JSON); formulas neutralised."""
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
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if not isinstance(lead_id, int) or isinstance(lead_id, bool):  # a signed token names a lead by its id
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
        outbox_events.record(EventType.LEAD_ERASED, lead_id=lead.pk, actor_id=by.pk if by else None)  # ids only
    return Lead.objects.get(pk=lead_id)


def _anonymise(lead: Lead, now) -> None:
    blank = {name: "" for name in REGISTRY[0].fields}
    blank.update(email=f"{ERASED}-{lead.pk}@{ERASED}.invalid", email_normalized=f"{ERASED}-{lead.pk}@{ERASED}.invalid")
    Lead.objects.filter(pk=lead.pk).update(**blank, erased_at=now, updated_at=now)
    LeadPrediction.objects.filter(lead=lead).delete()  # a prediction about the person goes with the data
    # The field history holds earlier values (the anonymising update above just wrote the last clear ones):
    # it goes with the data.
    LeadFieldEvent.objects.filter(pgh_obj_id=lead.pk).delete()
    for activity in Activity.objects.filter(lead=lead).only("pk", "data"):
        kept = {k: v for k, v in (activity.data or {}).items() if k in ACTIVITY_DATA_KEPT}
        Activity.objects.filter(pk=activity.pk).update(url="", note="", data=kept)
    Submission.objects.filter(lead=lead).update(
        payload={}, errors={}, ip_address=None, user_agent="", payload_hash=ERASED
    )
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
    rows_of(table_of(LogEntry), lead).update(
        object_repr=_("Lead #%(id)s (erased)") % {"id": lead.pk}, change_message=""
    )
    # The stage history stays; free-text reasons may name the person, so they go too, and so do the
    # qualification answers copied into `qualify` rows and the lead snapshots kept by merges (which
    # therefore cannot be undone after an erasure).
    LeadTransition.objects.filter(lead=lead).exclude(reason="").update(reason=ERASED)
    with_snapshots = [TransitionName.QUALIFY, TransitionName.MERGE, TransitionName.UNMERGE]
    LeadTransition.objects.filter(lead=lead, name__in=with_snapshots).update(data={"erased": True})


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
        enqueue_on_commit("privacy.tasks.send_export_link", lead.pk)
    return logged


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
        "json_url": settings.SITE_URL + reverse("privacy:my_export", args=[token, "json"]),
        "csv_url": settings.SITE_URL + reverse("privacy:my_export", args=[token, "csv"]),
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
    return roles.is_marketing(user)
