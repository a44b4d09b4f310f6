import importlib

import pytest
from django.apps import apps


@pytest.fixture(autouse=True)
def shipped_definitions(db):
    """The definitions as the data migration ships them (a transactional test elsewhere may have flushed
    the tables, migration data included)."""
    importlib.import_module("definitions.migrations.0002_seed").seed(apps, None)
