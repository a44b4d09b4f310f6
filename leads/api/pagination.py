"""Cursor pagination for lead lists (its own module: in the views module it causes a circular import)."""

import datetime as dt

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


class LeadCursorPagination(CursorPagination):
    """Newest first by default; `?ordering=created_at` pages oldest first; `?ordering=updated_at` by the last
    change (a lead changed while a client pages moves behind the cursor and comes again later: none is
    missed). Every order ends with the id, so the cursor is stable.

    A cursor whose position is not a timestamp (forged or damaged) is a 404 "Invalid cursor", as DRF
    answers for a cursor it cannot decode, instead of reaching the query."""

    ordering = ("-created_at", "-id")
    page_size = settings.LEADS_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = 200

    ORDERINGS = {
        "created_at": ("created_at", "id"),
        "updated_at": ("updated_at", "id"),  # incremental sync: oldest change first
        "-updated_at": ("-updated_at", "-id"),
    }

    def get_ordering(self, request, queryset, view):
        return self.ORDERINGS.get(request.query_params.get("ordering"), self.ordering)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                dt.datetime.fromisoformat(cursor.position)
            except (TypeError, ValueError):
                raise NotFound(_("Invalid cursor"))
        return cursor
