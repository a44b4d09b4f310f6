"""The team: the manager's board, presence, reassignment and the routing dry run (pages).

Thin interfaces like `leads.views`: access is checked here through `leads.roles`, reads come from
`leads.selectors`, writes go through `leads.lifecycle` (owners) and `leads.team.presence` (availability).
"""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import Invalid, NotPermitted
from core.vocabulary import Channel, Stage
from leads import lifecycle, roles, selectors
from leads.models import Account, Campaign, Lead
from leads.team import presence
from leads.team.forms import PresenceForm, ReassignForm, RoutingTestForm
from leads.validation import email_domain, is_free_mail, normalize_email, website_domain
from routing import selectors as routing_selectors
from routing.models import Method, Rep

# --- access ---------------------------------------------------------------------------------------------


def _require_manager(user) -> None:
    if not roles.is_manager(user):
        raise PermissionDenied(_("Only managers and admins can see the team board."))


def _rep_or_404(username: str) -> Rep:
    rep = selectors.rep_by_username(username)
    if rep is None:
        raise Http404(_("No rep has this username."))
    return rep


# --- the board ------------------------------------------------------------------------------------------


@login_required
@require_GET
def board(request):
    _require_manager(request.user)
    rows = selectors.board_rows(selectors.reps())
    alerts = selectors.team_clock_alerts(request.user)
    context = {
        "rows": rows,
        "alerts": alerts,
        "breached_count": sum(1 for alert in alerts if alert.is_breached),
        "owners": list(lifecycle.eligible_owners()),
        "pool": selectors.pool_summary(),
        "totals": {
            "open_load": sum(row.load.open_load for row in rows),
            "capacity": sum(row.rep.capacity for row in rows),
            "waiting": sum(row.load.waiting for row in rows),
            "taking": sum(1 for row in rows if row.takes_leads),
        },
        "forecast": selectors.capacity_forecast(rows),
    }
    return render(request, "leads/team_board.html", context)


@login_required
@require_POST
def availability(request, username: str):
    """The board's toggle: available yes/no, answered with the rep's row (htmx) or the board."""
    _require_manager(request.user)
    rep = _rep_or_404(username)
    available = request.POST.get("available")
    if available not in ("true", "false"):
        return render(request, "leads/team_board.html#row", _row_context(rep, error=_("Choose yes or no.")),
                      status=400)
    rep = presence.update_presence(rep_id=rep.pk, by=request.user, changes={"available": available == "true"})
    if request.htmx:
        return render(request, "leads/team_board.html#row", _row_context(rep))
    return redirect("leads:team")


def _row_context(rep: Rep, *, error: str = "") -> dict:
    fresh = selectors.rep_by_username(rep.user.get_username()) or rep
    return {"row": selectors.board_rows([fresh])[0], "row_error": error}


# --- one rep: presence, open leads, reassign ------------------------------------------------------------


@dataclass(frozen=True)
class MoveResult:
    lead_id: int
    name: str
    ok: bool
    message: str


def _owner_choices(exclude_user_id: int) -> list[dict]:
    """Everyone who may own leads (but the rep themself) with their open load, in three queries."""
    owners = [user for user in lifecycle.eligible_owners() if user.pk != exclude_user_id]
    capacities = dict(Rep.objects.filter(user__in=owners).values_list("user_id", "capacity"))
    loads = selectors.rep_loads([user.pk for user in owners])
    return [
        {
            "user": user,
            "open_load": loads[user.pk].open_load if user.pk in loads else 0,
            "capacity": capacities.get(user.pk),
        }
        for user in owners
    ]


def _rep_page(request, rep: Rep, *, presence_form=None, reassign_form=None, outcomes=(), status=200):
    leads = list(selectors.open_leads_of(rep.user))
    context = {
        "row": selectors.board_rows([rep])[0],
        "rep": rep,
        "leads": leads,
        "owners": _owner_choices(rep.user_id),
        "presence_form": presence_form or PresenceForm(initial={
            "available": rep.is_available, "capacity": rep.capacity,
            "out_of_office_from": rep.out_of_office_from, "out_of_office_until": rep.out_of_office_until,
        }),
        "reassign_form": reassign_form,
        "outcomes": outcomes,
        "outcomes_ok": sum(1 for outcome in outcomes if outcome.ok),
    }
    template = "leads/team_rep.html#work" if request.htmx and request.htmx.target == "rep-work" else (
        "leads/team_rep.html"
    )
    return render(request, template, context, status=status)


