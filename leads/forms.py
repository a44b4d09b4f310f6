"""Forms of the server-rendered pages.

They render inputs and check only the shape of what a browser posts (types, choices). The rules live in
the services: `lifecycle` checks transition inputs and guards, `capture` validates lead data, `services`
validates activities. Their errors are put back on these forms next to the fields they name.
"""

import re

from django import forms
from django.utils.formats import get_format
from django.utils.translation import gettext_lazy as _

from core.vocabulary import ActivityKind, Outcome
from definitions import rules
from leads import guards
from leads.fields import EDITABLE_FIELDS
from leads.models import Campaign

# What people click: transition names (part of the API) shown as verbs.
TRANSITION_LABELS = {
    "mark_mql": _("Mark as MQL"),
    "accept": _("Accept"),
    "reject": _("Reject"),
    "qualify": _("Qualify"),
    "open_opportunity": _("Open opportunity"),
    "win": _("Won"),
    "lose": _("Lost"),
    "recycle": _("Recycle"),
    "disqualify": _("Disqualify"),
    "reopen": _("Reopen"),
}
# Transitions that end or set back the work on a lead: shown as secondary buttons.
SETBACK_TRANSITIONS = {"reject", "lose", "recycle", "disqualify"}
OWNER_CHANGE_LABELS = {"claim": _("Claimed"), "assign": _("Assigned"), "release": _("Released to the pool")}

# Activities a person logs by hand (the marketing kinds arrive through capture and tracking).
LOGGED_KINDS = [
    (ActivityKind.CALL.value, ActivityKind.CALL.label),
    (ActivityKind.EMAIL.value, ActivityKind.EMAIL.label),
    (ActivityKind.LINKEDIN.value, ActivityKind.LINKEDIN.label),
    (ActivityKind.MEETING.value, ActivityKind.MEETING.label),
    (ActivityKind.NOTE.value, ActivityKind.NOTE.label),
]


def date_input():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def text_area(rows: int = 2):
    return forms.Textarea(attrs={"rows": rows})


class ErrorsFromService:
    """Put a service's `{field: [messages]}` errors on the form; unknown fields become form errors."""

    def add_service_errors(self, errors: dict) -> None:
        for field, messages in errors.items():
            target = field if field in self.fields else None
            for message in messages:
                if target or field in ("non_field_errors", "__all__"):
                    self.add_error(target, message)
                else:
                    self.add_error(None, f"{field}: {message}")


def normalize_amount(text: str) -> str:
    """Amounts as people type them: "24.000,50 €" and "24,000.50" -> "24000.50", "24 000" -> "24000".

    With one kind of separator followed by exactly three digits ("24.000"), the current language decides
    whether it groups thousands (German) or marks decimals (English)."""
    text = re.sub(r"[\s'’€]|eur", "", text, flags=re.IGNORECASE)
    separators = [sep for sep in (",", ".") if sep in text]
    if not separators:
        return text
    if len(separators) == 2:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
    else:
        sep = separators[0]
        tail = text.rpartition(sep)[2]
        is_grouping = text.count(sep) > 1 or (len(tail) == 3 and sep != get_format("DECIMAL_SEPARATOR"))
        decimal = None if is_grouping else sep
    for sep in separators:
        if sep != decimal:
            text = text.replace(sep, "")
    return text.replace(",", ".")


class AmountField(forms.DecimalField):
    widget = forms.TextInput

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "inputmode": "decimal", "autocomplete": "off"}

    def to_python(self, value):
        if isinstance(value, str):
            value = normalize_amount(value)
        return super().to_python(value)


# --- transitions ----------------------------------------------------------------------------------------

_TRANSITION_FIELDS = {
    "reason": lambda: forms.CharField(label=_("In your words"), required=False, widget=text_area(),
                                      help_text=_("Optional, except for the reason “Other”.")),
    "budget": lambda: forms.CharField(label=_("Budget"), required=False,
                                      help_text=_("Is there a budget, and how much?")),
    "authority": lambda: forms.CharField(label=_("Authority"), required=False,
                                         help_text=_("Who decides, and are we talking to them?")),
    "need": lambda: forms.CharField(label=_("Need"), required=False,
                                    help_text=_("Which problem do we solve for them?")),
    "timeline": lambda: forms.CharField(label=_("Timeline"), required=False,
                                        help_text=_("When do they want to decide or start?")),
    "metrics": lambda: forms.CharField(label=_("Metrics"), required=False,
                                       help_text=_("Which measurable gain do they expect?")),
    "economic_buyer": lambda: forms.CharField(label=_("Economic buyer"), required=False,
                                              help_text=_("Who signs off the money?")),
    "decision_criteria": lambda: forms.CharField(label=_("Decision criteria"), required=False,
                                                 help_text=_("By what will they judge the options?")),
    "decision_process": lambda: forms.CharField(label=_("Decision process"), required=False,
                                                help_text=_("Which steps, people and dates lead to a decision?")),
    "identify_pain": lambda: forms.CharField(label=_("Identified pain"), required=False,
                                             help_text=_("What hurts today, and what does it cost them?")),
    "champion": lambda: forms.CharField(label=_("Champion"), required=False,
                                        help_text=_("Who inside pushes for us?")),
    "deal_value": lambda: AmountField(label=_("Deal value (EUR)"), required=False, min_value=0, max_digits=14,
                                      decimal_places=2),
    "close_date": lambda: forms.DateField(label=_("Forecast close date"), required=False, widget=date_input()),
    "contract_signed_on": lambda: forms.DateField(label=_("Contract signed on"), required=False,
                                                  widget=date_input()),
}


