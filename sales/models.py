"""Contacts, opportunities with their own sales stages, stakeholders and the stage log.

The Account stays in `leads` (capture matches it, routing reads its owner); sales adds pages, merge and
the records that hang off it. `sales.services` is the only code that changes an opportunity's stage.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.vocabulary import SalesOutcome, StakeholderRole
from leads.models import Account, Lead


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=120)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_pipeline")
        ]

    def __str__(self) -> str:
        return self.name


class SalesStage(models.Model):
    """A step inside an opportunity (discovery, demo, ...), with its win probability and what it needs."""

    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=80)
    position = models.PositiveIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(
        _("win probability (%)"), help_text=_("Used by the weighted forecast: value x probability.")
    )
    requires_next_step = models.BooleanField(_("requires a next step"), default=False)
    requires_next_step_date = models.BooleanField(_("requires a next step date"), default=False)

    class Meta:
        ordering = ["pipeline", "position", "id"]
        verbose_name = _("sales stage")
        verbose_name_plural = _("sales stages")
        constraints = [
            models.CheckConstraint(condition=Q(probability__lte=100), name="sales_stage_probability_percent"),
            models.UniqueConstraint(fields=["pipeline", "name"], name="sales_stage_name_per_pipeline"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.probability}%)"


class Contact(models.Model):
    """A person at an account. Made (or linked) when their lead is qualified; one per lead."""

    lead = models.OneToOneField(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="contact")
    account = models.ForeignKey(
        Account, verbose_name=_("account"), null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return self.lead.display_name


class Opportunity(models.Model):
    name = models.CharField(_("name"), max_length=200)
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="opportunities")
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT)
    stage = models.ForeignKey(SalesStage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(
        _("outcome"), max_length=8, choices=SalesOutcome.choices, default=SalesOutcome.OPEN, db_index=True
    )
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    close_date = models.DateField(_("close date"), null=True, blank=True)
    first_close_date = models.DateField(
        _("first close date"), null=True, blank=True, help_text=_("The close date first forecast (slipped deals).")
    )
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    next_step_on = models.DateField(_("next step date"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_opportunities",
        help_text=_("The account executive; empty: the closing team's pool."),
    )
    team = models.ForeignKey(
        "routing.Team",
        verbose_name=_("closing team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    sourced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sourced by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sourced_opportunities",
    )
    assignment = models.JSONField(_("assignment"), default=dict, blank=True, help_text=_("Why this owner."))
    first_meeting_due_at = models.DateTimeField(_("first meeting due"), null=True, blank=True)
    first_meeting_at = models.DateTimeField(_("first meeting"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    lost_reason = models.TextField(_("lost reason"), blank=True)
    version = models.PositiveIntegerField(_("version"), default=1, help_text=_("Raised by every stage move."))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        constraints = [
            models.CheckConstraint(condition=Q(value__isnull=True) | Q(value__gt=0), name="opportunity_value_positive"),
        ]
        indexes = [
            models.Index(fields=["outcome", "close_date"], name="opportunity_outcome_close"),
            models.Index(fields=["owner", "outcome"], name="opportunity_owner_outcome"),
            models.Index(fields=["sourced_by", "outcome"], name="opportunity_sourced_outcome"),
            models.Index(fields=["team", "outcome"], name="opportunity_team_outcome"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.outcome == SalesOutcome.OPEN


class Stakeholder(models.Model):
    opportunity = models.ForeignKey(
        Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE, related_name="stakeholders"
    )
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(_("role"), max_length=16, choices=StakeholderRole.choices)

    class Meta:
        ordering = ["opportunity", "role", "id"]
        verbose_name = _("stakeholder")
        verbose_name_plural = _("stakeholders")
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "contact", "role"], name="stakeholder_once_per_role")
        ]

    def __str__(self) -> str:
        return f"{self.contact} ({self.get_role_display()})"


class OpportunityStageChange(models.Model):
    """The opportunity's audit log, shaped like LeadTransition: every stage move, owner change and close."""

    opportunity = models.ForeignKey(
        Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE, related_name="changes"
    )
    name = models.CharField(_("change"), max_length=16)
    source = models.CharField(_("from"), max_length=80, blank=True)
    target = models.CharField(_("to"), max_length=80, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text=_("Empty when the system made the change."),
    )
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("opportunity change")
        verbose_name_plural = _("opportunity changes")
        indexes = [models.Index(fields=["opportunity", "at"], name="opportunity_change_at")]

    def __str__(self) -> str:
        return f"{self.name}: {self.source} -> {self.target}"


class AccountMerge(models.Model):
    """One account merged into another, with what moved, so it can be undone."""

    kept = models.ForeignKey(Account, verbose_name=_("kept"), on_delete=models.CASCADE, related_name="+")
    merged_domain = models.CharField(_("merged domain"), max_length=253)
    merged_name = models.CharField(_("merged name"), max_length=200)
    merged_owner_id = models.IntegerField(_("merged owner"), null=True, blank=True)
    moved = models.JSONField(_("moved"), default=dict, help_text=_("Ids of the leads, contacts, opportunities moved."))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("account merge")
        verbose_name_plural = _("account merges")

    def __str__(self) -> str:
        return f"{self.merged_domain} -> {self.kept_id}"
