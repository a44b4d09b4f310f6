"""Reads shared by pages, API and reports. Visibility is decided here, once."""

from django.db.models import Q, QuerySet

from leads import roles
from leads.models import Activity, Lead, LeadTransition, Notification
from leads.stages import Stage


def visible_leads(user) -> QuerySet[Lead]:
    """Marketing, managers and admins see all leads; an SDR sees own leads and the pool; others nothing."""
    leads = Lead.objects.select_related("owner", "campaign")
    if roles.is_staff_role(user):
        return leads
    if roles.is_sdr(user):
        return leads.filter(Q(owner=user) | Q(owner__isnull=True, stage=Stage.MQL))
    return leads.none()


def get_visible_lead(user, lead_id) -> Lead | None:
    try:
        return visible_leads(user).get(pk=lead_id)
    except (Lead.DoesNotExist, ValueError, TypeError):
        return None


def pool(user) -> QuerySet[Lead]:
    """Unowned MQLs, oldest first."""
    return visible_leads(user).filter(owner__isnull=True, stage=Stage.MQL).order_by("stage_entered_at", "id")


def queue_for(user) -> dict[str, QuerySet[Lead]]:
    """An SDR's own work: MQLs waiting for acceptance (oldest first) and SALs to work."""
    own = Lead.objects.select_related("campaign").filter(owner=user)
    return {
        "waiting": own.filter(stage=Stage.MQL).order_by("stage_entered_at", "id"),
        "working": own.filter(stage=Stage.SAL).order_by("stage_entered_at", "id"),
        "later": own.filter(stage__in=[Stage.SQL, Stage.OPPORTUNITY]).order_by("stage_entered_at", "id"),
    }


def history(lead: Lead) -> QuerySet[LeadTransition]:
    return lead.transitions.select_related("actor").order_by("at", "id")


def timeline(lead: Lead) -> list[dict]:
    """Activities, transitions and consent of one lead in time order (newest first)."""
    entries = []
    for activity in lead.activities.select_related("created_by").order_by("-occurred_at")[:200]:
        entries.append({"type": "activity", "at": activity.occurred_at, "item": activity})
    for change in history(lead):
        entries.append({"type": "transition", "at": change.at, "item": change})
    for consent in lead.consents.all():
        entries.append({"type": "consent", "at": consent.requested_at, "item": consent})
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    return entries


def unread_notifications(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user, read_at__isnull=True)


def activities_of(lead: Lead) -> QuerySet[Activity]:
    return lead.activities.order_by("-occurred_at", "-id")
