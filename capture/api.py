"""The capture API: `POST /api/v1/capture/` (forms and integrations) and `POST /api/v1/track/` (site
tracking). Thin: authenticate, throttle, parse, call one capture function, answer."""

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from capture import serializers as s
from capture import submissions, tracking
from capture.cors import (
    CrossOriginMixin,
    FormKeyAuthentication,
    HasFormKey,
    HasFormKeyOrCaptureRole,
    OriginAllowed,
    form_of,
)
from capture.throttling import CaptureThrottle, TrackThrottle
from core.api import (
    INVALID,
    THROTTLED,
    TOO_LARGE,
    UNAUTHENTICATED,
    DetailSerializer,
    json_object,
)
from core.auth import TokenAuthentication
from core.http import client_ip, user_agent
from core.parsers import SafeJSONParser
from core.vocabulary import Channel


class PublicBodyLimit:
    """Capture and track take bodies that fit a lead (CAPTURE_MAX_BODY_BYTES); larger is a 413."""

    @property
    def max_body_bytes(self) -> int:
        return settings.CAPTURE_MAX_BODY_BYTES


class CaptureView(PublicBodyLimit, CrossOriginMixin, APIView):
    authentication_classes = [TokenAuthentication, FormKeyAuthentication, SessionAuthentication]
    permission_classes = [HasFormKeyOrCaptureRole, OriginAllowed]
    throttle_classes = [CaptureThrottle]
    parser_classes = [SafeJSONParser]

    def get_authenticate_header(self, request):
        return f'Token, {FormKeyAuthentication().authenticate_header(request)}'

    @extend_schema(
        summary="Capture a lead (web forms, integrations)",
        description=(
            "Authenticate with a form's key in `X-Form-Key`, or with the API token of a marketing user, manager "
            "or admin. A new normalised e-mail creates a lead (201); a known one adds a touchpoint to it and "
            "fills its empty fields (200, `created: false`). A form-key caller gets 202 `{\"detail\"}` for "
            "both: the key is public, so its answer tells nothing about the lead. With an `Idempotency-Key` "
            "header, repeating the "
            "request returns the first response without a second effect; the same key with another body is 422, "
            "and 409 while the first request is still in progress. Missing credentials are 401; a wrong or "
            "inactive form key, an `Origin` the form does not allow, or the token of a user without a capture "
            "role are 403."
        ),
        operation_id="v1_capture",
        parameters=[
            OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                             pattern=r"^[ -~]{1,200}$",
                             description="A unique string per logical submission: 1 to 200 printable ASCII "
                                         "characters."),
        ],
        request=s.CaptureRequest,
        responses={
            201: OpenApiResponse(s.CaptureResponse, description="A new lead (API token)."),
            202: OpenApiResponse(DetailSerializer, description="Recorded (form key: new or known alike)."),
            200: OpenApiResponse(s.CaptureResponse, description="Merged into the lead with this e-mail (API token)."),
            400: INVALID,
            401: UNAUTHENTICATED,
            403: OpenApiResponse(DetailSerializer, description="Wrong form key, origin or role."),
            409: OpenApiResponse(DetailSerializer, description="The first request with this key is in progress."),
            413: TOO_LARGE,
            422: OpenApiResponse(DetailSerializer, description="The key was used with a different body."),
            429: THROTTLED,
        },
    )
    def post(self, request):
        form = form_of(request)
        payload = json_object(request)  # the parser refused what is no JSON object (or cannot be stored)
        result = submissions.submit(
            channel=Channel.API,
            payload=payload,
            form=form,
            by=None if form else request.user,
            idempotency_key=request.headers.get("Idempotency-Key", "").strip(),
            ip_address=client_ip(request),
            user_agent=user_agent(request),
        )
        if form is not None and result.status in (200, 201):
            # A form key is public (it sits in the customer's page): its caller learns nothing about the
            # lead, not even whether the address was known. Staff tokens get the full answer.
            return Response(THANK_YOU_BODY(), status=status.HTTP_202_ACCEPTED)
        return Response(result.body, status=result.status)


def THANK_YOU_BODY() -> dict:  # noqa: N802 - a constant body in the current language
    return {"detail": _("Thank you.")}


class TrackView(PublicBodyLimit, CrossOriginMixin, APIView):
    authentication_classes = [FormKeyAuthentication]
    permission_classes = [HasFormKey, OriginAllowed]
    throttle_classes = [TrackThrottle]
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Record a page view of an anonymous visitor (the tracking script)",
        operation_id="v1_track",
        request=s.TrackRequest,
        responses={
            202: s.TrackResponse, 400: INVALID, 401: UNAUTHENTICATED,
            403: OpenApiResponse(DetailSerializer, description="Wrong form key or origin."), 413: TOO_LARGE,
            429: THROTTLED,
        },
    )
    def post(self, request):
        visitor = tracking.track(form=form_of(request), raw=json_object(request))
        return Response({"visitor_id": visitor.anonymous_id}, status=status.HTTP_202_ACCEPTED)
