"""The JSON API: thin interfaces that parse a request, call one domain function and render the result.

Visibility comes from `selectors` (a lead the caller may not see is a 404, whoever asks); permission,
guards and validation come from `lifecycle`, `capture` and `services`; `errors.exception_handler` turns
their exceptions into responses.
"""

import django_filters
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import INVALID, NOT_PERMITTED, NOT_VISIBLE, UNAUTHENTICATED, json_object, parse_body
from core.errors import Invalid, NotPermitted, Stale
from core.parsers import SafeJSONParser
from core.vocabulary import REASON_TRANSITIONS
from definitions import rules as reason_rules
from leads import activities, edits, history, lifecycle, roles, selectors
from leads.api import serializers as s
from leads.api.pagination import LeadCursorPagination
from leads.filters import LeadFilter
from leads.models import Lead

# --- leads ----------------------------------------------------------------------------------------------


class LeadApiFilter(LeadFilter):
    """The page's filters; the API pages by a cursor, so it sorts only by creation or change time.

    Incremental sync: `?updated_since=<ISO datetime>&ordering=updated_at` pages through the leads changed
    since then, oldest change first (docs/integrations.md)."""

    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte",
        label=gettext_lazy("Changed at or after this time (ISO 8601, e.g. 2026-12-03T08:00:00Z)"),
    )
    ordering = django_filters.OrderingFilter(
        fields=("created_at", "updated_at"),
        label=gettext_lazy("Sort: -created_at (newest first, default), created_at, updated_at or -updated_at"),
    )

    class Meta(LeadFilter.Meta):
        fields = [*LeadFilter.Meta.fields, "updated_since"]


class LeadFilterBackend(DjangoFilterBackend):
    """Bad filter values answer 400 `{"errors": {...}}` like every other bad input."""

    def filter_queryset(self, request, queryset, view):
        try:
            return super().filter_queryset(request, queryset, view)
        except ValidationError as invalid:
            raise Invalid(invalid.detail)


ETAG = OpenApiParameter(
    "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200],
    description="The lead's version (a quoted string); send it as If-Match to edit only this version.",
)
IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="The ETag of the lead as the caller read it: the edit is refused with 412 when the lead changed "
                "since. Optional: without it the fields sent are written whatever changed meanwhile.",
)


def etag(lead: Lead) -> str:
    return f'"{edits.version_of(lead)}"'


