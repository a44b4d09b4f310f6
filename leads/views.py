"""Server-rendered pages (Django templates + htmx).

Thin interfaces: parse the request, call one selector, service or lifecycle function, render. Every lead
is reached through `selectors.get_visible_lead`, so guessing an id shows nothing (404).
"""


from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from core.errors import Conflict, Invalid, NotPermitted, Refused, Stale
from core.http import client_ip, user_agent
from core.vocabulary import Channel, LeadType, Stage, Temperature
from leads import activities, edits, extensions, guards, lifecycle, notifications, roles, search, selectors
from leads.filters import ORDERING, SLA_STATES, LeadFilter
from leads.forms import (
    OWNER_CHANGE_LABELS,
    TRANSITION_LABELS,
    ActivityForm,
    AssignForm,
    LeadEditForm,
    TransitionForm,
    transition_fields,
)
from leads.models import Campaign, Lead
from leads.pagination import CappedPaginator
from routing.models import Method

METHOD_LABELS = dict(Method.choices)

PANEL = "lead-panel"  # the id of the region htmx swaps on the lead page


# --- helpers --------------------------------------------------------------------------------------------


def _visible_lead_or_404(request, lead_id):
    lead = selectors.get_visible_lead(request.user, lead_id)
    if lead is None:
        raise Http404(_("No such lead."))
    return lead


_client_ip = client_ip


