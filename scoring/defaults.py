"""The vocabulary scoring rules are written in: groups, lead fields, operators, activity kinds.

The activity kinds and temperatures are the shared vocabulary's (`core.vocabulary`). The default model
itself is frozen in the data migration `0002_default_model` (a migration must give the same result
forever); admins change it in the Django admin.
"""

from django.utils.translation import gettext_lazy as _

from core.vocabulary import MARKETING_KINDS, ActivityKind, Temperature

# Rule groups.
FIT = "fit"
ENGAGEMENT = "engagement"
GROUP_CHOICES = [(FIT, _("Fit (lead fields)")), (ENGAGEMENT, _("Engagement (activities)"))]

# Temperature bands.
COLD = Temperature.COLD.value
WARM = Temperature.WARM.value
HOT = Temperature.HOT.value

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

# Activity kinds an engagement rule can count: the marketing kinds, in the vocabulary's order.
ACTIVITY_KINDS = tuple(kind.value for kind in ActivityKind if kind in MARKETING_KINDS)
ACTIVITY_KIND_CHOICES = [(kind.value, kind.label) for kind in ActivityKind if kind in MARKETING_KINDS]

# Model life cycle.
DRAFT = "draft"
ACTIVE = "active"
RETIRED = "retired"
STATUS_CHOICES = [(DRAFT, _("Draft")), (ACTIVE, _("Active")), (RETIRED, _("Retired"))]
