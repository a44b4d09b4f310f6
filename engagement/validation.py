"""What a step and a template version must be before they are saved: every problem as a sentence naming the
field (`core.errors.Invalid`), nothing saved. The step editor, the admin and the demo all come through here."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import Invalid
from core.vocabulary import ActivityKind, Stage, Temperature
from engagement import rendering
from engagement.models import EmailTemplate, Step

# Condition fields and how their value is read (engagement.engine evaluates them).
CONDITION_FIELDS = {
    "score": gettext_lazy("score at least"),
    "temperature": gettext_lazy("temperature is"),
    "stage": gettext_lazy("stage is"),
    "opened_previous": gettext_lazy("opened the previous e-mail"),
    "clicked_previous": gettext_lazy("clicked in the previous e-mail"),
    "activity_since_enrolment": gettext_lazy("activity of a kind since enrolment"),
}


def _template_problem(template: EmailTemplate | None, field: str, label: str, errors: dict) -> None:
    if template is None:
        errors.setdefault(field, []).append(_("%(label)s: choose a template.") % {"label": label})
    elif template.deleted_at is not None or not EmailTemplate.objects.filter(pk=template.pk).exists():
        errors.setdefault(field, []).append(
            _("%(label)s: the template “%(name)s” was deleted.") % {"label": label, "name": template.name}
        )


def step_problems(step: Step) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if step.kind not in Step.Kind.values:
        errors["kind"] = [_("Kind: choose one of %(kinds)s.") % {"kinds": ", ".join(Step.Kind.values)}]
        return errors
    if step.kind == Step.Kind.SEND_EMAIL:
        _template_problem(step.template, "template", _("Template"), errors)
        if step.variant_template is not None:
            _template_problem(step.variant_template, "variant_template", _("Variant B template"), errors)
        if not 0 <= (step.variant_share or 0) <= 100:
            errors["variant_share"] = [_("Variant B share: give a percentage from 0 to 100.")]
        elif step.variant_share and step.variant_template is None:
            errors["variant_share"] = [_("Variant B share: choose a variant B template first.")]
    elif step.kind == Step.Kind.WAIT:
        if step.wait_days is None or step.wait_days <= 0:
            errors["wait_days"] = [_("Wait (days): give a number of days greater than zero.")]
        elif step.wait_days > 365:
            errors["wait_days"] = [_("Wait (days): at most 365 days.")]
    elif step.kind == Step.Kind.CONDITION:
        field, value = step.condition_field, (step.condition_value or "").strip()
        if field not in CONDITION_FIELDS:
            errors["condition_field"] = [
                _("Condition field: “%(field)s” is not known; choose one of %(fields)s.")
                % {"field": field, "fields": ", ".join(CONDITION_FIELDS)}
            ]
        elif field == "score" and not value.lstrip("-").isdigit():
            errors["condition_value"] = [_("Condition value: give a whole number of points.")]
        elif field == "temperature" and value not in Temperature.values:
            errors["condition_value"] = [
                _("Condition value: choose one of %(v)s.") % {"v": ", ".join(Temperature.values)}
            ]
        elif field == "stage" and value not in Stage.values:
            errors["condition_value"] = [_("Condition value: choose one of %(v)s.") % {"v": ", ".join(Stage.values)}]
        elif field == "activity_since_enrolment" and value not in ActivityKind.values:
            errors["condition_value"] = [_("Condition value: “%(v)s” is not an activity kind.") % {"v": value}]
        for name in ("yes_position", "no_position"):
            target = getattr(step, name)
            if target is not None and target <= step.position:
                errors[name] = [_("Go to step: only to a later step (after step %(p)s).") % {"p": step.position}]
    elif step.kind == Step.Kind.TASK:
        if step.task_channel not in Step.TaskChannel.values:
            errors["task_channel"] = [_("Task channel: choose call, e-mail or LinkedIn.")]
        if len(step.task_script or "") > 5000:
            errors["task_script"] = [_("Script: at most 5,000 characters.")]
    if step.position is None or step.position < 1:
        errors["position"] = [_("Position: give a whole number from 1.")]
    return errors


def check_step(step: Step) -> None:
    errors = step_problems(step)
    if errors:
        raise Invalid(errors)


def version_problems(*, language: str, subject: str, preheader: str, body: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not language or len(language) > 8 or not language.replace("-", "").isalpha():
        errors["language"] = [_("Language: give a language code such as de or en.")]
    if not subject.strip():
        errors["subject"] = [_("Subject: may not be empty.")]
    if not body.strip():
        errors["body"] = [_("Body: may not be empty.")]
    for name, text in (("subject", subject), ("preheader", preheader), ("body", body)):
        problems = rendering.check(text)
        if problems:
            label = {"subject": _("Subject"), "preheader": _("Preheader"), "body": _("Body")}[name]
            errors.setdefault(name, []).extend(f"{label}: {p.message}" for p in problems)
    return errors
