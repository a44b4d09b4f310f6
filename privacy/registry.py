"""The registry of personal data: the one place that names every table and field holding it.

Export reads it, erasure anonymises it, docs/privacy.md is generated from it and the dump test proves it
complete: a field added to a model that holds personal data belongs here (`register` for apps above).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from leads.fields import EDITABLE_FIELDS
from leads.models import Activity, Lead, LeadFieldEvent, LeadPrediction, Notification, Submission, Visitor
from privacy.models import ConsentEvent, OptInRequest

ERASED = "erased"
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
    # A table without a path to the lead (a short-lived upload): `find(lead)` gives the rows naming the person;
    # they are deleted on erasure and, holding other people's data too, not exported.
    find: Callable | None = field(default=None, compare=False)

    # How an app above privacy anonymises its rows of the person: erase(lead, now), inside the erasure's
    # transaction. The tables listed here in privacy are anonymised by `privacy.rights` itself.
    erase: Callable | None = field(default=None, compare=False)

    @property
    def exported(self) -> bool:
        return self.find is None

    @property
    def label(self) -> str:
        return self.model._meta.label


REGISTRY: list[Table] = [
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
            "street",
            "postcode",
            "city",
            "region",
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
        LeadPrediction,
        "lead",
        ("probability",),
        ("model_version", "stage", "stage_entered_at", "predicted_at"),
        category="Predicted conversion probability",
        purpose="Prioritising and routing leads (predictive conversion score)",
        retention="With the lead; deleted on erasure",
    ),
    Table(
        LeadFieldEvent,
        "pgh_obj",
        EDITABLE_FIELDS,
        ("pgh_created_at", "pgh_label"),
        category="Field history: the contact and company fields as they were before each change, and who changed them",
        purpose="Data quality: who corrected what and when",
        retention="With the lead; deleted on erasure",
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
]
# Not in the registry on purpose: LeadTransition (stage history kept for the figures; its free-text reasons,
# qualification answers and merge snapshots are scrubbed by `erase`),
# django-q2 task rows (tasks take ids only), Suppression (one-way hashes, kept to honour the erasure).


def rows_of(table: Table, lead: Lead):
    if table.find is not None:
        return table.find(lead)
    if table.model is LogEntry:
        return LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Lead), object_id=str(lead.pk))
    return table.model.objects.filter(**{table.lookup: lead.pk})




def register(table: Table) -> None:
    """Apps above privacy add their tables of personal data (from their AppConfig.ready)."""
    if all(existing.model is not table.model for existing in REGISTRY):
        REGISTRY.append(table)


def table_of(model) -> Table:
    return next(table for table in REGISTRY if table.model is model)
