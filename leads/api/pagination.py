"""Cursor pagination for lead lists (its own module: in the views module it causes a circular import)."""

from django.conf import settings
from rest_framework.pagination import CursorPagination


class LeadCursorPagination(CursorPagination):
    """Newest first by default; `?ordering=created_at` pages oldest first. Both orders are stable cursors."""

    ordering = ("-created_at", "-id")
    page_size = settings.LEADS_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_ordering(self, request, queryset, view):
        if request.query_params.get("ordering") == "created_at":
            return ("created_at", "id")
        return self.ordering
