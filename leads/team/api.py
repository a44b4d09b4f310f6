"""The reps API (`/api/v1/reps/`): managers list reps and set their presence from outside."""

from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from core.api import INVALID, UNAUTHENTICATED, DetailSerializer, parse_body
from core.parsers import SafeJSONParser
from leads import lifecycle, roles, selectors
from leads.team import presence
from leads.team import serializers as rep_serializers


class IsManagerOrAdmin(BasePermission):
    message = gettext_lazy("Only managers and admins can read or change reps.")

    def has_permission(self, request, view):
        return roles.is_manager(request.user)


REP_NOT_FOUND = OpenApiResponse(DetailSerializer, description="No rep has this username.")


MANAGERS_ONLY = OpenApiResponse(DetailSerializer, description="The caller is not a manager or admin.")


USERNAME = OpenApiParameter("username", OpenApiTypes.STR, OpenApiParameter.PATH,
                            description="The rep's username.")


@extend_schema_view(
    list=extend_schema(
        summary="List the reps with their presence and open load (managers, admins)",
        description="Every rep routing knows, by team and username. `open_load` counts the open MQL and SAL "
                    "leads they own, the number `capacity` limits.",
        responses={200: rep_serializers.RepSerializer(many=True), 401: UNAUTHENTICATED, 403: MANAGERS_ONLY},
    ),
    partial_update=extend_schema(
        summary="Change a rep's availability, capacity or out-of-office dates (managers, admins)",
        description="For phone systems and calendars that keep presence true. Send only what changes; unknown "
                    "fields and bad values are a 400 that names the field. The out-of-office dates are one range: "
                    "sending one end without the other clears the other, so `{\"out_of_office_until\": null}` "
                    "marks the rep present again. Routing reads the new values on its next decision.",
        parameters=[USERNAME],
        request=rep_serializers.RepPresence,
        responses={
            200: rep_serializers.RepSerializer, 400: INVALID, 401: UNAUTHENTICATED, 403: MANAGERS_ONLY,
            404: REP_NOT_FOUND,
        },
    ),
)
class RepViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = rep_serializers.RepSerializer
    permission_classes = [IsAuthenticated, IsManagerOrAdmin]
    parser_classes = [SafeJSONParser]
    filter_backends: list = []
    pagination_class = None  # one row per rep: a team's roster, not an open-ended list
    lookup_field = "username"

    def get_queryset(self):
        return selectors.reps()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "loads": getattr(self, "_loads", {})}

    def list(self, request, *args, **kwargs):
        reps = list(self.get_queryset())
        self._loads = lifecycle.open_loads([rep.user_id for rep in reps])
        return Response(self.get_serializer(reps, many=True).data)

    def partial_update(self, request, username):
        rep = selectors.rep_by_username(username)
        if rep is None:
            raise Http404(_("No rep has this username."))
        changes = parse_body(request, rep_serializers.RepPresence)
        rep = presence.update_presence(rep_id=rep.pk, by=request.user, changes=dict(changes))
        self._loads = lifecycle.open_loads([rep.user_id])
        return Response(self.get_serializer(rep).data)
