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
