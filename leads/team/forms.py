"""Forms of the team pages: the routing dry run, reassigning, presence."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.vocabulary import Channel
from leads import validation  # capture's validators: the dry run reads fields as capture stores them
from leads.forms import ErrorsFromService, campaign_choices, date_input


class RoutingTestForm(ErrorsFromService, forms.Form):
    """A sample lead for the routing dry run. Values are cleaned by capture's own validators."""

    email = forms.CharField(label=_("E-mail"), required=False, max_length=254,
                            help_text=_("Its domain is matched against the accounts."))
    website = forms.CharField(label=_("Website"), required=False, max_length=300)
    country = forms.CharField(label=_("Country"), required=False, max_length=2,
                              help_text=_("Two letters, e.g. DE"),
                              widget=forms.TextInput(attrs={"size": 2, "autocomplete": "off"}))
    industry = forms.CharField(label=_("Industry"), required=False, max_length=100)
    company_size = forms.CharField(label=_("Employees"), required=False, max_length=9,
                                   widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    score = forms.IntegerField(label=_("Score"), required=False, min_value=-100_000, max_value=100_000,
                               help_text=_("Empty counts as 0."))
    source = forms.ChoiceField(label=_("Source"), required=False, choices=Channel.choices,
                               initial=Channel.WEB_FORM)
    campaign = forms.ChoiceField(label=_("Campaign"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].choices = campaign_choices()

    def clean(self):
        data = super().clean()
        errors: dict[str, list[str]] = {}
        email = (data.get("email") or "").strip()
        if email:
            data["email"] = validation.clean_email(email, errors)
        data["website"] = validation.clean_website(data.get("website") or "", errors)
        data["country"] = validation.clean_country(data.get("country") or "", errors)
        data["company_size"] = validation.clean_company_size((data.get("company_size") or "").strip(), errors)
        self.add_service_errors(errors)
        return data


class ReassignForm(forms.Form):
    """Some of a rep's open leads and where they go: "rep:<username>", or "pool"."""

    leads = forms.TypedMultipleChoiceField(label=_("Leads"), coerce=int, choices=(),
                                           error_messages={"required": _("Tick at least one lead.")})
    target = forms.CharField(label=_("Move to"), max_length=160,
                             error_messages={"required": _("Choose where the leads go.")})

    def __init__(self, *args, lead_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["leads"].choices = [(pk, pk) for pk in lead_ids]
        self.fields["leads"].error_messages["invalid_choice"] = _(
            "Lead %(value)s is not among this rep's open leads any more."
        )

    def clean_target(self) -> str | None:
        """The new owner's username, or None for the pool."""
        target = self.cleaned_data["target"].strip()
        if target == POOL_TARGET:
            return None
        kind, _sep, username = target.partition(":")
        if kind != "rep" or not username:
            raise forms.ValidationError(_("Choose a rep or the pool."))
        return username


class PresenceForm(ErrorsFromService, forms.Form):
    """A rep's availability, capacity and absence, as a manager sets them on the board."""

    available = forms.BooleanField(label=_("Available for new leads"), required=False)
    capacity = forms.IntegerField(label=_("Capacity"), min_value=1, max_value=10_000,
                                  help_text=_("The most open MQL + SAL leads this rep may own."))
    out_of_office_from = forms.DateField(label=_("Out of office from"), required=False, widget=date_input(),
                                         help_text=_("Empty: from now."))
    out_of_office_until = forms.DateField(label=_("Out of office until"), required=False, widget=date_input(),
                                          help_text=_("The last day away; empty with an empty start: present."))


POOL_TARGET = "pool"
