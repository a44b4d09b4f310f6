"""The public endpoints' credentials and cross-origin rules.

Capture and track may be called by a browser on a customer's site with a form's key in `X-Form-Key`.
A form lists the origins allowed to do that (`CaptureForm.origins`):

- preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered for an origin some active form
  allows; the preflight carries no key, so the real check happens on the request itself;
- a request with `X-Form-Key` and an `Origin` header that the form does not allow is refused (403);
- an allowed origin gets `Access-Control-Allow-Origin` on every response, errors included, so the page
  can read them. Requests without an `Origin` header (servers, curl) need no origin.
"""

import re

from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication

from leads import roles
from leads.models import CaptureForm

FORM_KEY_HEADER = "X-Form-Key"
ALLOWED_HEADERS = "Content-Type, X-Form-Key, Idempotency-Key"
ALLOWED_METHODS = "POST, OPTIONS"
PREFLIGHT_MAX_AGE = "600"
FORM_KEY = re.compile(r"^[\x21-\x7e]{1,64}$")  # what a form key can be (printable ASCII, the column's length)
ORIGIN = re.compile(r"^[\x21-\x7e]{1,300}$")


class FormKeyAuthentication(BaseAuthentication):
    """`X-Form-Key: <an active form's key>`: no user, `request.auth` is the `CaptureForm`."""

    def authenticate(self, request):
        key = request.headers.get(FORM_KEY_HEADER, "").strip()
        if not key:
            return None
        if not FORM_KEY.match(key):  # no form has such a key; and a NUL would reach the lookup
            raise exceptions.PermissionDenied(_("Unknown or inactive form key."))
        form = CaptureForm.objects.select_related("campaign").filter(key=key, is_active=True).first()
        if form is None:
            raise exceptions.PermissionDenied(_("Unknown or inactive form key."))
        return (AnonymousUser(), form)

    def authenticate_header(self, request):
        return f'FormKey header="{FORM_KEY_HEADER}"'


class FormKeyScheme(OpenApiAuthenticationExtension):
    target_class = FormKeyAuthentication
    name = "formKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": FORM_KEY_HEADER}


def form_of(request) -> CaptureForm | None:
    try:
        auth = request.auth
    except exceptions.APIException:
        return None
    return auth if isinstance(auth, CaptureForm) else None


def normalized_origin(value: str) -> str:
    return value.strip().rstrip("/").lower()


def origin_allowed(form: CaptureForm, origin: str) -> bool:
    return normalized_origin(origin) in {normalized_origin(o) for o in form.origins}


class HasFormKey(permissions.BasePermission):
    message = _("Send an active form's key in the X-Form-Key header.")

    def has_permission(self, request, view):
        return form_of(request) is not None


class HasFormKeyOrCaptureRole(permissions.BasePermission):
    """A form key, or an API user who may capture leads (marketing, managers, admins)."""

    message = _("Only marketing, managers and admins may capture leads with their own credentials.")

    def has_permission(self, request, view):
        return form_of(request) is not None or roles.can_capture_manually(request.user)


class OriginAllowed(permissions.BasePermission):
    message = _("This form does not accept requests from this origin.")

    def has_permission(self, request, view):
        form = form_of(request)
        origin = request.headers.get("Origin")
        return form is None or origin is None or origin_allowed(form, origin)


def is_preflight(request) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def preflight(request) -> HttpResponse:
    origin = request.headers.get("Origin", "")
    if not origin or not _allowed_by_some_form(origin):
        response = JsonResponse({"detail": _("This origin may not call this endpoint.")}, status=403)
    else:
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    patch_vary_headers(response, ["Origin"])
    return response


def _allowed_by_some_form(origin: str) -> bool:
    needle = normalized_origin(origin)
    if not needle or not ORIGIN.match(needle):
        return False
    candidates = CaptureForm.objects.filter(is_active=True, allowed_origins__icontains=needle)
    return any(origin_allowed(form, origin) for form in candidates.only("allowed_origins"))


class CrossOriginMixin:
    """For APIViews: answer preflight before authentication, and add CORS headers to every response."""

    def dispatch(self, request, *args, **kwargs):
        if is_preflight(request):
            return preflight(request)
        return super().dispatch(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.headers.get("Origin")
        form = form_of(request)
        if origin and form is not None and origin_allowed(form, origin):
            response["Access-Control-Allow-Origin"] = origin
        patch_vary_headers(response, ["Origin"])
        return response
