"""The last rule: whatever no other rule catches goes to the pool, where SDRs claim it."""

from django.db import migrations

DEFAULT_RULE_NAME = "Default: everything else to the pool"


def create_default_rule(apps, schema_editor):
    RoutingRule = apps.get_model("routing", "RoutingRule")
    if not RoutingRule.objects.filter(name=DEFAULT_RULE_NAME).exists():
        RoutingRule.objects.create(
            name=DEFAULT_RULE_NAME, position=1000, is_enabled=True, conditions={}, target_type="pool",
            method="round_robin",
        )


def remove_default_rule(apps, schema_editor):
    apps.get_model("routing", "RoutingRule").objects.filter(name=DEFAULT_RULE_NAME, target_type="pool").delete()


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial")]

    operations = [migrations.RunPython(create_default_rule, remove_default_rule)]