_user_agent = user_agent


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _go(request, url: str):
    """Redirect, the htmx way for htmx requests."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# --- home, lists ----------------------------------------------------------------------------------------


@login_required
@require_GET
def home(request):
    """Each role lands where its day starts: the admin on what needs attention, a manager on the team board
    (today's breaches on top), marketing on the reports overview, an SDR on the queue. URL names only: the
    pages live in apps above this one."""
    user = request.user
    if user.is_superuser:
        return redirect("attention")
    if roles.is_manager(user):
        return redirect("leads:team")
    if roles.is_marketing(user):
        return redirect("reporting:dashboard")
    if roles.is_sdr(user):
        return redirect("leads:queue")
    return redirect("leads:list")


def _sort_columns(current: str) -> dict:
    """field -> {"next": ordering for its link, "direction": "asc"/"desc"/""} for the sortable headers."""
    columns = {}
    for field in ORDERING:
        if current == field:
            columns[field] = {"next": f"-{field}", "direction": "asc"}
        elif current == f"-{field}":
            columns[field] = {"next": field, "direction": "desc"}
        else:
            # numbers and dates read best newest / highest first
            columns[field] = {"next": field if field in ("last_name", "company") else f"-{field}", "direction": ""}
    return columns


@login_required
@require_GET
def lead_list(request):
    leads = selectors.visible_leads(request.user).order_by("-created_at", "-id")
    lead_filter = LeadFilter(request.GET, queryset=leads)
    searching = lead_filter.is_valid() and search.query_text(lead_filter.form.cleaned_data.get("q") or "")
    # An invalid filter lists nothing (the page says which field to fix), never the leads it did not narrow.
    listed = lead_filter.qs if lead_filter.is_valid() else leads.none()
    page = CappedPaginator(listed, settings.LEADS_PAGE_SIZE, cap=search.FEW if searching else None).get_page(
        request.GET.get("page")
    )
    is_staff_role = roles.is_staff_role(request.user)
    context = {
        "filter": lead_filter,
        "filter_errors": _filter_errors(lead_filter),
        "filtered_by": _filtered_by(lead_filter),
        "sla_states": SLA_STATES,
        "page": page,
        "stages": Stage.choices,
        "sources": Channel.choices,
        "lead_types": LeadType.choices,
        "temperatures": Temperature.choices,
        "campaigns": list(Campaign.objects.values_list("slug", "name")),
        "owners": list(lifecycle.eligible_owners().values_list("username", flat=True)) if is_staff_role else [],
        "selected": {"stage": request.GET.getlist("stage"), "source": request.GET.getlist("source"),
                     "temperature": request.GET.getlist("temperature")},
        "chosen": {name: [label for value, label in choices if value in request.GET.getlist(name)]
                   for name, choices in (("stage", Stage.choices), ("source", Channel.choices))},
        "columns": _sort_columns(request.GET.get("ordering", "")),
        "ordering": request.GET.get("ordering", ""),
    }
    if request.htmx and request.htmx.target == "lead-table":
        return render(request, "leads/lead_list.html#table", context)
    return render(request, "leads/lead_list.html", context)


# The list page's names for the filters whose FilterSet label is longer (the API documents the long one).
PAGE_FILTER_LABELS = {"owner": _lazy("Owner"), "probability_min": _lazy("Probability from (%)"),
                      "probability_max": _lazy("Probability to (%)"), "stalled": _lazy("Stalled only")}
_NOT_FILTERS = ("ordering", "page")


def _filter_label(lead_filter, name: str) -> str:
    field = lead_filter.form.fields.get(name)
    return str(PAGE_FILTER_LABELS.get(name) or (field.label if field else name))


def _filter_errors(lead_filter) -> list[dict]:
    """The filter form's errors under the labels the page shows (never `score_min`)."""
    if lead_filter.is_valid():
        return []
    return [{"label": _filter_label(lead_filter, name), "messages": list(errors)}
            for name, errors in lead_filter.errors.items()]


def _filtered_by(lead_filter) -> list[dict]:
    """Each filter in use and its value(s) in words, for the "filtered by" line (empty values are ignored)."""
    data = lead_filter.data
    if data is None or not hasattr(data, "lists"):
        return []
    used = []
    for name, values in data.lists():
        field = lead_filter.form.fields.get(name)
        if name in _NOT_FILTERS or field is None:
            continue
        choices = dict(getattr(field, "choices", ()) or ())
        if name == "stalled":
            shown = [str(_("yes") if value in ("true", "True", "1") else _("no")) for value in values]
        else:
            shown = [str(choices.get(value, value)) for value in values]
        used.append({"name": name, "label": _filter_label(lead_filter, name), "values": shown})
    return used


@login_required
@require_GET
def queue(request):
    now = timezone.now()
    today = timezone.localdate(now)
    sections = {
        name: list(leads) for name, leads in selectors.work_queue(request.user, today=today, now=now).items()
    }
    context = {
        **sections,
        "now": now,
        "today": today,
        "pool_count": selectors.pool(request.user).count() if roles.can_claim(request.user) else None,
        "queue_sections": extensions.queue_sections_for(request.user, today),
    }
    return render(request, "leads/queue.html", context)


@login_required
@require_GET
def pool(request):
    page = CappedPaginator(selectors.pool(request.user), settings.LEADS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "leads/pool.html", {"page": page, "can_claim": roles.can_claim(request.user)})


# --- the lead page and its actions ----------------------------------------------------------------------


def _transition_initial(lead, name: str, framework: str) -> dict:
    """What the lead already holds for the transition's inputs (earlier answers are kept)."""
    fields = transition_fields(name, framework) if name in ("qualify", "open_opportunity", "win") else ()
    return {field: getattr(lead, field) for field in fields if getattr(lead, field) not in (None, "")}


def _framework(lead, names) -> str:
    """The lead's qualification framework, read only when qualify is on offer (one query)."""
    return lifecycle.qualification_framework(lead) if "qualify" in names else "bant"


def _panel_context(request, lead, *, bound=None, refusal=None, activity_form=None, assign_form=None,
                   notice=None, notice_level="success", edit_form=None, edit_conflict=None,
                   duplicate=None) -> dict:
    user = request.user
    bound = bound or {}
    names = lifecycle.available_transitions(user, lead)
    framework = _framework(lead, names)
    transition_forms = [
        bound.get(name)
        or TransitionForm(name, framework=framework, initial=_transition_initial(lead, name, framework))
        for name in names
    ]
    can_assign = roles.can_assign(user)
    may_log = activities.may_log_activity(user, lead)
    return {
        "lead": lead,
        "qualification": _qualification(lead),
        "assignment": _assignment(lead),
        "transition_forms": transition_forms,
        "refusal": refusal,
        "notice": notice,
        "notice_level": notice_level,
        "can_claim": roles.can_claim(user) and lead.is_in_pool,
        "can_assign": can_assign,
        "owners": list(lifecycle.eligible_owners()) if can_assign else [],
        "assign_form": assign_form or AssignForm(initial={"owner": lead.owner.username if lead.owner else ""}),
        "activity_form": activity_form or (ActivityForm(prefix="activity") if may_log else None),
        "timeline": selectors.timeline(lead),
        "sections": extensions.sections_for(lead, user),
        "can_edit": bool(edits.editable_fields(user, lead)),
        "edit_form": edit_form,
        "edit_conflict": edit_conflict,
        "duplicate": duplicate,
    }


def _assignment(lead) -> dict | None:
    """The stored decision trace (`lead.assignment`) ready to show: rule, method in words, reason, time."""
    trace = lead.assignment or {}
    if not trace.get("reason"):
        return None
    method = trace.get("method") or ""
    return {
        "rule": trace.get("rule") or "",
        "method": str(METHOD_LABELS.get(method) or OWNER_CHANGE_LABELS.get(method) or method.replace("_", " ")),
        "reason": trace["reason"],
        "skipped": [pair for pair in trace.get("skipped") or [] if isinstance(pair, list | tuple) and len(pair) == 2],
        "at": parse_datetime(trace.get("at") or "") if isinstance(trace.get("at"), str) else None,
    }


def _qualification(lead) -> list[tuple[str, str]]:
    """The qualification answers the lead holds (BANT and MEDDIC), as (label, answer)."""
    return [
        (lead._meta.get_field(name).verbose_name, getattr(lead, name))
        for name in (*guards.BANT_FIELDS, *guards.MEDDIC_FIELDS)
        if getattr(lead, name)
    ]


def _render_lead(request, lead, *, status: int = 200, **panel):
    context = _panel_context(request, lead, **panel)
    template = "leads/lead_detail.html#panel" if request.htmx else "leads/lead_detail.html"
    return render(request, template, context, status=status)


def _after_change(request, lead_id: int, notice: str):
    """After a successful write: the panel again (htmx), or a redirect (post/redirect/get)."""
    next_url = _safe_next(request)
    lead = selectors.get_visible_lead(request.user, lead_id)
    if next_url or lead is None:
        messages.success(request, notice)
        return _go(request, next_url or reverse("leads:queue"))
    if request.htmx:
        return _render_lead(request, lead, notice=notice)
    messages.success(request, notice)
    return redirect("leads:detail", lead_id=lead.pk)


@login_required
@require_GET
def lead_detail(request, lead_id: int):
    return _render_lead(request, _visible_lead_or_404(request, lead_id))


@login_required
@require_POST
def transition(request, lead_id: int, name: str):
    lead = _visible_lead_or_404(request, lead_id)
    if name not in lifecycle.TRANSITIONS:
        raise Http404(_("No such transition."))
    form = TransitionForm(name, request.POST, framework=_framework(lead, [name]))
    if not form.is_valid():
        return _render_lead(request, lead, status=400, bound={name: form})
    try:
        lead = lifecycle.fire(lead_id=lead.pk, name=name, by=request.user, inputs=form.inputs())
    except Invalid as invalid:
        form.add_service_errors(invalid.errors)
        return _render_lead(request, lead, status=400, bound={name: form})
    except lifecycle.TransitionRefused as refused:
        refusal = {"name": name, "label": TRANSITION_LABELS[name], "detail": refused.detail, "unmet": refused.unmet}
        return _render_lead(request, lead, status=409, bound={name: form}, refusal=refusal)
    notice = _("%(lead)s is now %(stage)s.") % {"lead": lead.display_name, "stage": lead.get_stage_display()}
    return _after_change(request, lead.pk, notice)


@login_required
@require_POST
def claim(request, lead_id: int):
    # Visibility first, as everywhere: a lead the caller cannot see is a 404 whether or not it exists (the
    # API alike). A lead that was visible a moment ago and was claimed by someone else in between still
    # answers 409 "taken" below (the race): `lifecycle.claim` only ever hands out pool MQLs.
    _visible_lead_or_404(request, lead_id)
    target = (request.htmx.target or "") if request.htmx else ""
    try:
        lead = lifecycle.claim(lead_id=lead_id, by=request.user)
    except Conflict as conflict:
        visible = selectors.get_visible_lead(request.user, lead_id)
        if target.startswith("pool-row-"):
            context = {"lead": visible, "lead_id": lead_id, "conflict": conflict.detail}
            return render(request, "leads/pool.html#row", context, status=409)
        if target == PANEL:
            if visible is not None:
                return _render_lead(request, visible, status=409, notice=conflict.detail, notice_level="error")
            return render(request, "leads/lead_detail.html#gone", {"message": conflict.detail}, status=409)
        messages.error(request, conflict.detail)
        return redirect("leads:pool")
    if target.startswith("pool-row-"):
        return render(request, "leads/pool.html#row", {"lead": lead, "lead_id": lead.pk, "claimed": True})
    notice = _("You claimed %(lead)s. Accept it to start working on it.") % {"lead": lead.display_name}
    return _after_change(request, lead.pk, notice)


@login_required
@require_POST
def assign(request, lead_id: int):
    lead = _visible_lead_or_404(request, lead_id)
    if not roles.can_assign(request.user):
        raise PermissionDenied(_("Only managers and marketing can assign leads."))
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _render_lead(request, lead, status=400, assign_form=form)
    username = form.cleaned_data["owner"].strip() or None
    try:
        lead = lifecycle.assign(lead_id=lead.pk, owner_username=username, by=request.user)
    except Invalid as invalid:
        for message in invalid.errors.get("owner", []):
            form.add_error("owner", message)
        return _render_lead(request, lead, status=400, assign_form=form)
    if username:
        notice = _("%(lead)s is assigned to %(owner)s.") % {"lead": lead.display_name, "owner": username}
    else:
        notice = _("%(lead)s is back in the pool.") % {"lead": lead.display_name}
    return _after_change(request, lead.pk, notice)


@login_required
@require_http_methods(["GET", "POST"])
def edit(request, lead_id: int):
    """The lead page with its Edit form (GET), and saving it (POST). A concurrent change shows a warning with
    the current values instead of overwriting them; the form then carries the new version."""
    lead = _visible_lead_or_404(request, lead_id)
    allowed = edits.editable_fields(request.user, lead)
    if not allowed:
        raise PermissionDenied(_("Only the owner, marketing and managers can edit this lead."))
    if request.method == "GET":
        form = LeadEditForm(initial=LeadEditForm.initial_of(lead, edits.version_of(lead)), allowed=allowed)
        return _render_lead(request, lead, edit_form=form)
    form = LeadEditForm(request.POST, allowed=allowed)
    if not form.is_valid():
        return _render_lead(request, lead, status=400, edit_form=form)
    try:
        result = edits.edit(lead_id=lead.pk, by=request.user, changes=form.changes(),
                            version=form.cleaned_data["version"])
    except Invalid as invalid:
        form.add_service_errors(invalid.errors)
        return _render_lead(request, lead, status=400, edit_form=form)
    except Stale as stale:
        current = selectors.get_visible_lead(request.user, lead.pk) or lead
        typed = form.changes()
        differs = [
            {"name": name, "label": form.fields[name].label, "current": getattr(current, name), "typed": typed[name]}
            for name in typed if str(getattr(current, name) or "") != str(typed[name] or "")
        ]
        data = request.POST.copy()
        data["version"] = edits.version_of(current)  # saving again now overwrites on purpose
        conflict = {"message": stale.message, "fields": differs}
        return _render_lead(request, current, status=409, edit_form=LeadEditForm(data, allowed=allowed),
                            edit_conflict=conflict)
    except Conflict as conflict:  # the e-mail address is another lead's
        form.add_error("email", conflict.message)
        return _render_lead(request, lead, status=409, edit_form=form, duplicate=conflict.data.get("duplicate"))
    except (NotPermitted, Refused) as refused:
        raise PermissionDenied(refused.message)
    if result.changed:
        labels = ", ".join(str(Lead._meta.get_field(name).verbose_name) for name in result.changed)
        notice = _("Saved: %(fields)s.") % {"fields": labels}
    else:
        notice = _("Nothing changed.")
    return _after_change(request, lead.pk, notice)


@login_required
@require_POST
def log_activity(request, lead_id: int):
    lead = _visible_lead_or_404(request, lead_id)
    if not activities.may_log_activity(request.user, lead):
        raise PermissionDenied(_("You may not log activities on this lead."))
    form = ActivityForm(request.POST, prefix="activity")
    if form.is_valid():
        try:
            activity = activities.log_activity(lead_id=lead.pk, by=request.user, raw=form.raw())
        except Invalid as invalid:
            form.add_service_errors(invalid.errors)
        else:
            notice = _("%(kind)s logged.") % {"kind": activity.get_kind_display()}
            return _after_change(request, lead.pk, notice)
    return _render_lead(request, lead, status=400, activity_form=form)


# --- notifications --------------------------------------------------------------------------------------


def _notifications_context(request, page_number) -> dict:
    page = Paginator(selectors.notifications_for(request.user), settings.LEADS_PAGE_SIZE).get_page(page_number)
    notes = list(page.object_list)
    return {
        "page": page,
        "notifications": notes,
        "openable": selectors.visible_lead_ids(request.user, [note.lead_id for note in notes]),
    }


@login_required
@require_GET
def notification_list(request):
    context = _notifications_context(request, request.GET.get("page"))
    return render(request, "leads/notifications.html", context)


@login_required
@require_GET
def notification_badge(request):
    """The header badge alone: it polls this every LIVE_REFRESH_SECONDS (the unread count comes from the
    context processor)."""
    return render(request, "leads/_notification_badge.html")


@login_required
@require_POST
def notification_read(request, notification_id: int):
    if not selectors.notifications_for(request.user).filter(pk=notification_id).exists():
        raise Http404(_("No such notification."))
    notifications.mark_read(user=request.user, notification_id=notification_id)
    return _back_to_notifications(request)


@login_required
@require_POST
def notifications_read(request):
    count = notifications.mark_read(user=request.user)
    if count and not request.htmx:
        messages.success(request, ngettext("%(count)s notification marked read.",
                                           "%(count)s notifications marked read.", count) % {"count": count})
    return _back_to_notifications(request)


def _back_to_notifications(request):
    """The list again: htmx swaps it in place (and the header badge out of band); others are redirected."""
    page_number = request.POST.get("page") or ""
    if request.htmx:
        context = _notifications_context(request, page_number)
        return render(request, "leads/notifications.html#list", {**context, "oob_badge": True})
    url = reverse("leads:notifications")
    return redirect(f"{url}?page={page_number}" if page_number.isdigit() else url)




