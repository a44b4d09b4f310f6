"""The HTML side of the domain errors (`core.errors`): mapped once, for every page.

A view that has a form to show again catches `Invalid` or `Refused` itself (that is form handling); any
domain error a view lets through becomes the page a user expects: 404 for `NotFound` (also for what the
user may not see), 403 for `NotPermitted`, and a short page with the sentence (and the unmet items) for
`Invalid` (400), `Refused` and `Conflict` (409). The API maps the same errors in `core.api`.
"""

from http.client import responses

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults

from core.errors import DomainError, NotFound, NotPermitted, Refused


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DomainError):
            return None
        if isinstance(exception, NotFound):
            return defaults.page_not_found(request, Http404(exception.message))
        if isinstance(exception, NotPermitted):
            return defaults.permission_denied(request, PermissionDenied(exception.message))
        unmet = exception.unmet if isinstance(exception, Refused) else []
        return render(request, "error.html", {"message": exception.message, "unmet": unmet}, status=exception.status)


class ApiErrorsAsJson:
    """Under /api/, every error answer is JSON, in every mode: an unknown URL (the resolver's 404, which
    DEBUG would render as a page listing every URL pattern), a 405 of a plain view, a body Django refuses
    as too large, and a 500 (no traceback, whatever DEBUG says). 400 keeps the API's `{"errors"}` shape;
    the others are `{"detail"}`. Outermost, so it sees the answers of every other layer."""

    PREFIX = "/api/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(self.PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        return api_error(response.status_code, headers=response)


def api_error(status: int, headers=None) -> JsonResponse:
    reason = responses.get(status, "Error")
    if status == 400:
        body = {"errors": {"non_field_errors": [_("The request could not be read.")]}}
    elif status == 404:
        body = {"detail": _("Not found.")}
    elif status >= 500:
        body = {"detail": _("Server error: it was logged. Please try again in a moment.")}
    else:
        body = {"detail": reason}
    response = JsonResponse(body, status=status)
    for name in ("Allow", "Retry-After", "WWW-Authenticate"):
        if headers is not None and headers.has_header(name):
            response[name] = headers[name]
    return response


def page_not_found(request, exception):
    """handler404: JSON under /api/, the site's page elsewhere."""
    if request.path.startswith(ApiErrorsAsJson.PREFIX):
        return api_error(404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """handler500: JSON under /api/, the site's static page elsewhere."""
    if request.path.startswith(ApiErrorsAsJson.PREFIX):
        return api_error(500)
    return defaults.server_error(request)


class NoNulInPath:
    """A path with a NUL or a lone surrogate names nothing: 404 at the door, before any lookup sees it
    (PostgreSQL refuses NUL in text). Query strings are left to the forms that read them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if "\x00" in path or any("\ud800" <= ch <= "\udfff" for ch in path):
            if request.path.startswith(ApiErrorsAsJson.PREFIX):
                return api_error(404)
            return defaults.page_not_found(request, Http404())
        return self.get_response(request)


class PermissionsPolicy:
    """`Permissions-Policy` on every answer (settings.PERMISSIONS_POLICY): no camera, microphone,
    geolocation, payment or USB for any page, ours or framed."""

    def __init__(self, get_response):
        from django.conf import settings

        self.policy = settings.PERMISSIONS_POLICY
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.policy)
        return response
