"""The JSON API's error responses: the domain errors (`core.errors`) mapped once, for every API view.

- `NotFound` -> 404 `{"detail"}`, `NotPermitted` -> 403 `{"detail"}`
- `Invalid` -> 400 `{"errors": {field: [messages]}}`
- `Refused` -> 409 `{"detail", "unmet": [{"code", "message"}]}`
- `Conflict` -> 409 `{"detail", ...data}`, `Stale` -> 412 `{"detail"}`

Also the error shapes for the schema (`DetailSerializer`, `ErrorsSerializer`, `RefusedSerializer`) and
the small request helpers every API view uses (`json_object`, `parse_body`).

DRF's own errors keep DRF's shape (`{"detail": ...}`), except a body that does not parse: that is a 400
`{"errors": {"non_field_errors": [...]}}` like every other bad input (`core.parsers` names the problem).
Every 401 carries a `WWW-Authenticate` challenge. Errors outside the views (an unknown URL under /api/, a
500) are JSON too: `core.middleware.ApiErrorsAsJson`.
"""

from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import Conflict, DomainError, Invalid, NotFound, NotPermitted, Refused, Stale

AUTH_CHALLENGE = "Token"  # the scheme of DRF token authentication


def exception_handler(exc, context):
    response = domain_response(exc)
    if response is not None:
        set_rollback()
    elif isinstance(exc, exceptions.ParseError):
        response = Response({"errors": {"non_field_errors": [str(exc.detail)]}}, status=status.HTTP_400_BAD_REQUEST)
    else:
        response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.headers.setdefault("WWW-Authenticate", AUTH_CHALLENGE)
    return response


def error_body(exc: DomainError) -> tuple[int, dict]:
    """(status, body) of a domain error in the API's shapes."""
    if isinstance(exc, Invalid):
        return status.HTTP_400_BAD_REQUEST, {"errors": exc.errors}
    if isinstance(exc, Refused):
        return status.HTTP_409_CONFLICT, {"detail": exc.message, "unmet": [unmet.as_dict() for unmet in exc.unmet]}
    if isinstance(exc, NotFound):
        return status.HTTP_404_NOT_FOUND, {"detail": exc.message}
    if isinstance(exc, NotPermitted):
        return status.HTTP_403_FORBIDDEN, {"detail": exc.message}
    if isinstance(exc, Conflict):
        return status.HTTP_409_CONFLICT, {**exc.data, "detail": exc.message}
    if isinstance(exc, Stale):
        return status.HTTP_412_PRECONDITION_FAILED, {"detail": exc.message}
    return exc.status, {"detail": exc.message}


def domain_response(exc) -> Response | None:
    if not isinstance(exc, DomainError):
        return None
    code, body = error_body(exc)
    return Response(body, status=code)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ErrorsSerializer(serializers.Serializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text=gettext_lazy("Messages per field; `non_field_errors` for the body as a whole."),
    )


class UnmetSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class RefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    unmet = UnmetSerializer(
        many=True, help_text=gettext_lazy("Every guard that is not met, in words a user understands.")
    )


def json_object(request) -> dict:
    """The request body as a dict; anything but a JSON object is a 400 that says so."""
    data = request.data
    if isinstance(data, QueryDict):  # no body at all
        return data.dict()
    if not isinstance(data, dict):
        raise Invalid({"non_field_errors": [_("Send a JSON object.")]})
    return data


def parse_body(request, serializer_class) -> dict:
    """Validate a small body with a serializer; unknown fields are refused like everywhere else."""
    data = json_object(request)
    serializer = serializer_class(data=data)
    errors = {key: [_("Unknown field.")] for key in sorted(set(data) - set(serializer.fields))}
    if not serializer.is_valid():
        errors.update(serializer.errors)
    if errors:
        raise Invalid(errors)
    return serializer.validated_data


NOT_VISIBLE = OpenApiResponse(DetailSerializer, description="No such lead, or not visible to the caller.")


NOT_PERMITTED = OpenApiResponse(DetailSerializer, description="The caller may not do this.")


UNAUTHENTICATED = OpenApiResponse(DetailSerializer, description="No or invalid credentials.")


INVALID = OpenApiResponse(ErrorsSerializer, description="Invalid input; every bad field is named.")


THROTTLED = OpenApiResponse(DetailSerializer, description="Too many requests; see Retry-After.")


TOO_LARGE = OpenApiResponse(DetailSerializer, description="The body is larger than the endpoint's limit.")

