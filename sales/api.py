"""Accounts, opportunities and the pipeline report as JSON. Thin: visibility from `selectors`, writes and
validation in `services`; `core.api` turns domain errors into 400/404/409 answers."""

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import INVALID, NOT_PERMITTED, NOT_VISIBLE, UNAUTHENTICATED, json_object
from core.errors import Invalid
from core.parsers import SafeJSONParser
from sales import selectors, services
from sales import serializers as s

LIMIT = 200


class AccountsView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Accounts visible to the caller", responses={200: s.AccountSerializer(many=True), 401: UNAUTHENTICATED}
    )
    def get(self, request):
        accounts = selectors.visible_accounts(request.user).order_by("name", "id")[:LIMIT]
        return Response(s.AccountSerializer(accounts, many=True).data)

    @extend_schema(
        summary="Create an account (managers, marketing)",
        request=s.AccountInputSerializer,
        responses={201: s.AccountSerializer, 400: INVALID, 401: UNAUTHENTICATED, 403: NOT_PERMITTED},
    )
    def post(self, request):
        account = services.create_account(by=request.user, data=json_object(request))
        return Response(s.AccountSerializer(account).data, status=201)


class OpportunitiesView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Opportunities visible to the caller",
        parameters=[OpenApiParameter("lead", int, description="only this lead's opportunities")],
        responses={200: s.OpportunitySerializer(many=True), 400: INVALID, 401: UNAUTHENTICATED},
    )
    def get(self, request):
        opportunities = selectors.visible_opportunities(request.user).prefetch_related("stakeholders")
        lead = request.query_params.get("lead")
        if lead is not None:
            if not lead.isdigit():
                raise Invalid({"lead": [_("Enter a lead id.")]})
            opportunities = opportunities.filter(lead_id=int(lead))
        return Response(s.OpportunitySerializer(opportunities[:LIMIT], many=True).data)

    @extend_schema(
        summary="Open an opportunity for a lead",
        request=s.OpportunityInputSerializer,
        responses={201: s.OpportunitySerializer, 400: INVALID, 401: UNAUTHENTICATED, 403: NOT_PERMITTED},
    )
    def post(self, request):
        opportunity = services.create_opportunity(by=request.user, data=json_object(request))
        return Response(s.OpportunitySerializer(opportunity).data, status=201)


class OpportunityView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(summary="One opportunity", responses={200: s.OpportunitySerializer, 404: NOT_VISIBLE})
    def get(self, request, pk):
        opportunity = selectors.get_visible_opportunity(request.user, pk)
        if opportunity is None:
            raise Http404(_("No such opportunity."))
        return Response(s.OpportunitySerializer(opportunity).data)

    @extend_schema(
        summary="Change an opportunity (a stage move needs the version you saw: 409 when it moved since)",
        request=s.OpportunityInputSerializer,
        responses={200: s.OpportunitySerializer, 400: INVALID, 403: NOT_PERMITTED, 404: NOT_VISIBLE},
    )
    def patch(self, request, pk):
        opportunity = services.update_opportunity(opportunity_id=pk, by=request.user, data=json_object(request))
        return Response(s.OpportunitySerializer(opportunity).data)


class PipelineReportView(APIView):
    @extend_schema(
        summary="Open pipeline, weighted forecast, win rate, velocity", responses={200: s.PipelineReportSerializer}
    )
    def get(self, request):
        report = selectors.pipeline_summary(request.user, today=timezone.localdate())
        return Response(s.PipelineReportSerializer(report).data)
