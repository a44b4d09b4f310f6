"""Webhooks in the admin: subscriptions (the secret is shown once, on creation and rotation), and the
delivery log per subscription with every attempt (status, response code, time, body excerpt); actions to
redeliver one or all failed deliveries, rotate the secret, switch a disabled subscription on again."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.vocabulary import EventType
from integrations import adleads, services, urls_check
from integrations.models import STAGE_VALUES, AdForm, Attempt, Delivery, DeliveryStatus, InboundAdLead, Subscription


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("Event types"), choices=[(name, name) for name in EventType.ALL],
        widget=forms.CheckboxSelectMultiple,
    )
    stages = forms.MultipleChoiceField(
        label=_("Only in stages"), choices=[(value, value) for value in STAGE_VALUES], required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("Empty: every stage."),
    )

    class Meta:
        model = Subscription
        fields = ("url", "description", "format", "event_types", "stages", "team", "is_active")

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            urls_check.check(url)
        except urls_check.Refused as refused:
            raise ValidationError(refused.message)
        return url

    def clean(self):
        cleaned = super().clean()
        data = {"url": cleaned.get("url") or "", "events": cleaned.get("event_types") or [],
                "format": cleaned.get("format"), "stages": cleaned.get("stages") or []}
        if not self.errors:
            try:
                services.clean(data)
            except DomainError as error:
                for field, texts in getattr(error, "errors", {}).items():
                    self.add_error("event_types" if field == "events" else field, texts)
        return cleaned


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "is_success", "status_code", "error", "response_excerpt", "duration_ms")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("id", "url", "format", "is_active", "failure_count", "disabled_at", "delivery_log")
    list_filter = ("is_active", "format")
    search_fields = ("url", "description")
    readonly_fields = (
        "failure_count", "failing_since", "disabled_at", "disabled_reason", "previous_secret_until", "created_by",
        "created_at",
    )
    actions = ("rotate_secret", "redeliver_failed", "enable")

    @admin.display(description=_("Delivery log"))
    def delivery_log(self, subscription):
        url = reverse("admin:integrations_delivery_changelist") + f"?subscription__id__exact={subscription.pk}"
        return format_html('<a href="{}">{}</a>', url, _("deliveries"))

    def save_model(self, request, obj, form, change):
        if not change:
            secret = services.new_secret()
            obj.secret, obj.created_by = secret, request.user
            super().save_model(request, obj, form, change)
            messages.warning(request, _("The signing secret, shown only now: %(secret)s") % {"secret": secret})
            return
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Rotate the secret (the old one signs too for 24 hours)"))
    def rotate_secret(self, request, queryset):
        for subscription in queryset:
            _sub, secret = services.rotate_secret(by=request.user, subscription_id=subscription.pk)
            messages.warning(
                request, _("New secret of webhook %(id)s, shown only now: %(secret)s")
                % {"id": subscription.pk, "secret": secret},
            )

    @admin.action(description=_("Redeliver every failed delivery"))
    def redeliver_failed(self, request, queryset):
        count = sum(services.redeliver(by=request.user, subscription_id=sub.pk) for sub in queryset)
        messages.success(request, _("%(count)s deliveries queued again.") % {"count": count})

    @admin.action(description=_("Switch on again"))
    def enable(self, request, queryset):
        for subscription in queryset:
            services.enable(by=request.user, subscription_id=subscription.pk)
        messages.success(request, _("Switched on."))


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id", "subscription", "event_position", "event_type", "status", "attempts", "last_status_code",
        "last_error", "next_attempt_at", "delivered_at",
    )
    list_filter = ("status", "event_type", "subscription")
    list_select_related = ("subscription",)
    search_fields = ("=event_position", "=lead_id")
    inlines = (AttemptInline,)
    actions = ("redeliver",)
    readonly_fields = tuple(field.name for field in Delivery._meta.fields)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Redeliver (same webhook-id)"))
    def redeliver(self, request, queryset):
        count = 0
        for delivery in queryset.exclude(status=DeliveryStatus.SENDING):
            count += services.redeliver(
                by=request.user, subscription_id=delivery.subscription_id, delivery_id=delivery.pk
            )
        messages.success(request, _("%(count)s deliveries queued again.") % {"count": count})


class AdFormForm(forms.ModelForm):
    class Meta:
        model = AdForm
        fields = ("platform", "external_id", "name", "capture_form", "field_mapping", "is_active")

    def clean_field_mapping(self):
        mapping = self.cleaned_data["field_mapping"]
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ValidationError(_("Enter an object of question -> lead field."))
        unknown = sorted(set(mapping.values()) - set(adleads.MAPPABLE))
        if unknown:
            raise ValidationError(
                _("Unknown lead field: %(fields)s. Choose from: %(allowed)s.")
                % {"fields": ", ".join(unknown), "allowed": ", ".join(adleads.MAPPABLE)}
            )
        if "email" not in mapping.values():
            raise ValidationError(_("Map one question to email: a lead without e-mail is rejected."))
        return mapping


@admin.register(AdForm)
class AdFormAdmin(admin.ModelAdmin):
    form = AdFormForm
    list_display = ("name", "platform", "external_id", "capture_form", "is_active")
    list_filter = ("platform", "is_active")
    search_fields = ("name", "external_id")


@admin.register(InboundAdLead)
class InboundAdLeadAdmin(admin.ModelAdmin):
    list_display = ("received_at", "platform", "platform_lead_id", "ad_form", "status", "reason", "lead_id")
    list_filter = ("platform", "status")
    search_fields = ("=platform_lead_id", "=lead_id")
    readonly_fields = tuple(field.name for field in InboundAdLead._meta.fields)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
