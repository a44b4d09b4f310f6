"""Writes of the engagement app: templates and their language versions, programmes and steps (validated,
nothing half-saved), enrolment and exit. The engine (engagement.engine) moves enrolments on; the send tick
(engagement.sending) mails the messages."""

from __future__ import annotations

import hashlib

from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid, NotFound, NotPermitted
from engagement import eligibility, engine, rendering, selectors, validation
from engagement.models import CadenceTask, EmailTemplate, Enrolment, Programme, Step, TemplateVersion
from leads import roles
from leads.models import Lead

ALREADY_ENROLLED = "already enrolled"


def may_edit(user) -> bool:
    """Programmes and templates are marketing's (managers and admins too)."""
    return roles.is_marketing(user) or roles.is_manager(user) or bool(getattr(user, "is_superuser", False))


def _require_editor(user) -> None:
    if not may_edit(user):
        raise NotPermitted(_("Only marketing edits programmes and templates."))


def save_version(
    *, template: EmailTemplate, language: str, subject: str, preheader: str, body: str, by
) -> TemplateVersion:
    _require_editor(by)
    language = (language or "").strip().lower()
    errors = validation.version_problems(language=language, subject=subject, preheader=preheader, body=body)
    if errors:
        raise Invalid(errors)
    version, _created = TemplateVersion.objects.update_or_create(
        template=template, language=language,
        defaults={
            "subject": subject.strip(), "preheader": preheader.strip(), "body": body, "updated_at": timezone.now()
        },
    )
    return version


def delete_template(*, template: EmailTemplate, by) -> None:
    _require_editor(by)
    EmailTemplate.objects.filter(pk=template.pk).update(deleted_at=timezone.now())


def save_step(*, step: Step, by) -> Step:
    """Validate and save one step (new or changed); an invalid step is refused with its fields named."""
    _require_editor(by)
    validation.check_step(step)
    try:
        with transaction.atomic():
            step.save()
    except IntegrityError:
        raise Invalid.field("position", _("Position: step %(p)s exists already.") % {"p": step.position}) from None
    return step


def may_enrol(user, lead: Lead) -> bool:
    """Marketing, managers and admins enrol any lead; an SDR the leads they own (a cadence)."""
    if roles.is_staff_role(user):
        return True
    return roles.is_sdr(user) and lead.owner_id == user.pk


def has_email_steps(programme: Programme) -> bool:
    return programme.steps.filter(kind=Step.Kind.SEND_EMAIL).exists()


def variant_for(programme: Programme, lead_id: int, share: int) -> str:
    """A stable split: the same lead gets the same variant of a programme."""
    digest = int(hashlib.sha256(f"{programme.slug}:{lead_id}".encode()).hexdigest()[:8], 16)
    return "b" if digest % 100 < share else "a"


def enrol(*, programme: Programme, lead_id: int, by=None) -> Enrolment:
    """Enrol a lead: 409 naming why not (no consent for a programme that mails, already enrolled, the re-entry
    policy). The first steps run at once (engine.advance, on commit): a programme that starts with an e-mail
    sends it within the minute."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().filter(pk=lead_id, erased_at__isnull=True).first()
        if lead is None:
            raise NotFound(_("No such lead."))
        if by is not None and not may_enrol(by, lead):
            raise NotPermitted(_("You may not enrol this lead."))
        if not programme.is_active:
            raise Conflict(_("This programme is not active."), data={"reason": "inactive"})
        if has_email_steps(programme) and not eligibility.problem(lead) == "":
            raise Conflict(eligibility.NO_CONSENT, data={"reason": eligibility.NO_CONSENT})
        earlier = Enrolment.objects.filter(programme=programme, lead=lead)
        if earlier.filter(status=Enrolment.Status.ACTIVE).exists():
            raise Conflict(ALREADY_ENROLLED, data={"reason": ALREADY_ENROLLED})
        if programme.reentry == Programme.Reentry.NEVER and earlier.exists():
            reason = "already went through this programme"
            raise Conflict(reason, data={"reason": reason})
        first_send = programme.steps.filter(kind=Step.Kind.SEND_EMAIL).exclude(variant_template=None).first()
        variant = variant_for(programme, lead.pk, first_send.variant_share) if first_send else "a"
        try:
            with transaction.atomic():
                enrolment = Enrolment.objects.create(
                    programme=programme, lead=lead, variant=variant, next_run_at=timezone.now(),
                    enrolled_by=by if by is not None and by.is_authenticated else None,
                )
        except IntegrityError:  # a concurrent enrolment won the partial unique constraint
            raise Conflict(ALREADY_ENROLLED, data={"reason": ALREADY_ENROLLED}) from None
        engine.advance(enrolment=enrolment)
    return enrolment


def exit_by_hand(*, enrolment_id: int, by) -> None:
    with transaction.atomic():
        enrolment = Enrolment.objects.select_for_update().select_related("lead").filter(pk=enrolment_id).first()
        if enrolment is None:
            raise NotFound(_("No such enrolment."))
        if not may_enrol(by, enrolment.lead):
            raise NotPermitted(_("You may not change this enrolment."))
        engine.end(enrolment=enrolment, reason=_("Ended by hand."))


def test_send(*, version: TemplateVersion, lead: Lead | None, by) -> None:
    """The version, with the lead's merge data (or sample data), to the editor's own address only."""
    _require_editor(by)
    context = selectors.preview_context(lead, by)
    rendered = rendering.render(
        subject=version.subject, preheader=version.preheader, body=version.body, context=context,
        language=version.language,
    )
    mail = EmailMultiAlternatives(
        subject="[TEST] " + rendered.subject, body=rendered.text, to=[by.email],
        headers={"Content-Language": version.language},
    )
    mail.attach_alternative(rendered.html, "text/html")
    mail.send()


def complete_task(*, task_id: int, by) -> bool:
    """The owner ticks a cadence task off; False when it is not theirs (404)."""
    return bool(
        CadenceTask.objects.filter(pk=task_id, owner=by, done_at__isnull=True).update(done_at=timezone.now())
    )


def may_enrol_any(user) -> bool:
    return roles.is_staff_role(user) or roles.is_sdr(user)
