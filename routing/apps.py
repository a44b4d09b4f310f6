from importlib import import_module

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def ensure_default(*, using="default", **kwargs) -> None:
    """post_migrate: the default pool rule and the default SLA setup exist. The data migrations create them
    once; a database flush (as in transactional tests) empties the tables and sends post_migrate, so they
    come back here. The migrations' own functions are reused, so the two can never differ; they do nothing
    when data exists."""
    from django.db import connections

    tables = connections[using].introspection.table_names()
    if "routing_routingrule" in tables:  # else migrated backwards past the table
        import_module("routing.migrations.0002_default_pool_rule").create_default_rule(global_apps, None)
    if "routing_slapolicy" in tables:
        import_module("routing.migrations.0004_sla_defaults").create_defaults(global_apps, None)


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = _("Routing")

    def ready(self):
        post_migrate.connect(ensure_default, sender=self)
