"""The agreement between marketing and sales, as data the teams own (seed 000): what each stage means,
who owns it, when a lead enters and leaves it, the hot-intent rule, and the quarterly reviews of it all.

Stage values never change (they are the API); only their labels and words here do. Every change is
logged in `DefinitionChange` (who, when, what from what to what) by `definitions.services`.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.vocabulary import REASON_TRANSITIONS, ActivityKind, Stage


class StageOwner(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SDR = "sdr", _("Sales development (SDR)")
    AE = "ae", _("Account executive")
    NOBODY = "nobody", _("Nobody (closed)")


class StageDefinition(models.Model):
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, unique=True, editable=False)
    label = models.CharField(
        _("label"), max_length=60, blank=True,
        help_text=_("The name the teams use for this stage; empty: the built-in name in each language."),
    )
    description = models.TextField(_("meaning"), max_length=1000, blank=True)
    entry_criteria = models.TextField(_("entry criteria"), max_length=1000, blank=True)
    exit_criteria = models.TextField(_("exit criteria"), max_length=1000, blank=True)
    owner = models.CharField(_("owner"), max_length=16, choices=StageOwner.choices, default=StageOwner.MARKETING)
    position = models.PositiveSmallIntegerField(_("position"), default=0, editable=False)

    class Meta:
        ordering = ["position"]
        verbose_name = _("stage definition")
        verbose_name_plural = _("stage definitions")

    def __str__(self) -> str:
        return f"{self.label} ({self.stage})"


class HotIntentRule(models.Model):
    """One row (pk 1): which activities show buying intent strong enough to make an MQL at once."""

    pricing_views = models.PositiveSmallIntegerField(
        _("pricing-page views"), default=3, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("This many pricing-page views ..."),
    )
    within_days = models.PositiveSmallIntegerField(
        _("within days"), default=7, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("... within this many days make hot intent."),
    )
    kinds = ArrayField(
        models.CharField(max_length=32, choices=ActivityKind.choices),
        verbose_name=_("hot activity kinds"), default=list, blank=True,
        help_text=_("One of these since the lead entered its stage is hot intent by itself."),
    )

    class Meta:
        verbose_name = _("hot-intent rule")
        verbose_name_plural = _("hot-intent rule")

    def __str__(self) -> str:
        return str(_("Hot-intent rule"))


class DefinitionChange(models.Model):
    """One changed value of a definition: the version history the quarterly review reads."""

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(_("what"), max_length=60)  # "stage:mql", "hot_intent"
    field = models.CharField(_("field"), max_length=40)
    old = models.TextField(_("from"), blank=True)
    new = models.TextField(_("to"), blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("definition change")
        verbose_name_plural = _("definition changes")

    def __str__(self) -> str:
        return f"{self.subject}.{self.field}"


class Review(models.Model):
    """A quarterly review of the definitions: who reviewed, when, their notes, and what changed since the
    review before (filled in from `DefinitionChange` when the review is recorded)."""

    at = models.DateTimeField(_("reviewed at"), default=timezone.now, db_index=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reviewed by"), null=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    notes = models.TextField(_("notes"), max_length=5000, blank=True)
    changes = models.TextField(_("changed since the review before"), blank=True, editable=False)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("definitions review")
        verbose_name_plural = _("definitions reviews")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d}"


REASON_OTHER = "other"  # every transition that takes a reason has it; it needs a free text


class ReasonCode(models.Model):
    """One entry of the list a person picks from when rejecting, recycling, disqualifying or losing a lead
    (the reasons report groups by it). Codes are kept once used: deactivate a code instead of deleting it."""

    transition = models.CharField(
        _("transition"), max_length=32,
        choices=[(t.value, t.label) for t in REASON_TRANSITIONS],
    )
    code = models.SlugField(
        _("code"), max_length=40,
        help_text=_("Lower-case letters, digits and underscores; what the API sends. Never renamed once used."),
    )
    label = models.CharField(_("label"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(
        _("offered"), default=True, help_text=_("Unticked: kept for the report, no longer offered or accepted."),
    )

    class Meta:
        ordering = ["transition", "position", "id"]
        verbose_name = _("reason code")
        verbose_name_plural = _("reason codes")
        constraints = [
            models.UniqueConstraint(fields=["transition", "code"], name="reason_code_unique_per_transition"),
        ]

    def __str__(self) -> str:
        return f"{self.transition}: {self.label}"
