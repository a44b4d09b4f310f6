from importlib import import_module

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def ensure_default(*, using="default", **kwargs) -> None:
    """post_migrate: the shipped reason codes exist (the data migration's own function, which adds only the
    missing ones), also after a flush as in transactional tests."""
    from django.db import connections

    if "definitions_reasoncode" in connections[using].introspection.table_names():
        import_module("definitions.migrations.0004_seed_reason_codes").create_defaults(global_apps, None)


class DefinitionsConfig(AppConfig):
    name = "definitions"
    verbose_name = _("Definitions")

    def ready(self):
        post_migrate.connect(ensure_default, sender=self)
