"""The events feed, `GET /api/v1/events/`: every domain event in position order, for systems that prefer
pulling to webhooks. Admins only (superusers and their API tokens): events name every lead.

Positions are gap-free and final (outbox.events): a client that stores the last `id` it read and asks for
`?after=<that id>` never misses or repeats an event, whatever order transactions commit in.
"""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import INVALID, NOT_PERMITTED, UNAUTHENTICATED
from core.errors import Invalid
from core.vocabulary import EventType
from outbox import events

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_POSITION = 2**63 - 1


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="position", help_text="Gap-free, increasing; the cursor for `after`.")
    type = serializers.ChoiceField(choices=EventType.ALL)
    at = serializers.DateTimeField()
    lead = serializers.IntegerField(source="lead_id", allow_null=True)
    actor = serializers.IntegerField(source="actor_id", allow_null=True, help_text="User id; null: the system.")
    data = serializers.JSONField(source="payload", help_text="Ids and changed values (see docs/integrations.md).")


class EventPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next = serializers.IntegerField(help_text="Pass as `after` to read on (the last id of this page, or `after`).")


def _whole(raw: str | None, name: str, *, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Invalid({name: [_("Enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}]})
    return int(raw)


def _types(raw: str | None) -> list[str]:
    if not raw:
        return []
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in EventType.ALL]
    if unknown or len(names) > len(EventType.ALL):
        raise Invalid({"types": [_("Unknown event type: %(types)s.") % {"types": ", ".join(unknown[:5])}]})
    return names


class EventFeedView(APIView):
    @extend_schema(
        summary="Events in order (pull instead of webhooks)",
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="Return events after this id (default 0)."),
            OpenApiParameter("types", OpenApiTypes.STR, description="Comma-separated event types (default all)."),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"At most this many (1-{MAX_LIMIT}, default "
                                                                    f"{DEFAULT_LIMIT})."),
        ],
        responses={200: EventPageSerializer, 400: INVALID, 401: UNAUTHENTICATED, 403: NOT_PERMITTED},
    )
    def get(self, request):
        if not request.user.is_superuser:
            raise PermissionDenied(_("Only admins may read the events feed."))
        after = _whole(request.query_params.get("after"), "after", default=0, low=0, high=MAX_POSITION)
        limit = _whole(request.query_params.get("limit"), "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        types = _types(request.query_params.get("types"))
        events.assign_positions()  # what has committed since the last dispatch
        page = events.after(after, types=types, limit=limit)
        return Response({
            "results": EventSerializer(page, many=True).data,
            "next": page[-1].position if page else after,
        })
