"""API shapes (documentation and output); validation is in `sales.services`."""

from rest_framework import serializers

from leads.models import Account
from sales.models import Opportunity


class AccountSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Account
        fields = ["id", "name", "domain", "owner"]


class AccountInputSerializer(serializers.Serializer):
    name = serializers.CharField()
    domain = serializers.CharField()
    owner = serializers.CharField(required=False, help_text="username")


class StakeholderSerializer(serializers.Serializer):
    contact = serializers.IntegerField()
    role = serializers.CharField()


class OpportunitySerializer(serializers.ModelSerializer):
    stage = serializers.CharField(source="stage.name", read_only=True)
    outcome = serializers.CharField(read_only=True, help_text="open, won or lost")
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    sourced_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    stakeholders = serializers.SerializerMethodField()

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "name",
            "lead",
            "account",
            "stage",
            "outcome",
            "value",
            "currency",
            "close_date",
            "next_step",
            "next_step_on",
            "owner",
            "sourced_by",
            "stakeholders",
            "version",
        ]

    def get_stakeholders(self, obj) -> list[dict]:
        return [{"contact": s.contact_id, "role": s.role} for s in obj.stakeholders.all()]


class OpportunityInputSerializer(serializers.Serializer):
    lead = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False)
    value = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    currency = serializers.CharField(required=False)
    close_date = serializers.DateField(required=False)
    stage = serializers.CharField(required=False, help_text="stage name or id of the opportunity's pipeline")
    version = serializers.IntegerField(required=False, help_text="the version you saw; required to move the stage")
    next_step = serializers.CharField(required=False)
    next_step_on = serializers.DateField(required=False)
    stakeholders = StakeholderSerializer(many=True, required=False)


class PipelineReportSerializer(serializers.Serializer):
    open = serializers.DictField()
    by_stage = serializers.DictField()
    by_owner = serializers.DictField()
    forecast = serializers.ListField(child=serializers.DictField())
    win_rate = serializers.FloatField()
    average_deal = serializers.DecimalField(max_digits=16, decimal_places=2)
    cycle_days = serializers.FloatField()
    velocity = serializers.DictField()
    slipped = serializers.IntegerField()
    overdue = serializers.IntegerField()
