"""Forms of the capture pages: shapes only, capture validates and normalises."""

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from capture.imports import FIELD_LABELS, FILE_SOURCES, IGNORE
from core.vocabulary import Channel
from leads.fields import FORM_FIELDS
from leads.forms import ErrorsFromService, campaign_choices, text_area

HONEYPOT_FIELD = "website_url"  # a field people never see; bots fill it
IMPORT_MAX_BYTES = 10 * 1024 * 1024


class CaptureFields(ErrorsFromService, forms.Form):
    """Lead fields as `capture.submit` takes them. Only shapes here: capture validates and normalises."""

    email = forms.CharField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    first_name = forms.CharField(label=_("First name"), required=False,
                                 widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    last_name = forms.CharField(label=_("Last name"), required=False,
                                widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    company = forms.CharField(label=_("Company"), required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "organization"}))
    job_title = forms.CharField(label=_("Job title"), required=False,
                                widget=forms.TextInput(attrs={"autocomplete": "organization-title"}))
    phone = forms.CharField(label=_("Phone"), required=False,
                            widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}))
    country = forms.CharField(label=_("Country"), required=False, help_text=_("Code or name, e.g. DE or Deutschland"),
                              widget=forms.TextInput(attrs={"autocomplete": "country-name"}))
    message = forms.CharField(label=_("Message"), required=False, widget=text_area(4))

    # Fields whose values go into the payload as typed.
    payload_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # capture reports a missing e-mail in its own words, next to the field
        self.fields["email"].required = False
        self.fields["email"].widget.attrs["required"] = True

    def payload(self) -> dict:
        """The capture payload: the filled fields only."""
        data = self.cleaned_data
        payload = {name: data[name].strip() for name in self.payload_fields if (data.get(name) or "").strip()}
        if data.get("consent"):
            payload["consent"] = True
        return payload


