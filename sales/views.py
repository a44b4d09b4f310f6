"""Sales pages: the opportunities board, an opportunity, an account (with merge and undo), the pipeline.

Visibility through `selectors` (another's opportunity or account by guessed id is a 404); writes through
`services`; a refused or conflicting card move re-renders the card as it is now, with the reason.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import csv as safe_csv
from core.errors import Conflict, Invalid, Refused
from core.vocabulary import SalesOutcome
from leads import roles
from leads.models import LeadTransition
from leads.pagination import CappedPaginator
from sales import selectors, services
from sales.models import AccountMerge, OpportunityStageChange


def _visible_or_404(user, pk):
    opportunity = selectors.get_visible_opportunity(user, pk)
    if opportunity is None:
        raise Http404(_("No such opportunity."))
    return opportunity


@login_required
def board(request):
    pipeline = selectors.default_pipeline()
    stages = selectors.stages_of(pipeline)
    cards = list(
        selectors.visible_opportunities(request.user).filter(outcome=SalesOutcome.OPEN, pipeline=pipeline)[:500]
    )
    columns = [{"stage": stage, "cards": [c for c in cards if c.stage_id == stage.pk]} for stage in stages]
    return render(request, "sales/board.html", {"columns": columns, "stages": stages})


@login_required
@require_POST
def move(request, pk):
    """Move a card to another stage. `version` is what the mover saw: when someone else moved it first,
    the card comes back as it is now with a message (one wins, the other sees the new state)."""
    opportunity = _visible_or_404(request.user, pk)
    error = ""
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = None
    try:
        opportunity = services.update_opportunity(
            opportunity_id=pk, by=request.user, data={"stage": request.POST.get("stage", ""), "version": version}
        )
    except Conflict as conflict:
        error = str(conflict)
    except Invalid as invalid:
        error = " ".join(str(m) for messages in invalid.errors.values() for m in messages)
    except Refused as refused:
        error = " ".join([str(refused)] + [str(item.message) for item in refused.unmet])
    opportunity = _visible_or_404(request.user, pk)
    status = 409 if error else 200
    return render(
        request,
        "sales/_card.html",
        {"card": opportunity, "stages": selectors.stages_of(opportunity.pipeline), "error": error},
        status=status,
    )


@login_required
def opportunity_page(request, pk):
    opportunity = _visible_or_404(request.user, pk)
    return render(
        request,
        "sales/opportunity.html",
        {
            "opportunity": opportunity,
            "stages": selectors.stages_of(opportunity.pipeline),
            "changes": opportunity.changes.select_related("actor").order_by("-at")[:100],
            "stakeholders": opportunity.stakeholders.select_related("contact__lead"),
        },
    )


@login_required
def accounts_page(request):
    """The accounts the user sees, by name, with their leads and open opportunities; `?q=` finds by name or
    domain. A fixed number of queries whatever the page size."""
    query = request.GET.get("q", "").strip()[:100]
    page = CappedPaginator(selectors.account_list(request.user, query=query), settings.LEADS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "sales/accounts.html", {"page": page, "query": query})


@login_required
def account_page(request, pk):
    account = selectors.get_visible_account(request.user, pk)
    if account is None:
        raise Http404(_("No such account."))
    leads = account.leads.order_by("stage", "-created_at")[:200]
    opportunities = selectors.visible_opportunities(request.user).filter(account=account)
    timeline = sorted(
        [(t.at, t.lead, t.name) for t in _lead_transitions(account)]
        + [(c.at, c.opportunity, c.name) for c in _opportunity_changes(opportunities)],
        key=lambda entry: entry[0],
        reverse=True,
    )[:100]
    return render(
        request,
        "sales/account.html",
        {
            "account": account,
            "leads": leads,
            "contacts": account.contacts.select_related("lead"),
            "open_opportunities": opportunities.filter(outcome=SalesOutcome.OPEN),
            "timeline": timeline,
            "merges": AccountMerge.objects.filter(kept=account, undone_at__isnull=True)[:10],
            "others": selectors.visible_accounts(request.user).exclude(pk=account.pk).order_by("name")[:200],
        },
    )


def _lead_transitions(account):
    return LeadTransition.objects.filter(lead__account=account).select_related("lead").order_by("-at")[:100]


def _opportunity_changes(opportunities):
    return (
        OpportunityStageChange.objects.filter(opportunity__in=opportunities)
        .select_related("opportunity")
        .order_by("-at")[:100]
    )


@login_required
@require_POST
def merge(request, pk):
    account = selectors.get_visible_account(request.user, pk)
    if account is None:
        raise Http404(_("No such account."))
    if not roles.is_manager(request.user):
        raise PermissionDenied
    try:
        other = int(request.POST.get("merge", ""))
    except ValueError:
        raise Invalid({"merge": [_("Choose an account to merge into this one.")]})
    if selectors.get_visible_account(request.user, other) is None:
        raise Invalid({"merge": [_("Choose an account to merge into this one.")]})
    services.merge_accounts(keep_id=account.pk, merge_id=other, by=request.user)
    return redirect("sales:account", pk=account.pk)


@login_required
@require_POST
def undo_merge(request, pk, merge_id):
    account = selectors.get_visible_account(request.user, pk)
    if account is None:
        raise Http404(_("No such account."))
    if not roles.is_manager(request.user):
        raise PermissionDenied
    if not AccountMerge.objects.filter(pk=merge_id, kept_id=account.pk).exists():
        raise Http404(_("No such merge to undo."))
    restored = services.undo_merge(merge_id=merge_id, by=request.user)
    return redirect("sales:account", pk=restored.pk)


@login_required
def pipeline_page(request):
    report = selectors.pipeline_summary(request.user, today=timezone.localdate())
    if request.GET.get("format") == "csv":
        rows = [(m["month"], m["unweighted"], m["weighted"]) for m in report["forecast"]]
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="pipeline-forecast.csv"'
        out = safe_csv.writer(response)
        out.writerow(["close month", "unweighted", "weighted"])
        out.writerows(rows)
        return response
    return render(request, "sales/pipeline.html", {"report": report})
