"""The lead FilterSet shared by the lead list page and `GET /api/v1/leads/`.

Every lead it returns carries `sla_due_at`, `sla_breached` and `is_stalled` (`leads.sla.queries.annotate`, in the
same query), so lists can show a countdown and a stalled badge and sort by the SLA due.
"""

import datetime as dt

import django_filters
from django.contrib.auth import get_user_model
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import dates
from core.vocabulary import FUNNEL, OWNER_CHANGES, Channel, LeadType, Stage, Temperature, reached_or_later
from leads import selectors
from leads.models import Campaign, Lead, LeadTransition
from leads.search import filter_leads
from leads.sla import queries as sla_queries

ORDERING = {
    "created_at": _("Created"),
    "score": _("Score"),
    "prediction__probability": _("Conversion probability"),
    "stage_entered_at": _("In stage since"),
    "last_name": _("Name"),
    "company": _("Company"),
    "last_touch_at": _("Last touch"),
    "sla_due_at": _("SLA due"),
}

SLA_STATES = (
    ("running", _("An SLA clock is running")),
    ("breached", _("An SLA is breached (running past its due)")),
    ("due_soon", _("An SLA is due within the hour")),
    ("none", _("No SLA clock is running")),
)


class LeadOrderingFilter(django_filters.OrderingFilter):
    """Sorting by the SLA due puts leads without a running clock last, whichever the direction."""

    def get_ordering_value(self, param):
        if param.lstrip("-") in ("sla_due_at", "prediction__probability"):
            name = param.lstrip("-")
            return F(name).desc(nulls_last=True) if param.startswith("-") else F(name).asc(nulls_last=True)
        return super().get_ordering_value(param)


def _without_empty(data):
    """The query without empty values: a form sends `temperature=` for an untouched select, which means "any",
    not an invalid choice."""
    if data is None or not hasattr(data, "lists"):
        return data
    kept = data.copy()
    for key, values in data.lists():
        present = [value for value in values if value.strip()]
        if present:
            kept.setlist(key, present)
        else:
            del kept[key]
    return kept


class LeadFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"), max_length=100)
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices, label=_("Stage"))
    owner = django_filters.CharFilter(method="by_owner", label=_("Owner (username, or 'none' for the pool)"),
                                      max_length=150)
    source = django_filters.MultipleChoiceFilter(choices=Channel.choices, label=_("Source"))
    campaign = django_filters.ModelChoiceFilter(
        queryset=Campaign.objects.all(), to_field_name="slug", label=_("Campaign")
    )
    score_min = django_filters.NumberFilter(field_name="score", lookup_expr="gte", label=_("Score from"))
    score_max = django_filters.NumberFilter(field_name="score", lookup_expr="lte", label=_("Score to"))
    probability_min = django_filters.NumberFilter(
        method="probability_from", label=_("Conversion probability from (%)"),
        validators=[MinValueValidator(0), MaxValueValidator(100)])
    probability_max = django_filters.NumberFilter(
        method="probability_until", label=_("Conversion probability to (%)"),
        validators=[MinValueValidator(0), MaxValueValidator(100)])
    created_after = django_filters.DateFilter(method="created_from", label=_("Created from"),
                                              validators=[dates.validate_in_window])
    created_before = django_filters.DateFilter(method="created_until", label=_("Created until"),
                                               validators=[dates.validate_in_window])
    temperature = django_filters.MultipleChoiceFilter(choices=Temperature.choices, label=_("Temperature"))
    lead_type = django_filters.ChoiceFilter(choices=LeadType.choices, method="by_lead_type", label=_("Lead type"))
    stalled = django_filters.BooleanFilter(method="by_stalled", label=_("Stalled (longer in the stage than usual)"))
    reached = django_filters.ChoiceFilter(
        choices=[(str(stage), stage.label) for stage in FUNNEL[1:]], method="by_reached",
        label=_("Reached (at some time)"),
    )
    sla = django_filters.ChoiceFilter(choices=SLA_STATES, method="by_sla", label=_("SLA"))
    ordering = LeadOrderingFilter(fields=tuple(ORDERING), field_labels=ORDERING, label=_("Sort"))

    class Meta:
        model = Lead
        fields = ["q", "stage", "owner", "source", "campaign", "score_min", "score_max", "probability_min",
                  "probability_max", "created_after",
                  "created_before", "temperature", "lead_type", "stalled", "sla", "reached"]

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if queryset is None:
            queryset = Lead._default_manager.all()
        queryset = selectors.with_lead_type(sla_queries.annotate(queryset))
        super().__init__(_without_empty(data), queryset, request=request, prefix=prefix)

    # Day bounds in the local time zone, compared with the indexed timestamp (a `__date` lookup would
    # compute a date per row and scan a million of them).
    def probability_from(self, queryset, name, value):
        return queryset.filter(prediction__probability__gte=float(value) / 100)

    def probability_until(self, queryset, name, value):
        return queryset.filter(prediction__probability__lte=float(value) / 100)

    def created_from(self, queryset, name, value):
        return queryset.filter(created_at__gte=_day_start(value))

    def created_until(self, queryset, name, value):
        return queryset.filter(created_at__lt=_day_start(value + dt.timedelta(days=1)))

    def by_lead_type(self, queryset, name, value):
        mal = Q(stage__in=[Stage.KNOWN, Stage.RECYCLED], mal_threshold__isnull=False,
                fit_score__gte=F("mal_threshold"))
        if value == LeadType.MAL:
            return queryset.filter(mal)
        before_mql = Q(stage__in=[Stage.KNOWN, Stage.RECYCLED]) & ~mal
        if value == LeadType.IQL:
            return queryset.filter(before_mql, consumed_content=True)
        if value == LeadType.ENGAGED:
            return queryset.filter(before_mql, consumed_content=False, engagement_score__gt=0)
        if value == LeadType.COLD:
            return queryset.filter(before_mql, consumed_content=False, engagement_score__lte=0)
        if value == LeadType.CLOSED:
            return queryset.filter(stage__in=[Stage.DISQUALIFIED, Stage.LOST])
        return queryset.filter(stage=value)

    def by_stalled(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(is_stalled=value)

    def by_reached(self, queryset, name, value):
        """Leads that got at least as far as funnel stage `value` at some time, counted as the funnel report
        counts them (`core.vocabulary.FUNNEL_RANK`): their stage now, or a stage change's target (owner changes
        aside), ranks at least as high."""
        later = reached_or_later(value)
        moved = LeadTransition.objects.filter(lead=OuterRef("pk"), target__in=later).exclude(name__in=OWNER_CHANGES)
        return queryset.filter(Q(stage__in=later) | Exists(moved))

    def by_sla(self, queryset, name, value):
        if value == "running":
            return queryset.filter(sla_due_at__isnull=False)
        if value == "breached":
            return queryset.filter(sla_breached=True)
        if value == "due_soon":
            return queryset.filter(sla_queries.due_soon_condition())
        if value == "none":
            return queryset.filter(sla_due_at__isnull=True)
        return queryset

    def search(self, queryset, name, value):
        return filter_leads(queryset, value)

    def by_owner(self, queryset, name, value):
        if value == "none":
            return queryset.filter(owner__isnull=True)
        user = get_user_model().objects.filter(username=value).first()
        return queryset.filter(owner=user) if user else queryset.none()


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
