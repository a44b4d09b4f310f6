from django.conf import settings
from django.db import migrations

from sales import backfill


def forwards(apps, schema_editor):
    backfill.backfill(
        Lead=apps.get_model("leads", "Lead"), LeadTransition=apps.get_model("leads", "LeadTransition"),
        Pipeline=apps.get_model("sales", "Pipeline"), SalesStage=apps.get_model("sales", "SalesStage"),
        Opportunity=apps.get_model("sales", "Opportunity"),
        OpportunityStageChange=apps.get_model("sales", "OpportunityStageChange"),
        currency=settings.SALES_CURRENCIES[0],
    )


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
