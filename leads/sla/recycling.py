"""The recycling rule: a SAL with N contact attempts and no connection within M days goes back to marketing,
recycled by the system through the lifecycle with the reason written out. Applied by
`activities.log_activity` after each logged contact attempt (once its clocks are stopped)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from core.vocabulary import CONTACT_KINDS, Outcome, Stage, TransitionName
from leads import lifecycle
from leads.models import Activity, Lead
from routing import sla_policy
from routing.models import RecyclingRule


def apply_rule(*, lead: Lead, now: dt.datetime) -> bool:
    """Recycle a SAL after N contact attempts without a connection within M days; the reason is written out.
    Inside the caller's transaction, lead locked; True when it recycled the lead."""
    if lead.stage != Stage.SAL:
        return False
    rule = RecyclingRule.objects.filter(is_enabled=True).order_by("id").first()
    if rule is None:
        return False
    since = lead.stage_entered_at
    attempts = [
        sla_policy.Attempt(at=occurred_at, connected=outcome == Outcome.CONNECTED)
        for occurred_at, outcome in Activity.objects.filter(
            lead_id=lead.pk, kind__in=CONTACT_KINDS, occurred_at__gte=max(since, now - dt.timedelta(days=rule.days))
        ).values_list("occurred_at", "outcome")
    ]
    decision = sla_policy.recycling_decision(rule.as_spec(), attempts, since=since, now=now)
    if decision is None:
        return False
    reason = _("No contact after %(attempts)s attempts in %(days)s days") % {
        "attempts": decision.attempts, "days": decision.days
    }
    lifecycle.fire(lead_id=lead.pk, name=TransitionName.RECYCLE, by=None, parsed={
        "reason_code": lifecycle.system_reason_code(TransitionName.RECYCLE, "no_contact"), "reason": reason,
    })
    return True
