# Reports per rep and team count the leads a rep owns now or owned before: assign and claim rows in the
# transition log name the new owner in `data->>'to_owner'`. This partial expression index finds a rep's
# assignments directly (a few thousand rows) instead of filtering every assign and claim in the log.
# It lives on a leads table but serves only the reports, hence a reporting migration with plain SQL.

from django.db import migrations

INDEX = "reporting_transition_to_owner"


class Migration(migrations.Migration):

    dependencies = [
        ("reporting", "0001_initial"),
        ("leads", "0007_list_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                f"CREATE INDEX IF NOT EXISTS {INDEX} ON leads_leadtransition ((data ->> 'to_owner'), lead_id) "
                "WHERE name IN ('assign', 'claim')"
            ),
            reverse_sql=f"DROP INDEX IF EXISTS {INDEX}",
        ),
    ]
