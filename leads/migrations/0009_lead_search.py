# Full-text search on leads (leads.search): a GIN index on the search document. The expression is the
# same Django expression the query uses (`leads.search.DOCUMENT`), so PostgreSQL serves the query from it.

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.expressions
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("leads", "0008_lead_scores"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector(
                    django.db.models.expressions.Func(
                        django.db.models.expressions.F("email_normalized"),
                        django.db.models.expressions.Value(".@_+-"),
                        django.db.models.expressions.Value("     "),
                        function="translate",
                    ),
                    "first_name", "last_name", "company",
                    config="simple",
                ),
                name="lead_search",
            ),
        ),
    ]
