"""The default scoring model, drawn from the seeds (DOMAIN.md); admins change it in the admin.

The data is frozen here on purpose: a migration must give the same result forever. Seed 004 gives
the weights "pricing page 10, demo booking 25, company size 5" and "at least 50 employees"; seed 000
names fit (size, industry, role) plus behaviour, and seed 004 timing (recent activity beats old).

Reachable by a real buyer, not by one page view: threshold 50 = a demo request (25) from a fitting
company and a senior role (10 + 10 + 10), or three pricing views (30) plus a webinar (15) and a few
pages. One page view gives 1 point. A free-mail, student or competitor address takes points away.
"""

from django.db import migrations
from django.utils import timezone

DEFAULT_MODEL = {
    "name": "Default model (seeds)",
    "version": 1,
    "mql_threshold": 50,
    "warm_from": 25,
    "hot_from": 50,
    "total_cap": None,
    "fit_cap": None,
    "engagement_cap": None,
    "notes": "Created on first migrate from the seeds: pricing page 10, demo booking 25, company size >= 50, "
    "industry fit, job-title seniority; free-mail, student and competitor addresses negative. "
    "Review it quarterly against closed-won data.",
}

FIT_RULES = [
    ("Company size 50 or more", "company_size", "gte", 50, 10),
    ("Industry fits", "industry", "in_list", ["Software", "SaaS", "IT", "IT services", "Information technology"], 10),
    ("Senior role", "job_title", "contains", ["Geschäftsführer", "CEO", "Head", "Leiter", "Director", "VP"], 10),
    ("Free-mail address", "email_domain_type", "equals", "free", -10),
    ("Student address", "email_domain_type", "equals", "student", -20),
    ("Competitor address", "email_domain_type", "equals", "competitor", -50),
]

# name, activity kind, points, max occurrences, half-life in days
ENGAGEMENT_RULES = [
    ("Page view", "page_view", 1, 10, 30),
    ("Pricing page view", "pricing_view", 10, 3, 14),
    ("Download", "download", 8, 3, 60),
    ("Webinar attended", "webinar_attended", 15, 2, 60),
    ("E-mail link clicked", "email_click", 3, 5, 30),
    ("Demo request", "demo_request", 25, 1, 90),
    ("Contact request", "contact_request", 20, 1, 90),
]


def create_default_model(apps, schema_editor):
    ScoringModel = apps.get_model("scoring", "ScoringModel")
    ScoringRule = apps.get_model("scoring", "ScoringRule")
    if ScoringModel.objects.exists():
        return
    model = ScoringModel.objects.create(
        **DEFAULT_MODEL, status="active", is_active=True, activated_at=timezone.now()
    )
    rules = []
    for position, (name, field, operator, value, points) in enumerate(FIT_RULES, start=1):
        rules.append(
            ScoringRule(
                model=model, position=position, name=name, group="fit", field=field, operator=operator,
                value=value, points=points,
            )
        )
    for position, (name, kind, points, max_occurrences, half_life) in enumerate(ENGAGEMENT_RULES, start=101):
        rules.append(
            ScoringRule(
                model=model, position=position, name=name, group="engagement", activity_kind=kind, points=points,
                max_occurrences=max_occurrences, half_life_days=half_life,
            )
        )
    ScoringRule.objects.bulk_create(rules)


def remove_default_model(apps, schema_editor):
    ScoringModel = apps.get_model("scoring", "ScoringModel")
    ScoringModel.objects.filter(version=DEFAULT_MODEL["version"], name=DEFAULT_MODEL["name"]).delete()


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_initial")]

    operations = [migrations.RunPython(create_default_model, remove_default_model)]
