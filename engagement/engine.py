"""The programme engine: moves an enrolment through its steps until it must wait.

`advance` runs in the caller's transaction with the enrolment locked: it checks the exits (the lead reached the
programme's exit stage, was erased), then executes steps in order: an e-mail step writes its `Message` row
(unique per enrolment and step; the send tick mails it), a task step writes the owner's `CadenceTask` due
today, a condition jumps to its yes or no step, a wait sets `next_run_at` and stops, an end (or the last step)
completes the enrolment. `tick` runs every minute and advances each due enrolment exactly once
(`select_for_update(skip_locked=True)`: two ticks never take the same row).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from core.tasks import enqueue_on_commit
from core.vocabulary import FUNNEL, Stage
from engagement.models import CadenceTask, Enrolment, Message, Step, TrackingEvent
from leads.models import Activity, Lead

MAX_STEPS_PER_RUN = 50  # a programme is a forward-only list; this only guards a bad edit
TICK_BATCH = 1000

# Stages past which a nurture or cadence makes no sense whatever its exit stage.
CLOSED = frozenset({Stage.CUSTOMER, Stage.LOST, Stage.DISQUALIFIED})



def end(*, enrolment: Enrolment, reason: str, completed: bool = False) -> None:
    """End an enrolment (the caller holds it); its queued messages are skipped with the same reason."""
    if enrolment.status != Enrolment.Status.ACTIVE:
        return
    now = timezone.now()
    enrolment.status = Enrolment.Status.COMPLETED if completed else Enrolment.Status.EXITED
    enrolment.ended_at, enrolment.exit_reason, enrolment.next_run_at = now, reason[:200], None
    enrolment.save(update_fields=["status", "ended_at", "exit_reason", "next_run_at"])
    if not completed:  # a completed programme still sends what its last steps queued
        Message.objects.filter(enrolment=enrolment, status=Message.Status.QUEUED).update(
            status=Message.Status.SKIPPED, reason=reason[:300]
        )


def reached_exit(programme, lead: Lead) -> str:
    """The exit reason when the lead's stage ends the enrolment, else ""."""
    if lead.erased_at:
        return "erased"
    if lead.stage in CLOSED:
        return f"stage {lead.stage}"
    exit_stage = programme.exit_stage
    if exit_stage and lead.stage == exit_stage:
        return f"reached {exit_stage}"
    if exit_stage in FUNNEL and lead.stage in FUNNEL and FUNNEL.index(lead.stage) > FUNNEL.index(exit_stage):
        return f"reached {exit_stage}"
    return ""


def add_business_days(start: dt.datetime, days: int) -> dt.datetime:
    moment = start
    while days > 0:
        moment += dt.timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def _previous_message(enrolment: Enrolment, position: int) -> Message | None:
    return (
        Message.objects.filter(enrolment=enrolment, step__position__lt=position).order_by("-step__position").first()
    )


def condition_holds(step: Step, enrolment: Enrolment, lead: Lead) -> bool:
    field, value = step.condition_field, step.condition_value.strip()
    if field == "score":
        return lead.score >= int(value)
    if field == "temperature":
        return lead.temperature == value
    if field == "stage":
        return lead.stage == value
    if field in ("opened_previous", "clicked_previous"):
        previous = _previous_message(enrolment, step.position)
        kinds = [TrackingEvent.Kind.CLICKED] if field == "clicked_previous" else [
            TrackingEvent.Kind.OPENED, TrackingEvent.Kind.CLICKED
        ]
        return previous is not None and previous.events.filter(kind__in=kinds).exists()
    if field == "activity_since_enrolment":
        return Activity.objects.filter(lead=lead, kind=value, occurred_at__gte=enrolment.enrolled_at).exists()
    return False


def advance(*, enrolment: Enrolment, now: dt.datetime | None = None) -> None:
    """Execute the enrolment's steps from its position until a wait, the end or an exit (see the module)."""
    now = now or timezone.now()
    lead = Lead.objects.select_related("owner").get(pk=enrolment.lead_id)
    reason = reached_exit(enrolment.programme, lead)
    if reason:
        end(enrolment=enrolment, reason=reason)
        return
    steps = {step.position: step for step in enrolment.programme.steps.all()}
    queued_mail = False
    for _round in range(MAX_STEPS_PER_RUN):
        later = sorted(position for position in steps if position >= enrolment.position)
        if not later:
            end(enrolment=enrolment, reason="completed", completed=True)
            break
        step = steps[later[0]]
        enrolment.position = step.position + 1
        if step.kind == Step.Kind.SEND_EMAIL:
            variant = enrolment.variant if step.variant_template_id else "a"
            template_id = step.variant_template_id if variant == "b" else step.template_id
            _message, created = Message.objects.get_or_create(
                enrolment=enrolment, step=step,
                defaults={"template_id": template_id, "variant": variant, "due_at": now},
            )
            queued_mail = queued_mail or created
        elif step.kind == Step.Kind.TASK:
            CadenceTask.objects.get_or_create(
                enrolment=enrolment, step=step,
                defaults={"lead": lead, "owner": lead.owner, "channel": step.task_channel, "script": step.task_script,
                          "due_on": timezone.localdate(now)},
            )
        elif step.kind == Step.Kind.CONDITION:
            target = step.yes_position if condition_holds(step, enrolment, lead) else step.no_position
            if target is not None:
                enrolment.position = target
        elif step.kind == Step.Kind.WAIT:
            days = step.wait_days or 1
            if step.business_days:
                enrolment.next_run_at = add_business_days(now, days)
            else:
                enrolment.next_run_at = now + dt.timedelta(days=days)
            enrolment.save(update_fields=["position", "next_run_at"])
            break
        elif step.kind == Step.Kind.END:
            end(enrolment=enrolment, reason="completed", completed=True)
            break
    else:  # ran out of rounds: the next tick goes on
        enrolment.next_run_at = now
        enrolment.save(update_fields=["position", "next_run_at"])
    if enrolment.status != Enrolment.Status.ACTIVE:
        Enrolment.objects.filter(pk=enrolment.pk).update(position=enrolment.position)
    if queued_mail:
        enqueue_on_commit("engagement.tasks.send_due")


def due_enrolment_ids(now: dt.datetime, limit: int = TICK_BATCH) -> list[int]:
    return list(
        Enrolment.objects.filter(status=Enrolment.Status.ACTIVE, next_run_at__lte=now)
        .order_by("next_run_at")
        .values_list("pk", flat=True)[:limit]
    )


def tick(*, now: dt.datetime | None = None) -> int:
    """Advance every due enrolment once; returns how many advanced."""
    now = now or timezone.now()
    done = 0
    for enrolment_id in due_enrolment_ids(now):
        with transaction.atomic():
            enrolment = (
                Enrolment.objects.select_for_update(skip_locked=True)
                .select_related("programme")
                .filter(pk=enrolment_id, status=Enrolment.Status.ACTIVE, next_run_at__lte=now)
                .first()
            )
            if enrolment is None:
                continue
            advance(enrolment=enrolment, now=now)
            done += 1
    return done
