"""Teams, reps, routing rules and the stored rotation. Routing decides; it never writes leads.

The decisions themselves are pure (`routing.policy`); `routing.selectors` reads these models into the
policy's dataclasses and `routing.rotation` stores what a decision changes in the rotation.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from routing import policy


def default_time_zone() -> str:
    return settings.TIME_ZONE


class QualificationFramework(models.TextChoices):
    BANT = "bant", _("BANT (budget, authority, need, timeline)")
    MEDDIC = "meddic", _("MEDDIC (metrics, economic buyer, decision criteria, decision process, pain, champion)")


class TargetType(models.TextChoices):
    TEAM = policy.TARGET_TEAM, _("a team")
    REP = policy.TARGET_REP, _("a rep")
    POOL = policy.TARGET_POOL, _("the pool")


class Method(models.TextChoices):
    ROUND_ROBIN = policy.ROUND_ROBIN, _("round-robin")
    WEIGHTED_ROUND_ROBIN = policy.WEIGHTED_ROUND_ROBIN, _("weighted round-robin")
    LEAST_LOADED = policy.LEAST_LOADED, _("least loaded")
    ACCOUNT_OWNER_FIRST = policy.ACCOUNT_OWNER_FIRST, _("account owner first, then round-robin")


class Team(models.Model):
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("manager"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="managed_teams", help_text=_("Told when a lead for this team finds nobody and goes to the pool."),
    )
    qualification_framework = models.CharField(
        _("qualification framework"), max_length=16, choices=QualificationFramework.choices,
        default=QualificationFramework.BANT,
    )
    rotation_clock = models.FloatField(
        _("rotation floor"), default=0, editable=False,
        help_text=_("Where a rep who joins or comes back starts in the rotation, so they are not flooded."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class Rep(models.Model):
    """A user who can own leads: where, what, how many, and when."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="rep"
    )
    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.PROTECT, related_name="reps")
    territories = models.JSONField(
        _("territories"), default=list, blank=True,
        help_text=_("ISO country codes and/or regions (DACH, Nordics, Benelux, ...). Empty: everywhere."),
    )
    specialties = models.JSONField(
        _("specialties"), default=list, blank=True,
        help_text=_("Industries or products; specialists in a lead's industry are preferred within the team."),
    )
    capacity = models.PositiveIntegerField(
        _("capacity"), default=25, validators=[MinValueValidator(1)],
        help_text=_("The most open MQL + SAL leads this rep may own."),
    )
    weight = models.PositiveIntegerField(
        _("weight"), default=1, validators=[MinValueValidator(1)],
        help_text=_("Share in weighted round-robin: weight 2 gets twice the leads of weight 1."),
    )
    is_available = models.BooleanField(_("available"), default=True)
    out_of_office_from = models.DateField(_("out of office from"), null=True, blank=True)
    out_of_office_until = models.DateField(_("out of office until"), null=True, blank=True)
    working_hours = models.JSONField(
        _("working hours"), default=dict, blank=True,
        help_text=_('Per weekday, e.g. {"mon": ["09:00", "17:00"]}; several shifts as a list of pairs.'),
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default=default_time_zone)
    respect_working_hours = models.BooleanField(
        _("only during working hours"), default=False,
        help_text=_("Skip this rep outside their working hours."),
    )

    class Meta:
        ordering = ["user__username"]
        verbose_name = _("rep")
        verbose_name_plural = _("reps")
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gte=1), name="rep_capacity_positive"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="rep_weight_positive"),
            models.CheckConstraint(
                condition=Q(out_of_office_from__isnull=True)
                | Q(out_of_office_until__isnull=True)
                | Q(out_of_office_until__gte=models.F("out_of_office_from")),
                name="rep_out_of_office_in_order",
            ),
        ]

    def __str__(self) -> str:
        return self.user.get_username()

    def clean(self):
        errors: dict[str, list] = {}
        for name, normalize in (
            ("territories", policy.normalize_territories),
            ("specialties", policy.normalize_words),
        ):
            value = getattr(self, name)
            if not isinstance(value, list):
                errors[name] = [_("Enter a list.")]
                continue
            try:
                setattr(self, name, normalize(value))
            except ValueError as error:
                errors[name] = [str(error)]
        try:
            self.working_hours = policy.normalize_working_hours(self.working_hours or {})
        except ValueError as error:
            errors["working_hours"] = [str(error)]
        if not policy.is_valid_time_zone(self.time_zone):
            errors["time_zone"] = [_("Enter a time zone such as Europe/Berlin.")]
        if self.respect_working_hours and not self.working_hours and "working_hours" not in errors:
            errors["working_hours"] = [_("Enter working hours, or do not limit routing to them.")]
        if (
            self.out_of_office_from and self.out_of_office_until
            and self.out_of_office_until < self.out_of_office_from
        ):
            errors["out_of_office_until"] = [_("The last day out of office must not be before the first.")]
        if errors:
            raise ValidationError(errors)


