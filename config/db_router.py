"""The database router: report reads on the replica inside `core.replica.reads_from_replica()`, the rest on
the primary. Only the primary is migrated; objects from both may be related (the replica holds the same data).
"""

from django.db import DEFAULT_DB_ALIAS

from core import replica


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        meta = model._meta  # Django's cache table is a fake model: app_label and model_name only
        if replica.routes_to_replica(f"{meta.app_label}.{meta.model_name}", meta.app_label):
            return replica.REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
