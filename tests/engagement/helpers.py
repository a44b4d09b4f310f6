"""Building blocks of the engagement tests: a template with versions, a programme, a consenting lead (the SMTP
sink is in conftest.py)."""

from engagement.models import EmailTemplate, Programme, Step, TemplateVersion
from privacy import consent
from privacy.models import ConsentEvent
from tests.factories import LeadFactory

BODY_DE = "# Willkommen, {{ first_name | liebe Leserin }}!\n\nSchön, dass **{{ company }}** dabei ist.\n\n" \
          "[Zum Leitfaden](https://www.example.com/leitfaden?a=1&b=2)\n"
BODY_EN = "# Welcome, {{ first_name | dear reader }}!\n\n[Read the guide](https://www.example.com/guide)\n"


def template(name="Welcome", *, languages=("de", "en")) -> EmailTemplate:
    template = EmailTemplate.objects.create(name=name)
    if "de" in languages:
        TemplateVersion.objects.create(template=template, language="de", subject="Willkommen {{ first_name }}",
                                       preheader="Ihr Start", body=BODY_DE)
    if "en" in languages:
        TemplateVersion.objects.create(template=template, language="en", subject="Welcome {{ first_name }}",
                                       preheader="Your start", body=BODY_EN)
    return template


def programme(slug="welcome", *, steps=None, **fields) -> Programme:
    fields = {"exit_stage": "mql", "reply_to": "team@example.com", **fields}
    programme = Programme.objects.create(slug=slug, name=slug.title(), **fields)
    for position, spec in enumerate(steps if steps is not None else [{"kind": "send_email"}], start=1):
        spec = dict(spec)
        if spec["kind"] == "send_email" and "template" not in spec:
            spec["template"] = template(f"{slug} {position}")
        Step.objects.create(programme=programme, position=position, **spec)
    return programme


def consenting_lead(*, double_opt_in=True, confirm=True, **fields):
    """A lead with consent for marketing e-mail in the log (given with a double opt-in, confirmed), written as
    the log's events directly so that no confirmation mail goes out."""
    lead = LeadFactory(**fields)
    consent.record(lead=lead, purpose="marketing_email", kind=ConsentEvent.Kind.GIVEN,
                   method=ConsentEvent.Method.WEB_FORM, requires_confirmation=double_opt_in)
    if double_opt_in and confirm:
        consent.record(lead=lead, purpose="marketing_email", kind=ConsentEvent.Kind.CONFIRMED,
                       method=ConsentEvent.Method.EMAIL_LINK)
    return lead
