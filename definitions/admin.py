"""Admins edit the definitions here; every save is logged by `definitions.services` (who changed what)."""

from django import forms
from django.contrib import admin
from django.db import transaction

from core.vocabulary import ActivityKind
from definitions import rules, services
from definitions.models import DefinitionChange, HotIntentRule, ReasonCode, Review, StageDefinition


class _Logged(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.save(obj, by=request.user)


@admin.register(StageDefinition)
class StageDefinitionAdmin(_Logged):
    list_display = ("stage", "label", "owner")
    readonly_fields = ("stage",)
    fields = ("stage", "label", "description", "entry_criteria", "exit_criteria", "owner")


class HotIntentRuleForm(forms.ModelForm):
    kinds = forms.MultipleChoiceField(
        label=HotIntentRule._meta.get_field("kinds").verbose_name,
        help_text=HotIntentRule._meta.get_field("kinds").help_text,
        choices=ActivityKind.choices, widget=forms.CheckboxSelectMultiple, required=False,
    )

    class Meta:
        model = HotIntentRule
        fields = ("pricing_views", "within_days", "kinds")


@admin.register(HotIntentRule)
class HotIntentRuleAdmin(_Logged):
    form = HotIntentRuleForm

    def has_add_permission(self, request):
        return not HotIntentRule.objects.exists()  # one row; the migration makes it

    def save_model(self, request, obj, form, change):
        obj.pk = 1
        super().save_model(request, obj, form, change)
    list_display = ("__str__", "pricing_views", "within_days")
    fields = ("pricing_views", "within_days", "kinds")


@admin.register(DefinitionChange)
class DefinitionChangeAdmin(admin.ModelAdmin):
    list_display = ("at", "by", "subject", "field", "old", "new")
    list_filter = ("subject",)
    readonly_fields = ("at", "by", "subject", "field", "old", "new")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("at", "by")
    fields = ("notes", "at", "by", "changes")
    readonly_fields = ("at", "by", "changes")

    def has_change_permission(self, request, obj=None):
        return obj is None

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.record_review(obj, by=request.user)


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ("transition", "position", "code", "label", "is_active")
    list_display_links = ("code",)
    list_filter = ("transition", "is_active")
    ordering = ("transition", "position", "id")

    def get_readonly_fields(self, request, obj=None):
        return ("transition", "code") if obj is not None else ()  # the code is what history and the API keep

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: the history and the report keep the code

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        transaction.on_commit(rules.forget)
        rules.forget()
