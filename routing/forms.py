"""Admin forms that let people edit reps and rules in plain words instead of raw JSON."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from routing import policy
from routing.models import Rep, RoutingRule


def split_list(text: str) -> list[str]:
    """ "DE, AT; CH" -> ["DE", "AT", "CH"] (commas, semicolons or new lines)."""
    return [part.strip() for part in (text or "").replace(";", ",").replace("\n", ",").split(",") if part.strip()]


def join_list(values) -> str:
    return ", ".join(str(v) for v in (values or []))


def parse_working_hours(text: str) -> dict[str, list[list[str]]]:
    """One line per day or day range: "mon-fri 09:00-17:00", "sat 10:00-14:00, 15:00-18:00".

    A shift ending before it starts runs past midnight ("fri 22:00-06:00").
    """
    hours: dict[str, list[list[str]]] = {}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip().lower()
        if not line:
            continue
        days_text, _space, shifts_text = line.partition(" ")
        days = _days(days_text)
        shifts = [s.strip() for s in shifts_text.split(",") if s.strip()]
        if not days or not shifts or not all(s.count("-") == 1 for s in shifts):
            raise ValidationError(
                _("Line %(number)s: write a day or range and shifts, e.g. \"mon-fri 09:00-17:00\"."),
                params={"number": number},
            )
        for day in days:
            hours.setdefault(day, []).extend([part.strip() for part in shift.split("-")] for shift in shifts)
    try:
        return policy.normalize_working_hours(hours)
    except ValueError as error:
        raise ValidationError(str(error))


def format_working_hours(hours) -> str:
    lines = []
    for day in policy.WEEKDAYS:
        windows = policy.shift_windows((hours or {}).get(day))
        if windows:
            lines.append(f"{day} " + ", ".join("-".join(window) for window in windows))
    return "\n".join(lines)


def _days(text: str) -> list[str]:
    days: list[str] = []
    for part in text.split(","):
        first, _dash, last = part.strip().partition("-")
        if first not in policy.WEEKDAYS or (last and last not in policy.WEEKDAYS):
            return []
        start = policy.WEEKDAYS.index(first)
        end = policy.WEEKDAYS.index(last) if last else start
        if end < start:
            return []
        days.extend(policy.WEEKDAYS[start : end + 1])
    return days


class RepForm(forms.ModelForm):
    territories = forms.CharField(
        label=_("Territories"), required=False,
        help_text=_("ISO country codes and/or regions, comma-separated: DE, AT, Nordics. Empty: everywhere. "
                    "Regions: %(regions)s.") % {"regions": ", ".join(policy.REGIONS)},
    )
    specialties = forms.CharField(
        label=_("Specialties"), required=False, help_text=_("Industries or products, comma-separated."),
    )
    working_hours = forms.CharField(
        label=_("Working hours"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_('One line per day or range, e.g. "mon-fri 09:00-17:00" or "sat 10:00-14:00, 15:00-18:00".'),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=())

    class Meta:
        model = Rep
        fields = [
            "user", "team", "territories", "specialties", "capacity", "weight", "is_available",
            "out_of_office_from", "out_of_office_until", "working_hours", "time_zone", "respect_working_hours",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in policy.time_zone_choices()]
        if not self.is_bound:
            self.initial["territories"] = join_list(self.instance.territories)
            self.initial["specialties"] = join_list(self.instance.specialties)
            self.initial["working_hours"] = format_working_hours(self.instance.working_hours)
            self.initial.setdefault("time_zone", self.instance.time_zone)

    def clean_territories(self):
        try:
            return policy.normalize_territories(split_list(self.cleaned_data["territories"]))
        except ValueError as error:
            raise ValidationError(str(error))

    def clean_specialties(self):
        return policy.normalize_words(split_list(self.cleaned_data["specialties"]))

    def clean_working_hours(self):
        return parse_working_hours(self.cleaned_data["working_hours"])


class RoutingRuleForm(forms.ModelForm):
    """The rule's conditions as separate fields; stored as the `conditions` JSON."""

    country = forms.CharField(
        label=_("Countries"), required=False, help_text=_("ISO codes, comma-separated: DE, AT, CH."),
    )
    region = forms.MultipleChoiceField(
        label=_("Regions"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(name, f"{name} ({', '.join(sorted(codes))})") for name, codes in policy.REGIONS.items()],
    )
    industry = forms.CharField(label=_("Industries"), required=False, help_text=_("Comma-separated."))
    company_size_min = forms.IntegerField(label=_("Company size at least"), required=False, min_value=0)
    company_size_max = forms.IntegerField(label=_("Company size at most"), required=False, min_value=0)
    score_min = forms.IntegerField(label=_("Score at least"), required=False, min_value=0)
    probability_min = forms.IntegerField(label=_("Conversion probability at least (%)"), required=False, min_value=0,
                                         max_value=100)
    source = forms.CharField(
        label=_("Sources"), required=False, help_text=_("Source channels, comma-separated: web_form, event."),
    )
    campaign = forms.CharField(label=_("Campaigns"), required=False, help_text=_("Campaign slugs, comma-separated."))

    condition_fields = policy.CONDITION_KEYS
    _list_fields = ("country", "industry", "source", "campaign")

    class Meta:
        model = RoutingRule
        fields = ["name", "position", "is_enabled", "target_type", "target_team", "target_rep", "method"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            conditions = self.instance.conditions or {}
            for key in self.condition_fields:
                value = conditions.get(key)
                if value is None:
                    continue
                self.initial[key] = join_list(value) if key in self._list_fields else value

    def clean(self):
        cleaned = super().clean()
        conditions = {}
        for key in self.condition_fields:
            value = cleaned.get(key)
            if key in self._list_fields:
                value = split_list(value or "")
            if value not in (None, "", []):
                conditions[key] = value
        try:
            self.instance.conditions = policy.normalize_conditions(conditions)
        except ValueError as error:
            raise ValidationError(str(error))
        return cleaned
