"""Outbound webhooks: subscriptions, one delivery per (subscription, event), and every attempt's outcome.

A `Delivery` is both the work queue and the log (the healthchecks way): the outbox consumer writes it in
its own transaction, a worker claims it with a conditional UPDATE (a lease, `claimed_until`), sends it and
writes an `Attempt`. A worker killed mid-send leaves the lease to expire; the next sweep claims the same
row again, with the same `webhook-id`. Deliveries hold ids and vocabulary values only (the event), never
personal data: a chat message is rendered from the lead when it is sent.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.vocabulary import Stage


class Format(models.TextChoices):
    STANDARD = "standard", _("Standard Webhooks (signed JSON)")
    SLACK = "slack", _("Slack incoming webhook")
    TEAMS = "teams", _("Microsoft Teams incoming webhook")


class Subscription(models.Model):
    url = models.CharField(_("URL"), max_length=2000, help_text=_("https (http only for WEBHOOK_ALLOWED_HOSTS)."))
    description = models.CharField(_("description"), max_length=200, blank=True)
    format = models.CharField(_("format"), max_length=16, choices=Format.choices, default=Format.STANDARD)
    event_types = models.JSONField(_("event types"), default=list, help_text=_("Event types sent to this URL."))
    stages = models.JSONField(
        _("only in stages"), default=list, blank=True,
        help_text=_("Only events of leads in these stages (empty: every stage)."),
    )
    team = models.ForeignKey(
        "routing.Team", verbose_name=_("only for team"), null=True, blank=True, on_delete=models.CASCADE,
        help_text=_("Only events of leads owned by this team's reps (empty: every lead)."),
    )
    secret = models.CharField(_("secret"), max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(
        _("previous secret valid until"), null=True, blank=True, editable=False,
        help_text=_("After a rotation, deliveries are signed with both secrets until then."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    failure_count = models.PositiveIntegerField(_("failures in a row"), default=0, editable=False)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True, editable=False)
    disabled_reason = models.CharField(_("disabled because"), max_length=300, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self):
        return f"{self.get_format_display()}: {self.url}"

    def secrets(self, at=None) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous one during the overlap."""
        at = at or timezone.now()
        if self.previous_secret and self.previous_secret_until and at < self.previous_secret_until:
            return [self.secret, self.previous_secret]
        return [self.secret]

    def wants_stage(self, stage: str | None) -> bool:
        return not self.stages or stage in self.stages


STAGE_VALUES = [value for value, _label in Stage.choices]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # waiting for its (next) attempt
    SENDING = "sending", _("Sending")  # claimed by a worker until `claimed_until`
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")  # gave up (retries used up, 410, or the subscription was disabled)


class Delivery(models.Model):
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    event_position = models.BigIntegerField(_("event id"))
    event_type = models.CharField(_("event type"), max_length=64)
    event_at = models.DateTimeField(_("event time"))
    lead_id = models.BigIntegerField(null=True, blank=True)
    actor_id = models.IntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("last response code"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["subscription", "event_position"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_position"], name="delivery_once_per_event"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="delivery_due",
                condition=Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
            ),
        ]

    def __str__(self):
        return f"{self.webhook_id} -> {self.subscription_id} ({self.status})"

    @property
    def webhook_id(self) -> str:
        """Stable per event: every attempt, redelivery included, carries it, so receivers drop duplicates."""
        return f"evt_{self.event_position}"


class Attempt(models.Model):
    """One try of one delivery: the delivery log an admin reads."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(_("at"), default=timezone.now)
    status_code = models.PositiveIntegerField(_("response code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    response_excerpt = models.CharField(_("response body (start)"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    is_success = models.BooleanField(_("success"), default=False)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        indexes = [models.Index(fields=["delivery", "-at"], name="attempt_delivery_at")]

    def __str__(self):
        return f"{self.delivery_id} at {self.at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"


class AdPlatform(models.TextChoices):
    META = "meta", _("Meta Lead Ads (Facebook, Instagram)")
    LINKEDIN = "linkedin", _("LinkedIn Lead Gen Forms")


def default_field_mapping() -> dict:
    """Meta's standard question names; LinkedIn forms map their question ids (see docs/integrations.md)."""
    return {
        "email": "email", "full_name": "full_name", "first_name": "first_name", "last_name": "last_name",
        "company_name": "company", "job_title": "job_title", "phone_number": "phone", "country": "country",
    }


class AdForm(models.Model):
    """A connected ad lead form: which capture form (source, campaign, consent wording of the ad form) its
    leads go through, and how its questions map to lead fields."""

    platform = models.CharField(_("platform"), max_length=16, choices=AdPlatform.choices)
    external_id = models.CharField(_("form id on the platform"), max_length=100)
    name = models.CharField(_("name"), max_length=200)
    capture_form = models.ForeignKey(
        "leads.CaptureForm", verbose_name=_("capture form"), on_delete=models.PROTECT,
        help_text=_("Gives source, campaign and the consent wording shown in the ad form."),
    )
    field_mapping = models.JSONField(
        _("field mapping"), default=default_field_mapping,
        help_text=_("Platform question -> lead field (email, first_name, last_name, full_name, company, job_title, "
                    "phone, country, industry, company_size, website)."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("connected ad form")
        verbose_name_plural = _("connected ad forms")
        constraints = [models.UniqueConstraint(fields=["platform", "external_id"], name="ad_form_once")]

    def __str__(self):
        return f"{self.get_platform_display()}: {self.name}"


class InboundStatus(models.TextChoices):
    RECEIVED = "received", _("Received (details not fetched yet)")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class InboundAdLead(models.Model):
    """One lead notification from an ad platform, and what became of it. No personal data: the details are
    fetched from the platform and go through capture (whose submission keeps them like any channel's)."""

    platform = models.CharField(_("platform"), max_length=16, choices=AdPlatform.choices)
    platform_lead_id = models.CharField(_("lead id on the platform"), max_length=100, blank=True)
    form_external_id = models.CharField(_("form id on the platform"), max_length=100, blank=True)
    ad_form = models.ForeignKey(AdForm, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(_("status"), max_length=16, choices=InboundStatus.choices)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    lead_id = models.BigIntegerField(_("lead"), null=True, blank=True)
    submission_id = models.BigIntegerField(_("submission"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("inbound ad lead")
        verbose_name_plural = _("inbound ad leads")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "platform_lead_id"], condition=~Q(platform_lead_id=""), name="inbound_ad_lead_once"
            ),
        ]

    def __str__(self):
        return f"{self.platform} {self.platform_lead_id or '-'}: {self.status}"
