from importlib import import_module

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def ensure_default(*, using="default", **kwargs) -> None:
    """post_migrate: the default scoring model exists. The data migration creates it once; a database flush (as in
    transactional tests) empties the tables and sends post_migrate, so it comes back here. The
    migration's own function is reused, so the two can never differ; it does nothing when data exists."""
    from django.db import connections

    if "scoring_scoringmodel" not in connections[using].introspection.table_names():
        return  # migrated backwards past the table
    migration = import_module("scoring.migrations.0002_default_model")
    migration.create_default_model(global_apps, None)


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = _("Scoring")

    def ready(self):
        post_migrate.connect(ensure_default, sender=self)
