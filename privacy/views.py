"""Privacy pages: the consent proof and data requests for staff; confirm, unsubscribe, preferences and the
person's own export through signed links. Thin interfaces over `leads.consent` and `leads.privacy`."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import Conflict, Refused
from core.http import client_ip, user_agent
from core.vocabulary import ConsentPurpose
from leads import selectors
from privacy import consent, rights
from privacy.forms import ReasonForm, RecordConsentForm
from privacy.models import ConsentEvent, PrivacyRequest


def _visible_lead_or_404(request, lead_id):
    lead = selectors.get_visible_lead(request.user, lead_id)
    if lead is None:
        raise Http404(_("No such lead."))
    return lead


def _privacy_lead_or_403(request, lead_id):
    """Export, erasure and objection: marketing and admins (they answer data-subject requests)."""
    lead = _visible_lead_or_404(request, lead_id)
    if not rights.may_handle_requests(request.user):
        raise PermissionDenied(_("Only marketing and administrators handle data requests."))
    return lead


# --- staff ------------------------------------------------------------------------------------------------


def _proof_context(request, lead, record_form=None) -> dict:
    events = list(
        ConsentEvent.objects.filter(lead=lead).select_related(
            "wording_version", "capture_form", "recorded_by", "submission"
        )
    )
    current = consent.statuses(lead.pk)
    may_record = consent.may_record(request.user, lead) and not lead.erased_at
    if may_record and record_form is None:
        record_form = RecordConsentForm(purpose=request.GET.get("purpose", ConsentPurpose.SALES_PHONE))
    return {
        "lead": lead,
        "statuses": [(ConsentPurpose(p).label, s) for p, s in current.items()],
        "events": [(event, consent.proof_matches(event)) for event in events],
        "may_send_marketing": consent.may_send_marketing(lead),
        "requests": PrivacyRequest.objects.filter(lead=lead).select_related("actor"),
        "may_handle": rights.may_handle_requests(request.user),
        "may_record": may_record,
        "record_form": record_form if may_record else None,
        "purposes": ConsentPurpose.choices,
    }


@login_required
@require_GET
def consent_proof(request, lead_id: int):
    """The consent proof of one lead: status per purpose and every event with its wording, printable."""
    lead = _visible_lead_or_404(request, lead_id)
    return render(request, "privacy/consent_proof.html", _proof_context(request, lead))


@login_required
@require_POST
def record_consent(request, lead_id: int):
    """Staff record a consent given or withdrawn by phone or otherwise, with its evidence."""
    lead = _visible_lead_or_404(request, lead_id)
    if not consent.may_record(request.user, lead):
        raise PermissionDenied(_("SDRs record consent only on their own leads."))
    if lead.erased_at:
        messages.error(request, _("This lead was erased; record consent on a new lead."))
        return redirect("privacy:consent_proof", lead_id=lead.pk)
    form = RecordConsentForm(request.POST)
    if not form.is_valid():
        return render(request, "privacy/consent_proof.html", _proof_context(request, lead, form), status=400)
    with transaction.atomic():
        form.save(lead=lead, by=request.user)
    messages.success(request, _("The consent event was recorded."))
    return redirect("privacy:consent_proof", lead_id=lead.pk)


@login_required
@require_POST
def send_export_link(request, lead_id: int):
    """E-mail the person a signed link to their own export (GDPR Art. 15 and 20)."""
    lead = _privacy_lead_or_403(request, lead_id)
    try:
        rights.request_export_link(lead_id=lead.pk, by=request.user)
    except Refused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request,
            _("The export link goes to %(email)s; it works %(days)s days.")
            % {"email": lead.email, "days": rights.EXPORT_LINK_DAYS},
        )
    return redirect("privacy:consent_proof", lead_id=lead.pk)


@login_required
@require_GET
def export(request, lead_id: int, fmt: str):
    lead = _privacy_lead_or_403(request, lead_id)
    if fmt not in ("json", "csv"):
        raise Http404(_("Export as .json or .csv."))
    document = rights.export(lead_id=lead.pk, by=request.user)
    return _download(document, fmt, lead.pk)


def _download(document: dict, fmt: str, lead_id: int) -> HttpResponse:
    if fmt not in ("json", "csv"):
        raise Http404(_("Export as .json or .csv."))
    if fmt == "csv":
        response = HttpResponse(rights.as_csv(document), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(rights.as_json(document), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="lead-{lead_id}.{fmt}"'
    return response


def _reason(request) -> str | None:
    """The posted reason, or None (with the form's message shown) when it cannot be stored."""
    form = ReasonForm(request.POST)
    if form.is_valid():
        return form.cleaned_data["reason"].strip()
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)
    return None


