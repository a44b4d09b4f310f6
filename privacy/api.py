"""Privacy API for integrations: export, erase, object, consent log of one lead.

Marketing and admins only (they answer data-subject requests); managers and SDRs get 403. A lead the caller
cannot see is a 404, as everywhere in the API.
"""

from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Conflict
from core.parsers import SafeJSONParser
from leads import selectors
from leads.api import serializers as s
from leads.api.views import INVALID, NOT_PERMITTED, NOT_VISIBLE, UNAUTHENTICATED, parse_body
from privacy import consent, rights
from privacy.models import ConsentEvent


class ConsentEventSerializer(serializers.ModelSerializer):
    wording_version = serializers.IntegerField(source="wording_version.version", allow_null=True, read_only=True)
    recorded_by = serializers.CharField(source="recorded_by.username", allow_null=True, read_only=True)
    kind = serializers.CharField(read_only=True, help_text="given, confirmed or withdrawn")
    channel = serializers.CharField(read_only=True, help_text="The capture channel (web_form, api, import, ...).")

    class Meta:
        model = ConsentEvent
        fields = (
            "id",
            "purpose",
            "kind",
            "requires_confirmation",
            "channel",
            "method",
            "legal_basis",
            "at",
            "wording",
            "wording_hash",
            "wording_version",
            "capture_form",
            "page_url",
            "recorded_by",
            "ip_address",
            "user_agent",
            "token_hash",
            "mail_sent_at",
            "confirmed_at",
            "evidence_reference",
            "note",
        )


class ConsentLogSerializer(serializers.Serializer):
    lead = serializers.IntegerField()
    status = serializers.DictField(child=serializers.CharField(), help_text="Status per purpose, from the log.")
    may_send_marketing = serializers.BooleanField()
    events = ConsentEventSerializer(many=True)


class EraseRequest(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why: e.g. the person's request and its date.")


class ObjectRequest(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ErasedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    erased_at = serializers.DateTimeField()


class ObjectedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    withdrawn = serializers.ListField(child=serializers.CharField(), help_text="Purposes withdrawn now.")


def _lead_for_request(request, pk: int):
    lead = selectors.get_visible_lead(request.user, pk)
    if lead is None:
        raise Http404(_("No such lead."))
    if not rights.may_handle_requests(request.user):
        raise PermissionDenied(_("Only marketing and administrators handle data requests."))
    return lead


class LeadExportView(APIView):
    @extend_schema(
        summary="Export everything held about the person (JSON, or CSV with ?as=csv); logged",
        operation_id="v1_leads_export",
        parameters=[OpenApiParameter("as", OpenApiTypes.STR, enum=["json", "csv"], required=False)],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiTypes.STR,
            401: UNAUTHENTICATED,
            403: NOT_PERMITTED,
            404: NOT_VISIBLE,
        },
    )
    def get(self, request, pk: int):
        lead = _lead_for_request(request, pk)
        document = rights.export(lead_id=lead.pk, by=request.user, via="api")
        if request.query_params.get("as") == "csv":
            return HttpResponse(rights.as_csv(document), content_type="text/csv; charset=utf-8")
        return HttpResponse(rights.as_json(document), content_type="application/json")


class LeadEraseView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Erase the person's data (anonymise; stage history stays) and suppress the address; logged",
        operation_id="v1_leads_erase",
        request=EraseRequest,
        responses={
            200: ErasedSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: NOT_PERMITTED,
            404: NOT_VISIBLE,
            409: OpenApiResponse(s.DetailSerializer, description="Already erased."),
        },
    )
    def post(self, request, pk: int):
        lead = _lead_for_request(request, pk)
        body = parse_body(request, EraseRequest)
        try:
            lead = rights.erase(lead_id=lead.pk, by=request.user, reason=body["reason"], via="api")
        except Conflict as done:
            return Response({"detail": str(done)}, status=status.HTTP_409_CONFLICT)
        return Response({"id": lead.pk, "erased_at": lead.erased_at})


class LeadObjectView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Objection to direct marketing: withdraw every marketing purpose; logged",
        operation_id="v1_leads_object",
        request=ObjectRequest,
        responses={200: ObjectedSerializer, 400: INVALID, 401: UNAUTHENTICATED, 403: NOT_PERMITTED, 404: NOT_VISIBLE},
    )
    def post(self, request, pk: int):
        lead = _lead_for_request(request, pk)
        body = parse_body(request, ObjectRequest)
        withdrawn = rights.object_to_marketing(
            lead_id=lead.pk, by=request.user, reason=body.get("reason", ""), via="api"
        )
        return Response({"id": lead.pk, "withdrawn": withdrawn})


class LeadConsentView(APIView):
    @extend_schema(
        summary="The consent log of a lead with the status per purpose",
        operation_id="v1_leads_consent",
        responses={200: ConsentLogSerializer, 401: UNAUTHENTICATED, 403: NOT_PERMITTED, 404: NOT_VISIBLE},
    )
    def get(self, request, pk: int):
        lead = _lead_for_request(request, pk)
        events = ConsentEvent.objects.filter(lead=lead).select_related("wording_version", "recorded_by")
        return Response(
            ConsentLogSerializer(
                {
                    "lead": lead.pk,
                    "status": consent.statuses(lead.pk),
                    "may_send_marketing": consent.may_send_marketing(lead),
                    "events": events,
                }
            ).data
        )
