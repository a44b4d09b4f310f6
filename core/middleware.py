"""The HTML side of the domain errors (`core.errors`): mapped once, for every page.

A view that has a form to show again catches `Invalid` or `Refused` itself (that is form handling); any
domain error a view lets through becomes the page a user expects: 404 for `NotFound` (also for what the
user may not see), 403 for `NotPermitted`, and a short page with the sentence (and the unmet items) for
`Invalid` (400), `Refused` and `Conflict` (409). The API maps the same errors in `core.api`.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
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
