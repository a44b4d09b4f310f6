"""API shapes of the engagement app (request and response, for the OpenAPI schema)."""

from rest_framework import serializers

from engagement.models import Enrolment, Message, Programme, Step


class StepSerializer(serializers.ModelSerializer):
    template = serializers.CharField(source="template.name", default=None, read_only=True)
    kind = serializers.CharField(read_only=True, help_text="send_email, wait, condition, task or end")

    class Meta:
        model = Step
        fields = ["position", "kind", "template", "variant_share", "wait_days", "business_days", "condition_field",
                  "condition_value", "yes_position", "no_position", "task_channel"]


class ProgrammeSerializer(serializers.ModelSerializer):
    steps = StepSerializer(many=True, read_only=True)
    active_enrolments = serializers.IntegerField(read_only=True)
    exit_stage = serializers.CharField(read_only=True, help_text="the stage that ends an enrolment (empty: none)")

    class Meta:
        model = Programme
        fields = ["slug", "name", "from_email", "reply_to", "reentry", "exit_stage", "is_active", "active_enrolments",
                  "steps"]


class EnrolmentInputSerializer(serializers.Serializer):
    lead = serializers.IntegerField(min_value=1)


class EnrolmentSerializer(serializers.ModelSerializer):
    programme = serializers.CharField(source="programme.slug", read_only=True)

    class Meta:
        model = Enrolment
        fields = ["id", "programme", "lead", "status", "position", "next_run_at", "variant", "enrolled_at", "ended_at",
                  "exit_reason"]


class MessageSerializer(serializers.ModelSerializer):
    programme = serializers.CharField(source="enrolment.programme.slug", read_only=True)
    step = serializers.IntegerField(source="step.position", read_only=True)
    opened = serializers.BooleanField(read_only=True)
    clicked = serializers.BooleanField(read_only=True)

    class Meta:
        model = Message
        fields = ["id", "programme", "step", "variant", "language", "subject", "status", "reason", "attempts",
                  "due_at", "sent_at", "opened", "clicked"]


class RefusalSerializer(serializers.Serializer):
    detail = serializers.CharField()
    reason = serializers.CharField()


class StepFiguresSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    variant = serializers.CharField()
    messages = serializers.IntegerField()
    sent = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    bounced = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()


class AbTestSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    metric = serializers.CharField()
    confidence = serializers.FloatField()
    rate_a = serializers.FloatField(required=False)
    rate_b = serializers.FloatField(required=False)
    z = serializers.FloatField(required=False)
    p_value = serializers.FloatField(allow_null=True)
    winner = serializers.CharField(help_text="a, b or empty: no significant difference at this confidence")


class ProgrammeReportSerializer(serializers.Serializer):
    programme = serializers.CharField()
    enrolled = serializers.IntegerField()
    active = serializers.IntegerField()
    completed = serializers.IntegerField()
    exited = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()
    reached_exit_stage = serializers.IntegerField()
    steps = StepFiguresSerializer(many=True)
    ab_tests = AbTestSerializer(many=True)
