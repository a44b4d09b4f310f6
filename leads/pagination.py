"""Pagination for lists that may hold a million rows."""

from functools import cached_property

from django.core.paginator import Paginator


class CappedPaginator(Paginator):
    """Counts at most CAP + 1 rows (`SELECT count(*) FROM (... LIMIT CAP + 1)`), so a page of a
    million-row list does not pay for an exact count; beyond CAP the list says "10,000+"."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()

    @property
    def is_capped(self) -> bool:
        return self.count > self.CAP
