"""Writes on leads other than transitions and owner changes: logging activities, and what a new activity sets off
(rescoring, the MQL hand-off, hot-intent alerts)."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core import dates
from core.errors import Invalid, NotPermitted
from core.parsers import bad_text
from core.vocabulary import CONTACT_KINDS, ActivityKind, EventType, NotificationKind, Outcome, Role, SalesOutcome, Stage
from definitions import rules
from leads import clocks, lifecycle, roles, scores
from leads.models import Activity, Lead
from leads.sla import recycling
from leads.validation import clean_choice, clean_datetime, clean_url
from outbox import events as outbox_events
from scoring.policy import ActivityFact

LOGGABLE_KINDS = set(ActivityKind)


def parse_activity(raw: dict) -> dict:
    """Validate an activity logged by staff: kind, outcome, note, occurred_at, next_step_on, url."""
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, dict):
        raise Invalid({"non_field_errors": [_("Send a JSON object.")]})
    allowed = {"kind", "outcome", "note", "occurred_at", "next_step_on", "url"}
    for key in sorted(set(raw) - allowed):
        errors[key] = [_("Unknown field.")]
    kind = clean_choice(
        raw.get("kind"), "kind", errors, allowed=ActivityKind.values,
        message=_("Choose one of: %(kinds)s.") % {"kinds": ", ".join(ActivityKind.values)},
    )
    outcome = raw.get("outcome")
    outcome = "" if outcome is None or outcome == "" else clean_choice(
        outcome, "outcome", errors, allowed=Outcome.values,
        message=_("Choose one of: %(outcomes)s.") % {"outcomes": ", ".join(Outcome.values)},
    )
    note = raw.get("note")
    note = "" if note is None else note
    if not isinstance(note, str) or len(note) > 5000 or bad_text(note):
        errors.setdefault("note", []).append(bad_text(note) if isinstance(note, str) and bad_text(note) else _(
            "Enter text of at most 5000 characters."
        ))
        note = ""
    now = timezone.now()
    occurred_at = clean_datetime(raw.get("occurred_at"), "occurred_at", errors, now=now)
    next_step_on = None
    if raw.get("next_step_on") is not None and raw.get("next_step_on") != "":
        next_step_on = dates.parse_day(raw["next_step_on"])
        if next_step_on is None:
            errors.setdefault("next_step_on", []).append(_("Enter a date as YYYY-MM-DD."))
        elif not dates.in_window(next_step_on):
            errors.setdefault("next_step_on", []).append(dates.out_of_window())
            next_step_on = None
    url = clean_url(raw.get("url"), "url", errors)
    if errors:
        raise Invalid(errors)
    return {
        "kind": kind, "outcome": outcome, "note": note.strip(), "occurred_at": occurred_at,
        "next_step_on": next_step_on, "url": url,
    }


def may_log_activity(user, lead: Lead) -> bool:
    """Staff roles on any lead; an SDR on own leads; an account executive on the leads of their open
    opportunities (the SDR keeps the lead; the AE logs the first meeting). `opportunities` is the sales app's
    relation to the lead, read through the ORM (no import of the layer above)."""
    if roles.is_staff_role(user) or (roles.is_sdr(user) and lead.owner_id == user.pk):
        return True
    return roles.is_sdr(user) and Lead.objects.filter(
        pk=lead.pk, opportunities__owner=user, opportunities__outcome=SalesOutcome.OPEN
    ).exists()


@transaction.atomic
def log_activity(*, lead_id: int, by, raw: dict) -> Activity:
    lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
    if lead is None:
        raise lifecycle.LeadNotFound(_("No such lead."))
    if not may_log_activity(by, lead):
        raise NotPermitted(_("You may not log activities on this lead."))
    values = parse_activity(raw)
    activity = Activity.objects.create(lead=lead, created_by=by, **values)
    outbox_events.record(
        EventType.ACTIVITY_LOGGED, lead_id=lead.pk, actor_id=by.pk if by else None,
        payload={"activity": activity.pk, "kind": activity.kind},
    )
    if values["kind"] in CONTACT_KINDS:
        Lead.objects.filter(pk=lead.pk).update(contact_attempts=F("contact_attempts") + 1, updated_at=timezone.now())
    Lead.objects.filter(pk=lead.pk, last_touch_at__lt=values["occurred_at"]).update(
        last_touch_at=values["occurred_at"], updated_at=timezone.now()
    )
    after_activity(lead_id=lead.pk, activity=activity)  # read again: the updates above changed the row
    now = timezone.now()
    contacted = clocks.on_contact_attempt(lead_id=lead.pk, activity=activity, now=now)
    if contacted is not None:  # last: it may recycle the lead
        recycling.apply_rule(lead=contacted, now=now)
    return activity


def after_activity(
    *, activity: Activity, lead: Lead | None = None, lead_id: int | None = None, only_activity: bool = False,
    stitched: bool = False,
) -> None:
    """A lead got a new activity: rescore now, hand off to sales when it qualifies, alert on hot intent.

    `lead`: the lead as the caller's transaction locked (`select_for_update`) and wrote it, used as it is
    (capture passes it: no re-reading); or `lead_id`, and it is locked and read here. `only_activity`:
    `activity` is the lead's whole activity log (a lead just created), so scoring and the hot-intent checks
    take their facts from it instead of reading the log. `stitched`: the visitor's earlier anonymous
    activity was just linked to the lead (identification), so its history counts for hot intent now, as if
    it had arrived while known (three pricing views in a week make an MQL and alert at once).
    """
    with transaction.atomic(savepoint=False):
        if lead is None:
            lead = Lead.objects.select_for_update(of=("self",)).select_related("owner").get(pk=lead_id)
        spec = scores.active_spec()
        log = [ActivityFact(activity.kind, activity.occurred_at, activity.url)] if only_activity else None
        scores.rescore(lead, spec=spec, activities=log)
        threshold = lifecycle.mql_threshold(spec)
        reopened = lifecycle.try_reopen(lead=lead, activity=activity)  # back from lost or disqualified
        if lead.stage in lifecycle.TRANSITIONS["mark_mql"][0] and (
            lead.score >= threshold
            or activity.kind in rules.hot_intent().kinds
            or activity.kind == ActivityKind.PRICING_VIEW
            or stitched
        ):  # otherwise mark_mql's guard cannot pass: skip its queries (imports of cold lists)
            lifecycle.try_mark_mql(
                lead=lead, locked=True, threshold=threshold,
                hot_intent=True if reopened else _known_hot_intent(lead, activity, log),
            )
        if lead.stage == Stage.CUSTOMER:
            alert_expansion(lead=lead, activity=activity)
        else:
            alert_hot_intent(lead=lead, activity=activity, only_activity=only_activity)
            if stitched:
                _alert_stitched_pricing_views(lead=lead)


def _alert_stitched_pricing_views(*, lead: Lead) -> int:
    """At identification: the stitched history's latest pricing view, when the views up to it make hot
    intent, is alerted as if it had just arrived (once: the alert is keyed by that activity)."""
    latest = lead.activities.filter(kind=ActivityKind.PRICING_VIEW).order_by("-occurred_at", "-id").first()
    return alert_hot_intent(lead=lead, activity=latest) if latest is not None else 0


def _known_hot_intent(lead: Lead, activity: Activity, log: list[ActivityFact] | None) -> bool | None:
    """Whether the lead shows hot intent, when that follows from what is in hand; None: ask the database."""
    if log is not None:
        return lifecycle.has_hot_intent(lead, activities=[(fact.kind, fact.occurred_at) for fact in log])
    if activity.kind in rules.hot_intent().kinds and activity.occurred_at >= lead.stage_entered_at:
        return True  # the query would find this very activity
    return None


def alert_expansion(*, lead: Lead, activity: Activity) -> int:
    """A customer asks for a demo or contact again: an expansion signal for the owner (the managers when it
    has none); the stage stays customer. Once per activity."""
    if activity.kind not in rules.hot_intent().kinds:
        return 0
    if lead.owner_id:
        watchers = [lead.owner]
    else:
        watchers = list(get_user_model().objects.filter(is_active=True, groups__name=Role.MANAGER))
    text = _("%(lead)s, a customer, sent a %(kind)s: a chance to expand the account.") % {
        "lead": lead.display_name, "kind": activity.get_kind_display(),
    }
    for user in watchers:
        lifecycle.notify(
            user=user, lead=lead, kind=NotificationKind.EXPANSION, key=f"expansion:{activity.pk}:{user.pk}",
            message=text,
        )
    return len(watchers)


def alert_hot_intent(*, lead: Lead, activity: Activity, only_activity: bool = False) -> int:
    """A demo or contact request, or repeated pricing views: tell the owner at once (or the managers who
    watch the pool), in the app and by e-mail. Once per activity. `only_activity`: the lead has no other
    activity (nothing to count)."""
    rule = rules.hot_intent()
    if activity.kind not in rule.kinds and activity.kind != ActivityKind.PRICING_VIEW:
        return 0
    if activity.kind == ActivityKind.PRICING_VIEW:
        if only_activity:
            recent = 1
        else:
            recent = lead.activities.filter(
                kind=ActivityKind.PRICING_VIEW,
                occurred_at__gte=activity.occurred_at - timezone.timedelta(days=rule.within_days),
            ).count()
        if recent != rule.pricing_views:  # alert when the view that makes it hot arrives, not on every later one
            return 0
        message = _("%(lead)s looked at the pricing page %(count)s times in %(days)s days.")
    else:
        message = _("%(lead)s sent a %(kind)s.")
    text = message % {"lead": lead.display_name, "count": rule.pricing_views, "days": rule.within_days,
                      "kind": activity.get_kind_display()}
    if lead.owner_id:
        watchers = [lead.owner]
    else:
        watchers = list(get_user_model().objects.filter(is_active=True, groups__name=Role.MANAGER))
    for user in watchers:
        lifecycle.notify(
            user=user, lead=lead, kind=NotificationKind.HOT_INTENT, key=f"hot:{activity.pk}:{user.pk}", message=text
        )
    return len(watchers)


