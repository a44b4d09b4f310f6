"""Engagement: e-mail templates (one version per language), programmes of ordered steps (nurture series and
SDR cadences), enrolments of leads, the messages they are sent and what came back (opens, clicks, bounces).

Every message is a row, unique per enrolment and step: the send tick claims it once (engagement.sending).
Validation of steps and template versions lives in engagement.validation (sentences naming the field); the
models hold fields, constraints and indexes only.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.vocabulary import Stage


class EmailTemplate(models.Model):
    name = models.CharField(_("name"), max_length=150, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    deleted_at = models.DateTimeField(
        _("deleted at"), null=True, blank=True, help_text=_("A deleted template is kept for the sent messages.")
    )

    class Meta:
        verbose_name = _("e-mail template")
        verbose_name_plural = _("e-mail templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TemplateVersion(models.Model):
    """The template in one language: subject, preheader (the preview line) and a Markdown body with merge fields
    (`{{ first_name | Fallback }}`; the fields are listed in engagement.rendering.MERGE_FIELDS)."""

    template = models.ForeignKey(EmailTemplate, on_delete=models.CASCADE, related_name="versions")
    language = models.CharField(_("language"), max_length=8)
    subject = models.CharField(_("subject"), max_length=200)
    preheader = models.CharField(_("preheader"), max_length=200, blank=True)
    body = models.TextField(_("body (Markdown)"))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("template version")
        verbose_name_plural = _("template versions")
        constraints = [models.UniqueConstraint(fields=["template", "language"], name="engagement_version_language")]

    def __str__(self) -> str:
        return f"{self.template.name} ({self.language})"


class Programme(models.Model):
    class Reentry(models.TextChoices):
        NEVER = "never", _("Never: a lead goes through once")
        AFTER_EXIT = "after_exit", _("Again after the last enrolment ended")

    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=150)
    from_email = models.CharField(_("from"), max_length=254, blank=True, help_text=_("Empty: DEFAULT_FROM_EMAIL."))
    reply_to = models.EmailField(_("reply-to"), blank=True)
    reentry = models.CharField(_("re-entry"), max_length=12, choices=Reentry.choices, default=Reentry.NEVER)
    exit_stage = models.CharField(
        _("exit stage"), max_length=20, choices=Stage.choices, blank=True,
        help_text=_("An enrolment ends when the lead reaches this stage (nurture: MQL; cadence: SQL)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Step(models.Model):
    class Kind(models.TextChoices):
        SEND_EMAIL = "send_email", _("Send e-mail")
        WAIT = "wait", _("Wait")
        CONDITION = "condition", _("Condition")
        TASK = "task", _("Task for the owner")
        END = "end", _("End")

    class TaskChannel(models.TextChoices):
        CALL = "call", _("Call")
        EMAIL = "email", _("E-mail")
        LINKEDIN = "linkedin", _("LinkedIn")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    # send_email: the template, and optionally a variant with the share of enrolments that get it
    template = models.ForeignKey(
        EmailTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("template")
    )
    variant_template = models.ForeignKey(
        EmailTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("variant B template"),
    )
    variant_share = models.PositiveSmallIntegerField(
        _("variant B share (%)"), default=0, help_text=_("Share of leads that get variant B (0-100).")
    )
    # wait
    wait_days = models.IntegerField(_("wait (days)"), null=True, blank=True)
    business_days = models.BooleanField(_("business days"), default=False, help_text=_("Count Monday to Friday only."))
    # condition
    condition_field = models.CharField(_("condition field"), max_length=30, blank=True)
    condition_value = models.CharField(_("condition value"), max_length=100, blank=True)
    yes_position = models.PositiveIntegerField(_("on yes, go to step"), null=True, blank=True)
    no_position = models.PositiveIntegerField(_("on no, go to step"), null=True, blank=True)
    # task
    task_channel = models.CharField(_("task channel"), max_length=10, choices=TaskChannel.choices, blank=True)
    task_script = models.TextField(_("script"), blank=True)

    class Meta:
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        ordering = ["programme", "position"]
        constraints = [models.UniqueConstraint(fields=["programme", "position"], name="engagement_step_position")]

    def __str__(self) -> str:
        return f"{self.programme.slug} #{self.position} {self.kind}"


class Enrolment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        EXITED = "exited", _("Exited")

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="enrolments")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="enrolments")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    position = models.PositiveIntegerField(_("next step"), default=1)
    next_run_at = models.DateTimeField(_("continues at"), null=True, blank=True)
    variant = models.CharField(_("variant"), max_length=1, default="a")
    enrolled_at = models.DateTimeField(_("enrolled at"), default=timezone.now)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    exit_reason = models.CharField(_("exit reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "programme"], condition=Q(status="active"), name="engagement_one_active_enrolment"
            )
        ]
        indexes = [
            models.Index(fields=["next_run_at"], condition=Q(status="active"), name="engagement_enrolment_due"),
        ]

    def __str__(self) -> str:
        return f"{self.programme.slug}: lead {self.lead_id}"


class Message(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")
        BOUNCED = "bounced", _("Bounced")

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="messages")
    template = models.ForeignKey(EmailTemplate, on_delete=models.PROTECT, related_name="+")
    variant = models.CharField(_("variant"), max_length=1, default="a")
    language = models.CharField(_("language"), max_length=8, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    due_at = models.DateTimeField(_("due at"), default=timezone.now)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    esp_message_id = models.CharField(
        _("service provider's message id"), max_length=255, blank=True, db_index=True,
        help_text=_("The id an e-mail service provider (django-anymail) gave the message; its webhooks name it."),
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [models.UniqueConstraint(fields=["enrolment", "step"], name="engagement_message_once")]
        indexes = [models.Index(fields=["due_at"], condition=Q(status="queued"), name="engagement_message_due")]

    def __str__(self) -> str:
        return f"message {self.pk} ({self.status})"


class TrackingEvent(models.Model):
    """What came back for a message: an open (pixel), a click (signed redirect), or an ESP's webhook event."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("Opened")
        CLICKED = "clicked", _("Clicked")
        DELIVERED = "delivered", _("Delivered")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    url = models.URLField(_("URL"), max_length=2000, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        indexes = [models.Index(fields=["message", "kind"], name="engagement_event_kind")]

    def __str__(self) -> str:
        return f"{self.kind} of message {self.message_id}"


class CadenceTask(models.Model):
    """A cadence step for the lead's owner (call, e-mail, LinkedIn with a script), due on its day in My queue."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="tasks")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="tasks")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="cadence_tasks")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="cadence_tasks"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Step.TaskChannel.choices)
    script = models.TextField(_("script"), blank=True)
    due_on = models.DateField(_("due on"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("cadence task")
        verbose_name_plural = _("cadence tasks")
        constraints = [models.UniqueConstraint(fields=["enrolment", "step"], name="engagement_task_once")]
        indexes = [
            models.Index(fields=["owner", "due_on"], condition=Q(done_at__isnull=True), name="engagement_task_due")
        ]

    def __str__(self) -> str:
        return f"{self.channel} for lead {self.lead_id} on {self.due_on}"
