# How a score was made (model version, breakdown, scored at) moves from the wide lead row to a narrow
# table of its own, so bulk rescoring writes small rows (docs/scoring.md). Set-based: one INSERT ... SELECT.

import django.db.models.deletion
from django.db import migrations, models

COPY_TO_LEAD_SCORES = """
INSERT INTO leads_leadscore (lead_id, model_version, breakdown, scored_at)
SELECT id, score_model_version, score_breakdown, scored_at
FROM leads_lead
WHERE scored_at IS NOT NULL AND score_model_version IS NOT NULL
"""

COPY_BACK_TO_LEADS = """
UPDATE leads_lead AS l
SET score_model_version = s.model_version, score_breakdown = s.breakdown, scored_at = s.scored_at
FROM leads_leadscore AS s
WHERE s.lead_id = l.id
"""


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0007_list_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='LeadScore',
            fields=[
                ('lead', models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='score_details',
                    serialize=False, to='leads.lead', verbose_name='lead',
                )),
                ('model_version', models.PositiveIntegerField(verbose_name='scoring model version')),
                ('breakdown', models.JSONField(blank=True, default=list, verbose_name='score breakdown')),
                ('scored_at', models.DateTimeField(verbose_name='scored at')),
            ],
            options={
                'verbose_name': 'lead score',
                'verbose_name_plural': 'lead scores',
            },
        ),
        migrations.RunSQL(COPY_TO_LEAD_SCORES, COPY_BACK_TO_LEADS),
        migrations.RemoveField(
            model_name='lead',
            name='score_breakdown',
        ),
        migrations.RemoveField(
            model_name='lead',
            name='score_model_version',
        ),
        migrations.RemoveField(
            model_name='lead',
            name='scored_at',
        ),
    ]
