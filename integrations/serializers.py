"""Shapes of the webhooks API (output and the schema of input; validation lives in `services.clean`)."""

from rest_framework import serializers

from core.vocabulary import Channel, EventType
from integrations.models import STAGE_VALUES, Attempt, Delivery, DeliveryStatus, Format, Subscription


class SubscriptionInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text="https URL (http only for WEBHOOK_ALLOWED_HOSTS).")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.ALL), min_length=1)
    format = serializers.ChoiceField(choices=Format.choices, required=False, default=Format.STANDARD)
    stages = serializers.ListField(child=serializers.ChoiceField(choices=STAGE_VALUES), required=False)
    team = serializers.IntegerField(required=False, allow_null=True, help_text="Only leads owned by this team.")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(source="event_types", child=serializers.CharField())
    stages = serializers.ListField(child=serializers.CharField())
    team = serializers.IntegerField(source="team_id", allow_null=True)
    is_active = serializers.BooleanField()
    previous_secret_valid_until = serializers.DateTimeField(source="previous_secret_until", allow_null=True)

    class Meta:
        model = Subscription
        fields = (
            "id", "url", "description", "format", "events", "stages", "team", "is_active", "failure_count",
            "disabled_at", "disabled_reason", "previous_secret_valid_until", "created_at",
        )


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text="The signing secret (`whsec_...`): shown this once.")

    class Meta(SubscriptionSerializer.Meta):
        fields = (*SubscriptionSerializer.Meta.fields, "secret")


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ("at", "is_success", "status_code", "error", "response_excerpt", "duration_ms")


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField()
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)

    class Meta:
        model = Delivery
        fields = (
            "id", "webhook_id", "event_position", "event_type", "status", "attempts", "last_status_code",
            "last_error", "next_attempt_at", "delivered_at", "created_at",
        )


class RedeliveredSerializer(serializers.Serializer):
    queued = serializers.IntegerField()


class CampaignSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    slug = serializers.SlugField(max_length=80)
    name = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False,
        help_text="Total spend so far (not an increment); a repeated push is harmless.",
    )
    starts_on = serializers.DateField(required=False, allow_null=True)
    ends_on = serializers.DateField(required=False, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
