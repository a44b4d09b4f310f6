from django.contrib import admin

from outbox.models import Cursor, Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("position", "type", "at", "lead_id", "actor_id")
    list_filter = ("type",)
    search_fields = ("=lead_id", "=position")
    readonly_fields = ("seq", "position", "type", "at", "lead_id", "actor_id", "payload")
    exclude = ("txid",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Cursor)
class CursorAdmin(admin.ModelAdmin):
    list_display = ("name", "position", "updated_at")
    readonly_fields = ("name", "position", "updated_at")

    def has_add_permission(self, request):
        return False
