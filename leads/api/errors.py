"""Error responses of the JSON API.

DRF's own errors keep DRF's shape (`{"detail": ...}`, or its field dict for query parameters). The domain's
errors are mapped here, once, so views stay thin:

- `LeadNotFound` -> 404 `{"detail"}`, `NotPermitted` -> 403 `{"detail"}`
- `InvalidInput`, `CaptureInvalid`, `InvalidRequest` -> 400 `{"errors": {field: [messages]}}`
- `TransitionRefused` -> 409 `{"detail", "unmet": [{"code", "message"}]}`
- `OwnerConflict` -> 409 `{"detail"}`

Every 401 carries a `WWW-Authenticate` challenge.
"""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from leads import lifecycle
from leads.validation import CaptureInvalid

AUTH_CHALLENGE = "Token"  # the scheme of DRF token authentication


class InvalidRequest(Exception):
    """A request body (or query) the API itself refuses, before any domain code runs."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(str(errors))
        self.errors = errors


def exception_handler(exc, context):
    response = _domain_response(exc)
    if response is not None:
        set_rollback()
    else:
        response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.headers.setdefault("WWW-Authenticate", AUTH_CHALLENGE)
    return response


def _domain_response(exc) -> Response | None:
    if isinstance(exc, lifecycle.LeadNotFound):
        return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, lifecycle.NotPermitted):
        return Response({"detail": exc.message}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, lifecycle.InvalidInput | CaptureInvalid | InvalidRequest):
        return Response({"errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, lifecycle.TransitionRefused):
        return Response(
            {"detail": exc.detail, "unmet": [unmet.as_dict() for unmet in exc.unmet]},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, lifecycle.OwnerConflict):
        return Response({"detail": exc.detail}, status=status.HTTP_409_CONFLICT)
    return None