def transition_fields(name: str, framework: str = "bant") -> tuple[str, ...]:
    """The inputs a person fills in for transition `name`: for qualify, the lead's framework only."""
    if name == "qualify":
        return guards.FRAMEWORK_FIELDS.get(framework, guards.BANT_FIELDS)
    return guards.INPUTS[name]


def reason_code_field(name: str) -> forms.ChoiceField:
    """The transition's reason list as a select (`definitions`: the admins keep it)."""
    return forms.ChoiceField(
        label=_("Reason"), required=False,
        choices=[("", _("(choose a reason)")), *((r.code, r.label) for r in rules.reason_codes(name))],
    )


class TransitionForm(ErrorsFromService, forms.Form):
    """The inputs one transition takes (guards.INPUTS). Presence is a guard, so nothing is required here.

    Qualify asks the questions of the lead's framework (BANT, or MEDDIC when the owner's team uses it)."""

    def __init__(self, name: str, *args, framework: str = "bant", **kwargs):
        self.transition = name
        self.framework = framework
        kwargs.setdefault("prefix", name)
        super().__init__(*args, **kwargs)
        for field in transition_fields(name, framework):
            self.fields[field] = reason_code_field(name) if field == "reason_code" else _TRANSITION_FIELDS[field]()
        if "reason" in self.fields and "reason_code" not in self.fields:  # reopen: the words are the reason
            self.fields["reason"].label, self.fields["reason"].help_text = _("Reason"), ""

    @property
    def label(self):
        return TRANSITION_LABELS.get(self.transition, self.transition)

    @property
    def is_setback(self) -> bool:
        return self.transition in SETBACK_TRANSITIONS

    def inputs(self) -> dict:
        """The cleaned values for `lifecycle.fire(inputs=...)`, empty ones left out."""
        return {key: value for key, value in self.cleaned_data.items() if value not in (None, "")}


# --- owners ---------------------------------------------------------------------------------------------


class AssignForm(forms.Form):
    owner = forms.CharField(label=_("Owner"), required=False, max_length=150)


# --- activities -----------------------------------------------------------------------------------------


class ActivityForm(ErrorsFromService, forms.Form):
    kind = forms.ChoiceField(label=_("Channel"), choices=LOGGED_KINDS, initial=ActivityKind.CALL.value)
    outcome = forms.ChoiceField(label=_("Outcome"), required=False,
                                choices=[("", _("(no outcome)")), *Outcome.choices],
                                help_text=_("A call or meeting marked “connected” counts as a conversation."))
    occurred_at = forms.DateTimeField(
        label=_("When"), required=False, help_text=_("Empty means now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )
    note = forms.CharField(label=_("Note"), required=False, widget=text_area(3))
    next_step_on = forms.DateField(label=_("Next step on"), required=False, widget=date_input())

    def raw(self) -> dict:
        """The body for `activities.log_activity(raw=...)`."""
        data = self.cleaned_data
        raw = {"kind": data["kind"], "outcome": data["outcome"], "note": data["note"]}
        if data.get("occurred_at"):
            raw["occurred_at"] = data["occurred_at"].isoformat()
        if data.get("next_step_on"):
            raw["next_step_on"] = data["next_step_on"].isoformat()
        return raw


# --- routing dry run, manager board ---------------------------------------------------------------------


def campaign_choices():
    return [("", _("(none)")), *Campaign.objects.values_list("slug", "name")]


class LeadEditForm(ErrorsFromService, forms.Form):
    """The lead page's Edit: the fields the user may edit (`edits.editable_fields`) and the version of the lead
    the form was filled from. Only shapes here: `leads.edits` validates like every capture channel."""

    email = forms.CharField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    first_name = forms.CharField(label=_("First name"), required=False)
    last_name = forms.CharField(label=_("Last name"), required=False)
    phone = forms.CharField(label=_("Phone"), required=False, widget=forms.TextInput(attrs={"type": "tel"}),
                            help_text=_("Any format; stored as +49…"))
    job_title = forms.CharField(label=_("Job title"), required=False)
    street = forms.CharField(label=_("Street"), required=False)
    postcode = forms.CharField(label=_("Postcode"), required=False)
    city = forms.CharField(label=_("City"), required=False)
    region = forms.CharField(label=_("Region"), required=False)
    language = forms.CharField(label=_("Language"), required=False, help_text=_("e.g. de or en"))
    company = forms.CharField(label=_("Company"), required=False)
    website = forms.CharField(label=_("Website"), required=False)
    industry = forms.CharField(label=_("Industry"), required=False)
    company_size = forms.CharField(label=_("Employees"), required=False, help_text=_("e.g. 1200 or 1.200"))
    country = forms.CharField(label=_("Country"), required=False, help_text=_("Code or name, e.g. DE or Deutschland"))
    version = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, allowed: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        for name in [name for name in self.fields if name != "version" and name not in allowed]:
            del self.fields[name]
        # the service reports a missing e-mail in its own words, next to the field
        if "email" in self.fields:
            self.fields["email"].required = False
            self.fields["email"].widget.attrs["required"] = True

    @classmethod
    def initial_of(cls, lead, version: str) -> dict:
        values = {name: getattr(lead, name) for name in EDITABLE_FIELDS}
        values["company_size"] = "" if lead.company_size is None else str(lead.company_size)
        return {**values, "version": version}

    def changes(self) -> dict:
        """What the form sends to `edits.edit`: every editable field on it, as typed."""
        return {name: self.cleaned_data.get(name) or "" for name in self.fields if name != "version"}
