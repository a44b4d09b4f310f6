from contextvars import ContextVar

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.vocabulary import ConsentPurpose
from leads import edits, embed
from leads.models import (
    Account,
    Activity,
    Campaign,
    CaptureForm,
    CaptureFormField,
    JobRun,
    Lead,
    LeadTransition,
    Notification,
    SlaClock,
    SlaEscalation,
    Submission,
    Visitor,
)
from leads.sla import health as sla_health
from leads.validation import normalize_email

# The request of the change form being rendered (a read-only field's method gets only the object).
_admin_request: ContextVar = ContextVar("leadwerk_admin_request", default=None)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "channel", "cost", "starts_on", "ends_on")
    list_filter = ("channel",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "owner")
    search_fields = ("name", "domain")
    autocomplete_fields = ("owner",)


class CaptureFormAdminForm(forms.ModelForm):
    """The capture form in the admin: the consent purposes as checkboxes, not JSON."""

    consent_purposes = forms.MultipleChoiceField(
        label=_("consent purposes"), choices=ConsentPurpose.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The purposes the consent box asks for. None ticked: marketing e-mail."),
    )

    class Meta:
        model = CaptureForm
        fields = "__all__"  # noqa: DJ007 - the admin shows every field; this form only changes one widget


class CaptureFormFieldInline(admin.TabularInline):
    """The fields the form asks besides the e-mail: none chosen asks the standard ones (names, company, job
    title, phone, country, message), all optional."""

    model = CaptureFormField
    extra = 0
    fields = ("position", "name", "required", "label_en", "label_de")
    ordering = ("position", "pk")


@admin.register(CaptureForm)
class CaptureFormAdmin(admin.ModelAdmin):
    form = CaptureFormAdminForm
    list_display = ("name", "key", "campaign", "source", "double_opt_in", "progressive_fields", "is_active")
    list_filter = ("is_active", "source", "double_opt_in")
    search_fields = ("name", "key")
    readonly_fields = ("created_at", "embed_snippet")
    inlines = [CaptureFormFieldInline]

    def changeform_view(self, request, *args, **kwargs):
        token = _admin_request.set(request)  # the snippet is built from the address the admin is served at
        try:
            response = super().changeform_view(request, *args, **kwargs)
            if hasattr(response, "render"):  # a TemplateResponse renders later: render it while the request is set
                response.render()
            return response
        finally:
            _admin_request.reset(token)

    @admin.display(description=_("Embed snippet"))
    def embed_snippet(self, form):
        if not form.pk:
            return "-"
        return format_html("<pre style='white-space:pre-wrap' data-testid='embed-snippet'>{}</pre>",
                           embed.display(embed.snippet(form, request=_admin_request.get())))


class ActivityInline(admin.TabularInline):
    model = Activity
    fk_name = "lead"
    extra = 0
    fields = ("kind", "outcome", "occurred_at", "url", "note", "created_by")
    readonly_fields = fields
    can_delete = False
    show_change_link = True


class TransitionInline(admin.TabularInline):
    model = LeadTransition
    extra = 0
    fields = ("at", "name", "source", "target", "actor", "reason")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class SlaClockInline(admin.TabularInline):
    model = SlaClock
    extra = 0
    fields = ("policy", "stage", "owner", "started_at", "due_at", "met_at", "stopped_at", "stop_reason", "breached",
              "step")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # a website typed without scheme
    list_display = ("email", "first_name", "last_name", "company", "stage", "owner", "score", "source", "created_at")
    list_filter = ("stage", "source", "campaign", "consent_status")
    search_fields = ("email", "first_name", "last_name", "company")
    list_select_related = ("owner", "campaign")
    readonly_fields = ("stage", "stage_entered_at", "owner", "assigned_at", "email_normalized", "created_at",
                       "updated_at", "consent_status", "became_mql_at", "mql_assigned_at", "first_contact_at",
                       "score_version", "score_time")
    raw_id_fields = ("account", "capture_form")
    inlines = [TransitionInline, ActivityInline, SlaClockInline]
    date_hierarchy = "created_at"

    @admin.display(description=_("scoring model version"))
    def score_version(self, lead):
        return lead.score_model_version

    @admin.display(description=_("scored at"))
    def score_time(self, lead):
        return lead.scored_at

    def save_model(self, request, obj, form, change):
        obj.email_normalized = normalize_email(obj.email)
        with edits.attributed(request.user, via="admin"):  # the field history names the admin
            super().save_model(request, obj, form, change)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("kind", "lead", "visitor", "outcome", "occurred_at")
    list_filter = ("kind", "outcome")
    raw_id_fields = ("lead", "visitor", "created_by")
    date_hierarchy = "occurred_at"


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ("anonymous_id", "lead", "first_seen_at", "last_seen_at")
    raw_id_fields = ("lead",)
    search_fields = ("anonymous_id",)


