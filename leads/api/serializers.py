"""What the JSON API renders, and the request shapes it documents.

Output serializers only read. Request serializers describe bodies for the OpenAPI schema; the domain
(`lifecycle`, `capture`, `services`) validates them, except the one small body the API parses itself
(`AssignRequest`).
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import vocabulary
from core.api import DetailSerializer, ErrorsSerializer, RefusedSerializer, UnmetSerializer  # noqa: F401 - the API's shapes
from core.vocabulary import REASON_TRANSITIONS, ActivityKind, LeadType, Outcome, Stage
from leads import lifecycle, predictive, selectors
from leads.models import Activity, Lead, LeadTransition
from leads.sla import queries as sla_queries
from scoring.models import PredictiveModel

HISTORY_NAMES = [*lifecycle.TRANSITIONS, *vocabulary.OWNER_CHANGES]


# --- output ---------------------------------------------------------------------------------------------


class HistoryEntrySerializer(serializers.ModelSerializer):
    transition = serializers.ChoiceField(source="name", choices=HISTORY_NAMES, read_only=True)
    # Stage values; plain strings in the schema so the enum of `stage` keeps one name.
    source = serializers.CharField(read_only=True, help_text=_("The stage before (a stage value)."))
    target = serializers.CharField(read_only=True, help_text=_("The stage after (a stage value)."))
    actor = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True,
        help_text=_("Username, or null when the system made the change."),
    )

    class Meta:
        model = LeadTransition
        fields = ["transition", "source", "target", "actor", "reason", "at"]
        read_only_fields = fields


class LeadSerializer(serializers.ModelSerializer):
    """A lead as lists show it. Expects `owner` and `campaign` selected with the lead."""

    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                         help_text=_("Username of the owner; null while in the pool."))
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    website = serializers.CharField(read_only=True, help_text=_("A web address, or empty."))
    stage = serializers.ChoiceField(choices=Stage.choices, read_only=True)
    lead_type = serializers.ChoiceField(
        choices=LeadType.choices, read_only=True,
        help_text=_("cold / engaged / iql before MQL (by engagement and content consumed), else from the stage."),
    )
    available_transitions = serializers.SerializerMethodField(
        help_text=_("Transitions the caller may fire from the current stage (guards aside).")
    )
    stalled = serializers.SerializerMethodField(
        help_text=_("In the current stage for longer than the stage's stall threshold.")
    )
    conversion_probability = serializers.FloatField(
        read_only=True, allow_null=True, min_value=0, max_value=1,
        help_text=_("Predicted probability (0 to 1) of reaching the active predictive model's target within its "
                    "horizon; null with `probability_note` saying why."))
    probability_note = serializers.SerializerMethodField(
        help_text=_("Why `conversion_probability` is null (empty when it is not)."))

    class Meta:
        model = Lead
        fields = [
            "id", "email", "first_name", "last_name", "company", "stage", "score", "owner", "source", "campaign",
            "created_at", "phone", "job_title", "company_size", "industry", "country", "website",
            "street", "postcode", "city", "region", "language", "stage_entered_at", "stage_reason", "assigned_at",
            "consent_status", "contact_attempts",
            "first_touch_at", "last_touch_at", "utm_source", "utm_medium", "utm_campaign", "utm_term",
            "utm_content", "budget", "authority", "need", "timeline", "deal_value", "close_date",
            "contract_signed_on", "updated_at", "fit_score", "engagement_score", "temperature", "lead_type",
            "available_transitions", "stalled", "became_mql_at", "mql_assigned_at", "first_contact_at",
            "conversion_probability", "probability_note",
        ]
        read_only_fields = fields

    def get_probability_note(self, lead: Lead) -> str:
        if "predictive_model" not in self.context:
            self.context["predictive_model"] = (PredictiveModel.active(),)
        return predictive.note_for(lead, active=self.context["predictive_model"])

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=list(lifecycle.TRANSITIONS))))
    def get_available_transitions(self, lead: Lead) -> list[str]:
        return lifecycle.available_transitions(self.context["request"].user, lead)

    @extend_schema_field(serializers.BooleanField())
    def get_stalled(self, lead: Lead) -> bool:
        if hasattr(lead, "is_stalled"):  # annotated by the lead FilterSet: no query
            return bool(lead.is_stalled)
        if "stall_thresholds" not in self.context:  # read once per response
            self.context["stall_thresholds"] = sla_queries.stall_thresholds()
        return sla_queries.is_stalled(lead, thresholds=self.context["stall_thresholds"])


class BreakdownItemSerializer(serializers.Serializer):
    rule_id = serializers.IntegerField(allow_null=True, help_text=_("Null for a cap that took points away."))
    rule = serializers.CharField()
    group = serializers.CharField(help_text=_("fit, engagement or total"))
    points = serializers.FloatField()
    occurrences = serializers.IntegerField()
    decay_factor = serializers.FloatField()


class AssignmentSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text=_("The routing rule that matched (empty for manual changes)."))
    method = serializers.CharField()
    chosen_by = serializers.CharField()
    owner = serializers.CharField(allow_null=True)
    reason = serializers.CharField(help_text=_("Why this owner, in words."))
    skipped = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    at = serializers.DateTimeField(allow_null=True)


class SlaClockSerializer(serializers.Serializer):
    policy = serializers.CharField(help_text=_("The SLA policy's name."))
    stage = serializers.CharField(help_text=_("The stage the clock started in (a stage value)."))
    started_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    met_at = serializers.DateTimeField(allow_null=True, help_text=_("When the awaited event happened."))
    stopped_at = serializers.DateTimeField(allow_null=True, help_text=_("Null while the clock runs."))
    running = serializers.BooleanField()
    breached = serializers.BooleanField(help_text=_("Still running at its due, or met late."))
    step = serializers.IntegerField(help_text=_("Escalation steps done so far."))
    next_step_at = serializers.DateTimeField(allow_null=True)


class SpeedToLeadSerializer(serializers.Serializer):
    capture_to_mql = serializers.IntegerField(allow_null=True, help_text=_("Seconds from capture to MQL."))
    mql_to_owner = serializers.IntegerField(allow_null=True, help_text=_("Seconds from MQL to its first owner."))
    owner_to_first_contact = serializers.IntegerField(
        allow_null=True, help_text=_("Seconds from the owner to the first logged contact attempt.")
    )


class ProbabilityFactorSerializer(serializers.Serializer):
    factor = serializers.CharField(
        help_text=_("The field (`company_size`, `activity:pricing_view`, ...) or `baseline`."))
    label = serializers.CharField(help_text=_("The factor in words."))
    points = serializers.FloatField(help_text=_("Points of probability (0 to 100) it adds; negative: takes away."))


class LeadDetailSerializer(LeadSerializer):
    history = serializers.SerializerMethodField(help_text=_("Stage and owner changes, oldest first."))
    score_model_version = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("The scoring model version that made the current score.")
    )
    score_breakdown = BreakdownItemSerializer(many=True, read_only=True,
                                              help_text=_("Each rule that counted in the current score."))
    assignment = serializers.SerializerMethodField(help_text=_("Why the current owner got the lead."))
    probability_factors = serializers.SerializerMethodField(
        help_text=_("The average lead's probability (factor `baseline`) and what each field adds to it, in points "
                    "of probability (0 to 100); together they add up to the probability."))
    probability_model_version = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("The predictive model version that made the probability."))
    sla = serializers.SerializerMethodField(
        help_text=_("The SLA clock that matters now: the running one due first, else the last one that stopped.")
    )
    sla_clocks = serializers.SerializerMethodField(help_text=_("The lead's latest SLA clocks, newest first."))
    speed_to_lead = serializers.SerializerMethodField()

    class Meta(LeadSerializer.Meta):
        fields = [
            *LeadSerializer.Meta.fields, "score_model_version", "score_breakdown", "assignment", "history", "sla",
            "sla_clocks", "speed_to_lead", "probability_factors", "probability_model_version",
        ]
        read_only_fields = fields

    @extend_schema_field(ProbabilityFactorSerializer(many=True))
    def get_probability_factors(self, lead: Lead) -> list[dict]:
        return predictive.explain(lead)

    def _clocks(self, lead: Lead) -> list:
        cache = self.context.setdefault("sla_clocks", {})
        if lead.pk not in cache:
            cache[lead.pk] = sla_queries.clocks_of(lead)
        return cache[lead.pk]

    @extend_schema_field(SlaClockSerializer(allow_null=True))
    def get_sla(self, lead: Lead) -> dict | None:
        clock = sla_queries.current(self._clocks(lead))
        return SlaClockSerializer(sla_queries.as_dict(clock)).data if clock else None

    @extend_schema_field(SlaClockSerializer(many=True))
    def get_sla_clocks(self, lead: Lead) -> list[dict]:
        return SlaClockSerializer([sla_queries.as_dict(clock) for clock in self._clocks(lead)], many=True).data

    @extend_schema_field(SpeedToLeadSerializer())
    def get_speed_to_lead(self, lead: Lead) -> dict:
        return {
            name: int(value.total_seconds()) if value is not None else None
            for name, value in sla_queries.speed_to_lead(lead).items()
        }

    @extend_schema_field(AssignmentSerializer(allow_null=True))
    def get_assignment(self, lead: Lead) -> dict | None:
        return lead.assignment or None

    @extend_schema_field(HistoryEntrySerializer(many=True))
    def get_history(self, lead: Lead) -> list[dict]:
        return HistoryEntrySerializer(selectors.history(lead), many=True).data


class ActivitySerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    outcome = serializers.ChoiceField(choices=[("", _("(no outcome)")), *Outcome.choices], read_only=True)
    url = serializers.CharField(read_only=True, help_text=_("A web address, or empty."))

    class Meta:
        model = Activity
        fields = ["id", "lead", "kind", "outcome", "note", "occurred_at", "next_step_on", "url", "created_by",
                  "created_at"]
        read_only_fields = fields


# --- errors ---------------------------------------------------------------------------------------------


# --- requests -------------------------------------------------------------------------------------------


class TransitionRequest(serializers.Serializer):
    """The inputs a transition's guard needs; send only those of the transition you fire."""

    reason_code = serializers.CharField(
        required=False, max_length=40,
        help_text=_("reject, lose, recycle, disqualify: a code of GET /api/v1/reason-codes/?transition=<name> "
                    "(required; a reason text alone counts as \"other\")"))
    reason = serializers.CharField(required=False, max_length=2000,
                                   help_text=_("reject, lose, recycle, disqualify: free text, optional except "
                                               "for the code \"other\""))
    budget = serializers.CharField(required=False, max_length=2000, help_text=_("qualify (BANT)"))
    authority = serializers.CharField(required=False, max_length=2000, help_text=_("qualify (BANT)"))
    need = serializers.CharField(required=False, max_length=2000, help_text=_("qualify (BANT)"))
    timeline = serializers.CharField(required=False, max_length=2000, help_text=_("qualify (BANT)"))
    metrics = serializers.CharField(required=False, max_length=2000, help_text=_("qualify (MEDDIC)"))
    economic_buyer = serializers.CharField(required=False, max_length=2000, help_text=_("qualify (MEDDIC)"))
    decision_criteria = serializers.CharField(required=False, max_length=2000, help_text=_("qualify (MEDDIC)"))
    decision_process = serializers.CharField(required=False, max_length=2000, help_text=_("qualify (MEDDIC)"))
    identify_pain = serializers.CharField(required=False, max_length=2000, help_text=_("qualify (MEDDIC)"))
    champion = serializers.CharField(required=False, max_length=2000, help_text=_("qualify (MEDDIC)"))
    deal_value = serializers.DecimalField(required=False, max_digits=14, decimal_places=2,
                                          help_text=_("open_opportunity; greater than 0"))
    close_date = serializers.DateField(required=False, help_text=_("open_opportunity; today or later"))
    contract_signed_on = serializers.DateField(required=False, help_text=_("win"))