class RoutingRule(models.Model):
    """Conditions on a lead -> a target and a method. The first enabled rule by position wins."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=100, help_text=_("Lower runs first."))
    is_enabled = models.BooleanField(_("enabled"), default=True)
    conditions = models.JSONField(
        _("conditions"), default=dict, blank=True,
        help_text=_("All must hold: country, region, industry, company_size_min/max, score_min, source, campaign."),
    )
    target_type = models.CharField(_("target"), max_length=8, choices=TargetType.choices, default=TargetType.TEAM)
    target_team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="rules"
    )
    target_rep = models.ForeignKey(
        Rep, verbose_name=_("rep"), null=True, blank=True, on_delete=models.PROTECT, related_name="rules"
    )
    method = models.CharField(_("method"), max_length=24, choices=Method.choices, default=Method.ROUND_ROBIN)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(target_type=policy.TARGET_TEAM, target_team__isnull=False, target_rep__isnull=True)
                    | Q(target_type=policy.TARGET_REP, target_team__isnull=True, target_rep__isnull=False)
                    | Q(target_type=policy.TARGET_POOL, target_team__isnull=True, target_rep__isnull=True)
                ),
                name="routing_rule_target_matches_type",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        errors: dict[str, list] = {}
        if self.target_type == policy.TARGET_TEAM:
            if self.target_team_id is None:
                errors["target_team"] = [_("Choose the team this rule sends leads to.")]
            if self.target_rep_id is not None:
                errors["target_rep"] = [_("A rule that targets a team names no rep.")]
        elif self.target_type == policy.TARGET_REP:
            if self.target_rep_id is None:
                errors["target_rep"] = [_("Choose the rep this rule sends leads to.")]
            if self.target_team_id is not None:
                errors["target_team"] = [_("A rule that targets a rep names no team.")]
        elif self.target_type == policy.TARGET_POOL:
            if self.target_team_id is not None:
                errors["target_team"] = [_("A rule that sends to the pool names no team.")]
            if self.target_rep_id is not None:
                errors["target_rep"] = [_("A rule that sends to the pool names no rep.")]
        if self.target_type != policy.TARGET_TEAM and self.method in (
            policy.WEIGHTED_ROUND_ROBIN, policy.LEAST_LOADED
        ):
            # Round-robin stays allowed (it is the default and does nothing here); account owner first
            # tries the account's owner before the rep or the pool.
            errors["method"] = [_("This method picks within a team; choose a team as target.")]
        try:
            self.conditions = policy.normalize_conditions(self.conditions or {})
        except ValueError as error:
            errors["conditions"] = [str(error)]
        if errors:
            raise ValidationError(errors)

    def as_spec(self) -> policy.RuleSpec:
        return policy.RuleSpec(
            id=self.pk,
            name=self.name,
            position=self.position,
            conditions=dict(self.conditions or {}),
            target_type=self.target_type,
            target_team_id=self.target_team_id,
            target_rep_id=self.target_rep_id,
            method=self.method,
            is_enabled=self.is_enabled,
        )


class RotationState(models.Model):
    """Where one rep stands in one team's rotation. Kept when the roster changes; never reset."""

    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="rotation")
    rep = models.ForeignKey(Rep, verbose_name=_("rep"), on_delete=models.CASCADE, related_name="rotation")
    assigned = models.PositiveIntegerField(_("leads assigned by rotation"), default=0)
    virtual_time = models.FloatField(_("position in the rotation"), default=0)
    last_assigned_at = models.DateTimeField(_("last assigned at"), null=True, blank=True)

    class Meta:
        ordering = ["team", "virtual_time", "rep__user__username"]
        verbose_name = _("rotation state")
        verbose_name_plural = _("rotation states")
        constraints = [models.UniqueConstraint(fields=["team", "rep"], name="rotation_state_one_per_team_rep")]

    def __str__(self) -> str:
        return f"{self.team} / {self.rep}: {self.assigned}"
