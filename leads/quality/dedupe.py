"""Clean data: duplicate candidates beyond the exact e-mail, merging and unmerging leads, data health.

Candidates come from a fixed number of set-based queries (grouping by phone and by company + name) and
from rapidfuzz within small blocks (the leads of one company domain or company name), never from a
comparison of every lead with every other.

A merge is one transaction that locks both leads in id order, moves every row that points at the merged
lead to the surviving one (keeping their timestamps), fills the survivor's empty fields, writes a
"merge" `LeadTransition` on the survivor whose `data` holds a complete snapshot of the merged lead and
the ids of every moved row, and then deletes the merged lead. `unmerge` reads that row and undoes it.
See docs/data-quality.md.
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field

from django.core import serializers
from django.db import models, transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Lower, NullIf, StrIndex, Substr, Trim
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rapidfuzz import fuzz, utils

from core.errors import NotFound, NotPermitted, Refused
from core.vocabulary import WORKED_STAGES, ConsentStatus, EventType, Outcome
from leads import roles, scores
from leads.fields import FILL_EMPTY, is_empty
from leads.models import Activity, Lead, LeadScore, LeadTransition, SlaClock
from leads.validation import FREE_MAIL_DOMAINS
from outbox import events as outbox_events

# --- duplicate candidates -------------------------------------------------------------------------------

SIMILAR_NAME_THRESHOLD = 90  # rapidfuzz token_sort_ratio, 0-100
BLOCK_LIMIT = 200  # larger groups (a switchboard number, a "n/a" company) are bad data, not duplicates
CANDIDATE_LIMIT = 500

SAME_PHONE = "same_phone"
SAME_NAME_AT_COMPANY = "same_name_at_company"
SIMILAR_NAME_AT_COMPANY = "similar_name_at_company"
REASON_LABELS = {
    SAME_PHONE: gettext_lazy("Same phone number"),
    SAME_NAME_AT_COMPANY: gettext_lazy("Same name at the same company"),
    SIMILAR_NAME_AT_COMPANY: gettext_lazy("Near-identical name at the same company"),
}


@dataclass(frozen=True)
class Candidate:
    """Two leads that may be one person. `first_id < second_id`; `score` 0-100 (100: exact match)."""

    first_id: int
    second_id: int
    score: int
    reasons: tuple[str, ...] = field(default=())

    @property
    def reason_labels(self) -> list[str]:
        return [str(REASON_LABELS[reason]) for reason in self.reasons]


def _company_key():
    """The company domain, else the trimmed lower-case company name; NULL when neither is known."""
    return Coalesce(NullIf(Lower(Trim("company_domain")), Value("")), NullIf(Lower(Trim("company")), Value("")))


def normalized_name(first_name: str, last_name: str) -> str:
    """Lower case, punctuation as spaces, single spaces: "Erika  Müller-Weiß" -> "erika müller weiß"."""
    return " ".join(utils.default_process(f"{first_name} {last_name}").split())


def _pairs(ids: list[int]):
    ids = sorted(ids)
    for i, first in enumerate(ids):
        for second in ids[i + 1 :]:
            yield first, second


def candidates(*, limit: int = CANDIDATE_LIMIT, threshold: int = SIMILAR_NAME_THRESHOLD) -> list[Candidate]:
    """Duplicate candidates, best first (score, then the older pair), at most `limit`. Two queries."""
    found: dict[tuple[int, int], dict] = {}

    def add(pair, reason, score):
        entry = found.setdefault(pair, {"score": 0, "reasons": []})
        entry["score"] = max(entry["score"], score)
        if reason not in entry["reasons"]:
            entry["reasons"].append(reason)

    phones = (
        Lead.objects.exclude(phone="").values("phone")
        .annotate(n=Count("id")).filter(n__gt=1, n__lte=BLOCK_LIMIT)
        .values_list("phone", flat=True)
    )
    by_phone: dict[str, list[int]] = defaultdict(list)
    for phone, pk in Lead.objects.filter(phone__in=phones).values_list("phone", "id"):
        by_phone[phone].append(pk)
    for ids in by_phone.values():
        for pair in _pairs(ids):
            add(pair, SAME_PHONE, 100)

    # One block per company (domain or name) with 2..BLOCK_LIMIT named leads; exact and near names in it.
    named = Lead.objects.annotate(company_key=_company_key()).filter(company_key__isnull=False).exclude(
        first_name="", last_name=""
    )
    blocks = named.values("company_key").annotate(n=Count("id")).filter(n__gt=1, n__lte=BLOCK_LIMIT)
    rows = named.filter(company_key__in=blocks.values("company_key")).values_list(
        "company_key", "id", "first_name", "last_name"
    )
    by_company: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for key, pk, first_name, last_name in rows:
        by_company[key].append((pk, normalized_name(first_name, last_name)))
    for members in by_company.values():
        members.sort()
        for i, (first, first_name) in enumerate(members):
            for second, second_name in members[i + 1 :]:
                if first_name == second_name:
                    add((first, second), SAME_NAME_AT_COMPANY, 100)
                    continue
                score = fuzz.token_sort_ratio(first_name, second_name, score_cutoff=threshold)
                if score:
                    add((first, second), SIMILAR_NAME_AT_COMPANY, int(score))

    result = [Candidate(a, b, entry["score"], tuple(entry["reasons"])) for (a, b), entry in found.items()]
    result.sort(key=lambda c: (-c.score, -len(c.reasons), c.first_id, c.second_id))
    return result[:limit]


# --- merging --------------------------------------------------------------------------------------------

# Fields a person chooses between when both leads have a different value (the survivor's by default).
CHOOSABLE_FIELDS = (
    "email", "first_name", "last_name", "phone", "job_title", "company", "company_domain", "company_size",
    "industry", "country", "website",
)
# Fields the survivor takes from the merged lead when its own are empty: the fill-only-empty fields a
# later submission fills too (`leads.fields`), and the merged lead's domain and origin links.
FILL_FIELDS = (*FILL_EMPTY, "company_domain", "account_id", "campaign_id", "capture_form_id")


def can_merge(user) -> bool:
    """Marketing, managers and admins."""
    return roles.is_staff_role(user)


def _snapshot(lead: Lead) -> dict:
    """Every field of the lead as JSON (the serialiser's format, so it deserialises back losslessly)."""
    return json.loads(serializers.serialize("json", [lead]))[0]


def _lead_relations():
    """Every foreign key to Lead (activities, transitions, consents, submissions, visitors, notifications,
    SLA clocks, and whatever is added later), except the score record: it describes one lead's current score,
    goes with the merged lead, and both leads are rescored after a merge or an undo."""
    yield from (r for r in Lead._meta.related_objects if r.related_model is not LeadScore)


def _moved_label(model) -> str:
    return model._meta.label_lower


@transaction.atomic
def merge(*, survivor_id: int, merged_id: int, by, keep_from_merged=(), reason: str = "") -> LeadTransition:
    """Merge lead `merged_id` into lead `survivor_id`. `keep_from_merged` names the fields in
    `CHOOSABLE_FIELDS` whose value the merged lead gives where both differ. Returns the "merge" row."""
    if not can_merge(by):
        raise NotPermitted(_("Only marketing, managers and admins may merge leads."))
    try:
        survivor_id, merged_id = int(survivor_id), int(merged_id)
    except (TypeError, ValueError):
        raise NotFound(_("No such lead."))
    if survivor_id == merged_id:
        raise Refused(_("A lead cannot be merged with itself."))
    unknown = sorted(set(keep_from_merged) - set(CHOOSABLE_FIELDS))
    if unknown:
        raise Refused(_("These fields cannot be chosen: %(fields)s.") % {"fields": ", ".join(unknown)})
    locked = {lead.pk: lead for lead in Lead.objects.select_for_update().filter(pk__in=[survivor_id, merged_id])
              .order_by("pk")}
    if len(locked) != 2:
        raise NotFound(_("No such lead."))
    survivor, merged = locked[survivor_id], locked[merged_id]
    if merged.owner_id is not None and merged.stage in WORKED_STAGES and merged.owner_id != survivor.owner_id:
        raise Refused(
            _("%(lead)s is open work of %(owner)s: keep it as the surviving lead, or reassign it first.")
            % {"lead": merged.display_name, "owner": merged.owner.get_username()}
        )
    for relation in _lead_relations():
        if not relation.one_to_many:
            accessor = relation.get_accessor_name()
            if relation.related_model.objects.filter(**{relation.field.name: merged}).exists():
                raise Refused(_("The lead has linked %(rows)s that cannot be moved.") % {"rows": accessor})

    now = timezone.now()
    snapshot = _snapshot(merged)
    changes: dict[str, list] = {}  # field -> [survivor's value before, value after] (JSON)

    def change(name, value):
        changes[name] = [_snapshot_value(survivor, name), _json_value(value)]
        setattr(survivor, name, value)

    for name in CHOOSABLE_FIELDS:
        ours, theirs = getattr(survivor, name), getattr(merged, name)
        if name in keep_from_merged and not is_empty(theirs) and theirs != ours:
            change(name, theirs)
    for name in FILL_FIELDS:
        if name not in changes and is_empty(getattr(survivor, name)) and not is_empty(getattr(merged, name)):
            change(name, getattr(merged, name))
    if "email" in changes:
        changes["email_normalized"] = [survivor.email_normalized, merged.email_normalized]
        survivor.email_normalized = merged.email_normalized
    if merged.first_touch_at < survivor.first_touch_at:
        change("first_touch_at", merged.first_touch_at)
    if merged.last_touch_at > survivor.last_touch_at:
        change("last_touch_at", merged.last_touch_at)

    # One running clock per lead and policy: the merged lead's clock for a policy the survivor already
    # runs is stopped (and restarted by an unmerge).
    running = set(SlaClock.objects.filter(lead=survivor, stopped_at__isnull=True).values_list("policy_id", flat=True))
    stopped = {
        str(clock.pk): clock.next_step_at.isoformat() if clock.next_step_at else None
        for clock in SlaClock.objects.filter(lead=merged, stopped_at__isnull=True, policy_id__in=running)
    }
    if stopped:
        SlaClock.objects.filter(pk__in=[int(pk) for pk in stopped]).update(
            stopped_at=now, stop_reason="merge", next_step_at=None
        )

    moved: dict[str, list[int]] = {}
    for relation in _lead_relations():
        if not relation.one_to_many:
            continue
        rows = relation.related_model.objects.filter(**{relation.field.name: merged})
        ids = sorted(rows.values_list("pk", flat=True))
        if ids:
            relation.related_model.objects.filter(pk__in=ids).update(**{relation.field.name: survivor})
            moved[_moved_label(relation.related_model)] = ids

    entry = LeadTransition.objects.create(
        lead=survivor, name="merge", source=survivor.stage, target=survivor.stage, actor=by, at=now,
        reason=reason or _("Merged %(lead)s (%(email)s).") % {"lead": merged.display_name, "email": merged.email},
        data={
            "merged_lead": snapshot, "moved": moved, "survivor_changes": changes,
            "stopped_sla_clocks": stopped, "kept_from_merged": sorted(keep_from_merged),
        },
    )
    outbox_events.record(
        EventType.LEAD_MERGED, lead_id=survivor.pk, actor_id=by.pk if by else None,
        payload={"merged_lead": merged.pk, "survivor": survivor.pk},
    )
    merged.delete()  # before the survivor's save: it may take over the merged lead's e-mail address
    if changes:
        survivor.save(update_fields=[*changes, "updated_at"])
    scores.rescore(survivor)  # it has the merged lead's activities and fields now
    return entry


def _json_value(value):
    return json.loads(json.dumps(value, cls=serializers.json.DjangoJSONEncoder))


def _snapshot_value(lead: Lead, name: str):
    return _json_value(getattr(lead, name))


def _python_value(name: str, value):
    """A JSON value back into the field's Python type."""
    if value is None:
        return None
    return Lead._meta.get_field(name.removesuffix("_id") if name.endswith("_id") else name).to_python(value)


def merged_lead_email(entry: LeadTransition) -> str:
    """The e-mail of the lead a "merge" row merged away (it stays findable in the audit)."""
    return entry.data.get("merged_lead", {}).get("fields", {}).get("email", "")


def recent_merges(*, limit: int = 20):
    """The latest merges with whether each was undone (two queries)."""
    undone = LeadTransition.objects.filter(name="unmerge").annotate(
        merge_id=Cast(KT("data__merge_transition_id"), IntegerField())
    ).filter(merge_id=OuterRef("pk"))
    return (
        LeadTransition.objects.filter(name="merge").select_related("lead", "actor")
        .annotate(is_undone=Exists(undone)).order_by("-at", "-id")[:limit]
    )


@transaction.atomic
def unmerge(*, transition_id: int, by) -> Lead:
    """Undo a merge: recreate the merged lead from the snapshot (same id), move back exactly the rows the
    merge moved (those still on the survivor), restore the survivor's changed fields where nobody edited
    them since, restart stopped SLA clocks, and write an "unmerge" row on the survivor."""
    if not can_merge(by):
        raise NotPermitted(_("Only marketing, managers and admins may undo merges."))
    try:
        entry = LeadTransition.objects.get(pk=int(transition_id), name="merge")
    except (LeadTransition.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("No such merge."))
    survivor = Lead.objects.select_for_update().get(pk=entry.lead_id)
    # Lock the merge row too, so two undos of the same merge serialise on it.
    entry = LeadTransition.objects.select_for_update().get(pk=entry.pk)
    if LeadTransition.objects.filter(name="unmerge", data__merge_transition_id=entry.pk).exists():
        raise Refused(_("This merge has already been undone."))
    snapshot = entry.data["merged_lead"]
    if Lead.objects.filter(pk=snapshot["pk"]).exists():
        raise Refused(_("A lead with the merged lead's id exists already."))

    restored_fields, kept_fields = [], []
    for name, (before, after) in entry.data.get("survivor_changes", {}).items():
        if _snapshot_value(survivor, name) == after:
            setattr(survivor, name, _python_value(name, before))
            restored_fields.append(name)
        else:
            kept_fields.append(name)  # edited since the merge: left as it is
    if restored_fields:
        survivor.save(update_fields=[*restored_fields, "updated_at"])
    email = snapshot["fields"]["email_normalized"]
    if Lead.objects.filter(email_normalized=email).exists():
        raise Refused(_("Another lead now has the e-mail address %(email)s.") % {"email": email})

    for obj in serializers.deserialize("json", json.dumps([snapshot])):
        obj.save()
    restored = Lead.objects.get(pk=snapshot["pk"])

    by_label = {_moved_label(r.related_model): r for r in _lead_relations() if r.one_to_many}
    # Merges recorded before a model moved to another app name it by its old label, which its table keeps.
    by_label |= {
        r.related_model._meta.db_table.replace("_", ".", 1): r for r in _lead_relations()
        if r.one_to_many and r.related_model._meta.db_table.replace("_", ".", 1) not in by_label
    }
    moved_back: dict[str, list[int]] = {}
    for label, ids in entry.data.get("moved", {}).items():
        relation = by_label.get(label)
        if relation is None:
            continue
        rows = relation.related_model.objects.filter(pk__in=ids, **{relation.field.name: survivor})
        back = sorted(rows.values_list("pk", flat=True))
        relation.related_model.objects.filter(pk__in=back).update(**{relation.field.name: restored})
        moved_back[label] = back
    for pk, next_step_at in entry.data.get("stopped_sla_clocks", {}).items():
        SlaClock.objects.filter(pk=int(pk), lead=restored, stop_reason="merge").update(
            stopped_at=None, stop_reason="", next_step_at=next_step_at
        )
    LeadTransition.objects.create(
        lead=survivor, name="unmerge", source=survivor.stage, target=survivor.stage, actor=by,
        reason=_("Undid the merge of %(lead)s.") % {"lead": restored.display_name},
        data={
            "merge_transition_id": entry.pk, "restored_lead_id": restored.pk, "moved_back": moved_back,
            "restored_fields": restored_fields, "kept_fields": kept_fields,
        },
    )
    scores.rescore(survivor)
    scores.rescore(restored)
    return restored


# --- data health ----------------------------------------------------------------------------------------

E164 = r"^\+[1-9][0-9]{6,14}$"
HEALTH_ISSUES = {
    "missing_phone": gettext_lazy("Missing phone"),
    "invalid_phone": gettext_lazy("Phone not in E.164 format"),
    "bounced_email": gettext_lazy("Bounced e-mail"),
    "missing_company": gettext_lazy("Missing company"),
    "free_mail": gettext_lazy("Free-mail address"),
    "no_consent": gettext_lazy("No consent"),
}


def _with_health_facts(leads: models.QuerySet) -> models.QuerySet:
    at = StrIndex("email_normalized", Value("@"))
    return leads.annotate(
        email_domain=Substr("email_normalized", at + 1),
        has_bounced=Exists(Activity.objects.filter(lead=OuterRef("pk"), outcome=Outcome.BOUNCED)),
    )


def _health_condition(issue: str) -> Q:
    return {
        "missing_phone": Q(phone=""),
        "invalid_phone": ~Q(phone="") & ~Q(phone__regex=E164),
        "bounced_email": Q(has_bounced=True),
        "missing_company": Q(company=""),
        "free_mail": Q(email_domain__in=sorted(FREE_MAIL_DOMAINS)),
        "no_consent": Q(consent_status=ConsentStatus.NONE),
    }[issue]


def health_counts(leads: models.QuerySet) -> dict[str, int]:
    """How many of these leads have each issue, in one query."""
    return _with_health_facts(leads).aggregate(
        **{issue: Count("id", filter=_health_condition(issue)) for issue in HEALTH_ISSUES}
    )


def leads_with_issue(leads: models.QuerySet, issue: str) -> models.QuerySet:
    """The leads with one issue, newest first; KeyError for an unknown issue."""
    condition = _health_condition(issue)
    return _with_health_facts(leads).filter(condition).order_by("-created_at", "-id")
