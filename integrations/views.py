"""Pages of the integrations app: the lead list as CSV (the page's "Export CSV" button), and the endpoints
Meta and LinkedIn post ad form leads to."""

import hmac
import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from integrations import adleads, exports
from integrations.models import AdPlatform


@login_required
@require_GET
def lead_csv(request):
    lead_filter = exports.filtered(request.user, request.GET)
    if not lead_filter.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in lead_filter.errors.items())
        message = _("Fix the filters before exporting: %(problems)s") % {"problems": problems}
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(exports.rows(lead_filter), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="leads-{timezone.localdate():%Y-%m-%d}.csv"'
    response["Cache-Control"] = "no-store"
    return response


# --- inbound ad lead forms (called by Meta and LinkedIn; authenticated by their signatures) ----------------


def _not_configured():
    return HttpResponse(_("This platform is not configured."), status=404, content_type="text/plain")


def _json_body(request):
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None


@csrf_exempt
@require_http_methods(["GET", "POST"])
def meta_leads(request):
    if not settings.META_APP_SECRET:
        return _not_configured()
    if request.method == "GET":  # the subscription handshake
        token = request.GET.get("hub.verify_token", "")
        expected = settings.META_VERIFY_TOKEN
        if request.GET.get("hub.mode") == "subscribe" and expected and hmac.compare_digest(token, expected):
            return HttpResponse(request.GET.get("hub.challenge", "")[:200], content_type="text/plain")
        return HttpResponse(_("Wrong verify token."), status=403, content_type="text/plain")
    if not adleads.meta_signature_ok(request.body, request.headers.get("X-Hub-Signature-256", "")):
        adleads.reject_unsigned(AdPlatform.META, "bad or missing signature (X-Hub-Signature-256)")
        return JsonResponse({"detail": _("Bad signature.")}, status=401)
    payload = _json_body(request)
    if payload is None:
        return JsonResponse({"errors": {"non_field_errors": [_("Send a JSON object.")]}}, status=400)
    recorded = adleads.receive(AdPlatform.META, adleads.meta_notices(payload))
    return JsonResponse({"received": len(recorded)})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def linkedin_leads(request):
    if not settings.LINKEDIN_CLIENT_SECRET:
        return _not_configured()
    if request.method == "GET":  # the endpoint validation
        code = request.GET.get("challengeCode", "")
        if not code or len(code) > 200:
            return JsonResponse({"errors": {"challengeCode": [_("Send the challenge code.")]}}, status=400)
        return JsonResponse(adleads.linkedin_challenge(code))
    if not adleads.linkedin_signature_ok(request.body, request.headers.get("X-LI-Signature", "")):
        adleads.reject_unsigned(AdPlatform.LINKEDIN, "bad or missing signature (X-LI-Signature)")
        return JsonResponse({"detail": _("Bad signature.")}, status=401)
    payload = _json_body(request)
    if payload is None:
        return JsonResponse({"errors": {"non_field_errors": [_("Send a JSON object.")]}}, status=400)
    recorded = adleads.receive(AdPlatform.LINKEDIN, adleads.linkedin_notices(payload))
    return JsonResponse({"received": len(recorded)})