@admin.register(LeadTransition)
class LeadTransitionAdmin(admin.ModelAdmin):
    list_display = ("at", "lead", "name", "source", "target", "actor")
    list_filter = ("name", "target")
    raw_id_fields = ("lead", "actor")
    date_hierarchy = "at"

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("received_at", "channel", "capture_form", "outcome", "lead", "response_status")
    list_filter = ("outcome", "channel")
    raw_id_fields = ("lead", "capture_form", "submitted_by")
    date_hierarchy = "received_at"

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "message", "read_at", "emailed_at")
    raw_id_fields = ("user", "lead")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SlaEscalationInline(admin.TabularInline):
    model = SlaEscalation
    extra = 0
    fields = ("step", "action", "at", "outcome")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SlaClock)
class SlaClockAdmin(ReadOnlyAdmin):
    """Read-only: clocks change only with the lifecycle and the sweep. The list says when the sweep ran."""

    list_display = ("lead", "policy", "stage", "owner", "started_at", "due_at", "met_at", "stopped_at", "breached",
                    "step", "next_step_at")
    list_filter = ("policy", "breached", "stage", ("stopped_at", admin.EmptyFieldListFilter))
    search_fields = ("lead__email", "lead__last_name", "lead__company")
    list_select_related = ("lead", "policy", "owner")
    raw_id_fields = ("lead", "owner")
    date_hierarchy = "started_at"
    inlines = [SlaEscalationInline]

    def changelist_view(self, request, extra_context=None):
        problem = sla_health.sweep_problem()
        run = sla_health.last_sweep()
        if problem:
            self.message_user(request, problem, messages.WARNING)
        elif run is not None:
            self.message_user(request, _("The SLA sweep last ran at %(at)s: %(result)s.") % {
                "at": f"{timezone.localtime(run.last_finished_at):%Y-%m-%d %H:%M:%S}",
                "result": sweep_result_in_words(run.last_result),
            }, messages.INFO)
        return super().changelist_view(request, extra_context)


def sweep_result_in_words(result) -> str:
    """The sweep's last result ({"steps": 3, "breaches": 1, ...}) as a sentence, never a Python dict."""
    if not isinstance(result, dict) or not result:
        return str(_("nothing to do"))
    words = {
        "breaches": _("%(count)s breaches recorded"), "steps": _("%(count)s escalation steps run"),
        "skipped": _("%(count)s skipped"), "failed": _("%(count)s failed"),
    }
    parts = [str(text) % {"count": result.get(key, 0)} for key, text in words.items()]
    parts += [f"{key}: {value}" for key, value in result.items() if key not in words]
    return ", ".join(parts)


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    """When the periodic jobs (the SLA sweep) last ran; `manage.py health` reads the same row."""

    list_display = ("name", "last_started_at", "last_finished_at", "last_duration_ms", "runs", "last_result",
                    "health")

    @admin.display(description=_("health"))
    def health(self, run):
        if run.name != sla_health.SWEEP_JOB:
            return "-"
        return sla_health.sweep_problem() or _("ok")