@extend_schema_field({
    "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "example": "1.200"}],
    "nullable": True,
    "description": "Employees: a whole number, or text with thousands separators (1.200, 1,200, 1 200); "
                   "empty or null clears it.",
})
class CompanySizeField(serializers.Field):
    """For the schema only: `leads.edits` validates the value (`leads.validation.clean_company_size`)."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


class LeadEditRequest(serializers.Serializer):
    """The fields to change (send only those); validated like every capture channel. The owning SDR may send
    the contact fields only (e-mail, names, phone, job title, address, language)."""

    email = serializers.CharField(required=False, max_length=254)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    phone = serializers.CharField(required=False, allow_blank=True,
                                  help_text=_("Any format; with the lead's country when no country code is given. "
                                              "Stored as E.164."))
    job_title = serializers.CharField(required=False, allow_blank=True, max_length=150)
    street = serializers.CharField(required=False, allow_blank=True, max_length=200)
    postcode = serializers.CharField(required=False, allow_blank=True, max_length=16)
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    region = serializers.CharField(required=False, allow_blank=True, max_length=100)
    language = serializers.CharField(required=False, allow_blank=True, max_length=8,
                                     help_text=_("A language code such as de, en or de-AT."))
    company = serializers.CharField(required=False, allow_blank=True, max_length=200)
    website = serializers.CharField(required=False, allow_blank=True, max_length=300)
    industry = serializers.CharField(required=False, allow_blank=True, max_length=100)
    company_size = CompanySizeField(required=False)
    country = serializers.CharField(
        required=False, allow_blank=True, max_length=200,
        help_text=_("ISO 3166 alpha-2 code or the country's English or German name (DE, Germany, Deutschland)."),
    )


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text=_("The lead field (e.g. phone)."))
    label = serializers.CharField(help_text=_("The field in words."))
    old = serializers.JSONField(help_text=_("The value before the change."))
    new = serializers.JSONField(help_text=_("The value after the change."))


class LeadChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(
        source="actor.username", read_only=True, allow_null=True, default=None,
        help_text=_("Username of who edited; null for capture filling an empty field, a merge or the system."),
    )
    via = serializers.CharField(help_text=_("edit (the lead page or the API), or empty for the other writers."))
    fields = FieldChangeSerializer(many=True)


class AssignRequest(serializers.Serializer):
    owner = serializers.CharField(
        allow_null=True, allow_blank=True, max_length=150,
        help_text=_("Username of an active SDR or manager; null releases the lead to the pool."),
    )


class ActivityRequest(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False, allow_blank=True)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    occurred_at = serializers.DateTimeField(required=False, help_text=_("Defaults to now; not in the future."))
    next_step_on = serializers.DateField(required=False, allow_null=True)
    url = serializers.URLField(required=False, allow_blank=True, max_length=2000)




class ReasonCodeSerializer(serializers.Serializer):
    transition = serializers.ChoiceField(choices=[(t.value, t.label) for t in REASON_TRANSITIONS])
    code = serializers.CharField(help_text=_("Send it as reason_code when firing the transition."))
    label = serializers.CharField()
    needs_text = serializers.BooleanField(help_text=_("True for \"other\": a reason text is required then."))
