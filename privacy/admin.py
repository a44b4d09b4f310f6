from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from privacy import consent
from privacy.models import ConsentEvent, ConsentWording, OptInRequest, PrivacyRequest, Suppression


@admin.register(ConsentWording)
class ConsentWordingAdmin(admin.ModelAdmin):
    """Wordings are versioned: saving a changed text publishes a new version; old versions stay as proof."""

    list_display = ("purpose", "version", "created_at", "text")
    list_filter = ("purpose",)
    readonly_fields = ("version", "text_hash", "created_at")
    fields = ("purpose", "text", "version", "text_hash", "created_at")

    def save_model(self, request, obj, form, change):
        published = consent.publish_wording(purpose=obj.purpose, text=obj.text)
        obj.pk, obj.version, obj.text_hash = published.pk, published.version, published.text_hash
        if change:
            messages.info(request, _("A new version was published; the old one stays as proof."))

    def has_delete_permission(self, request, obj=None):
        return False


class AppendOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ConsentEvent)
class ConsentEventAdmin(AppendOnlyAdmin):
    list_display = ("at", "lead", "purpose", "kind", "method", "channel", "legal_basis")
    list_filter = ("purpose", "kind", "method")
    raw_id_fields = ("lead",)
    date_hierarchy = "at"


@admin.register(OptInRequest)
class OptInRequestAdmin(AppendOnlyAdmin):
    list_display = ("created_at", "lead", "purposes", "mail_sent_at", "reminded_at", "confirmed_at", "purged_at")
    raw_id_fields = ("lead",)
    exclude = ("token_hash", "reminder_token_hash")


@admin.register(Suppression)
class SuppressionAdmin(AppendOnlyAdmin):
    list_display = ("created_at", "kind", "reason", "lifted_at")
    list_filter = ("kind",)


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(AppendOnlyAdmin):
    list_display = ("at", "kind", "lead", "actor", "via", "reason")
    list_filter = ("kind", "via")
    raw_id_fields = ("lead",)
