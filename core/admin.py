"""The admin site: every change list, ours and the libraries', answers a bad query string with the admin's
own "invalid filter" page, never a 500.

Django's admin checks the lookups it applies (`created_at__gte=abc` gets its "invalid filter" answer), but
some values only fail when the SQL is compiled, after that check: a year out of Python's range
(`created_at__year=99999`) raises ValueError in the database backend. `SafeChangeList` compiles the query
inside the change list, which turns those into the same answer. `AdminSite.register` gives every
registered ModelAdmin (auth's, django-q2's and axes' included) that change list.
"""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.utils.translation import gettext_lazy as _


class SafeChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        try:
            queryset.query.get_compiler(using=queryset.db).as_sql()
        except (EmptyResultSet, FullResultSet):
            pass  # the query is valid; it selects nothing or everything
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error
        return queryset


class SafeChangeListMixin:
    def get_changelist(self, request, **kwargs):
        return SafeChangeList


class AdminSite(admin.AdminSite):
    site_header = _("Leadwerk administration")
    site_title = _("Leadwerk administration")
    index_title = _("Administration")

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, SafeChangeListMixin):
            admin_class = type(admin_class.__name__, (SafeChangeListMixin, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)