def if_match_version(request) -> str | None:
    """The version the caller's If-Match names; None without the header (or `*`: any version)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    tags = [tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")]
    if len(tags) != 1 or not tags[0]:
        raise Stale(_("Send the one ETag of the lead as you read it in If-Match."))
    return tags[0]


@extend_schema_view(
    list=extend_schema(
        summary="List the leads visible to the caller",
        responses={
            200: s.LeadSerializer(many=True), 400: INVALID, 401: UNAUTHENTICATED,
            404: OpenApiResponse(s.DetailSerializer, description="Invalid cursor (forged or damaged)."),
        },
    ),
    retrieve=extend_schema(
        summary="One lead with its history and the transitions the caller may fire",
        description="The `ETag` header is the lead's version; send it back as `If-Match` with a PATCH.",
        parameters=[ETAG],
        responses={200: s.LeadDetailSerializer, 401: UNAUTHENTICATED, 404: NOT_VISIBLE},
    ),
)
class LeadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.LeadSerializer
    filter_backends = [LeadFilterBackend]
    filterset_class = LeadApiFilter
    pagination_class = LeadCursorPagination
    parser_classes = [SafeJSONParser]

    def get_queryset(self):
        return selectors.visible_leads(self.request.user)

    def get_serializer_class(self):
        return s.LeadSerializer if self.action == "list" else s.LeadDetailSerializer

    def get_object(self) -> Lead:
        lead = selectors.with_lead_type(selectors.visible_leads(self.request.user)).select_related(
            "score_details"
        ).filter(pk=self.kwargs["pk"]).first()
        if lead is None:
            raise Http404(_("No such lead."))
        return lead

    def render_lead(self, lead_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
        """The lead as it is now (it may have left the caller's view, e.g. after a reject)."""
        lead = Lead.objects.select_related("owner", "campaign", "score_details", "prediction").get(pk=lead_id)
        response = Response(s.LeadDetailSerializer(lead, context=self.get_serializer_context()).data,
                            status=status_code)
        response["ETag"] = etag(lead)
        return response

    def retrieve(self, request, *args, **kwargs):
        lead = self.get_object()
        response = Response(self.get_serializer(lead).data)
        response["ETag"] = etag(lead)
        return response

    @extend_schema(
        summary="Edit the lead's contact and company fields",
        description=(
            "Marketing, managers and admins edit every field of the body; the owning SDR the contact fields "
            "(e-mail, names, phone, job title, address, language). Validated like every capture channel: a "
            "country by code or English/German name, employee counts with thousands separators, the phone to "
            "E.164. Stage, owner and score change through their actions, never here. An e-mail address of "
            "another lead is a 409 naming it (merge instead). Editing a fit field rescores the lead. Every "
            "change is in the field history (`/history/`). Refusals write nothing."
        ),
        operation_id="v1_leads_edit",
        parameters=[IF_MATCH, ETAG],
        request=s.LeadEditRequest,
        responses={
            200: s.LeadDetailSerializer,
            400: OpenApiResponse(s.ErrorsSerializer, description="Bad value, unknown or read-only field; each named."),
            401: UNAUTHENTICATED,
            403: OpenApiResponse(s.DetailSerializer, description="The caller may not edit (these fields of) the lead."),
            404: NOT_VISIBLE,
            409: OpenApiResponse(s.DetailSerializer, description="Another lead has this e-mail address, or the lead "
                                                               "was erased."),
            412: OpenApiResponse(s.DetailSerializer, description="If-Match names an older version of the lead."),
        },
    )
    def partial_update(self, request, pk):
        changes = json_object(request)
        version = if_match_version(request)
        result = edits.edit(lead_id=pk, by=request.user, changes=changes, version=version,
                            read_only=frozenset(s.LeadDetailSerializer.Meta.fields))
        return self.render_lead(result.lead.pk)

    @extend_schema(
        summary="The lead's field history: who changed which field from what to what, newest first",
        operation_id="v1_leads_history",
        responses={200: s.LeadChangeSerializer(many=True), 401: UNAUTHENTICATED, 404: NOT_VISIBLE},
    )
    def history(self, request, pk):
        lead = self.get_object()
        return Response(s.LeadChangeSerializer(history.changes_of(lead), many=True).data)

    @extend_schema(
        summary="Fire a lifecycle transition",
        operation_id="v1_leads_transition",
        parameters=[
            OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(lifecycle.TRANSITIONS),
                             description="The transition to fire."),
        ],
        request=s.TransitionRequest,
        responses={
            200: s.LeadDetailSerializer, 400: INVALID, 401: UNAUTHENTICATED, 403: NOT_PERMITTED,
            404: OpenApiResponse(s.DetailSerializer, description="No such lead or transition, or not visible."),
            409: OpenApiResponse(s.RefusedSerializer, description="Refused: the unmet guards, nothing changed."),
        },
    )
    def transition(self, request, pk, name):
        lead = self.get_object()
        lifecycle.fire(lead_id=lead.pk, name=name, by=request.user, inputs=json_object(request))
        return self.render_lead(lead.pk)

    @extend_schema(
        summary="Claim an unowned MQL from the pool",
        operation_id="v1_leads_claim",
        request=None,
        responses={
            200: s.LeadDetailSerializer, 401: UNAUTHENTICATED, 403: NOT_PERMITTED, 404: NOT_VISIBLE,
            409: OpenApiResponse(s.DetailSerializer, description="Someone else owns the lead, or it is no MQL."),
        },
    )
    def claim(self, request, pk):
        lead = self.get_object()
        lifecycle.claim(lead_id=lead.pk, by=request.user)
        return self.render_lead(lead.pk)

    @extend_schema(
        summary="Assign an owner, or release to the pool (managers, marketing, admins)",
        operation_id="v1_leads_assign",
        request=s.AssignRequest,
        responses={
            200: s.LeadDetailSerializer, 400: INVALID, 401: UNAUTHENTICATED, 403: NOT_PERMITTED, 404: NOT_VISIBLE,
        },
    )
    def assign(self, request, pk):
        lead = self.get_object()
        if not roles.can_assign(request.user):  # permission before the body: a refusal says nothing more
            raise NotPermitted(_("Only managers and marketing can assign leads."))
        body = parse_body(request, s.AssignRequest)
        lifecycle.assign(lead_id=lead.pk, owner_username=body["owner"] or None, by=request.user)
        return self.render_lead(lead.pk)

    @extend_schema(
        summary="Log an activity (call, e-mail, meeting, note, ...)",
        operation_id="v1_leads_log_activity",
        request=s.ActivityRequest,
        responses={
            201: s.ActivitySerializer, 400: INVALID, 401: UNAUTHENTICATED, 403: NOT_PERMITTED, 404: NOT_VISIBLE,
        },
    )
    def activities(self, request, pk):
        lead = self.get_object()
        activity = activities.log_activity(lead_id=lead.pk, by=request.user, raw=json_object(request))
        return Response(s.ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)


# --- reps: presence from outside (phone systems, calendars) ---------------------------------------------


# --- capture and tracking (public: form keys, CORS, rate limits) -----------------------------------------




# --- reason codes ---------------------------------------------------------------------------------------


class MayWorkLeads(BasePermission):
    message = gettext_lazy("Reason codes are for marketing, managers and SDRs.")

    def has_permission(self, request, view):
        return roles.is_staff_role(request.user) or roles.is_sdr(request.user)


class ReasonCodesView(APIView):
    permission_classes = [IsAuthenticated, MayWorkLeads]

    @extend_schema(
        summary="The reason codes a transition takes (reject, recycle, disqualify, lose), in their order",
        operation_id="v1_reason_codes",
        parameters=[OpenApiParameter(
            "transition", OpenApiTypes.STR, enum=[t.value for t in REASON_TRANSITIONS],
            description="Only this transition's codes; without it, every transition's.",
        )],
        responses={200: s.ReasonCodeSerializer(many=True), 400: INVALID, 401: UNAUTHENTICATED, 403: NOT_PERMITTED},
    )
    def get(self, request):
        wanted = request.query_params.get("transition")
        names = [t.value for t in REASON_TRANSITIONS]
        if wanted is not None:
            if wanted not in names:
                raise Invalid.field("transition", _("One of: %(names)s.") % {"names": ", ".join(names)})
            names = [wanted]
        rows = [
            {"transition": name, "code": r.code, "label": r.label, "needs_text": r.needs_text}
            for name in names
            for r in reason_rules.reason_codes(name)
        ]
        return Response(s.ReasonCodeSerializer(rows, many=True).data)
