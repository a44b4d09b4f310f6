"""Request and response shapes of the capture API (for the schema; capture validates the body itself)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.vocabulary import Channel, Stage


@extend_schema_field({
    "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "example": "1.200"}],
    "description": "Employees: a whole number, or text with thousands separators (1.200, 1,200, 1 200).",
})
class CompanySizeField(serializers.Field):
    """For the schema only: capture validates the value (`leads.validation.clean_company_size`)."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


class CaptureActivityRequest(serializers.Serializer):
    kind = serializers.CharField(required=False, help_text=_("Defaults to form_submit (or the form's kind)."))
    url = serializers.URLField(required=False, max_length=2000)
    occurred_at = serializers.DateTimeField(required=False)


class CaptureRequest(serializers.Serializer):
    """With a form key, the fields the form marks as required are required (of a known lead: the ones the form
    asks it, see progressive profiling); a missing one is a 400 naming it."""

    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(required=False, max_length=100)
    last_name = serializers.CharField(required=False, max_length=100)
    company = serializers.CharField(required=False, max_length=200)
    job_title = serializers.CharField(required=False, max_length=150)
    phone = serializers.CharField(required=False, help_text=_("Any format with a country code; stored as E.164."))
    country = serializers.CharField(
        required=False, max_length=200,
        help_text=_("ISO 3166 alpha-2 code or the country's English or German name (DE, Germany, Deutschland)."),
    )
    industry = serializers.CharField(required=False, max_length=100)
    company_size = CompanySizeField(required=False)
    website = serializers.CharField(required=False, max_length=300)
    source = serializers.ChoiceField(required=False, choices=Channel.choices)
    campaign = serializers.SlugField(required=False, help_text=_("Slug of an existing campaign."))
    utm_source = serializers.CharField(required=False, max_length=200)
    utm_medium = serializers.CharField(required=False, max_length=200)
    utm_campaign = serializers.CharField(required=False, max_length=200)
    utm_term = serializers.CharField(required=False, max_length=200)
    utm_content = serializers.CharField(required=False, max_length=200)
    visitor_id = serializers.CharField(required=False, min_length=8, max_length=64,
                                       help_text=_("The id the tracking script set; joins earlier page views."))
    street = serializers.CharField(required=False, max_length=200)
    postcode = serializers.CharField(required=False, max_length=16)
    city = serializers.CharField(required=False, max_length=100)
    region = serializers.CharField(required=False, max_length=100)
    topic = serializers.CharField(required=False, max_length=200,
                                  help_text=_("Topic of interest; one of the form's topics when it offers some."))
    message = serializers.CharField(required=False, max_length=5000)
    consent = serializers.BooleanField(required=False, help_text=_("Consent with the form's wording."))
    activity = CaptureActivityRequest(required=False)


class CaptureResponse(serializers.Serializer):
    id = serializers.IntegerField()
    created = serializers.BooleanField()
    stage = serializers.ChoiceField(choices=Stage.choices)
    score = serializers.IntegerField()
    owner = serializers.CharField(allow_null=True)


class TrackRequest(serializers.Serializer):
    visitor_id = serializers.CharField(min_length=8, max_length=64)
    url = serializers.URLField(required=False, max_length=2000)
    kind = serializers.CharField(required=False, help_text=_("page_view (default), pricing_view, download, ..."))
    occurred_at = serializers.DateTimeField(required=False)
    title = serializers.CharField(required=False, max_length=300)
    referrer = serializers.URLField(required=False, max_length=2000)


class TrackResponse(serializers.Serializer):
    visitor_id = serializers.CharField()
