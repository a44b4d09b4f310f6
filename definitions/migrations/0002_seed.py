"""The definitions as shipped: each stage's meaning, entry and exit, owner; the default hot-intent rule;
and a first review ("as shipped") from which the quarterly reminder counts."""

from django.db import migrations

STAGES = [
    ("known", "marketing",
     "A person who left contact data (form, import, API, manual entry) and is not qualified yet.",
     "Captured through any channel with a valid e-mail address.",
     "Reaches the MQL threshold or shows hot intent (MQL); disqualified when not a fit."),
    ("mql", "marketing",
     "Marketing qualified: fit and engagement are enough for sales to look at the lead.",
     "Score at or above the active scoring model's MQL threshold, or hot intent.",
     "An SDR accepts it (SAL) or rejects it with a reason (back to marketing)."),
    ("sal", "sdr",
     "Sales accepted: an SDR has taken the lead and works it.",
     "Accepted by its SDR, or claimed from the pool.",
     "Qualified in a conversation (SQL), recycled after unanswered attempts, or disqualified."),
    ("sql", "sdr",
     "Sales qualified: need, budget, authority and timing confirmed in a conversation.",
     "The team's framework answered (BANT or MEDDIC) and a connected call or meeting logged.",
     "An opportunity with a value and a close date is opened, or the lead is recycled or disqualified."),
    ("opportunity", "ae",
     "A deal in the pipeline, worked by an account executive.",
     "A deal value above zero and a forecast close date today or later.",
     "Won with the contract signed date (customer) or lost with a reason."),
    ("customer", "ae", "The contract is signed.", "Won with the contract signed date.", ""),
    ("recycled", "marketing",
     "Back to marketing for nurture: not now, perhaps later.",
     "Rejected or recycled with a reason, or by the recycling rule.",
     "Becomes an MQL again by score or hot intent, or is disqualified."),
    ("disqualified", "nobody", "Not a fit (wrong company, student, competitor, no need).",
     "Disqualified with a reason.", ""),
    ("lost", "nobody", "The deal was lost.", "Lost with a reason.", ""),
]


def seed(apps, schema_editor):
    StageDefinition = apps.get_model("definitions", "StageDefinition")
    HotIntentRule = apps.get_model("definitions", "HotIntentRule")
    Review = apps.get_model("definitions", "Review")
    for position, (stage, owner, description, entry, exit_) in enumerate(STAGES):
        StageDefinition.objects.get_or_create(stage=stage, defaults={
            "owner": owner, "description": description, "entry_criteria": entry, "exit_criteria": exit_,
            "position": position,
        })
    HotIntentRule.objects.get_or_create(pk=1, defaults={
        "pricing_views": 3, "within_days": 7, "kinds": ["demo_request", "contact_request"],
    })
    if not Review.objects.exists():
        Review.objects.create(notes="Definitions as shipped.")


class Migration(migrations.Migration):
    dependencies = [("definitions", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
