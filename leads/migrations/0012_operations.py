"""Operations: the atomic rate counters of core.ratelimit when REDIS_URL is unset (a raw table, no model),
and a partial index for the e-mail backlog that /metrics counts."""

from django.db import migrations, models

CREATE = """
    CREATE TABLE leadwerk_rate_counter (
        key text PRIMARY KEY,
        window_start bigint NOT NULL,
        hits integer NOT NULL,
        expires_at bigint NOT NULL
    );
    CREATE INDEX leadwerk_rate_counter_expires ON leadwerk_rate_counter (expires_at);
"""
DROP = "DROP TABLE IF EXISTS leadwerk_rate_counter"


class Migration(migrations.Migration):
    dependencies = [("leads", "0011_move_privacy_models")]

    operations = [
        migrations.RunSQL(CREATE, DROP),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("emailed_at__isnull", True)), fields=["created_at"], name="notification_unmailed"
            ),
        ),
    ]
