"""The JSON API's error responses: the domain errors (`core.errors`) mapped once, for every API view.

- `NotFound` -> 404 `{"detail"}`, `NotPermitted` -> 403 `{"detail"}`
- `Invalid` -> 400 `{"errors": {field: [messages]}}`
- `Refused` -> 409 `{"detail", "unmet": [{"code", "message"}]}`
- `Conflict` -> 409 `{"detail"}`

DRF's own errors keep DRF's shape (`{"detail": ...}`, or its field dict for query parameters). Every 401
carries a `WWW-Authenticate` challenge.
"""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import Conflict, DomainError, Invalid, NotFound, NotPermitted, Refused

AUTH_CHALLENGE = "Token"  # the scheme of DRF token authentication


def exception_handler(exc, context):
    response = domain_response(exc)
    if response is not None:
        set_rollback()
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
        return status.HTTP_409_CONFLICT, {"detail": exc.message}
    return exc.status, {"detail": exc.message}


def domain_response(exc) -> Response | None:
    if not isinstance(exc, DomainError):
        return None
    code, body = error_body(exc)
    return Response(body, status=code)
