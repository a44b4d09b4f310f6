"""Teams, reps, routing rules and the stored rotation. Routing decides; it never writes leads.

The decisions themselves are pure (`routing.policy`); `routing.selectors` reads these models into the
policy's dataclasses and `routing.rotation` stores what a decision changes in the rotation.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.vocabulary import OPEN_STAGES
from routing import calendar, experiments, policy, sla_policy


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
    PERFORMANCE = policy.PERFORMANCE, _("performance-weighted round-robin (recent SAL→SQL, shrunk to the team mean)")


class TeamKind(models.TextChoices):
    SDR = policy.TEAM_SDR, _("SDR team")
    CLOSING = policy.TEAM_CLOSING, _("closing team (account executives)")


class HandOffOn(models.TextChoices):
    QUALIFY = "qualify", _("when the lead is qualified (SQL)")
    OPEN_OPPORTUNITY = "open_opportunity", _("when the SDR opens the opportunity")


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
    kind = models.CharField(
        _("kind"), max_length=8, choices=TeamKind.choices, default=TeamKind.SDR,
        help_text=_("SDR teams get new MQLs; closing teams get the opportunities their SQLs become."),
    )
    hand_off_on = models.CharField(
        _("hand off to a closing team"), max_length=16, choices=HandOffOn.choices, default=HandOffOn.QUALIFY,
        help_text=_("For SDR teams: when their lead's opportunity goes to an account executive."),
    )
    first_meeting_sla_hours = models.PositiveIntegerField(
        _("first meeting within (hours)"), null=True, blank=True,
        help_text=_("For closing teams: the account executive's first meeting is due this long after the hand-off."),
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


# --- SLAs: business calendars, policies with escalation steps, recycling and stall thresholds -----------


class BusinessCalendar(models.Model):
    """When SLA clocks run: working hours per weekday in a time zone, minus public holidays and closures."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default=default_time_zone)
    is_always_open = models.BooleanField(
        _("open around the clock"), default=False, help_text=_("24/7: working hours are ignored.")
    )
    working_hours = models.JSONField(
        _("working hours"), default=dict, blank=True,
        help_text=_('Per weekday, e.g. {"mon": ["09:00", "17:00"]}; several windows as a list of pairs.'),
    )
    holiday_country = models.CharField(
        _("public holidays of"), max_length=2, blank=True, help_text=_("ISO country code, e.g. DE. Empty: none.")
    )
    holiday_subdivision = models.CharField(
        _("state or region"), max_length=10, blank=True,
        help_text=_("Subdivision code for regional holidays, e.g. BY for Bavaria. Empty: national ones only."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name

    def clean(self):
        errors: dict[str, list] = {}
        self.holiday_country = (self.holiday_country or "").strip().upper()
        self.holiday_subdivision = (self.holiday_subdivision or "").strip().upper()
        try:
            self.working_hours = policy.normalize_working_hours(self.working_hours or {})
        except ValueError as error:
            errors["working_hours"] = [str(error)]
        else:
            for name, problem in calendar.calendar_problem(
                time_zone=self.time_zone, working_hours=self.working_hours, always_open=self.is_always_open
            ).items():
                errors.setdefault(name, []).append(problem)
        problem = calendar.holiday_problem(self.holiday_country, self.holiday_subdivision)
        if problem:
            errors["holiday_subdivision" if self.holiday_country else "holiday_country"] = [problem]
        if errors:
            raise ValidationError(errors)

    def as_spec(self, closures=None) -> calendar.CalendarSpec:
        """The pure calendar; pass the closures when you have them (else they are read)."""
        if closures is None:
            closures = self.closures.all()
        return calendar.CalendarSpec.build(
            time_zone=self.time_zone if policy.is_valid_time_zone(self.time_zone) else "UTC",
            working_hours=self.working_hours,
            always_open=self.is_always_open,
            country=self.holiday_country,
            subdivision=self.holiday_subdivision,
            closures=[(c.starts_on, c.ends_on) for c in closures],
        )


class CalendarClosure(models.Model):
    """Days the company is closed (e.g. between Christmas and New Year), counted like public holidays."""

    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="closures"
    )
    name = models.CharField(_("name"), max_length=120)
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))

    class Meta:
        ordering = ["starts_on"]
        verbose_name = _("closure")
        verbose_name_plural = _("closures")
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="closure_days_in_order")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_on} - {self.ends_on})"

    def clean(self):
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": [_("The last day must not be before the first.")]})


class Unit(models.TextChoices):
    MINUTES = calendar.MINUTES, _("minutes of working time")
    HOURS = calendar.HOURS, _("hours of working time")
    DAYS = calendar.DAYS, _("working days")