@login_required
@require_GET
def rep_detail(request, username: str):
    _require_manager(request.user)
    return _rep_page(request, _rep_or_404(username))


@login_required
@require_POST
def rep_presence(request, username: str):
    _require_manager(request.user)
    rep = _rep_or_404(username)
    form = PresenceForm(request.POST)
    if form.is_valid():
        try:
            rep = presence.update_presence(rep_id=rep.pk, by=request.user, changes=dict(form.cleaned_data))
        except Invalid as invalid:
            form.add_service_errors(invalid.errors)
        else:
            messages.success(request, _("Presence of %(rep)s saved.") % {"rep": rep.user.get_username()})
            return redirect("leads:team_rep", username=rep.user.get_username())
    return _rep_page(request, rep, presence_form=form, status=400)


@login_required
@require_POST
def reassign(request, username: str):
    """Move some of a rep's open leads to another owner or to the pool, each on its own; report each."""
    _require_manager(request.user)
    rep = _rep_or_404(username)
    leads = {lead.pk: lead for lead in selectors.open_leads_of(rep.user)}
    form = ReassignForm(request.POST, lead_ids=list(leads))
    if not form.is_valid():
        return _rep_page(request, rep, reassign_form=form, status=400)
    target = form.cleaned_data["target"]
    outcomes = [_move(leads[lead_id], target, by=request.user) for lead_id in form.cleaned_data["leads"]]
    status = 200 if any(outcome.ok for outcome in outcomes) else 409
    return _rep_page(request, selectors.rep_by_username(username) or rep, outcomes=outcomes, status=status)


def _move(lead: Lead, target: str | None, *, by) -> MoveResult:
    name = lead.display_name
    if target is None and lead.stage != Stage.MQL:
        return MoveResult(lead.pk, name, False, _("Only MQLs can go back to the pool: give this lead to a rep."))
    try:
        lifecycle.assign(lead_id=lead.pk, owner_username=target, by=by)
    except lifecycle.LeadNotFound:
        return MoveResult(lead.pk, name, False, _("The lead no longer exists."))
    except NotPermitted as refused:
        return MoveResult(lead.pk, name, False, refused.message)
    except Invalid as invalid:
        return MoveResult(lead.pk, name, False, " ".join(invalid.errors.get("owner", [])) or _("Refused."))
    if target is None:
        return MoveResult(lead.pk, name, True, _("back in the pool"))
    return MoveResult(lead.pk, name, True, _("now with %(owner)s") % {"owner": target})


# --- routing dry run ------------------------------------------------------------------------------------


def _require_routing_tester(user) -> None:
    if not roles.is_staff_role(user):
        raise PermissionDenied(_("Only managers, marketing and admins can test routing."))


def sample_lead(data: dict) -> Lead:
    """An unsaved lead with the sample's fields, its company domain and account found the way capture finds
    them, so routing reads it exactly as it reads a captured lead."""
    email = normalize_email(data.get("email") or "")
    website = data.get("website") or ""
    domain = website_domain(website) if website else email_domain(email)
    if is_free_mail(domain):
        domain = ""
    campaign = Campaign.objects.filter(slug=data["campaign"]).first() if data.get("campaign") else None
    return Lead(
        email=email, email_normalized=email, website=website, company_domain=domain,
        account=Account.objects.filter(domain=domain).select_related("owner").first() if domain else None,
        country=data.get("country") or "", industry=(data.get("industry") or "").strip(),
        company_size=data.get("company_size"), score=data.get("score") or 0,
        source=data.get("source") or Channel.OTHER, campaign=campaign,
    )


@login_required
@require_http_methods(["GET"])
def routing_test(request):
    """Show the decision routing would take for a sample lead. Reads only: nothing is locked or written."""
    _require_routing_tester(request.user)
    submitted = any(request.GET.get(name) for name in RoutingTestForm.base_fields)
    form = RoutingTestForm(request.GET if submitted else None)
    context = {"form": form, "decision": None}
    status = 200
    if submitted and form.is_valid():
        lead = sample_lead(form.cleaned_data)
        facts = lifecycle.routing_facts(lead)
        now = timezone.now()
        loads = lifecycle.open_loads(Rep.objects.values_list("user_id", flat=True))
        decision = routing_selectors.preview(facts, open_loads=loads, now=now)
        context.update({
            "decision": decision,
            "facts": facts,
            "account": lead.account,
            "method_label": dict(Method.choices).get(decision.method, ""),
        })
    elif submitted:
        status = 400
    return render(request, "leads/routing_test.html", context, status=status)
