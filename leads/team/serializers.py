"""What the reps endpoints render and accept (`/api/v1/reps/`): presence from outside.

Output serializers only read; `RepPresence` checks the shape of a PATCH body and
`leads.presence.update_presence` applies it (the rules live there).
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leads.team.presence import MAX_CAPACITY
from routing import policy as routing_policy


class RepSerializer(serializers.Serializer):
    """A rep as routing sees them. Expects `user` and `team` selected, and `loads` ({user id: open load})
    in the context."""

    username = serializers.CharField(source="user.username", read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True, help_text=_("The team's slug."))
    available = serializers.BooleanField(source="is_available", read_only=True,
                                         help_text=_("Whether routing may give this rep new leads."))
    capacity = serializers.IntegerField(read_only=True, help_text=_("The most open MQL + SAL leads."))
    open_load = serializers.SerializerMethodField(help_text=_("Open MQL + SAL leads the rep owns now."))
    out_of_office_from = serializers.DateField(read_only=True, allow_null=True,
                                               help_text=_("First day away; null: away from now on."))
    out_of_office_until = serializers.DateField(read_only=True, allow_null=True,
                                                help_text=_("Last day away; null with a start: open-ended."))
    out_of_office = serializers.SerializerMethodField(
        help_text=_("Whether today (in the rep's time zone) falls in the out-of-office dates.")
    )
    weight = serializers.IntegerField(read_only=True, help_text=_("Share in weighted round-robin."))
    territories = serializers.ListField(child=serializers.CharField(), read_only=True,
                                        help_text=_("Country codes and regions; empty means everywhere."))
    specialties = serializers.ListField(child=serializers.CharField(), read_only=True,
                                        help_text=_("Industries or products."))

    @extend_schema_field(serializers.IntegerField(min_value=0))
    def get_open_load(self, rep) -> int:
        return int(self.context.get("loads", {}).get(rep.user_id, 0))

    @extend_schema_field(serializers.BooleanField())
    def get_out_of_office(self, rep) -> bool:
        today = timezone.localdate(timezone.now(), timezone=_zone(rep.time_zone))
        return routing_policy.is_out_of_office(rep.out_of_office_from, rep.out_of_office_until, today)


class RepPresence(serializers.Serializer):
    """Send only what changes. The out-of-office dates are one range: sending one end clears the other unless
    both are sent, so `{"out_of_office_until": null}` means "present" again."""

    available = serializers.BooleanField(required=False, help_text=_("false: routing skips the rep."))
    capacity = serializers.IntegerField(required=False, min_value=1, max_value=MAX_CAPACITY,
                                        help_text=_("The most open MQL + SAL leads."))
    out_of_office_from = serializers.DateField(required=False, allow_null=True,
                                               help_text=_("First day away (YYYY-MM-DD); null or left out: from now."))
    out_of_office_until = serializers.DateField(required=False, allow_null=True,
                                                help_text=_("Last day away (YYYY-MM-DD); null: not away."))


def _zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.get_current_timezone()