@login_required
@require_POST
def erase(request, lead_id: int):
    lead = _privacy_lead_or_403(request, lead_id)
    reason = _reason(request)
    if reason is None:
        return redirect("privacy:consent_proof", lead_id=lead.pk)
    if not reason:
        messages.error(request, _("Give the reason for the erasure (e.g. the person's request of which date)."))
        return redirect("privacy:consent_proof", lead_id=lead.pk)
    try:
        rights.erase(lead_id=lead.pk, by=request.user, reason=reason)
    except Conflict as done:
        messages.info(request, str(done))
    else:
        messages.success(request, _("The lead's personal data was erased; its stage history stays."))
    return redirect("privacy:consent_proof", lead_id=lead.pk)


@login_required
@require_POST
def object_to_marketing(request, lead_id: int):
    lead = _privacy_lead_or_403(request, lead_id)
    reason = _reason(request)
    if reason is None:
        return redirect("privacy:consent_proof", lead_id=lead.pk)
    rights.object_to_marketing(lead_id=lead.pk, by=request.user, reason=reason)
    messages.success(request, _("Every marketing purpose is withdrawn."))
    return redirect("privacy:consent_proof", lead_id=lead.pk)


# --- the person, through signed links -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def confirm_opt_in(request, token: str):
    """GET shows a button (mail scanners follow links; only a person presses it); POST confirms."""
    if request.method == "GET":
        return render(request, "privacy/confirm.html", {"token": token})
    try:
        consent.confirm(token=token, ip_address=client_ip(request), user_agent=user_agent(request))
    except consent.ConfirmRefused as refused:
        return render(
            request,
            "privacy/refused.html",
            {"reason": refused.reason},
            status=410 if refused.reason != "unknown" else 404,
        )
    return render(request, "privacy/done.html", {"confirmed": True})


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without a session
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    lead = consent.lead_of_token(token)
    if lead is None:
        return render(request, "privacy/refused.html", {"reason": "unknown"}, status=404)
    if request.method == "GET":
        return render(request, "privacy/unsubscribe.html", {"token": token})
    consent.unsubscribe(lead=lead, ip_address=client_ip(request), user_agent=user_agent(request))
    return render(request, "privacy/done.html", {"unsubscribed": True, "token": token})


@require_http_methods(["GET", "POST"])
def preferences(request, token: str):
    lead = consent.lead_of_token(token)
    if lead is None:
        return render(request, "privacy/refused.html", {"reason": "unknown"}, status=404)
    if request.method == "POST":
        consent.set_preferences(
            lead=lead,
            wanted=request.POST.getlist("purpose"),
            ip_address=client_ip(request),
            user_agent=user_agent(request),
        )
        return redirect("privacy:preferences", token=token)
    active = {"given", "pending", "confirmed"}
    current = consent.statuses(lead.pk)
    return render(
        request,
        "privacy/preferences.html",
        {
            "token": token,
            "purposes": [(p, ConsentPurpose(p).label, current[p] in active, current[p]) for p in consent.ALL_PURPOSES],
        },
    )


@require_GET
def my_export(request, token: str, fmt: str):
    lead = rights.lead_of_export_token(token)
    if lead is None:
        return render(request, "privacy/refused.html", {"reason": "expired"}, status=410)
    if fmt not in ("json", "csv"):
        raise Http404(_("Export as .json or .csv."))
    return _download(rights.export(lead_id=lead.pk, via="link"), fmt, lead.pk)