# The stages an SLA policy or a stall threshold can name: the open ones.
OPEN_STAGE_CHOICES = [(stage.value, stage.label) for stage in OPEN_STAGES]


class SlaStart(models.TextChoices):
    STAGE_ENTERED = sla_policy.STAGE_ENTERED, _("the lead enters the stage")
    OWNER_ASSIGNED = sla_policy.OWNER_ASSIGNED, _("the lead gets an owner (in the stage, or in any stage)")
    AE_ASSIGNED = sla_policy.AE_ASSIGNED, _("the hand-off gives the opportunity to an account executive")
    POOL_ENTERED = sla_policy.POOL_ENTERED, _("an MQL waits unowned in the pool (met when it gets an owner)")


class SlaStop(models.TextChoices):
    STAGE_EXIT = sla_policy.STAGE_EXIT, _("the lead leaves the stage (any transition)")
    CONTACT_ATTEMPT = sla_policy.CONTACT_ATTEMPT, _(
        "the first logged contact attempt (call, e-mail, LinkedIn, meeting)"
    )
    FIRST_MEETING = sla_policy.FIRST_MEETING, _("the first meeting logged after the start (the AE's first meeting)")


class SlaCountsFrom(models.TextChoices):
    EVENT = sla_policy.FROM_EVENT, _("the start")
    CLOSE_DATE = sla_policy.FROM_CLOSE_DATE, _("the end of the forecast close date (deal ageing)")


class EscalationAction(models.TextChoices):
    WARN_OWNER = sla_policy.WARN_OWNER, _("warn the owner")
    NOTIFY_MANAGER = sla_policy.NOTIFY_MANAGER, _("tell the owner's manager")
    REASSIGN = sla_policy.REASSIGN, _("reassign through routing (never to the current owner)")
    RELEASE = sla_policy.RELEASE, _("release to the pool")
    RECYCLE = sla_policy.RECYCLE, _("recycle to marketing with the reason")


