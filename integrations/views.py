"""Pages of the integrations app: the lead list as CSV (the page's "Export CSV" button)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from integrations import exports


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
