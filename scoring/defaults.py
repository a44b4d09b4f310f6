"""The vocabulary scoring rules are written in: groups, lead fields, operators, activity kinds.

`scoring` never imports `leads`, so the activity kinds a rule can count are listed here as plain
strings; a test in `leads` checks that they match `leads.stages.MARKETING_KINDS`. The default model
itself is frozen in the data migration `0002_default_model` (a migration must give the same result
forever); admins change it in the Django admin.
"""

from django.utils.translation import gettext_lazy as _

# Rule groups.
FIT = "fit"
ENGAGEMENT = "engagement"
GROUP_CHOICES = [(FIT, _("Fit (lead fields)")), (ENGAGEMENT, _("Engagement (activities)"))]

# Temperature bands.
COLD = "cold"
WARM = "warm"
HOT = "hot"
TEMPERATURE_CHOICES = [(COLD, _("Cold")), (WARM, _("Warm")), (HOT, _("Hot"))]

# Lead fields a fit rule can test, with their type ("number" or "text"); `policy.LeadFacts` has one
# attribute per field. `campaign` is the campaign's slug; `email_domain_type` is one of
# EMAIL_DOMAIN_TYPES, worked out by `leads` from the e-mail address.
NUMBER = "number"
TEXT = "text"
FIELD_TYPES = {
    "company_size": NUMBER,
    "industry": TEXT,
    "country": TEXT,
    "job_title": TEXT,
    "source": TEXT,
    "campaign": TEXT,
    "email_domain_type": TEXT,
}
FIELD_CHOICES = [
    ("company_size", _("Company size (employees)")),
    ("industry", _("Industry")),
    ("country", _("Country (ISO code)")),
    ("job_title", _("Job title")),
    ("source", _("Source channel")),
    ("campaign", _("Campaign (slug)")),
    ("email_domain_type", _("E-mail domain type")),
]

EMAIL_DOMAIN_TYPES = ("business", "free", "competitor", "student")

# Operators; which of them fit which field type is `policy.OPERATORS_FOR_FIELD`.
EQUALS = "equals"
IN_LIST = "in_list"
CONTAINS = "contains"
GTE = "gte"
LTE = "lte"
BETWEEN = "between"
IS_EMPTY = "is_empty"
IS_NOT_EMPTY = "is_not_empty"
OPERATOR_CHOICES = [
    (EQUALS, _("equals")),
    (IN_LIST, _("is one of (list)")),
    (CONTAINS, _("contains (any of)")),
    (GTE, _("is at least")),
    (LTE, _("is at most")),
    (BETWEEN, _("is between (range)")),
    (IS_EMPTY, _("is empty")),
    (IS_NOT_EMPTY, _("is not empty")),
]

# Activity kinds an engagement rule can count: the marketing kinds of `leads.stages.ActivityKind`.
ACTIVITY_KINDS = (
    "page_view",
    "pricing_view",
    "download",
    "webinar_registered",
    "webinar_attended",
    "email_open",
    "email_click",
    "form_submit",
    "demo_request",
    "contact_request",
    "newsletter_signup",
    "chat",
)
ACTIVITY_KIND_CHOICES = [
    ("page_view", _("Page view")),
    ("pricing_view", _("Pricing page view")),
    ("download", _("Download")),
    ("webinar_registered", _("Webinar registration")),
    ("webinar_attended", _("Webinar attended")),
    ("email_open", _("E-mail opened")),
    ("email_click", _("E-mail link clicked")),
    ("form_submit", _("Form submitted")),
    ("demo_request", _("Demo request")),
    ("contact_request", _("Contact request")),
    ("newsletter_signup", _("Newsletter sign-up")),
    ("chat", _("Chat conversation")),
]

# Model life cycle.
DRAFT = "draft"
ACTIVE = "active"
RETIRED = "retired"
STATUS_CHOICES = [(DRAFT, _("Draft")), (ACTIVE, _("Active")), (RETIRED, _("Retired"))]
