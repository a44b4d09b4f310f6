"""Staff-recorded consent with its evidence (UWG § 7a: phone consent documented)."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.vocabulary import ConsentPurpose
from privacy import consent
from privacy.models import ConsentEvent

# A clock a little ahead of the server's must not make "now" look like the future.
FUTURE_TOLERANCE = timezone.timedelta(minutes=2)


class RecordConsentForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentPurpose.choices)
    kind = forms.ChoiceField(
        label=_("Event"),
        choices=[(ConsentEvent.Kind.GIVEN, _("Given")), (ConsentEvent.Kind.WITHDRAWN, _("Withdrawn"))],
    )
    method = forms.ChoiceField(
        label=_("Method"),
        choices=[(ConsentEvent.Method.PHONE, _("Phone")), (ConsentEvent.Method.MANUAL, _("Manual entry"))],
    )
    wording = forms.CharField(
        label=_("Wording read out or agreed"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    evidence_reference = forms.CharField(
        label=_("Evidence reference"),
        max_length=300,
        required=False,
        help_text=_("Required for phone: call recording id or note reference. No names or numbers of the person."),
    )
    occurred_at = forms.DateTimeField(
        label=_("Occurred at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Empty: now."),
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args, purpose: str = ConsentPurpose.SALES_PHONE, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            if purpose not in ConsentPurpose.values:
                purpose = ConsentPurpose.SALES_PHONE
            self.initial.setdefault("purpose", purpose)
            self.initial.setdefault("method", ConsentEvent.Method.PHONE)
            self.initial.setdefault("wording", consent.wording_for(None, purpose)[0])
            self.initial.setdefault("occurred_at", timezone.localtime().replace(second=0, microsecond=0))

    def clean_occurred_at(self):
        value = self.cleaned_data.get("occurred_at")
        if value is None:
            return timezone.now()
        if value > timezone.now() + FUTURE_TOLERANCE:
            raise forms.ValidationError(_("The time cannot be in the future."))
        return value

    def clean_wording(self):
        return self.cleaned_data.get("wording", "").strip()

    def clean_evidence_reference(self):
        return self.cleaned_data.get("evidence_reference", "").strip()

    def clean(self):
        data = super().clean()
        if data.get("method") == ConsentEvent.Method.PHONE and not data.get("evidence_reference"):
            self.add_error(
                "evidence_reference", _("Phone consent needs an evidence reference (call recording id or note).")
            )
        if data.get("kind") == ConsentEvent.Kind.GIVEN and not data.get("wording"):
            self.add_error("wording", _("Give the wording read out or agreed."))
        return data

    def save(self, *, lead, by) -> ConsentEvent:
        """Record the event. Given consent to e-mail marketing still needs the person's double opt-in: it is
        recorded as pending and the confirmation mail goes out on commit."""
        data = self.cleaned_data
        purpose, text = data["purpose"], data["wording"]
        current = consent.current_wording(purpose)
        proof = {
            "wording": text or None,
            "wording_version": current if current and text and consent.sha256(text) == current.text_hash else None,
            "evidence_reference": data["evidence_reference"],
            "note": data["note"],
            "at": data["occurred_at"],
        }
        if data["kind"] == ConsentEvent.Kind.GIVEN:
            consent.give(
                lead=lead,
                purposes=[purpose],
                method=data["method"],
                double_opt_in=purpose in consent.MARKETING_PURPOSES,
                by=by,
                **proof,
            )
        else:
            consent.record(lead=lead, purpose=purpose, kind=data["kind"], method=data["method"], by=by, **proof)
        return ConsentEvent.objects.filter(lead=lead, purpose=purpose).order_by("-id").first()


class ReasonForm(forms.Form):
    """The reason given for an erasure or objection (free text, as stored)."""

    reason = forms.CharField(label=_("Reason"), max_length=2000, required=False)
