"""Engagement API: programmes, enrolment of a lead, a lead's messages. Thin: visibility from leads' selectors
(another's lead is a 404), enrolment through services (409 naming why not)."""

from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import INVALID, NOT_VISIBLE, UNAUTHENTICATED, json_object
from core.errors import Invalid
from core.parsers import SafeJSONParser
from engagement import report, selectors, services
from engagement import serializers as s
from engagement.models import Enrolment, Programme, TrackingEvent
from leads.selectors import get_visible_lead

LIMIT = 500
REFUSED = OpenApiResponse(s.RefusalSerializer, description="Not enrolled: `reason` names why (e.g. "
                          "\"no consent for marketing e-mail\", \"already enrolled\").")


class ProgrammesView(APIView):
    @extend_schema(summary="Programmes (nurture series and cadences)",
                   responses={200: s.ProgrammeSerializer(many=True), 401: UNAUTHENTICATED})
    def get(self, request):
        if not (services.may_edit(request.user) or services.may_enrol_any(request.user)):
            return Response([])
        programmes = Programme.objects.annotate(
            active_enrolments=Count("enrolments", filter=Q(enrolments__status=Enrolment.Status.ACTIVE))
        ).prefetch_related("steps__template").order_by("name")[:LIMIT]
        return Response(s.ProgrammeSerializer(programmes, many=True).data)


class EnrolmentsView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Enrol a lead in a programme",
        request=s.EnrolmentInputSerializer,
        responses={201: s.EnrolmentSerializer, 400: INVALID, 401: UNAUTHENTICATED, 404: NOT_VISIBLE, 409: REFUSED},
    )
    def post(self, request, slug):
        programme = Programme.objects.filter(slug=slug).first()
        if programme is None:
            raise Http404(_("No such programme."))
        data = s.EnrolmentInputSerializer(data=json_object(request))
        if not data.is_valid():
            raise Invalid({field: [str(e) for e in errors] for field, errors in data.errors.items()})
        lead = get_visible_lead(request.user, data.validated_data["lead"])
        if lead is None:
            raise Http404(_("No such lead."))
        enrolment = services.enrol(programme=programme, lead_id=lead.pk, by=request.user)
        return Response(s.EnrolmentSerializer(enrolment).data, status=201)


class LeadMessagesView(APIView):
    @extend_schema(summary="A lead's marketing e-mails, each with its status and reason",
                   responses={200: s.MessageSerializer(many=True), 401: UNAUTHENTICATED, 404: NOT_VISIBLE})
    def get(self, request, pk):
        lead = get_visible_lead(request.user, pk)
        if lead is None:
            raise Http404(_("No such lead."))
        events = TrackingEvent.objects.filter(message=OuterRef("pk"))
        messages = selectors.visible_messages(lead).annotate(
            opened=Exists(events.filter(kind__in=[TrackingEvent.Kind.OPENED, TrackingEvent.Kind.CLICKED])),
            clicked=Exists(events.filter(kind=TrackingEvent.Kind.CLICKED)),
        )[:LIMIT]
        return Response(s.MessageSerializer(messages, many=True).data)




class ProgrammeReportView(APIView):
    @extend_schema(
        summary="A programme's figures by step and variant, and its A/B tests (two-proportion z-test)",
        parameters=[OpenApiParameter("confidence", float, description="0.5-0.999, default 0.95")],
        responses={200: s.ProgrammeReportSerializer, 400: INVALID, 401: UNAUTHENTICATED, 404: NOT_VISIBLE},
    )
    def get(self, request, slug):
        programme = Programme.objects.filter(slug=slug).first()
        if programme is None or not services.may_edit(request.user):
            raise Http404(_("No such programme."))
        raw = request.query_params.get("confidence", "0.95")
        try:
            confidence = float(raw)
        except ValueError:
            confidence = -1.0
        if not 0.5 <= confidence <= 0.999:
            raise Invalid({"confidence": [_("Give a confidence level from 0.5 to 0.999.")]})
        return Response(report.programme_report(programme, confidence=confidence))
