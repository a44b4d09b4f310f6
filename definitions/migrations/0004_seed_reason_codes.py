"""The reason codes as shipped, per transition that takes a reason; each list ends with "other" (free text).
`create_defaults` is also run after every migrate (definitions.apps), so a flushed test database has them;
it adds only codes that are missing and changes nothing the admins edited."""

from django.db import migrations

DEFAULTS = {
    "reject": [
        ("not_a_fit", "Not a fit (outside the ideal customer profile)"),
        ("no_need", "No need or interest"),
        ("too_early", "Too early: nurture first"),
        ("bad_contact_data", "Contact data wrong or incomplete"),
        ("duplicate", "Duplicate of another lead"),
        ("sla_breach", "Not followed up in time (SLA)"),
    ],
    "recycle": [
        ("no_contact", "No contact after several attempts"),
        ("not_now", "Timing: not now"),
        ("no_budget", "No budget at present"),
        ("went_dark", "Stopped responding"),
        ("sla_breach", "Not worked in time (SLA)"),
    ],
    "disqualify": [
        ("not_icp", "Outside the target group"),
        ("competitor", "A competitor"),
        ("student_or_job", "Student or job seeker"),
        ("spam", "Spam or fake data"),
        ("no_need", "No need"),
    ],
    "lose": [
        ("price", "Price"),
        ("competitor", "Chose a competitor"),
        ("no_decision", "No decision (status quo)"),
        ("features", "Missing features"),
        ("timing", "Timing"),
    ],
}
OTHER = ("other", "Other")


def create_defaults(apps, schema_editor):
    ReasonCode = apps.get_model("definitions", "ReasonCode")
    existing = set(ReasonCode.objects.values_list("transition", "code"))
    rows = [
        ReasonCode(transition=transition, code=code, label=label, position=position)
        for transition, codes in DEFAULTS.items()
        for position, (code, label) in enumerate([*codes, OTHER])
        if (transition, code) not in existing
    ]
    ReasonCode.objects.bulk_create(rows, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("definitions", "0003_reasoncode")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
