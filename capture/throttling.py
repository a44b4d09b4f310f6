"""Rate limits of the public endpoints (capture, track), counted atomically by `core.ratelimit`.

The bucket is the caller's credential (form key, or API user) plus the client IP, so one noisy site or
visitor does not exhaust a form's budget for everybody. Rates come from `REST_FRAMEWORK
["DEFAULT_THROTTLE_RATES"]` (`CAPTURE_RATE`, `TRACK_RATE`), read when the request arrives. Every 429 carries
`Retry-After`: the seconds until the window resets.
"""

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core import ratelimit
from core.http import client_ip
from leads.models import CaptureForm


class CredentialIpThrottle(SimpleRateThrottle):
    decision: ratelimit.Decision | None = None

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.decision = ratelimit.hit(key, limit=self.num_requests, period=self.duration)
        return self.decision.allowed

    def wait(self):
        return self.decision.retry_after if self.decision else None

    def get_rate(self):
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate is set for the scope {self.scope!r}.")

    def get_cache_key(self, request, view):
        form = request.auth if isinstance(request.auth, CaptureForm) else None
        if form is not None:
            credential = f"form{form.pk}"
        elif request.user.is_authenticated:
            credential = f"user{request.user.pk}"
        else:
            credential = "anonymous"
        return self.cache_format % {"scope": self.scope, "ident": f"{credential}_{client_ip(request)}"}


class CaptureThrottle(CredentialIpThrottle):
    scope = "capture"


class TrackThrottle(CredentialIpThrottle):
    scope = "track"
