"""Retention: leads whose period has expired are anonymised; IP addresses of old submissions dropped."""

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict
from leads.models import Lead, Submission
from privacy import rights
from privacy.models import PrivacyRequest


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
            rights.erase(
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
    return {"erased": erased, "ip_cleared": cleared, "phone_evidence_purged": rights.purge_phone_evidence(now)}


