"""Clean-data pages: merge candidates (merge, undo a merge) and data health.

Marketing, managers and admins only; SDRs and other roles get 403. Thin interfaces over `leads.dedupe`.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import Refused
from core.vocabulary import WORKED_STAGES
from leads.models import Lead
from leads.quality import dedupe

CANDIDATES_PAGE_SIZE = 20
# What the page shows side by side (the choosable fields, then who works the lead).
COMPARED_FIELDS = dedupe.CHOOSABLE_FIELDS


def _require_data_role(user) -> None:
    if not dedupe.can_merge(user):
        raise PermissionDenied(_("Only marketing, managers and admins see data quality."))


def _default_survivor(first: Lead, second: Lead) -> Lead:
    """Suggest the lead someone works (open work with an owner), else the older one."""
    for lead in (first, second):
        if lead.owner_id is not None and lead.stage in WORKED_STAGES:
            return lead
    return first if (first.created_at, first.pk) <= (second.created_at, second.pk) else second


def _rows(first: Lead, second: Lead) -> list[dict]:
    rows = []
    for name in COMPARED_FIELDS:
        ours, theirs = getattr(first, name), getattr(second, name)
        rows.append({
            "name": name,
            "label": Lead._meta.get_field(name).verbose_name,
            "first": ours,
            "second": theirs,
            "differs": ours not in (None, "") and theirs not in (None, "") and ours != theirs,
        })
    return rows


@login_required
@require_GET
def merge_candidates(request):
    _require_data_role(request.user)
    candidates = dedupe.candidates()
    page = Paginator(candidates, CANDIDATES_PAGE_SIZE).get_page(request.GET.get("page"))
    ids = {pk for candidate in page.object_list for pk in (candidate.first_id, candidate.second_id)}
    leads = Lead.objects.select_related("owner").in_bulk(ids)
    pairs = []
    for candidate in page.object_list:
        first, second = leads.get(candidate.first_id), leads.get(candidate.second_id)
        if first is None or second is None:
            continue
        pairs.append({
            "candidate": candidate, "first": first, "second": second,
            "survivor_id": _default_survivor(first, second).pk, "rows": _rows(first, second),
        })
    context = {"page": page, "pairs": pairs, "merges": list(dedupe.recent_merges())}
    return render(request, "leads/merge_candidates.html", context)


@login_required
@require_POST
def merge(request):
    _require_data_role(request.user)
    first_id, second_id = request.POST.get("first_id"), request.POST.get("second_id")
    survivor_id = request.POST.get("survivor_id")
    if survivor_id not in (first_id, second_id):
        messages.error(request, _("Choose which lead survives."))
        return redirect("leads:merge_candidates")
    merged_id = second_id if survivor_id == first_id else first_id
    # keep_<field> = the id of the lead whose value to keep where both differ (default: the survivor's).
    keep = [name for name in dedupe.CHOOSABLE_FIELDS if request.POST.get(f"keep_{name}") == merged_id]
    try:
        entry = dedupe.merge(survivor_id=survivor_id, merged_id=merged_id, by=request.user, keep_from_merged=keep)
    except Refused as error:
        messages.error(request, error.message)
        return redirect("leads:merge_candidates")
    messages.success(
        request, _("Merged %(email)s into this lead.") % {"email": dedupe.merged_lead_email(entry)}
    )
    return redirect(reverse("leads:detail", args=[entry.lead_id]))


@login_required
@require_POST
def unmerge(request, transition_id: int):
    _require_data_role(request.user)
    try:
        restored = dedupe.unmerge(transition_id=transition_id, by=request.user)
    except Refused as error:
        messages.error(request, error.message)
        return redirect("leads:merge_candidates")
    messages.success(request, _("The merge was undone: %(lead)s is back.") % {"lead": restored.display_name})
    return redirect(reverse("leads:detail", args=[restored.pk]))


@login_required
@require_GET
def data_health(request):
    _require_data_role(request.user)
    leads = Lead.objects.all()
    counts = dedupe.health_counts(leads)
    issue = request.GET.get("issue", "")
    page = None
    if issue in dedupe.HEALTH_ISSUES:
        listed = dedupe.leads_with_issue(leads.select_related("owner"), issue)
        page = Paginator(listed, settings.LEADS_PAGE_SIZE).get_page(request.GET.get("page"))
    else:
        issue = ""
    context = {
        "issues": [
            {"key": key, "label": label, "count": counts[key]} for key, label in dedupe.HEALTH_ISSUES.items()
        ],
        "duplicate_count": len(dedupe.candidates()),
        "duplicate_limit": dedupe.CANDIDATE_LIMIT,
        "issue": issue,
        "issue_label": dedupe.HEALTH_ISSUES.get(issue, ""),
        "page": page,
    }
    if request.htmx and request.htmx.target == "issue-list":
        return render(request, "leads/data_health.html#issue_list", context)
    return render(request, "leads/data_health.html", context)
