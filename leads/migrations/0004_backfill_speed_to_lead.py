"""Speed to lead for leads captured before it was stored: read from their transitions and activities."""

from django.db import migrations


def backfill(apps, schema_editor):
    from leads import clocks

    clocks.backfill_speed_to_lead(
        lead_model=apps.get_model("leads", "Lead"),
        transition_model=apps.get_model("leads", "LeadTransition"),
        activity_model=apps.get_model("leads", "Activity"),
    )


class Migration(migrations.Migration):
    dependencies = [("leads", "0003_sla_clocks_speed_to_lead")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
