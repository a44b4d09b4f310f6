"""Admin forms: every refusal comes from `scoring.policy` and is shown at the field it concerns."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from scoring import policy
from scoring.models import ScoringModel, ScoringRule

MODEL_NUMBERS = ("mql_threshold", "warm_from", "hot_from", "total_cap", "fit_cap", "engagement_cap")


class RuleValueField(forms.JSONField):
    """A rule's value as people write it, never as JSON: `Software`, a list as `Software, SaaS, Fintech`, a
    range as `50, 500`. `policy.normalise_value` turns the comma-separated text into the list (or numbers)
    the operator wants; a list is shown the same way, as its items separated by commas. Text starting with
    `[` is still read as JSON, for the few who type it (a list item that holds a comma needs it)."""

    widget = forms.TextInput

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", FastTextInput)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("placeholder", _("e.g. Software, SaaS"))

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, list | dict | int | float):
            return value
        text = str(value).strip()
        if text.startswith("["):
            try:
                return json.loads(text, cls=self.decoder)
            except json.JSONDecodeError:
                pass
        return text

    def bound_data(self, data, initial):
        if self.disabled:
            return initial
        return data  # shown again as typed

    def has_changed(self, initial, data):
        return self.prepare_value(initial) != self.prepare_value(self.to_python(data))

    def prepare_value(self, value):
        if value is None:
            return ""
        if isinstance(value, list | tuple):
            if any(isinstance(item, str) and "," in item for item in value):
                return json.dumps(list(value), ensure_ascii=False, cls=self.encoder)  # the comma must survive
            return ", ".join(str(item) for item in value)
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False, cls=self.encoder)
        return str(value)


# A draft's page shows every rule with about a dozen inputs and four selects of up to twenty options; rendered
# through the widget templates that took most of the page's time. These render the same HTML in Python.


class _FastInputMixin:
    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        shown = "" if widget["value"] is None else format_html(' value="{}"', widget["value"])
        return format_html('<input type="{}" name="{}"{}{}>', widget["type"], name, shown, flatatt(widget["attrs"]))


class FastTextInput(_FastInputMixin, forms.TextInput):
    pass


class FastNumberInput(_FastInputMixin, forms.NumberInput):
    pass


class FastCheckboxInput(_FastInputMixin, forms.CheckboxInput):
    pass


class FastSelect(forms.Select):
    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join("", '<option value="{}"{}>{}</option>', (
            (option["value"], mark_safe(" selected") if option["selected"] else "", option["label"])
            for _group, choices, _index in widget["optgroups"] for option in choices
        ))
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(widget["attrs"]), options)


class ScoringModelForm(forms.ModelForm):
    class Meta:
        model = ScoringModel
        fields = ("name", "mql_threshold", "warm_from", "hot_from", "total_cap", "fit_cap", "engagement_cap", "notes")

    def clean(self):
        cleaned = super().clean()
        if any(cleaned.get(name) is None for name in ("mql_threshold", "warm_from", "hot_from")):
            return cleaned  # a required number is missing: its own error says so
        spec = policy.ModelSpec(version=0, **{name: cleaned.get(name) for name in MODEL_NUMBERS})
        for problem in policy.settings_problems(spec):
            self.add_error(problem.field, problem.message)
        return cleaned


class ScoringRuleForm(forms.ModelForm):
    value = RuleValueField(required=False, label=ScoringRule._meta.get_field("value").verbose_name)

    class Meta:
        model = ScoringRule
        fields = (
            "position",
            "is_enabled",
            "name",
            "group",
            "field",
            "operator",
            "value",
            "activity_kind",
            "url_pattern",
            "points",
            "max_occurrences",
            "half_life_days",
            "window_days",
        )
        help_texts = {"value": ScoringRule._meta.get_field("value").help_text}
        widgets = {
            "position": FastNumberInput, "is_enabled": FastCheckboxInput,
            "name": FastTextInput(attrs={"class": "vTextField"}),
            "group": FastSelect, "field": FastSelect, "operator": FastSelect, "activity_kind": FastSelect,
            "url_pattern": FastTextInput(attrs={"class": "vTextField"}), "points": FastNumberInput,
            "max_occurrences": FastNumberInput, "half_life_days": FastNumberInput, "window_days": FastNumberInput,
        }

    def clean(self):
        cleaned = super().clean()
        if any(name in self.errors for name in ("group", "points", "name")):
            return cleaned
        cleaned["value"] = policy.normalise_value(
            cleaned.get("field", ""), cleaned.get("operator", ""), cleaned.get("value")
        )
        failed_already = set(self.errors)
        for problem in policy.rule_problems(self.rule_spec()):
            name = problem.field if problem.field in self.fields else None
            if name not in failed_already:
                self.add_error(name, problem.message)
        return cleaned

    def rule_spec(self) -> policy.RuleSpec:
        cleaned = self.cleaned_data
        return policy.RuleSpec(
            id=self.instance.pk,
            name=cleaned.get("name", ""),
            group=cleaned.get("group", ""),
            points=cleaned.get("points"),
            field=cleaned.get("field", ""),
            operator=cleaned.get("operator", ""),
            value=cleaned.get("value"),
            activity_kind=cleaned.get("activity_kind", ""),
            max_occurrences=cleaned.get("max_occurrences"),
            url_pattern=cleaned.get("url_pattern", ""),
            half_life_days=cleaned.get("half_life_days"),
            window_days=cleaned.get("window_days"),
        )


class ScoringRuleFormSet(BaseInlineFormSet):
    """Checks the model as a whole with its new rules: the threshold and bands must be reachable."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        model = self.instance
        if any(getattr(model, name) is None for name in ("mql_threshold", "warm_from", "hot_from")):
            return
        rules = []
        for form in self.forms:
            if not getattr(form, "cleaned_data", None) or self._should_delete_form(form):
                continue
            if form.cleaned_data.get("is_enabled"):
                rules.append(form.rule_spec())
        problems = policy.range_problems(model.to_spec(rules=rules))
        if problems:
            raise ValidationError([problem.message for problem in problems])


class PredictiveTrainingForm(forms.Form):
    """What an admin chooses for a training run."""

    target = forms.ChoiceField(label=_("predict"), choices=[("sql", _("reaching SQL")), ("won", _("being won"))])
    horizon_days = forms.IntegerField(
        label=_("horizon (days)"), min_value=1, max_value=365, initial=lambda: settings.PREDICTIVE_HORIZON_DAYS,
        help_text=_("Within how many days after a moment the outcome counts."),
        error_messages={"min_value": _("The horizon must be at least 1 day.")})
