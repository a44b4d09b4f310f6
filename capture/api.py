"""The capture API: `POST /api/v1/capture/` (forms and integrations) and `POST /api/v1/track/` (site
tracking). Thin: authenticate, throttle, parse, call one capture function, answer."""

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.parsers import JSONParser
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
from core.api import INVALID, THROTTLED, UNAUTHENTICATED, DetailSerializer, json_object
from core.http import client_ip
from core.vocabulary import Channel


class CaptureView(CrossOriginMixin, APIView):
    authentication_classes = [TokenAuthentication, FormKeyAuthentication, SessionAuthentication]
    permission_classes = [HasFormKeyOrCaptureRole, OriginAllowed]
    throttle_classes = [CaptureThrottle]
    parser_classes = [JSONParser]

    def get_authenticate_header(self, request):
        return f'Token, {FormKeyAuthentication().authenticate_header(request)}'

    @extend_schema(
        summary="Capture a lead (web forms, integrations)",
        description=(
            "Authenticate with a form's key in `X-Form-Key`, or with the API token of a marketing user, manager "
            "or admin. A new normalised e-mail creates a lead (201); a known one adds a touchpoint to it and "
            "fills its empty fields (200, `created: false`). With an `Idempotency-Key` header, repeating the "
            "request returns the first response without a second effect; the same key with another body is 422, "
            "and 409 while the first request is still in progress. Missing credentials are 401; a wrong or "
            "inactive form key, an `Origin` the form does not allow, or the token of a user without a capture "
            "role are 403."
        ),
        operation_id="v1_capture",
        parameters=[
            OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                             description="Any unique string of at most 200 characters per logical submission."),
        ],
        request=s.CaptureRequest,
        responses={
            201: OpenApiResponse(s.CaptureResponse, description="A new lead."),
            200: OpenApiResponse(s.CaptureResponse, description="Merged into the lead with this e-mail."),
            400: INVALID,
            401: UNAUTHENTICATED,
            403: OpenApiResponse(DetailSerializer, description="Wrong form key, origin or role."),
            409: OpenApiResponse(DetailSerializer, description="The first request with this key is in progress."),
            422: OpenApiResponse(DetailSerializer, description="The key was used with a different body."),
            429: THROTTLED,
        },
    )
    def post(self, request):
        form = form_of(request)
        # Passed as it came (a non-object body included): capture records every attempt, then refuses it.
        payload = request.data.dict() if isinstance(request.data, QueryDict) else request.data
        result = submissions.submit(
            channel=Channel.API,
            payload=payload,
            form=form,
            by=None if form else request.user,
            idempotency_key=request.headers.get("Idempotency-Key", "").strip(),
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(result.body, status=result.status)


class TrackView(CrossOriginMixin, APIView):
    authentication_classes = [FormKeyAuthentication]
    permission_classes = [HasFormKey, OriginAllowed]
    throttle_classes = [TrackThrottle]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Record a page view of an anonymous visitor (the tracking script)",
        operation_id="v1_track",
        request=s.TrackRequest,
        responses={
            202: s.TrackResponse, 400: INVALID, 401: UNAUTHENTICATED,
            403: OpenApiResponse(DetailSerializer, description="Wrong form key or origin."), 429: THROTTLED,
        },
    )
    def post(self, request):
        visitor = tracking.track(form=form_of(request), raw=json_object(request))
        return Response({"visitor_id": visitor.anonymous_id}, status=status.HTTP_202_ACCEPTED)
