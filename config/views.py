"""Project-level views: the throttled password reset, the API docs under the site's CSP and the admin's
"what needs attention" page."""

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from config import attention
from core import ratelimit
from core.http import client_ip


def _refused(bucket: str):
    """One hit on the bucket's PASSWORD_RESET_RATE counter (`core.ratelimit`: atomic); its Decision when
    over the limit, else None."""
    limit, period = ratelimit.parse(settings.PASSWORD_RESET_RATE)
    key = "password-reset:" + hashlib.sha256(bucket.encode("utf-8", "replace")).hexdigest()
    decision = ratelimit.hit(key, limit=limit, period=period)
    return None if decision.allowed else decision


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, sending at most PASSWORD_RESET_RATE mails per client IP and per address.

    Over the limit the form comes back with a clear message (429) and no mail goes out; the answer does
    not say whether the address has an account."""

    def post(self, request, *args, **kwargs):
        email = (request.POST.get("email") or "").strip().lower()[:254]
        refusals = [r for r in (_refused(f"ip:{client_ip(request)}"), email and _refused(f"email:{email}")) if r]
        if refusals:
            form = self.get_form()
            form.is_valid()
            form.add_error("email", _("Too many password reset requests. Please wait a while and try again."))
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            response["Retry-After"] = str(max(refusal.retry_after for refusal in refusals))
            return response
        return super().post(request, *args, **kwargs)


throttled_password_reset = ThrottledPasswordResetView.as_view()


def locked_out(request, response=None, credentials=None):
    """django-axes' answer for a locked-out login (site and admin alike): a page saying why and for how
    long (429), with no hint whether the account exists."""
    from django.shortcuts import render

    minutes = round(settings.AXES_COOLOFF_TIME * 60)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=429)


@login_required
@require_GET
def attention_page(request):
    """The admin's landing page: what needs attention now (`config.attention`)."""
    if not request.user.is_superuser:
        raise PermissionDenied(_("Only admins see what needs attention."))
    return render(request, "config/attention.html", {"attention": attention.attention()})
