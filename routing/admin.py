import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core.errors import Invalid, Refused
from routing import calendar as routing_calendar
from routing import policy, sla_policy
from routing import services as routing_services
from routing.forms import RepForm, RoutingRuleForm, format_working_hours, parse_working_hours
from routing.models import (
    BusinessCalendar,
    CalendarClosure,
    EscalationStep,
    Experiment,
    RecyclingRule,
    Rep,
    RotationState,
    RoutingRule,
    SlaPolicy,
    StallThreshold,
    Team,
)


class BusinessCalendarForm(forms.ModelForm):
    """Working hours in plain words ("mon-fri 09:00-17:00") instead of raw JSON."""

    working_hours = forms.CharField(
        label=_("Working hours"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_('One line per day or range, e.g. "mon-fri 09:00-17:00" or "sat 10:00-14:00, 15:00-18:00". '
                    "Ignored when the calendar is open around the clock."),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=())

    class Meta:
        model = BusinessCalendar
        fields = ["name", "time_zone", "is_always_open", "working_hours", "holiday_country", "holiday_subdivision"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in policy.time_zone_choices()]
        if not self.is_bound:
            self.initial["working_hours"] = format_working_hours(self.instance.working_hours)
            self.initial.setdefault("time_zone", self.instance.time_zone)

    def clean_working_hours(self):
        return parse_working_hours(self.cleaned_data["working_hours"])


class RepInline(admin.TabularInline):
    model = Rep
    fields = ("user", "capacity", "weight", "is_available", "out_of_office_until")
    autocomplete_fields = ("user",)
    extra = 0
    show_change_link = True


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "manager", "qualification_framework", "rep_count")
    list_filter = ("qualification_framework",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("manager",)
    readonly_fields = ("rotation_clock",)
    inlines = [RepInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("manager").annotate(rep_total=Count("reps"))

    @admin.display(description=_("reps"), ordering="rep_total")
    def rep_count(self, team):
        return team.rep_total


@admin.register(Rep)
class RepAdmin(admin.ModelAdmin):
    form = RepForm
    list_display = (
        "user", "team", "capacity", "weight", "is_available", "out_of_office_from", "out_of_office_until",
        "respect_working_hours", "territory_list",
    )
    list_editable = ("capacity", "weight", "is_available")
    list_filter = ("team", "is_available", "respect_working_hours")
    search_fields = ("user__username", "user__first_name", "user__last_name", "user__email")
    autocomplete_fields = ("user", "team")
    list_select_related = ("user", "team")
    fieldsets = (
        (None, {"fields": ("user", "team")}),
        (_("What they take"), {"fields": ("territories", "specialties", "capacity", "weight")}),
        (_("When"), {"fields": (
            "is_available", "out_of_office_from", "out_of_office_until", "working_hours", "time_zone",
            "respect_working_hours",
        )}),
    )

    @admin.display(description=_("territories"))
    def territory_list(self, rep):
        return ", ".join(rep.territories or []) or _("everywhere")


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = ("position", "name", "is_enabled", "condition_summary", "target", "method")
    list_display_links = ("name",)
    list_editable = ("position", "is_enabled")
    list_filter = ("is_enabled", "target_type", "method")
    search_fields = ("name",)
    ordering = ("position", "id")
    autocomplete_fields = ("target_team", "target_rep")
    list_select_related = ("target_team", "target_rep__user")
    fieldsets = (
        (None, {"fields": ("name", "position", "is_enabled")}),
        (_("When all of these hold (empty: any lead)"), {"fields": (
            "country", "region", "industry", ("company_size_min", "company_size_max"), "score_min",
            "probability_min", "source", "campaign",
        )}),
        (_("Then send it to"), {"fields": ("target_type", "target_team", "target_rep", "method")}),
    )

    @admin.display(description=_("conditions"))
    def condition_summary(self, rule):
        parts = []
        for key, value in (rule.conditions or {}).items():
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            parts.append(f"{key.replace('_', ' ')}: {shown}")
        return "; ".join(parts) or _("any lead")

    @admin.display(description=_("target"))
    def target(self, rule):
        if rule.target_type == policy.TARGET_TEAM:
            return rule.target_team
        if rule.target_type == policy.TARGET_REP:
            return rule.target_rep
        return _("the pool")


@admin.register(RotationState)
class RotationStateAdmin(admin.ModelAdmin):
    """Read-only: the rotation changes only by assignments."""

    list_display = ("team", "rep", "assigned", "virtual_time", "last_assigned_at")
    list_filter = ("team",)
    search_fields = ("rep__user__username", "team__name")
    list_select_related = ("team", "rep__user")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- SLAs -----------------------------------------------------------------------------------------------


class ClosureInline(admin.TabularInline):
    model = CalendarClosure
    extra = 0
    fields = ("name", "starts_on", "ends_on")


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    form = BusinessCalendarForm
    list_display = ("name", "time_zone", "hours", "holidays", "policy_count")
    search_fields = ("name",)
    inlines = [ClosureInline]
    readonly_fields = ("coming_days_off",)
    fieldsets = (
        (None, {"fields": ("name", "time_zone")}),
        (_("Working hours"), {"fields": ("is_always_open", "working_hours")}),
        (_("Days off"), {"fields": ("holiday_country", "holiday_subdivision", "coming_days_off")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(policy_total=Count("policies"))

    @admin.display(description=_("working hours"))
    def hours(self, calendar):
        if calendar.is_always_open:
            return _("around the clock")
        return format_working_hours(calendar.working_hours).replace("\n", "; ") or "-"

    @admin.display(description=_("public holidays"))
    def holidays(self, calendar):
        if not calendar.holiday_country:
            return _("none")
        return "-".join(part for part in (calendar.holiday_country, calendar.holiday_subdivision) if part)

    @admin.display(description=_("policies"), ordering="policy_total")
    def policy_count(self, calendar):
        return calendar.policy_total

    @admin.display(description=_("Days off in the next 90 days"))
    def coming_days_off(self, calendar):
        if not calendar.pk:
            return "-"
        spec = calendar.as_spec()
        today = timezone.localdate()
        days = []
        for offset in range(90):
            day = today + dt.timedelta(days=offset)
            if routing_calendar.is_closed_day(spec, day):
                name = routing_calendar.holiday_name(spec, day) or _("company closure")
                days.append(f"{day:%a %Y-%m-%d}: {name}")
        return format_html_join("", "<div>{}</div>", ((line,) for line in days)) if days else _("none")


class EscalationStepFormSet(forms.BaseInlineFormSet):
    """The steps' actions must suit the policy's stage (checked here: the steps are saved after the policy)."""

    def clean(self):
        super().clean()
        actions = [
            form.cleaned_data.get("action") for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("action")
        ]
        problems = sla_policy.policy_problems(
            stage=self.instance.stage, starts_on=self.instance.starts_on, stops_on=self.instance.stops_on,
            counts_from=self.instance.counts_from, actions=actions,
        )
        if "steps" in problems:
            raise ValidationError(problems["steps"])


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    formset = EscalationStepFormSet
    extra = 0
    fields = ("position", "after", "unit", "action", "reason")


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "stage", "starts_on", "stops_on", "duration_text", "calendar", "step_list")
    list_editable = ("is_active",)
    list_filter = ("is_active", "stage", "starts_on", "stops_on", "calendar")
    search_fields = ("name",)
    list_select_related = ("calendar",)
    inlines = [EscalationStepInline]
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        (_("The clock"), {"fields": ("stage", "starts_on", "stops_on", "counts_from")}),
        (_("Due after"), {"fields": (("duration", "unit"), "calendar")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("steps")

    @admin.display(description=_("due after"))
    def duration_text(self, policy):
        return f"{policy.duration} {policy.get_unit_display()}"

    @admin.display(description=_("escalation"))
    def step_list(self, policy):
        return "; ".join(
            f"+{step.after} {step.unit}: {step.get_action_display()}" for step in policy.steps.all()
        ) or "-"


@admin.register(RecyclingRule)
class RecyclingRuleAdmin(admin.ModelAdmin):
    list_display = ("__str__", "is_enabled", "attempts", "days")
    list_editable = ("is_enabled", "attempts", "days")
    list_display_links = ("__str__",)


@admin.register(StallThreshold)
class StallThresholdAdmin(admin.ModelAdmin):
    list_display = ("stage", "days")
    list_editable = ("days",)
    list_display_links = ("stage",)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    """Routing experiments: arms are validated on save (at least two, shares adding up to 100 %); the report
    shows each arm's outcome with its interval and the test against the first arm; "Stop and keep" ends it."""

    list_display = ("name", "rule", "outcome", "status", "started_at", "winner")
    list_filter = ("status",)
    readonly_fields = ("status", "started_at", "stopped_at", "winner", "report_section")
    fields = ("name", "rule", "arms", "outcome", "outcome_days", "status", "started_at", "stopped_at", "winner",
              "report_section")
    change_form_template = "admin/routing/experiment/change_form.html"

    def has_change_permission(self, request, obj=None):
        return (obj is None or obj.status == Experiment.RUNNING) and super().has_change_permission(request, obj)

    @admin.display(description=_("report"))
    def report_section(self, experiment):
        if not experiment.pk:
            return _("Shown once the experiment runs.")
        found = routing_services.report(experiment)
        if found is None:
            return _("Not available: no report provider is registered.")

        def number(value, pattern):
            return "-" if value is None else pattern.format(value)

        proportion = found["outcome"] in ("acceptance", "sal_to_sql", "sql_within")
        rows = []
        for row in found["arms"]:
            low_high = row["interval"]
            value = number(row.get("rate"), "{:.1%}") if proportion else number(row.get("mean"), "{:.1f}")
            interval = "-" if not low_high else (
                f"{low_high[0]:.1%} – {low_high[1]:.1%}" if proportion else f"{low_high[0]:.1f} – {low_high[1]:.1f}")
            rows.append((row["arm"], row["method"], f"{row['share']} %", row["leads"], row["trials"], value, interval,
                         number(row.get("p"), "{:.3f}"), _("yes") if row.get("significant") else "-",
                         number(row.get("still_needed"), "{}")))
        header = format_html_join("", "<th>{}</th>", ((label,) for label in (
            _("arm"), _("method"), _("share"), _("leads"), _("counted"), _("outcome"), _("95 % interval"),
            _("p against the first arm"), _("significant"), _("leads per arm still needed"))))
        body = format_html_join("", "<tr>" + "<td>{}</td>" * 10 + "</tr>", rows)
        best = format_html("<p>{}</p>", _("Best so far: %(arm)s") % {"arm": found["best"]}) if found["best"] else ""
        return format_html("<table><tr>{}</tr>{}</table>{}", header, body, best)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        experiment = Experiment.objects.filter(pk=object_id).first()
        arms = []
        if experiment is not None and experiment.status == Experiment.RUNNING:
            arms = [arm.get("name") for arm in experiment.arms if isinstance(arm, dict)]
        context = {**(extra_context or {}), "stop_arms": arms,
                   "stop_url": reverse("admin:routing_experiment_stop", args=[object_id]) if arms else ""}
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self):
        return [path("<int:object_id>/stop/", self.admin_site.admin_view(require_POST(self.stop_view)),
                     name="routing_experiment_stop"), *super().get_urls()]

    def stop_view(self, request, object_id):
        experiment = get_object_or_404(Experiment, pk=object_id)
        if not super().has_change_permission(request, experiment):
            raise PermissionDenied
        try:
            routing_services.stop_experiment(experiment_id=experiment.pk, keep=request.POST.get("keep", ""))
        except (Invalid, Refused) as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            self.message_user(request, _("Experiment stopped; the rule keeps the winning arm's method."),
                              messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:routing_experiment_change", args=[experiment.pk]))