class SlaPolicy(models.Model):
    """What starts a clock, what stops it, how long it may run on which calendar, and what happens after."""

    name = models.CharField(_("name"), max_length=160, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    stage = models.CharField(
        _("stage"), max_length=16, choices=OPEN_STAGE_CHOICES, blank=True,
        help_text=_("Empty only for owner-assigned clocks that start in any stage."),
    )
    starts_on = models.CharField(_("the clock starts when"), max_length=24, choices=SlaStart.choices)
    stops_on = models.CharField(_("the clock stops when"), max_length=24, choices=SlaStop.choices)
    counts_from = models.CharField(
        _("the duration counts from"), max_length=16, choices=SlaCountsFrom.choices, default=SlaCountsFrom.EVENT
    )
    duration = models.PositiveIntegerField(_("duration"))
    unit = models.CharField(_("unit"), max_length=16, choices=Unit.choices, default=Unit.HOURS)
    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.PROTECT, related_name="policies"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.CheckConstraint(
                condition=~Q(starts_on=sla_policy.STAGE_ENTERED, stage=""), name="sla_policy_stage_entry_has_stage"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        # The steps' actions are checked with the steps (the admin's inline formset): they are saved after this.
        problems = sla_policy.policy_problems(
            stage=self.stage, starts_on=self.starts_on, stops_on=self.stops_on, counts_from=self.counts_from,
            actions=[],
        )
        if problems:
            raise ValidationError({name: [message] for name, message in problems.items()})

    def as_spec(self, *, steps=None, closures=None) -> sla_policy.PolicySpec:
        """The pure policy (reads its steps and its calendar's closures unless given)."""
        if steps is None:
            steps = self.steps.all()
        return sla_policy.PolicySpec(
            id=self.pk,
            name=self.name,
            stage=self.stage,
            starts_on=self.starts_on,
            stops_on=self.stops_on,
            counts_from=self.counts_from,
            duration=calendar.Duration(self.duration, self.unit),
            calendar=self.calendar.as_spec(closures),
            steps=sla_policy.ordered_steps(step.as_spec() for step in steps),
            is_active=self.is_active,
        )


class EscalationStep(models.Model):
    """One step after the due: at the due itself (after 0), or so much working time later."""

    policy = models.ForeignKey(SlaPolicy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(_("position"), default=1, help_text=_("Steps run in this order."))
    after = models.PositiveIntegerField(_("after the due"), default=0, help_text=_("0: at the due."))
    unit = models.CharField(_("unit"), max_length=16, choices=Unit.choices, default=Unit.HOURS)
    action = models.CharField(_("action"), max_length=24, choices=EscalationAction.choices)
    reason = models.CharField(
        _("reason"), max_length=300, blank=True,
        help_text=_("Written on the lead when this step recycles it. Empty: the policy's name is given."),
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.after} {self.get_unit_display()})"

    def as_spec(self) -> sla_policy.StepSpec:
        return sla_policy.StepSpec(
            number=0, after=calendar.Duration(self.after, self.unit), action=self.action, reason=self.reason
        )


class RecyclingRule(models.Model):
    """After so many logged contact attempts without a connection within so many days, a SAL goes back to
    marketing with the reason written out. The first enabled rule counts."""

    is_enabled = models.BooleanField(_("enabled"), default=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=6, validators=[MinValueValidator(1)])
    days = models.PositiveIntegerField(_("within days"), default=14, validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["id"]
        verbose_name = _("recycling rule")
        verbose_name_plural = _("recycling rules")
        constraints = [
            models.CheckConstraint(condition=Q(attempts__gte=1, days__gte=1), name="recycling_rule_positive"),
        ]

    def __str__(self) -> str:
        return _("No contact after %(attempts)s attempts in %(days)s days") % {
            "attempts": self.attempts, "days": self.days
        }

    def as_spec(self) -> sla_policy.RecyclingSpec:
        return sla_policy.RecyclingSpec(attempts=self.attempts, days=self.days, is_enabled=self.is_enabled)


class StallThreshold(models.Model):
    """A lead in this stage for longer than this is flagged stalled (seed benchmarks as defaults)."""

    stage = models.CharField(_("stage"), max_length=16, choices=OPEN_STAGE_CHOICES, unique=True)
    days = models.PositiveIntegerField(_("days"), validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["id"]
        verbose_name = _("stall threshold")
        verbose_name_plural = _("stall thresholds")
        constraints = [models.CheckConstraint(condition=Q(days__gte=1), name="stall_threshold_positive")]

    def __str__(self) -> str:
        return f"{self.get_stage_display()}: {self.days}"


class Experiment(models.Model):
    """A controlled experiment on a routing rule: the leads it matches are split between arms (routing methods)
    by a hash of the lead id (`routing.experiments.assign`). Stopping keeps the winner's method on the rule."""

    RUNNING = "running"
    STOPPED = "stopped"
    STATUS_CHOICES = [(RUNNING, _("running")), (STOPPED, _("stopped"))]
    ACCEPTANCE = "acceptance"
    SAL_TO_SQL = "sal_to_sql"
    SQL_WITHIN = "sql_within"
    SPEED_TO_LEAD = "speed_to_lead"
    WON_VALUE = "won_value"
    OUTCOME_CHOICES = [
        (ACCEPTANCE, _("acceptance (MQL accepted as SAL)")),
        (SAL_TO_SQL, _("SAL→SQL")),
        (SQL_WITHIN, _("SQL within N days of the MQL")),
        (SPEED_TO_LEAD, _("speed-to-lead (minutes from MQL to first contact; lower is better)")),
        (WON_VALUE, _("won value per lead")),
    ]

    name = models.CharField(_("name"), max_length=120)
    rule = models.ForeignKey(RoutingRule, verbose_name=_("routing rule"), on_delete=models.PROTECT,
                             related_name="experiments", help_text=_("The leads this rule matches are split."))
    arms = models.JSONField(
        _("arms"), default=list,
        help_text=_('At least two, shares adding up to 100: [{"name": "A", "share": 50, "method": "round_robin"}, '
                    '{"name": "B", "share": 50, "method": "performance"}]'))
    outcome = models.CharField(_("outcome"), max_length=16, choices=OUTCOME_CHOICES, default=SAL_TO_SQL)
    outcome_days = models.PositiveIntegerField(_("days (for SQL within N days)"), default=30)
    status = models.CharField(_("status"), max_length=8, choices=STATUS_CHOICES, default=RUNNING, editable=False)
    started_at = models.DateTimeField(_("started at"), default=timezone.now, editable=False)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True, editable=False)
    winner = models.CharField(_("arm kept"), max_length=60, blank=True, editable=False)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("routing experiment")
        verbose_name_plural = _("routing experiments")
        constraints = [
            models.UniqueConstraint(fields=["rule"], condition=Q(status="running"),
                                    name="experiment_one_running_per_rule",
                                    violation_error_message=_("This rule already has a running experiment.")),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        try:
            experiments.parse_arms(self.arms)
        except ValueError as error:
            raise ValidationError({"arms": str(error)})
        if self.outcome_days < 1:
            raise ValidationError({"outcome_days": _("Use at least 1 day.")})
