"""Cursor pagination for lead lists (its own module: in the views module it causes a circular import)."""

import datetime as dt

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


class LeadCursorPagination(CursorPagination):
    """Newest first by default; `?ordering=created_at` pages oldest first. Both orders are stable cursors.

    A cursor whose position is not a timestamp (forged or damaged) is a 404 "Invalid cursor", as DRF
    answers for a cursor it cannot decode, instead of reaching the query."""

    ordering = ("-created_at", "-id")
    page_size = settings.LEADS_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_ordering(self, request, queryset, view):
        if request.query_params.get("ordering") == "created_at":
            return ("created_at", "id")
        return self.ordering

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                dt.datetime.fromisoformat(cursor.position)
            except (TypeError, ValueError):
                raise NotFound(_("Invalid cursor"))
        return cursor
