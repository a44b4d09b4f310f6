"""The consent log, double opt-in requests, the suppression list and the log of data-subject requests.

The tables were created by the `leads` app and keep their names (`db_table`); `privacy` owns them now.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.vocabulary import Channel, ConsentPurpose
from leads.models import CaptureForm, Lead


class ConsentWording(models.Model):
    """The text a person agrees to, per purpose and version. A new text is a new version, never an edit."""

    purpose = models.CharField(_("purpose"), max_length=32, choices=ConsentPurpose.choices)
    version = models.PositiveIntegerField(_("version"))
    text = models.TextField(_("wording"))
    text_hash = models.CharField(_("sha256 of the wording"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        db_table = "leads_consentwording"  # created by the leads app; kept when the model moved here
        ordering = ["purpose", "-version"]
        verbose_name = _("consent wording")
        verbose_name_plural = _("consent wordings")
        constraints = [models.UniqueConstraint(fields=["purpose", "version"], name="consent_wording_version_unique")]

    def __str__(self) -> str:
        return f"{self.purpose} v{self.version}"


class ConsentEvent(models.Model):
    """The append-only consent log: one row per given / confirmed / withdrawn, with its proof."""

    class Kind(models.TextChoices):
        GIVEN = "given", _("Given")
        CONFIRMED = "confirmed", _("Confirmed (double opt-in)")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Method(models.TextChoices):
        WEB_FORM = "web_form", _("Web form")
        API = "api", _("API")
        IMPORT = "import", _("Import")
        PHONE = "phone", _("Phone")
        MANUAL = "manual", _("Manual entry")
        EMAIL_LINK = "email_link", _("Link in an e-mail")
        SYSTEM = "system", _("System")

    class LegalBasis(models.TextChoices):
        CONSENT = "consent", _("Consent (GDPR Art. 6(1)(a))")
        CONTRACT = "contract", _("Contract (GDPR Art. 6(1)(b))")
        LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest (GDPR Art. 6(1)(f))")

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="consent_events")
    purpose = models.CharField(_("purpose"), max_length=32, choices=ConsentPurpose.choices)
    kind = models.CharField(_("event"), max_length=16, choices=Kind.choices)
    requires_confirmation = models.BooleanField(
        _("needs double opt-in"), default=False, help_text=_("Given consent only counts once confirmed.")
    )
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices, blank=True)
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    legal_basis = models.CharField(_("legal basis"), max_length=24, choices=LegalBasis.choices, default="consent")
    at = models.DateTimeField(_("at"), default=timezone.now)
    wording = models.TextField(_("wording shown"), blank=True)
    wording_hash = models.CharField(_("sha256 of the wording"), max_length=64, blank=True)
    wording_version = models.ForeignKey(
        ConsentWording, verbose_name=_("wording version"), null=True, blank=True, on_delete=models.PROTECT
    )
    capture_form = models.ForeignKey(
        CaptureForm, verbose_name=_("capture form"), null=True, blank=True, on_delete=models.SET_NULL
    )
    submission = models.ForeignKey(
        "leads.Submission", verbose_name=_("submission"), null=True, blank=True, on_delete=models.SET_NULL
    )
    page_url = models.URLField(_("page"), max_length=2000, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)
    token_hash = models.CharField(_("confirmation token hash"), max_length=64, blank=True)
    mail_sent_at = models.DateTimeField(_("confirmation mail sent at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    evidence_reference = models.CharField(
        _("evidence reference"), max_length=300, blank=True,
        help_text=_("Where the proof of a phone consent is kept (call recording id, note)."),
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        db_table = "leads_consentevent"  # created by the leads app; kept when the model moved here
        ordering = ["at", "id"]
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        indexes = [models.Index(fields=["lead", "purpose", "at"], name="consent_event_lead_purpose")]

    def __str__(self) -> str:
        return f"{self.purpose} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class OptInRequest(models.Model):
    """One double-opt-in request. The row backs the e-mails: `mail_sent_at` / `reminded_at` are claimed with a
    conditional update, so a retried task never sends twice. Only hashes of the link tokens are stored."""

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="opt_in_requests")
    purposes = models.JSONField(_("purposes"), default=list)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("link expires at"))
    token_hash = models.CharField(_("token hash"), max_length=64, blank=True)
    reminder_token_hash = models.CharField(_("reminder token hash"), max_length=64, blank=True)
    mail_sent_at = models.DateTimeField(_("mail sent at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    purged_at = models.DateTimeField(_("purged at"), null=True, blank=True)

    class Meta:
        db_table = "leads_optinrequest"  # created by the leads app; kept when the model moved here
        ordering = ["-created_at"]
        verbose_name = _("double opt-in request")
        verbose_name_plural = _("double opt-in requests")
        constraints = [
            models.UniqueConstraint(fields=["token_hash"], condition=~Q(token_hash=""), name="opt_in_token_unique"),
            models.UniqueConstraint(
                fields=["reminder_token_hash"], condition=~Q(reminder_token_hash=""), name="opt_in_reminder_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"], name="opt_in_open",
                condition=Q(confirmed_at__isnull=True, purged_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.created_at:%Y-%m-%d}"


class Suppression(models.Model):
    """A one-way hash (HMAC-SHA256 with a key derived from SECRET_KEY) of an erased person's normalised e-mail
    or phone: capture refuses the address without fresh consent."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        PHONE = "phone", _("Phone")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    value_hash = models.CharField(_("hash"), max_length=64)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True, help_text=_("Fresh consent was given."))

    class Meta:
        db_table = "leads_suppression"  # created by the leads app; kept when the model moved here
        verbose_name = _("suppression")
        verbose_name_plural = _("suppressions")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value_hash"], condition=Q(lifted_at__isnull=True), name="suppression_active_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.value_hash[:12]}"


class PrivacyRequest(models.Model):
    """The log of data-subject requests carried out (export, erasure, objection, retention): who, why, when."""

    class Kind(models.TextChoices):
        EXPORT = "export", _("Export")
        ERASE = "erase", _("Erasure")
        OBJECT = "object", _("Objection to direct marketing")
        RETENTION = "retention", _("Retention period expired")

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), null=True, blank=True, on_delete=models.SET_NULL, related_name="privacy_requests"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("done by"), null=True, blank=True, on_delete=models.SET_NULL,
        help_text=_("Empty when the person or the system did it."),
    )
    via = models.CharField(_("via"), max_length=16, default="page")
    reason = models.TextField(_("reason"), blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        db_table = "leads_privacyrequest"  # created by the leads app; kept when the model moved here
        ordering = ["-at", "-id"]
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")

    def __str__(self) -> str:
        return f"{self.kind} {self.lead_id} {self.at:%Y-%m-%d}"
