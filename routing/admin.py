from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from routing import policy
from routing.forms import RepForm, RoutingRuleForm
from routing.models import Rep, RotationState, RoutingRule, Team


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
            "country", "region", "industry", ("company_size_min", "company_size_max"), "score_min", "source",
            "campaign",
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