class ManualLeadForm(CaptureFields):
    industry = forms.CharField(label=_("Industry"), required=False)
    company_size = forms.CharField(label=_("Employees"), required=False,
                                   widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    website = forms.CharField(label=_("Website"), required=False)
    source = forms.ChoiceField(label=_("Source"), required=False,
                               choices=[("", _("Manual entry")), *Channel.choices])
    campaign = forms.ChoiceField(label=_("Campaign"), required=False)
    consent = forms.BooleanField(label=_("The contact agreed to be contacted"), required=False)

    payload_fields = (
        "email", "first_name", "last_name", "company", "job_title", "phone", "country", "industry",
        "company_size", "website", "source", "campaign", "message",
    )
    field_order = [
        "email", "first_name", "last_name", "phone", "job_title", "company", "website", "industry",
        "company_size", "country", "source", "campaign", "message", "consent",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].choices = campaign_choices()
        self.fields["message"].label = _("Note")


# The fields a capture form may ask beyond `CaptureFields` (`leads.fields.FORM_FIELDS`), as the hosted form shows them.
EXTRA_FORM_FIELDS = {
    "company_size": lambda: forms.CharField(label=_("Employees"), required=False,
                                            widget=forms.TextInput(attrs={"inputmode": "numeric"})),
    "industry": lambda: forms.CharField(label=_("Industry"), required=False),
    "street": lambda: forms.CharField(label=_("Street and number"), required=False,
                                      widget=forms.TextInput(attrs={"autocomplete": "street-address"})),
    "postcode": lambda: forms.CharField(label=_("Postcode"), required=False,
                                        widget=forms.TextInput(attrs={"autocomplete": "postal-code"})),
    "city": lambda: forms.CharField(label=_("City"), required=False,
                                    widget=forms.TextInput(attrs={"autocomplete": "address-level2"})),
    "region": lambda: forms.CharField(label=_("Region"), required=False,
                                      widget=forms.TextInput(attrs={"autocomplete": "address-level1"})),
    "topic": lambda: forms.CharField(label=_("Topic of interest"), required=False),
}
HIDDEN_FIELDS = ("visitor_id", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
LONG_FIELDS = ("message",)  # full width, below the others


class HostedForm(CaptureFields):
    """The public web form at /f/<key>/ (and embedded in an iframe): the e-mail and the fields the capture form
    asks this visitor (`capture.profiling.asked_fields`), with the form's labels and required marks."""

    visitor_id = forms.CharField(required=False, widget=forms.HiddenInput)
    utm_source = forms.CharField(required=False, widget=forms.HiddenInput)
    utm_medium = forms.CharField(required=False, widget=forms.HiddenInput)
    utm_campaign = forms.CharField(required=False, widget=forms.HiddenInput)
    utm_term = forms.CharField(required=False, widget=forms.HiddenInput)
    utm_content = forms.CharField(required=False, widget=forms.HiddenInput)
    consent = forms.BooleanField(required=False)
    # The honeypot: people never see it, simple bots fill it.
    website_url = forms.CharField(
        label=_("Leave this field empty"), required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, *args, capture_form, asked, **kwargs):
        super().__init__(*args, **kwargs)
        self.capture_form = capture_form
        self.asked = list(asked)
        names = [field.name for field in self.asked]
        for name in FORM_FIELDS:
            if name not in names:
                self.fields.pop(name, None)
        language = get_language() or ""
        for field in self.asked:
            if field.name not in self.fields:
                self.fields[field.name] = EXTRA_FORM_FIELDS[field.name]()
            if field.name == "topic" and capture_form.topics:
                self.fields["topic"] = forms.ChoiceField(
                    label=self.fields["topic"].label, required=False,
                    choices=[("", "---------"), *((topic, topic) for topic in capture_form.topics)],
                )
            own_label = field.label_in(language)
            if own_label:
                self.fields[field.name].label = own_label
            if field.required:  # marked for people; capture refuses it missing, in its own words
                self.fields[field.name].widget.attrs["required"] = True
        self.payload_fields = ("email", *names, *HIDDEN_FIELDS)
        self.order_fields(["email", *names])
        if capture_form.consent_wording:
            self.fields["consent"].label = capture_form.consent_wording
        else:
            del self.fields["consent"]

    @property
    def is_spam(self) -> bool:
        return bool((self.data.get(HONEYPOT_FIELD) or "").strip())

    @property
    def visible_fields_in_order(self):
        return [self["email"], *(self[f.name] for f in self.asked)]

    @property
    def short_fields(self):
        return [self[f.name] for f in self.asked if f.name not in LONG_FIELDS]

    @property
    def long_fields(self):
        return [self[f.name] for f in self.asked if f.name in LONG_FIELDS]


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8 with a header row; at most 10 MB."))
    source = forms.ChoiceField(label=_("Source"), initial=Channel.EVENT,
                               help_text=_("Where the people in the file came from."))
    campaign = forms.ChoiceField(label=_("Campaign"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].choices = campaign_choices()
        labels = dict(Channel.choices)
        self.fields["source"].choices = [(value, labels[value]) for value in FILE_SOURCES]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 10 MB; split it into smaller files."))
        return upload


class MappingForm(forms.Form):
    """The column-mapping step: one choice per column of the file (a lead field or Ignore)."""

    def __init__(self, *args, columns, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(IGNORE, _("Ignore this column")), *FIELD_LABELS.items()]
        self.columns = columns
        for column in columns:
            self.fields[f"column_{column.index}"] = forms.ChoiceField(
                label=column.header or _("Column %(number)s") % {"number": column.index + 1},
                choices=choices, required=False, initial=column.field,
            )

    def mapping(self) -> list[str]:
        return [self.cleaned_data.get(f"column_{column.index}") or IGNORE for column in self.columns]

    def rows(self):
        """(column, its bound field) per column, for the template."""
        return [(column, self[f"column_{column.index}"]) for column in self.columns]
