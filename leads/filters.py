"""The lead FilterSet shared by the lead list page and `GET /api/v1/leads/`."""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leads.models import Campaign, Lead
from leads.stages import Channel, Stage

ORDERING = {
    "created_at": _("Created"),
    "score": _("Score"),
    "stage_entered_at": _("In stage since"),
    "last_name": _("Name"),
    "company": _("Company"),
    "last_touch_at": _("Last touch"),
}


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
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte",
                                              label=_("Created from"))
    created_before = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte",
                                               label=_("Created until"))
    ordering = django_filters.OrderingFilter(fields=tuple(ORDERING), field_labels=ORDERING, label=_("Sort"))

    class Meta:
        model = Lead
        fields = ["q", "stage", "owner", "source", "campaign", "score_min", "score_max", "created_after",
                  "created_before"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(email_normalized__contains=value.lower()) | Q(first_name__icontains=value)
            | Q(last_name__icontains=value) | Q(company__icontains=value)
        )

    def by_owner(self, queryset, name, value):
        if value == "none":
            return queryset.filter(owner__isnull=True)
        user = get_user_model().objects.filter(username=value).first()
        return queryset.filter(owner=user) if user else queryset.none()
