"""What reporting stores: benchmark overrides, report subscriptions and one row per report sent.

Every figure in a report is computed from the leads' history (`reporting.selectors`); nothing here holds a
figure typed in by hand.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.vocabulary import Stage
from reporting import benchmarks


class Frequency(models.TextChoices):
    DAILY = "daily", _("Daily (yesterday)")
    WEEKLY = "weekly", _("Weekly (last week, Monday to Sunday)")


class Scope(models.TextChoices):
    ALL = "all", _("All leads")
    TEAM = "team", _("My team")
    OWN = "own", _("My own leads")


class StageBenchmark(models.Model):
    """Overrides the seed's default band for one stage; an empty field keeps the default.

    Stall thresholds are not here: `routing.StallThreshold` holds them for the whole product when it exists
    (the queue flags stalled leads with the same numbers); until then `reporting.benchmarks.DEFAULTS`.
    """

    stage = models.CharField(
        _("stage"), max_length=16, unique=True, choices=[(s, Stage(s).label) for s in benchmarks.STAGES]
    )
    conversion_min = models.DecimalField(
        _("conversion to next stage from (%)"), max_digits=5, decimal_places=1, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    conversion_max = models.DecimalField(
        _("conversion to next stage up to (%)"), max_digits=5, decimal_places=1, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    days_min = models.DecimalField(
        _("typical days in stage from"), max_digits=6, decimal_places=1, null=True, blank=True,
        validators=[MinValueValidator(0)],
    )
    days_max = models.DecimalField(
        _("typical days in stage up to"), max_digits=6, decimal_places=1, null=True, blank=True,
        validators=[MinValueValidator(0)],
    )
    class Meta:
        ordering = ["stage"]
        verbose_name = _("stage benchmark")
        verbose_name_plural = _("stage benchmarks")

    def __str__(self) -> str:
        return Stage(self.stage).label

    def clean(self):
        errors = {}
        if self.conversion_min is not None and self.conversion_max is not None and (
            self.conversion_max < self.conversion_min
        ):
            errors["conversion_max"] = [_("The upper end must not be below the lower end.")]
        if self.days_min is not None and self.days_max is not None and self.days_max < self.days_min:
            errors["days_max"] = [_("The upper end must not be below the lower end.")]
        if errors:
            raise ValidationError(errors)


class ReportSubscription(models.Model):
    """A user's report by e-mail. One per user; the "My report" page and the admin manage it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="report_subscription"
    )
    frequency = models.CharField(_("frequency"), max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    scope = models.CharField(_("leads covered"), max_length=8, choices=Scope.choices, default=Scope.ALL)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["user__username"]
        verbose_name = _("report subscription")
        verbose_name_plural = _("report subscriptions")

    def __str__(self) -> str:
        return f"{self.user} · {self.get_frequency_display()} · {self.get_scope_display()}"


class ReportRun(models.Model):
    """One report for one recipient and period. The unique constraint makes a second send a no-op.

    A sender claims the period by inserting this row first, sends, then marks it sent: two workers, a
    restart or a catch-up run find the row and stop.
    """

    class Status(models.TextChoices):
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="report_runs"
    )
    subscription = models.ForeignKey(
        ReportSubscription, verbose_name=_("subscription"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="runs",
    )
    frequency = models.CharField(_("frequency"), max_length=8, choices=Frequency.choices)
    scope = models.CharField(_("leads covered"), max_length=8, choices=Scope.choices)
    period_key = models.CharField(_("period"), max_length=24, help_text=_("daily:2026-11-21 or weekly:2026-W47"))
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("until"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.SENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    recipient = models.EmailField(_("sent to"), blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-period_end", "user__username"]
        verbose_name = _("report run")
        verbose_name_plural = _("report runs")
        constraints = [
            models.UniqueConstraint(fields=["user", "period_key"], name="report_run_one_per_user_and_period"),
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")), name="report_run_period"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.period_key} ({self.get_status_display()})"
