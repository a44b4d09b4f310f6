"""Scoring models and their rules, edited in the Django admin.

A model is versioned: only drafts are edited; `scoring.versioning.activate()` retires the active model
and activates a draft in one transaction, so exactly one model is active and every version a lead's
score names stays readable. The scoring itself is `scoring.policy.score()` on `to_spec()`.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from scoring import defaults, policy

# (id, version, activated_at) of the active model -> its spec; see `ScoringModel.active_spec()`.
_active_spec_cache: tuple[tuple | None, policy.ModelSpec | None] = (None, None)


class ScoringModel(models.Model):
    name = models.CharField(_("name"), max_length=200)
    version = models.PositiveIntegerField(_("version"), unique=True, help_text=_("Given on creation; never reused."))
    status = models.CharField(
        _("status"), max_length=16, choices=defaults.STATUS_CHOICES, default=defaults.DRAFT, editable=False
    )
    is_active = models.BooleanField(_("active"), default=False, editable=False)
    based_on = models.ForeignKey(
        "self",
        verbose_name=_("based on"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="drafts",
        editable=False,
    )
    mql_threshold = models.IntegerField(
        _("MQL threshold"), default=50, help_text=_("A lead whose score reaches this becomes an MQL.")
    )
    mal_fit_threshold = models.PositiveIntegerField(
        _("MAL fit threshold"), null=True, blank=True, default=20,
        help_text=_("A known lead whose fit points reach this is a marketing accepted lead (MAL) until it becomes "
                    "an MQL; empty: no MAL type."),
    )
    warm_from = models.IntegerField(_("warm from"), default=25, help_text=_("Below this score a lead is cold."))
    hot_from = models.IntegerField(_("hot from"), default=50, help_text=_("From this score on a lead is hot."))
    total_cap = models.PositiveIntegerField(
        _("total cap"), null=True, blank=True, help_text=_("Highest possible score; empty for no cap.")
    )
    fit_cap = models.PositiveIntegerField(
        _("fit cap"), null=True, blank=True, help_text=_("Most points fit rules can add together; empty for no cap.")
    )
    engagement_cap = models.PositiveIntegerField(
        _("engagement cap"),
        null=True,
        blank=True,
        help_text=_("Most points engagement rules can add together; empty for no cap."),
    )
    notes = models.TextField(_("notes"), blank=True, help_text=_("Why this version exists; what changed."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True, editable=False)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True, editable=False)
    # Progress of the background rescoring after activation and nightly (written by `versioning.start_rescore`,
    # `add_rescored` and `finish_part`, shown in the admin). `rescore_started_at` is also the moment the run's
    # scores are as of, and names the run; `rescore_parts_left` holds the numbers of its id ranges not done yet.
    rescore_total = models.PositiveIntegerField(_("leads to rescore"), null=True, blank=True, editable=False)
    rescore_done = models.PositiveIntegerField(_("leads rescored"), default=0, editable=False)
    rescore_started_at = models.DateTimeField(_("rescoring started"), null=True, blank=True, editable=False)
    rescore_finished_at = models.DateTimeField(_("rescoring finished"), null=True, blank=True, editable=False)
    rescore_parts_left = ArrayField(models.PositiveIntegerField(), verbose_name=_("id ranges left to rescore"),
                                    default=list, blank=True, editable=False)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("scoring model")
        verbose_name_plural = _("scoring models")
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="scoringmodel_one_active"),
            models.CheckConstraint(
                condition=Q(is_active=True, status=defaults.ACTIVE) | (Q(is_active=False) & ~Q(status=defaults.ACTIVE)),
                name="scoringmodel_active_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.get_status_display()})"

    @property
    def is_draft(self) -> bool:
        return self.status == defaults.DRAFT

    @classmethod
    def active(cls) -> ScoringModel | None:
        """The active model with its rules prefetched, or None (only before the first migrate)."""
        return cls.objects.filter(is_active=True).prefetch_related("rules").first()

    @classmethod
    def active_spec(cls) -> policy.ModelSpec | None:
        """The active model as a spec, built once per process and version: one small query per call.

        A model stops being editable when it is activated (only drafts are edited), so its id, version and
        activation time name its rules for good. Each call reads just those from the database, in the
        caller's transaction, and rebuilds the spec only when they differ from the cached ones: an
        activation in any process is seen by the next call everywhere, and nothing needs invalidating.
        """
        global _active_spec_cache
        marker = cls.objects.filter(is_active=True).values_list("pk", "version", "activated_at").first()
        if marker is None:
            return None
        cached_marker, cached_spec = _active_spec_cache
        if cached_marker == marker:
            return cached_spec
        model = cls.objects.filter(pk=marker[0]).prefetch_related("rules").first()
        if model is None:  # deleted since the marker was read: nothing active to cache
            return None
        spec = model.to_spec()
        _active_spec_cache = (marker, spec)
        return spec

    def to_spec(self, *, rules: list[policy.RuleSpec] | None = None) -> policy.ModelSpec:
        """This model for `policy.score()`: its enabled rules in order (or the `rules` given, for forms)."""
        if rules is None:
            rules = [rule.to_spec() for rule in self.rules.all() if rule.is_enabled]
        return policy.ModelSpec(
            version=self.version,
            mql_threshold=self.mql_threshold,
            warm_from=self.warm_from,
            hot_from=self.hot_from,
            total_cap=self.total_cap,
            fit_cap=self.fit_cap,
            engagement_cap=self.engagement_cap,
            rules=tuple(rules),
        )


class ScoringRule(models.Model):
    model = models.ForeignKey(
        ScoringModel, verbose_name=_("scoring model"), on_delete=models.CASCADE, related_name="rules"
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    name = models.CharField(_("name"), max_length=200, help_text=_("Shown in every lead's score breakdown."))
    group = models.CharField(_("group"), max_length=16, choices=defaults.GROUP_CHOICES)
    field = models.CharField(_("lead field"), max_length=32, choices=defaults.FIELD_CHOICES, blank=True)
    operator = models.CharField(_("operator"), max_length=16, choices=defaults.OPERATOR_CHOICES, blank=True)
    value = models.JSONField(
        _("value"),
        null=True,
        blank=True,
        help_text=_("One value, or several separated by commas (lists, ranges: 50, 500)."),
    )
    activity_kind = models.CharField(
        _("activity kind"), max_length=32, choices=defaults.ACTIVITY_KIND_CHOICES, blank=True
    )
    url_pattern = models.CharField(
        _("URL pattern"),
        max_length=300,
        blank=True,
        help_text=_("Regular expression; only activities whose URL matches count (case-insensitive)."),
    )
    points = models.IntegerField(_("points"), help_text=_("Per occurrence for engagement rules; may be negative."))
    max_occurrences = models.PositiveIntegerField(
        _("max. occurrences"), null=True, blank=True, help_text=_("Only the most recent N count; empty for all.")
    )
    half_life_days = models.PositiveIntegerField(
        _("half-life (days)"), null=True, blank=True, help_text=_("Points of an occurrence halve every N days.")
    )
    window_days = models.PositiveIntegerField(
        _("window (days)"), null=True, blank=True, help_text=_("Only occurrences of the last N days count.")
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("scoring rule")
        verbose_name_plural = _("scoring rules")
        constraints = [
            models.CheckConstraint(
                condition=~Q(points=0),
                name="scoringrule_points_not_zero",
                violation_error_message=_("A rule worth 0 points has no effect."),
            ),
            models.CheckConstraint(
                condition=Q(half_life_days__isnull=True) | Q(window_days__isnull=True),
                name="scoringrule_half_life_or_window",
                violation_error_message=_("Choose either a half-life or a window, not both."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def to_spec(self) -> policy.RuleSpec:
        return policy.RuleSpec(
            id=self.pk,
            name=self.name,
            group=self.group,
            points=self.points,
            field=self.field,
            operator=self.operator,
            value=self.value,
            activity_kind=self.activity_kind,
            max_occurrences=self.max_occurrences,
            url_pattern=self.url_pattern,
            half_life_days=self.half_life_days,
            window_days=self.window_days,
        )


class PredictiveModel(models.Model):
    """A trained predictive conversion model (`scoring.predictive`): versioned, measured, activated by an admin.

    Training writes a new version with its parameters (coefficients of the logistic regression, stored as
    JSON: nothing is unpickled) and its quality report, or a refused version with the sentence why. Only an
    admin activates a trained version (`scoring.versioning.activate_predictive`); one below the quality floor
    only after confirming. Exactly one version is active at most.
    """

    TRAINED = "trained"
    REFUSED = "refused"
    STATUS_CHOICES = [
        (TRAINED, _("trained, not active")), (defaults.ACTIVE, _("active")), (defaults.RETIRED, _("retired")),
        (REFUSED, _("refused (too little history)")),
    ]
    TARGET_CHOICES = [("sql", _("reaching SQL")), ("won", _("being won"))]

    version = models.PositiveIntegerField(_("version"), unique=True)
    status = models.CharField(_("status"), max_length=16, choices=STATUS_CHOICES, default=TRAINED)
    is_active = models.BooleanField(_("active"), default=False)
    target = models.CharField(_("predicts"), max_length=8, choices=TARGET_CHOICES, default="sql")
    horizon_days = models.PositiveIntegerField(_("horizon (days)"))
    auc = models.FloatField(_("AUC on the holdout"), null=True, blank=True)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    quality = models.JSONField(_("quality report"), default=dict, blank=True)
    refusal = models.TextField(_("why training was refused"), blank=True)
    trained_at = models.DateTimeField(_("trained at"))
    training_seconds = models.FloatField(_("training time (s)"), null=True, blank=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("activated by"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("predictive model")
        verbose_name_plural = _("predictive models")
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True),
                                    name="predictivemodel_one_active"),
            models.CheckConstraint(condition=Q(horizon_days__gte=1), name="predictivemodel_horizon_positive"),
        ]

    def __str__(self) -> str:
        return f"{_('Predictive model')} v{self.version} ({self.get_status_display()})"

    @classmethod
    def active(cls) -> PredictiveModel | None:
        return cls.objects.filter(is_active=True).first()
