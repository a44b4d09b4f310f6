"""Report API: the figures of the report pages as JSON, for the same filters.

`GET /api/v1/reports/funnel/`, `/velocity/`, `/speed-to-lead/`, `/sources/`, `/reasons/` with `start`, `end`
(ISO dates), `source`, `campaign` (slug), `team` (slug), `rep` (username); bad values answer 400 naming the
field.
Marketing, managers and admins see everything; an SDR gets their own figures whatever `rep` says.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core import replica
from core.auth import TokenAuthentication
from core.errors import Invalid
from core.vocabulary import Channel
from leads import roles
from leads.api.serializers import DetailSerializer, ErrorsSerializer
from reporting import selectors
from reporting.forms import FunnelFilterForm, ReportFilterForm, SourcesFilterForm


class MaySeeReports(BasePermission):
    message = "Reports are for marketing, managers and SDRs."

    def has_permission(self, request, view):
        return roles.is_staff_role(request.user) or roles.is_sdr(request.user)


# --- response shapes (documentation and rendering) ------------------------------------------------------


class ReportFiltersSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    source = serializers.CharField(allow_blank=True)
    campaign = serializers.CharField(allow_blank=True)
    team = serializers.CharField(allow_blank=True)
    rep = serializers.CharField(allow_blank=True, help_text="Always the caller for an SDR.")


class ReportFunnelStageSerializer(serializers.Serializer):
    stage = serializers.CharField(help_text="visitors, known, mql, sal, sql, opportunity, customer")
    label = serializers.CharField()
    count = serializers.IntegerField(allow_null=True, help_text="Visitors: null per rep or team.")


class ReportConversionSerializer(serializers.Serializer):
    source = serializers.CharField()
    target = serializers.CharField()
    label = serializers.CharField()
    rate = serializers.FloatField(allow_null=True, help_text="Percent; null without leads in the source stage.")
    band_min = serializers.FloatField(allow_null=True, help_text="Benchmark band, percent.")
    band_max = serializers.FloatField(allow_null=True)
    flag = serializers.CharField(help_text='"below" or "above" the band, else empty.')


class ReportFunnelSerializer(serializers.Serializer):
    filters = ReportFiltersSerializer()
    view = serializers.ChoiceField(choices=["cohort", "flow"])
    stages = ReportFunnelStageSerializer(many=True)
    conversions = ReportConversionSerializer(many=True)
    reentries = serializers.IntegerField(
        allow_null=True, help_text="Flow: leads reopened from lost or disqualified in the range (counted in known); "
                                   "cohort: null.",
    )


class ReportStageTimeSerializer(serializers.Serializer):
    stage = serializers.CharField()
    label = serializers.CharField()
    stays = serializers.IntegerField(help_text="Stays in the stage that ended in the range.")
    median_days = serializers.FloatField(allow_null=True)
    mean_days = serializers.FloatField(allow_null=True)
    p90_days = serializers.FloatField(allow_null=True)
    benchmark_days_min = serializers.FloatField(allow_null=True)
    benchmark_days_max = serializers.FloatField(allow_null=True)
    flag = serializers.CharField(help_text='"slow": median above the benchmark.')


class ReportTimeToWonSerializer(serializers.Serializer):
    dimension = serializers.ChoiceField(choices=["source", "campaign", "industry"])
    key = serializers.JSONField(help_text="Source value, campaign id or industry; null for none.")
    label = serializers.CharField()
    won = serializers.IntegerField()
    median_days = serializers.FloatField(allow_null=True)
    mean_days = serializers.FloatField(allow_null=True)
    p90_days = serializers.FloatField(allow_null=True)


class ReportVelocitySerializer(serializers.Serializer):
    filters = ReportFiltersSerializer()
    stages = ReportStageTimeSerializer(many=True)
    to_won = ReportTimeToWonSerializer(many=True)


class ReportSpeedRowSerializer(serializers.Serializer):
    key = serializers.JSONField(help_text="Username or team id; null: not assigned / no team / all.")
    label = serializers.CharField()
    leads = serializers.IntegerField()
    touched = serializers.IntegerField()
    capture_median_minutes = serializers.FloatField(allow_null=True)
    capture_mean_minutes = serializers.FloatField(allow_null=True)
    capture_p90_minutes = serializers.FloatField(allow_null=True)
    capture_within_share = serializers.FloatField(allow_null=True)
    capture_flag = serializers.CharField()
    assigned = serializers.IntegerField()
    assigned_touched = serializers.IntegerField()
    assignment_median_minutes = serializers.FloatField(allow_null=True)
    assignment_mean_minutes = serializers.FloatField(allow_null=True)
    assignment_p90_minutes = serializers.FloatField(allow_null=True)
    assignment_within_share = serializers.FloatField(allow_null=True)
    assignment_flag = serializers.CharField()


class ReportSpeedToLeadSerializer(serializers.Serializer):
    filters = ReportFiltersSerializer()
    threshold_minutes = serializers.FloatField()
    share_min = serializers.FloatField()
    overall = ReportSpeedRowSerializer()
    by_rep = ReportSpeedRowSerializer(many=True)
    by_team = ReportSpeedRowSerializer(many=True)


class ReportDeciderSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True, help_text="Username; null: the system.")
    label = serializers.CharField()
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class ReportReasonSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The reason code (GET /api/v1/reason-codes/); free-text reasons "
                                           "from before reason codes count as \"other\".")
    reason = serializers.CharField(help_text="The code's label.")
    count = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True, help_text="Of all setbacks of this transition, in %.")


class ReportReasonsByTransitionSerializer(serializers.Serializer):
    reject = ReportReasonSerializer(many=True)
    recycle = ReportReasonSerializer(many=True)
    disqualify = ReportReasonSerializer(many=True)
    lose = ReportReasonSerializer(many=True)


class ReportReasonTotalsSerializer(serializers.Serializer):
    reject = serializers.IntegerField()
    recycle = serializers.IntegerField()
    disqualify = serializers.IntegerField()
    lose = serializers.IntegerField()


class ReportReasonsSerializer(serializers.Serializer):
    filters = ReportFiltersSerializer()
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)
    by_rep = ReportDeciderSerializer(many=True)
    reasons = ReportReasonsByTransitionSerializer(help_text="Per transition, the reason codes by count (top 15).")
    reason_totals = ReportReasonTotalsSerializer()


class ReportRoiRowSerializer(serializers.Serializer):
    key = serializers.JSONField(help_text="Source value or campaign id; null: no campaign / total.")
    label = serializers.CharField()
    leads = serializers.IntegerField()
    mqls = serializers.IntegerField()
    sqls = serializers.IntegerField()
    opportunities = serializers.IntegerField()
    customers = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    cost = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    cost_per_lead = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    cost_per_mql = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    cost_per_sql = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    cac = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    roi = serializers.FloatField(allow_null=True, help_text="(revenue - cost) / cost, percent.")


class ReportSourcesSerializer(serializers.Serializer):
    filters = ReportFiltersSerializer()
    attribution = serializers.ChoiceField(choices=["first", "last"])
    costs_shown = serializers.BooleanField()
    by_source = ReportRoiRowSerializer(many=True)
    by_campaign = ReportRoiRowSerializer(many=True)
    total = ReportRoiRowSerializer()


FILTER_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (default: 29 days before end)."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, inclusive (default: today)."),
    OpenApiParameter("source", OpenApiTypes.STR, enum=list(Channel.values), description="Lead source."),
    OpenApiParameter("campaign", OpenApiTypes.STR, description="Campaign slug."),
    OpenApiParameter("team", OpenApiTypes.STR, description="Team slug: leads its reps own or owned."),
    OpenApiParameter("rep", OpenApiTypes.STR, description="Username: leads the rep owns or owned (SDRs: themselves)."),
]
RESPONSES = {
    400: OpenApiResponse(ErrorsSerializer, description="A bad filter value; the field is named."),
    401: OpenApiResponse(DetailSerializer, description="No or invalid credentials."),
    403: OpenApiResponse(DetailSerializer, description="The caller has no role that sees reports."),
}


# --- views ----------------------------------------------------------------------------------------------


class ReportView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, MaySeeReports]
    form_class = ReportFilterForm
    serializer_class = None

    def dispatch(self, request, *args, **kwargs):
        with replica.reads_from_replica():  # the figures from the report replica, when there is one
            return super().dispatch(request, *args, **kwargs)

    def filters(self, request):
        form = self.form_class(request.query_params, user=request.user)
        if not form.is_valid():
            raise Invalid({field: list(errors) for field, errors in form.errors.items()})
        data = form.cleaned_data
        echo = {
            "start": data["start"], "end": data["end"], "source": data.get("source") or "",
            "campaign": data.get("campaign") or "", "team": data.get("team") or "", "rep": data.get("rep") or "",
        }
        return form, form.filters(), echo

    def respond(self, payload: dict) -> Response:
        return Response(self.serializer_class(payload).data)


class FunnelView(ReportView):
    form_class = FunnelFilterForm
    serializer_class = ReportFunnelSerializer

    @extend_schema(
        summary="Funnel: visitors to customers, with conversion against the benchmark bands",
        operation_id="v1_reports_funnel",
        parameters=[*FILTER_PARAMETERS, OpenApiParameter(
            "view", OpenApiTypes.STR, enum=["cohort", "flow"],
            description="cohort (default): leads created in the range that ever reached each stage; "
                        "flow: stage entries in the range.",
        )],
        responses={200: ReportFunnelSerializer, **RESPONSES},
    )
    def get(self, request):
        form, f, echo = self.filters(request)
        view = form.cleaned_data.get("view") or "cohort"
        return self.respond({"filters": echo, **selectors.funnel(f, view=view)})


class VelocityView(ReportView):
    serializer_class = ReportVelocitySerializer

    @extend_schema(
        summary="Velocity: days in each stage (median, mean, 90th percentile) and first touch to won",
        operation_id="v1_reports_velocity",
        parameters=FILTER_PARAMETERS,
        responses={200: ReportVelocitySerializer, **RESPONSES},
    )
    def get(self, request):
        _form, f, echo = self.filters(request)
        return self.respond({"filters": echo, **selectors.velocity(f)})


class SpeedToLeadView(ReportView):
    serializer_class = ReportSpeedToLeadSerializer

    @extend_schema(
        summary="Speed-to-lead: capture and assignment to first touch, per rep and team",
        operation_id="v1_reports_speed_to_lead",
        parameters=FILTER_PARAMETERS,
        responses={200: ReportSpeedToLeadSerializer, **RESPONSES},
    )
    def get(self, request):
        _form, f, echo = self.filters(request)
        return self.respond({"filters": echo, **selectors.speed_to_lead(f)})


class SourcesView(ReportView):
    form_class = SourcesFilterForm
    serializer_class = ReportSourcesSerializer

    @extend_schema(
        summary="Sources and campaigns: leads to revenue, cost per lead / MQL / SQL, CAC, ROI",
        operation_id="v1_reports_sources",
        parameters=[*FILTER_PARAMETERS, OpenApiParameter(
            "attribution", OpenApiTypes.STR, enum=["first", "last"],
            description="first (default): the lead's own source and campaign; last: the last touchpoint "
                        "before the lead became an MQL.",
        )],
        responses={200: ReportSourcesSerializer, **RESPONSES},
    )
    def get(self, request):
        form, f, echo = self.filters(request)
        attribution = form.cleaned_data.get("attribution") or "first"
        return self.respond({"filters": echo, **selectors.sources(f, attribution=attribution)})


class ReasonsView(ReportView):
    serializer_class = ReportReasonsSerializer

    @extend_schema(
        summary="Acceptance of MQLs and the reasons for setbacks (reject, recycle, disqualify, lose) by code",
        operation_id="v1_reports_reasons",
        parameters=FILTER_PARAMETERS,
        responses={200: ReportReasonsSerializer, **RESPONSES},
    )
    def get(self, request):
        _form, f, echo = self.filters(request)
        return self.respond({"filters": echo, **selectors.acceptance(f)})
