"""The report filter form (pages and API share it) and the "My report" subscription form."""

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from core import dates
from core.vocabulary import Channel
from leads import lifecycle, roles
from leads.models import Campaign
from reporting import filters
from reporting.models import Frequency, ReportSubscription, Scope
from routing.models import Team

MAX_RANGE_DAYS = 3 * 366


class ReportFilterForm(forms.Form):
    """start, end (ISO dates), source, campaign (slug), team (slug), rep (username).

    An SDR's rep is always themselves, whatever the query says. Three queries load the choices.
    """

    start = forms.DateField(label=_("From"), required=False, input_formats=["%Y-%m-%d"],
                            validators=[dates.validate_in_window],
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_("Until"), required=False, input_formats=["%Y-%m-%d"],
                          validators=[dates.validate_in_window],
                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    source = forms.ChoiceField(label=_("Source"), required=False)
    campaign = forms.ChoiceField(label=_("Campaign"), required=False)
    team = forms.ChoiceField(label=_("Team"), required=False)
    rep = forms.ChoiceField(label=_("Rep"), required=False)

    def __init__(self, data=None, *, user, today: dt.date | None = None):
        self.user = user
        self.own_only = not roles.is_staff_role(user)
        self.default_start, self.default_end = filters.default_range(today)
        data = data.copy() if data is not None else {}
        if self.own_only:
            data["rep"] = user.get_username()
            data["team"] = ""
        if not data.get("end"):
            data["end"] = self.default_end.isoformat()
        if not data.get("start"):
            last = dates.parse_day(data["end"])
            if last is None or not dates.in_window(last):  # the end field reports it
                last = self.default_end
            data["start"] = (last - dt.timedelta(days=filters.DEFAULT_DAYS - 1)).isoformat()
        super().__init__(data)
        self.campaign_ids = {}
        self.team_ids = {}
        self.rep_ids = {}
        self.fields["source"].choices = [("", _("All sources")), *Channel.choices]
        campaigns = list(Campaign.objects.order_by("name").values_list("pk", "slug", "name"))
        self.campaign_ids = {slug: pk for pk, slug, _name in campaigns}
        self.fields["campaign"].choices = [("", _("All campaigns"))] + [(slug, name) for _pk, slug, name in campaigns]
        if self.own_only:
            self.rep_ids = {user.get_username(): user.pk}
            self.fields["rep"].choices = [(user.get_username(), user.get_full_name() or user.get_username())]
            self.fields["team"].choices = [("", _("All teams"))]
        else:
            teams = list(Team.objects.order_by("name").values_list("pk", "slug", "name"))
            self.team_ids = {slug: pk for pk, slug, _name in teams}
            self.fields["team"].choices = [("", _("All teams"))] + [(slug, name) for _pk, slug, name in teams]
            owners = list(lifecycle.eligible_owners().values_list("pk", "username", "first_name", "last_name"))
            self.rep_ids = {name: pk for pk, name, _first, _last in owners}
            # people by name (the username stays the value in the address)
            shown = sorted(((f"{first} {last}".strip() or name, name) for _pk, name, first, last in owners),
                           key=lambda item: item[0].lower())
            self.fields["rep"].choices = [("", _("All reps"))] + [(name, label) for label, name in shown]
        self.fields["start"].widget.attrs["placeholder"] = self.default_start.isoformat()
        self.fields["end"].widget.attrs["placeholder"] = self.default_end.isoformat()

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            return data
        if end < start:
            self.add_error("end", _("The end date must not be before the start date."))
        elif (end - start).days >= MAX_RANGE_DAYS:
            self.add_error("start", _("Choose a range of at most three years."))
        return data

    def filters(self) -> filters.Filters:
        """The filters; call after is_valid()."""
        data = self.cleaned_data
        return filters.build(
            start=data["start"], end=data["end"], source=data.get("source") or "",
            campaign_id=self.campaign_ids.get(data.get("campaign") or ""),
            team_id=self.team_ids.get(data.get("team") or ""),
            rep_id=self.rep_ids.get(data.get("rep") or ""),
        )

    def query(self) -> dict:
        """The effective filter values, to rebuild links (CSV, other report pages)."""
        data = getattr(self, "cleaned_data", {})
        out = {}
        for name in self.fields:
            value = data.get(name)
            if isinstance(value, dt.date):
                value = value.isoformat()
            if value:
                out[name] = value
        return out


class FunnelFilterForm(ReportFilterForm):
    view = forms.ChoiceField(
        label=_("View"), required=False, initial="cohort",
        choices=[("cohort", _("Cohort: leads created in the range")), ("flow", _("Flow: stage changes in the range"))],
    )


class SourcesFilterForm(ReportFilterForm):
    attribution = forms.ChoiceField(
        label=_("Attribution"), required=False, initial="first",
        choices=[("first", _("First touch")), ("last", _("Last touch before MQL"))],
    )


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = ReportSubscription
        fields = ["is_active", "frequency", "scope"]
        widgets = {"frequency": forms.RadioSelect, "scope": forms.RadioSelect}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        allowed = filters.allowed_scopes(user)
        if filters.team_of(user) is None and Scope.TEAM in allowed:
            allowed = [s for s in allowed if s != Scope.TEAM]
        self.fields["scope"].choices = [(value, label) for value, label in Scope.choices if value in allowed]
        self.fields["frequency"].choices = Frequency.choices
        if not self.instance.pk:
            self.initial.setdefault("scope", allowed[0] if allowed else Scope.OWN)
