from django.contrib import admin

from reporting.models import ReportRun, ReportSubscription, StageBenchmark


@admin.register(StageBenchmark)
class StageBenchmarkAdmin(admin.ModelAdmin):
    list_display = ["stage", "conversion_min", "conversion_max", "days_min", "days_max"]
    ordering = ["stage"]


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "frequency", "scope", "is_active", "updated_at"]
    list_filter = ["frequency", "scope", "is_active"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]


@admin.register(ReportRun)
class ReportRunAdmin(admin.ModelAdmin):
    list_display = ["period_key", "user", "scope", "status", "attempts", "recipient", "claimed_at", "sent_at"]
    list_filter = ["status", "frequency"]
    search_fields = ["user__username", "period_key"]
    date_hierarchy = "period_end"
    readonly_fields = [f.name for f in ReportRun._meta.fields]

    def has_add_permission(self, request):
        return False
