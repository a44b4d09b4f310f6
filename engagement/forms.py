"""Forms of the engagement pages; the rules are engagement.validation's (the forms only parse)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.parsers import bad_text
from engagement.models import EmailTemplate, Programme, Step
from engagement.validation import CONDITION_FIELDS


class ProgrammeForm(forms.ModelForm):
    class Meta:
        model = Programme
        fields = ["slug", "name", "from_email", "reply_to", "reentry", "exit_stage", "is_active"]


class TemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ["name"]


class VersionForm(forms.Form):
    language = forms.CharField(label=_("Language"), max_length=8)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    preheader = forms.CharField(label=_("Preheader"), max_length=200, required=False)
    body = forms.CharField(label=_("Body (Markdown)"), widget=forms.Textarea(attrs={"rows": 14}), max_length=50000)

    def __init__(self, *args, instance=None, **kwargs):
        if instance is not None:
            kwargs.setdefault("initial", {}).update(
                language=instance.language, subject=instance.subject, preheader=instance.preheader, body=instance.body
            )
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        for name in ("subject", "preheader", "body"):
            if data.get(name) and bad_text(data[name]):
                self.add_error(name, _("Remove the control characters."))
        return data


class StepForm(forms.Form):
    position = forms.IntegerField(label=_("Position"), min_value=1, max_value=1000)
    kind = forms.ChoiceField(label=_("Kind"), choices=Step.Kind.choices)
    template = forms.ModelChoiceField(label=_("Template"), queryset=EmailTemplate.objects.none(), required=False)
    variant_template = forms.ModelChoiceField(
        label=_("Variant B template"), queryset=EmailTemplate.objects.none(), required=False
    )
    variant_share = forms.IntegerField(label=_("Variant B share (%)"), required=False, min_value=0, max_value=100)
    wait_days = forms.IntegerField(label=_("Wait (days)"), required=False, min_value=-1000, max_value=1000)
    business_days = forms.BooleanField(label=_("Business days"), required=False)
    condition_field = forms.ChoiceField(
        label=_("Condition field"), required=False, choices=[("", "—"), *CONDITION_FIELDS.items()]
    )
    condition_value = forms.CharField(label=_("Condition value"), required=False, max_length=100)
    yes_position = forms.IntegerField(label=_("On yes, go to step"), required=False, min_value=1)
    no_position = forms.IntegerField(label=_("On no, go to step"), required=False, min_value=1)
    task_channel = forms.ChoiceField(
        label=_("Task channel"), required=False, choices=[("", "—"), *Step.TaskChannel.choices]
    )
    task_script = forms.CharField(label=_("Script"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, programme: Programme, **kwargs):
        super().__init__(*args, **kwargs)
        self.programme = programme
        templates = EmailTemplate.objects.filter(deleted_at__isnull=True)
        self.fields["template"].queryset = templates
        self.fields["variant_template"].queryset = templates
        last = programme.steps.order_by("-position").values_list("position", flat=True).first() or 0
        self.fields["position"].initial = last + 1

    def step(self) -> Step:
        data = self.cleaned_data
        return Step(
            programme=self.programme,
            position=data["position"],
            kind=data["kind"],
            template=data.get("template"),
            variant_template=data.get("variant_template"),
            variant_share=data.get("variant_share") or 0,
            wait_days=data.get("wait_days"),
            business_days=bool(data.get("business_days")),
            condition_field=data.get("condition_field") or "",
            condition_value=data.get("condition_value") or "",
            yes_position=data.get("yes_position"),
            no_position=data.get("no_position"),
            task_channel=data.get("task_channel") or "",
            task_script=data.get("task_script") or "",
        )
