"""Capture pages: manual entry, the CSV import page and the hosted (and embedded) web form."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from capture import imports, profiling, submissions
from capture.forms import HostedForm, ImportForm, ManualLeadForm, MappingForm
from core import ratelimit
from core.errors import Conflict, Invalid
from core.http import clean_header, client_ip, user_agent
from core.vocabulary import Channel
from leads import roles
from leads.models import CaptureForm
from leads.validation import VISITOR_ID


def _require_capture_role(user) -> None:
    if not roles.can_capture_manually(user):
        raise PermissionDenied(_("Only marketing, managers and admins can add leads by hand."))


@login_required
@require_http_methods(["GET", "POST"])
def create(request):
    _require_capture_role(request.user)
    form = ManualLeadForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        result = submissions.submit(
            channel=Channel.MANUAL, payload=form.payload(), by=request.user,
            ip_address=client_ip(request), user_agent=user_agent(request),
        )
        if result.lead is not None:
            if result.created:
                messages.success(request, _("Lead created."))
            else:
                messages.info(
                    request, _("This e-mail address already belonged to a lead: the entry was added to it, "
                               "empty fields were filled.")
                )
            return redirect("leads:detail", lead_id=result.lead.pk)
        form.add_service_errors(result.body.get("errors") or {"__all__": [result.body.get("detail", "")]})
        status = 400
    return render(request, "capture/lead_form.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def import_leads(request):
    """Step 1: upload the file (with its source and campaign); it is kept for the mapping step."""
    _require_capture_role(request.user)
    form = ImportForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                upload = imports.upload(
                    data=data["file"].read(), file_name=data["file"].name, by=request.user, source=data["source"],
                    campaign_slug=data["campaign"] or None,
                )
            except Invalid as invalid:
                _add_errors(form, invalid)
            else:
                return redirect("capture:import_mapping", token=upload.token)
        status = 400
    return _private(render(request, "capture/import.html", {"form": form}, status=status))


@login_required
@require_http_methods(["GET", "POST"])
def import_mapping(request, token):
    """Step 2: which column feeds which field (recognised from the headers, changeable, or ignored), with a
    preview of the first rows; importing redirects to the report."""
    _require_capture_role(request.user)
    upload = imports.upload_of(token=token, by=request.user)
    if upload.imported_at is not None:
        return redirect("capture:import_report", token=upload.token)
    columns, row_count = imports.preview(upload)
    form = MappingForm(request.POST or None, columns=columns)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                imports.import_upload(token=upload.token, by=request.user, mapping=form.mapping())
            except Invalid as invalid:
                _add_errors(form, invalid)
            except Conflict:  # imported meanwhile (a second click): its report
                pass
            if not form.errors:
                return redirect("capture:import_report", token=upload.token)
        status = 400
    context = {
        "upload": upload, "form": form, "row_count": row_count,
        "source_label": dict(Channel.choices).get(upload.source, upload.source), "upload_hours": imports.UPLOAD_HOURS,
    }
    return _private(render(request, "capture/import_mapping.html", context, status=status))


@login_required
@require_http_methods(["GET"])
def import_report(request, token):
    """Step 3: counts, the problems with their bad values, and the rejected rows to download."""
    _require_capture_role(request.user)
    upload = imports.upload_of(token=token, by=request.user)
    if upload.imported_at is None:
        return redirect("capture:import_mapping", token=upload.token)
    context = {"report": upload.report, "file_name": upload.file_name, "upload": upload,
               "has_rejected": bool(upload.rejected)}
    return _private(render(request, "capture/import_report.html", context))


@login_required
@require_http_methods(["GET"])
def import_rejected(request, token):
    """The rejected rows as CSV (the file's columns and delimiter, a last column with the problems)."""
    _require_capture_role(request.user)
    upload = imports.upload_of(token=token, by=request.user)
    if not upload.rejected:
        raise Http404(_("No row of this file was rejected."))
    stem = upload.file_name.rsplit(".", 1)[0] or "import"
    response = HttpResponse("\ufeff" + upload.rejected, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=_("%(file)s-rejected.csv") % {"file": stem}
    )
    return _private(response)


def _add_errors(form, invalid: Invalid) -> None:
    for field, field_messages in invalid.errors.items():
        for message in field_messages:
            form.add_error(field if field in form.fields else None, message)


def _private(response):
    """The import pages show people's data: never cached."""
    response["Cache-Control"] = "no-store"
    return response


def _within_rate(request, form: CaptureForm) -> ratelimit.Decision:
    """A fixed-window counter per form and client IP (FORM_RATE), atomic across processes."""
    limit, period = ratelimit.parse(settings.FORM_RATE)
    return ratelimit.hit(f"form:{form.pk}:{client_ip(request)}", limit=limit, period=period)


def _origin_of(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed IPv6 host such as http://[::1
        return "null"
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else "null"


def _own_origins(request) -> set[str]:
    return {f"{request.scheme}://{request.get_host()}".lower(), _origin_of(settings.SITE_URL)}


def _origin_allowed(request, form: CaptureForm) -> bool:
    """Embedded forms post cross-site, so instead of a CSRF token the browser's Origin (or Referer) must be
    this site or one of the form's allowed origins. Browsers send Origin on every cross-site POST; a request
    without both headers does not come from another site's page."""
    origin = request.headers.get("Origin")
    if origin is None and request.headers.get("Referer"):
        origin = _origin_of(request.headers["Referer"])
    if origin is None:
        return True
    allowed = {o.lower() for o in form.origins} | _own_origins(request)
    return origin.rstrip("/").lower() in allowed


def _framable(response, form: CaptureForm):
    """The site's CSP (config/settings.py), with the form's allowed origins as the only framing pages."""
    response._csp_replace = {"frame-ancestors": ["'self'", *form.origins]}  # read by django-csp's middleware
    return response


def _body_too_large(request) -> bool:
    """A hosted form's post fits a lead (CAPTURE_MAX_BODY_BYTES); larger is refused before it is read."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > settings.CAPTURE_MAX_BODY_BYTES
    except ValueError:
        return True


def _hosted_initial(request) -> dict:
    initial = {}
    visitor_id = request.GET.get("visitor_id", "")
    if VISITOR_ID.match(visitor_id):
        initial["visitor_id"] = visitor_id
    for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"):
        if request.GET.get(name):
            initial[name] = request.GET[name][:200]
    return initial


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def hosted_form(request, key: str):
    capture_form = CaptureForm.objects.filter(key=key, is_active=True).select_related("campaign").first()
    if capture_form is None:
        raise Http404(_("No such form."))
    context = {"capture_form": capture_form, "embed": request.GET.get("embed") == "1"}
    if request.method == "GET":
        initial = _hosted_initial(request)
        # Only the tracking visitor id profiles a GET: an address in the URL would be personal data in URLs.
        asked = profiling.asked_fields(capture_form, visitor_id=initial.get("visitor_id"))
        context["form"] = HostedForm(initial=initial, capture_form=capture_form, asked=asked)
        context["snippet"] = roles.is_staff_role(request.user)
        return _framable(render(request, "capture/hosted_form.html", context), capture_form)

    if _body_too_large(request):
        context["form"] = HostedForm(capture_form=capture_form, asked=capture_form.chosen_fields())
        context["too_large"] = True
        return _framable(render(request, "capture/hosted_form.html", context, status=413), capture_form)
    if not _origin_allowed(request, capture_form):
        raise PermissionDenied(_("This form may not be posted from that site."))
    rate = _within_rate(request, capture_form)
    if not rate.allowed:
        limited = render(request, "capture/hosted_limited.html", context, status=429)
        limited["Retry-After"] = str(rate.retry_after)
        return _framable(limited, capture_form)
    # the fields capture requires of this e-mail's lead (`profiling.required_fields`): shown again on an error
    asked = profiling.asked_fields(capture_form, email=request.POST.get("email"))
    form = HostedForm(request.POST, capture_form=capture_form, asked=asked)
    form.is_valid()  # shapes only; capture validates
    payload = form.payload()
    if form.is_spam:  # what the bot typed, as far as it can be stored (a NUL is spam all the same)
        payload["website_url"] = clean_header(form.data.get("website_url", ""), 200)
    result = submissions.submit(
        channel=Channel.WEB_FORM, form=capture_form, payload=payload, is_spam=form.is_spam,
        ip_address=client_ip(request), user_agent=user_agent(request),
    )
    if result.status in (200, 201):
        context["thank_you"] = capture_form.thank_you_text or _("Thank you! We will be in touch soon.")
        return _framable(render(request, "capture/hosted_thanks.html", context), capture_form)
    form.add_service_errors(result.body.get("errors") or {"__all__": [result.body.get("detail", "")]})
    context["form"] = form
    return _framable(render(request, "capture/hosted_form.html", context, status=400), capture_form)
