"""Demo data of the engagement app: a German welcome series (slug `welcome`, its first step sends at once), a
re-engagement programme for recycled leads and a 10-business-day SDR cadence (call, e-mail, LinkedIn, call),
each with a plausible history so that the figures are real on first start. Idempotent: templates and
programmes by name and slug; the history is written once (only when no enrolment exists yet). Deterministic
(lead ids decide who opened or clicked)."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

from core.vocabulary import ConsentPurpose, Stage
from engagement.models import (
    CadenceTask,
    EmailTemplate,
    Enrolment,
    Message,
    Programme,
    Step,
    TemplateVersion,
    TrackingEvent,
)
from leads.models import Lead
from privacy import consent
from privacy.models import ConsentEvent

TEMPLATES = {
    "Willkommen 1": (
        "Willkommen bei Leadwerk, {{ first_name | schön, dass Sie da sind }}",
        "Ihr Leitfaden für schnellere Lead-Übergaben",
        "# Willkommen, {{ first_name | liebe Leserin, lieber Leser }}!\n\n"
        "Schön, dass **{{ company | Ihr Team }}** dabei ist. In den nächsten Tagen zeigen wir Ihnen, wie "
        "Marketing und Vertrieb Leads ohne Reibung übergeben.\n\n"
        "[Zum Leitfaden: Die 5-Minuten-Regel](https://www.leadwerk.example/leitfaden-5-minuten)\n\n"
        "Viele Grüße  \n{{ owner_name | Ihr Leadwerk-Team }}\n",
    ),
    "Willkommen 2: Case Study": (
        "Wie die Müller Maschinenbau GmbH ihre Reaktionszeit halbiert hat",
        "Eine Case Study in drei Minuten",
        "Hallo {{ first_name | zusammen }},\n\nvon 4 Stunden auf 12 Minuten: So hat ein Mittelständler sein "
        "Lead-Routing neu aufgestellt.\n\n[Case Study lesen](https://www.leadwerk.example/case-study-mueller)\n",
    ),
    "Willkommen 2: Case Study (B)": (
        "{{ first_name | Hallo }}: 12 Minuten statt 4 Stunden",
        "Eine Case Study in drei Minuten",
        "Hallo {{ first_name | zusammen }},\n\n**12 Minuten** statt 4 Stunden bis zum ersten Anruf.\n\n"
        "[So geht's](https://www.leadwerk.example/case-study-mueller)\n",
    ),
    "Willkommen 3: Demo": (
        "Sollen wir es Ihnen zeigen?",
        "20 Minuten, Ihre Daten, keine Folien",
        "Hallo {{ first_name | zusammen }},\n\nin 20 Minuten zeigen wir Leadwerk mit Ihren eigenen Lead-Quellen.\n\n"
        "[Termin wählen](https://www.leadwerk.example/demo)\n",
    ),
    "Re-Engagement": (
        "Noch aktuell, {{ first_name | Hallo }}?",
        "Was sich seit unserem letzten Gespräch getan hat",
        "Hallo {{ first_name | zusammen }},\n\nseit unserem letzten Kontakt ist viel passiert: neue Berichte, "
        "SLA-Uhren, Routing nach Gebieten.\n\n[Was ist neu?](https://www.leadwerk.example/neu)\n",
    ),
}
ENGLISH = {
    "Willkommen 1": ("Welcome to Leadwerk, {{ first_name | good to have you }}", "Your guide to faster hand-offs",
                     "# Welcome, {{ first_name | dear reader }}!\n\n"
                     "[Read the guide](https://www.leadwerk.example/guide-5-minutes)\n"),
}
PROGRAMMES = [
    ("welcome", "Willkommensserie (DE)", Stage.MQL, Programme.Reentry.NEVER, [
        {"kind": "send_email", "template": "Willkommen 1"},
        {"kind": "wait", "wait_days": 3},
        {"kind": "send_email", "template": "Willkommen 2: Case Study",
         "variant_template": "Willkommen 2: Case Study (B)", "variant_share": 50},
        {"kind": "wait", "wait_days": 4},
        {"kind": "condition", "condition_field": "clicked_previous", "yes_position": 6, "no_position": 7},
        {"kind": "send_email", "template": "Willkommen 3: Demo"},
        {"kind": "end"},
    ]),
    ("re-engagement", "Re-Engagement für recycelte Leads", Stage.MQL, Programme.Reentry.AFTER_EXIT, [
        {"kind": "send_email", "template": "Re-Engagement"},
        {"kind": "wait", "wait_days": 7},
        {"kind": "condition", "condition_field": "opened_previous", "yes_position": 4, "no_position": 5},
        {"kind": "send_email", "template": "Willkommen 2: Case Study"},
        {"kind": "end"},
    ]),
    ("sdr-cadence", "SDR-Kadenz 10 Arbeitstage", Stage.SQL, Programme.Reentry.AFTER_EXIT, [
        {"kind": "task", "task_channel": "call", "task_script": "Vorstellen, Bedarf erfragen: Wie schnell "
         "reagiert Ihr Vertrieb heute auf neue Leads?"},
        {"kind": "wait", "wait_days": 2, "business_days": True},
        {"kind": "task", "task_channel": "email", "task_script": "Kurze Mail mit der Case Study Müller."},
        {"kind": "wait", "wait_days": 3, "business_days": True},
        {"kind": "task", "task_channel": "linkedin", "task_script": "Vernetzen, ohne Pitch."},
        {"kind": "wait", "wait_days": 5, "business_days": True},
        {"kind": "task", "task_channel": "call", "task_script": "Letzter Anruf: Termin vorschlagen."},
    ]),
]


def _templates() -> dict[str, EmailTemplate]:
    templates = {}
    for name, (subject, preheader, body) in TEMPLATES.items():
        template, _created = EmailTemplate.objects.get_or_create(name=name)
        TemplateVersion.objects.update_or_create(
            template=template, language="de", defaults={"subject": subject, "preheader": preheader, "body": body}
        )
        if name in ENGLISH:
            subject, preheader, body = ENGLISH[name]
            TemplateVersion.objects.update_or_create(
                template=template, language="en", defaults={"subject": subject, "preheader": preheader, "body": body}
            )
        templates[name] = template
    return templates


def _programmes(templates) -> dict[str, Programme]:
    programmes = {}
    for slug, name, exit_stage, reentry, steps in PROGRAMMES:
        programme, _created = Programme.objects.update_or_create(
            slug=slug, defaults={"name": name, "exit_stage": exit_stage, "reentry": reentry,
                                 "reply_to": "marketing@leadwerk.example"},
        )
        for position, spec in enumerate(steps, start=1):
            spec = dict(spec)
            for field in ("template", "variant_template"):
                if field in spec:
                    spec[field] = templates[spec[field]]
            Step.objects.update_or_create(programme=programme, position=position, defaults=spec)
        programmes[slug] = programme
    return programmes


def _mailable_ids() -> set[int]:
    events = ConsentEvent.objects.filter(purpose=ConsentPurpose.MARKETING_EMAIL).order_by("lead_id", "at", "id")
    return {
        lead_id for lead_id, rows in groupby(events.only("lead_id", "kind", "requires_confirmation"),
                                             key=lambda e: e.lead_id)
        if consent.is_contactable(consent.fold(list(rows)))
    }


def _history(programme: Programme, leads, now: dt.datetime, *, ends_at: str) -> None:
    """Past enrolments: the first e-mail sent when the lead came in, opens and clicks by lead id; leads that
    reached the exit stage exited there, the others wait for the next step."""
    steps = {step.position: step for step in programme.steps.all()}
    for lead in leads:
        enrolled_at = lead.created_at
        done = lead.stage != ends_at and lead.stage in (Stage.KNOWN, Stage.RECYCLED)
        enrolment = Enrolment.objects.create(
            programme=programme, lead=lead, enrolled_at=enrolled_at, variant="b" if lead.pk % 2 else "a",
            status=Enrolment.Status.ACTIVE if done else Enrolment.Status.EXITED, position=3,
            next_run_at=now + dt.timedelta(hours=lead.pk % 72) if done else None,
            ended_at=None if done else lead.stage_entered_at, exit_reason="" if done else f"reached {ends_at}",
        )
        message = Message.objects.create(
            enrolment=enrolment, step=steps[1], template=steps[1].template, language=lead.language or "de",
            subject=steps[1].template.name, status=Message.Status.SENT, attempts=1, due_at=enrolled_at,
            created_at=enrolled_at, sent_at=enrolled_at + dt.timedelta(minutes=1),
        )
        if lead.pk % 100 < 48:
            TrackingEvent.objects.create(message=message, kind="opened", at=enrolled_at + dt.timedelta(hours=3))
        if lead.pk % 100 < 17:
            TrackingEvent.objects.create(message=message, kind="clicked", at=enrolled_at + dt.timedelta(hours=3),
                                         url="https://www.leadwerk.example/leitfaden-5-minuten")


def seed(now: dt.datetime, users: dict) -> None:
    programmes = _programmes(_templates())
    if Enrolment.objects.exists():
        return
    mailable = _mailable_ids()
    known = Lead.objects.filter(pk__in=mailable, erased_at__isnull=True).exclude(stage=Stage.RECYCLED)
    _history(programmes["welcome"], known.order_by("id")[:120], now, ends_at=Stage.MQL)
    recycled = Lead.objects.filter(pk__in=mailable, erased_at__isnull=True, stage=Stage.RECYCLED)
    _history(programmes["re-engagement"], recycled.order_by("id")[:40], now, ends_at=Stage.MQL)
    cadence = programmes["sdr-cadence"]
    first = cadence.steps.get(position=1)
    for lead in Lead.objects.filter(stage=Stage.SAL, owner__isnull=False).order_by("id")[:25]:
        enrolment = Enrolment.objects.create(programme=cadence, lead=lead, enrolled_at=now - dt.timedelta(days=1),
                                             position=2, next_run_at=now + dt.timedelta(days=1))
        CadenceTask.objects.create(enrolment=enrolment, step=first, lead=lead, owner=lead.owner,
                                   channel=first.task_channel, script=first.task_script, due_on=now.date())
