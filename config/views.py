"""Project-level views: the throttled password reset and the API docs under the site's CSP."""

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.utils.translation import gettext as _

from config.env import RATE_PERIODS
from core.http import client_ip


def _rate() -> tuple[int, int]:
    number, _sep, period = settings.PASSWORD_RESET_RATE.partition("/")
    return int(number), RATE_PERIODS[period]


def _over_limit(bucket: str) -> bool:
    """A fixed-window counter in the shared cache; True once the bucket is over PASSWORD_RESET_RATE."""
    limit, seconds = _rate()
    key = "leadwerk:password-reset:" + hashlib.sha256(bucket.encode("utf-8", "replace")).hexdigest()
    cache.add(key, 0, timeout=seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        count = 1
    return count > limit


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, sending at most PASSWORD_RESET_RATE mails per client IP and per address.

    Over the limit the form comes back with a clear message (429) and no mail goes out; the answer does
    not say whether the address has an account."""

    def post(self, request, *args, **kwargs):
        email = (request.POST.get("email") or "").strip().lower()[:254]
        by_ip = _over_limit(f"ip:{client_ip(request)}")
        by_address = _over_limit(f"email:{email}") if email else False
        if by_ip or by_address:
            form = self.get_form()
            form.is_valid()
            form.add_error("email", _("Too many password reset requests. Please wait a while and try again."))
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
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
