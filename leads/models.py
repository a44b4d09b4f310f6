"""Leads, their history and where they came from.

The model declares the state machine; `leads.lifecycle` is the only code that fires it.
"""

import secrets

import pghistory
from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from core.vocabulary import (
    CONTENT_KINDS,
    ActivityKind,
    Channel,
    ConsentStatus,
    LeadType,
    NotificationKind,
    Outcome,
    Stage,
    Temperature,
    TransitionName,
)
from leads import fields as lead_fields
from leads import search
from scoring.models import ScoringModel


def new_form_key() -> str:
    return secrets.token_urlsafe(18)


def default_consent_purposes() -> list[str]:
    return ["marketing_email"]


class Campaign(models.Model):
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=200)
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices, default=Channel.OTHER)
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=2, default=0)
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [models.CheckConstraint(condition=Q(cost__gte=0), name="campaign_cost_not_negative")]

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    domain = models.CharField(_("domain"), max_length=253, unique=True)
    name = models.CharField(_("name"), max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="accounts",
    )
    made_at_capture = models.BooleanField(
        _("made at capture"), default=False,
        help_text=_("Created from a captured lead's company domain (leads.accounts); erased with its last person."),
    )
    made_for = models.ForeignKey(
        "Lead", verbose_name=_("made for"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="accounts_made", help_text=_("The captured lead it was made for (a lead merge moves it)."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})"


class CaptureForm(models.Model):
    """A web form (hosted at /f/<key>/ or embedded) and the key API clients send as X-Form-Key."""

    name = models.CharField(_("name"), max_length=200)
    key = models.CharField(_("key"), max_length=64, unique=True, default=new_form_key)
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), null=True, blank=True, on_delete=models.SET_NULL
    )
    source = models.CharField(_("source channel"), max_length=32, choices=Channel.choices, default=Channel.WEB_FORM)
    activity_kind = models.CharField(
        _("activity recorded"), max_length=32, choices=ActivityKind.choices, default=ActivityKind.FORM_SUBMIT
    )
    title = models.CharField(_("title shown"), max_length=200, blank=True)
    consent_wording = models.TextField(
        _("consent wording"), blank=True, help_text=_("Shown next to the consent box; empty means no consent box.")
    )
    double_opt_in = models.BooleanField(_("double opt-in"), default=False)
    consent_purposes = models.JSONField(
        _("consent purposes"), default=default_consent_purposes, blank=True,
        help_text=_("The purposes the consent box asks for (newsletter, marketing_email, sales_email, sales_phone)."),
    )
    allowed_origins = models.TextField(
        _("allowed origins"), blank=True,
        help_text=_("One origin per line (https://www.example.com) that may embed this form or send tracking."),
    )
    thank_you_text = models.CharField(_("thank-you text"), max_length=300, blank=True)
    progressive_fields = models.PositiveSmallIntegerField(
        _("progressive profiling"), default=0, validators=[MaxValueValidator(20)],
        help_text=_("When the visitor is a known lead, ask at most this many of the fields below that the lead "
                    "does not have yet, instead of the ones it has (message and topic are always asked). "
                    "0 asks every field."),
    )
    topic_choices = models.TextField(
        _("topics offered"), blank=True,
        help_text=_("One topic of interest per line: the topic field becomes a choice. Empty: free text."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("capture form")
        verbose_name_plural = _("capture forms")
        constraints = [
            models.CheckConstraint(condition=Q(progressive_fields__lte=20), name="captureform_progressive_at_most_20")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def origins(self) -> list[str]:
        return [line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()]

    @property
    def topics(self) -> list[str]:
        return [line.strip() for line in self.topic_choices.splitlines() if line.strip()]

    def chosen_fields(self) -> list[lead_fields.AskedField]:
        """The fields this form asks besides the e-mail, in order; without a chosen set the standard ones."""
        rows = list(self.field_choices.all())
        if not rows:
            return [lead_fields.AskedField(name) for name in lead_fields.DEFAULT_FORM_FIELDS]
        return [lead_fields.AskedField(row.name, row.required, row.label_en, row.label_de) for row in rows]


class CaptureFormField(models.Model):
    """One field a capture form asks (`leads.fields.FORM_FIELDS`), whether it is required, and its labels."""

    class Name(models.TextChoices):
        FIRST_NAME = "first_name", _("First name")
        LAST_NAME = "last_name", _("Last name")
        COMPANY = "company", _("Company")
        COMPANY_SIZE = "company_size", _("Company size (employees)")
        INDUSTRY = "industry", _("Industry")
        JOB_TITLE = "job_title", _("Job title")
        PHONE = "phone", _("Phone")
        COUNTRY = "country", _("Country")
        STREET = "street", _("Street and number")
        POSTCODE = "postcode", _("Postcode")
        CITY = "city", _("City")
        REGION = "region", _("Region")
        TOPIC = "topic", _("Topic of interest")
        MESSAGE = "message", _("Message")

    form = models.ForeignKey(CaptureForm, on_delete=models.CASCADE, related_name="field_choices",
                             verbose_name=_("capture form"))
    name = models.CharField(_("field"), max_length=32, choices=Name.choices)
    required = models.BooleanField(_("required"), default=False)
    label_en = models.CharField(_("label (English)"), max_length=200, blank=True,
                                help_text=_("Empty: the standard label."))
    label_de = models.CharField(_("label (German)"), max_length=200, blank=True,
                                help_text=_("Empty: the standard label."))
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("form field")
        verbose_name_plural = _("form fields")
        constraints = [models.UniqueConstraint(fields=["form", "name"], name="captureformfield_once_per_form")]

    def __str__(self) -> str:
        return self.get_name_display()


_UNREAD = object()  # Lead.lead_type: the list did not annotate the MAL threshold

# The field history (`leads.edits.history`): one row per change of an editable field, from every writer
# (the edit, capture filling an empty field, a merge, raw SQL), written by a PostgreSQL trigger. The row holds
# the values *before* the change (the row after it, or the lead itself, holds the values after), and the
# `pghistory.context` of the change (who, from the edit service). Only the editable fields
# (`leads.fields.EDITABLE_FIELDS`) are tracked and only their change fires it: rescoring (score columns)
# writes nothing here. Personal data: in the privacy registry, deleted on erasure.
@pghistory.track(
    pghistory.UpdateEvent(
        "change", row=pghistory.Old, condition=pghistory.AnyChange(*lead_fields.EDITABLE_FIELDS),
        trigger_name="lead_field_history",
    ),
    fields=list(lead_fields.EDITABLE_FIELDS),
    model_name="LeadFieldEvent",
    obj_field=pghistory.ObjForeignKey(related_name="field_events", on_delete=models.CASCADE, db_constraint=False),
)
class Lead(models.Model):
    # Contact
    email = models.EmailField(_("e-mail"), max_length=254)
    email_normalized = models.CharField(_("normalised e-mail"), max_length=254, editable=False)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True, help_text=_("E.164, e.g. +4989123456"))
    job_title = models.CharField(_("job title"), max_length=150, blank=True)
    # Company
    company = models.CharField(_("company"), max_length=200, blank=True)
    company_domain = models.CharField(_("company domain"), max_length=253, blank=True)
    company_size = models.PositiveIntegerField(_("company size"), null=True, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    street = models.CharField(_("street"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=16, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    language = models.CharField(
        _("language"), max_length=8, blank=True,
        help_text=_("The language the lead is written to in (e.g. de, en); empty: the site's default."),
    )
    website = models.URLField(_("website"), max_length=300, blank=True)
    account = models.ForeignKey(
        Account, verbose_name=_("account"), null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    # Origin
    source = models.CharField(_("source"), max_length=32, choices=Channel.choices, default=Channel.OTHER)
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    capture_form = models.ForeignKey(
        CaptureForm, verbose_name=_("capture form"), null=True, blank=True, on_delete=models.SET_NULL
    )
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    first_touch_at = models.DateTimeField(_("first touch"), default=timezone.now)
    last_touch_at = models.DateTimeField(_("last touch"), default=timezone.now)
    # Lifecycle
    stage = FSMField(_("stage"), default=Stage.KNOWN, choices=Stage.choices, protected=True, db_index=True)
    stage_entered_at = models.DateTimeField(_("in stage since"), default=timezone.now)
    stage_reason = models.TextField(_("reason"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="owned_leads",
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    score = models.IntegerField(_("score"), default=0)
    fit_score = models.IntegerField(_("fit score"), default=0)
    engagement_score = models.IntegerField(_("engagement score"), default=0)
    temperature = models.CharField(
        _("temperature"), max_length=8, choices=Temperature.choices, default=Temperature.COLD, db_index=True
    )
    # {experiment id: arm} of the routing experiments that routed this lead (`routing.experiments`).
    experiment_arms = models.JSONField(_("experiment arms"), default=dict, blank=True, editable=False)
    # Which model version made the score, its breakdown and when: `LeadScore` (a narrow table of its own,
    # so rescoring a million leads rewrites small rows; the lead row changes only when these four do).
    assignment = models.JSONField(
        _("assignment"), default=dict, blank=True, help_text=_("Why the current owner got the lead.")
    )
    contact_attempts = models.PositiveIntegerField(_("contact attempts"), default=0)
    # Speed to lead, stored when it happens (reset when the lead becomes an MQL again)
    became_mql_at = models.DateTimeField(_("became an MQL at"), null=True, blank=True)
    mql_assigned_at = models.DateTimeField(
        _("MQL got an owner at"), null=True, blank=True, help_text=_("The first owner after becoming an MQL.")
    )
    first_contact_at = models.DateTimeField(
        _("first contact attempt at"), null=True, blank=True,
        help_text=_("The first logged call, e-mail, LinkedIn message or meeting after becoming an MQL."),
    )
    # Qualification (BANT) and deal
    budget = models.TextField(_("budget"), blank=True)
    authority = models.TextField(_("authority"), blank=True)
    need = models.TextField(_("need"), blank=True)
    timeline = models.TextField(_("timeline"), blank=True)
    # Qualification (MEDDIC, for teams set to it)
    metrics = models.TextField(_("metrics"), blank=True)
    economic_buyer = models.TextField(_("economic buyer"), blank=True)
    decision_criteria = models.TextField(_("decision criteria"), blank=True)
    decision_process = models.TextField(_("decision process"), blank=True)
    identify_pain = models.TextField(_("identified pain"), blank=True)
    champion = models.TextField(_("champion"), blank=True)
    deal_value = models.DecimalField(_("deal value"), max_digits=14, decimal_places=2, null=True, blank=True)
    close_date = models.DateField(_("forecast close date"), null=True, blank=True)
    contract_signed_on = models.DateField(_("contract signed on"), null=True, blank=True)
    # Consent: a summary of the e-mail marketing purposes, derived from the consent log (privacy.consent)
    consent_status = models.CharField(
        _("consent"), max_length=16, choices=ConsentStatus.choices, default=ConsentStatus.NONE
    )
    erased_at = models.DateTimeField(
        _("erased at"), null=True, blank=True, help_text=_("Personal data anonymised (erasure request or retention).")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            models.UniqueConstraint(fields=["email_normalized"], name="lead_email_normalized_unique"),
        ]
        indexes = [
            models.Index(fields=["owner", "stage"], name="lead_owner_stage"),
            models.Index(fields=["stage", "stage_entered_at"], name="lead_stage_entered"),
            models.Index(fields=["-created_at", "-id"], name="lead_created_id"),
            models.Index(fields=["updated_at", "id"], name="lead_updated_id"),  # incremental sync (API)
            models.Index(fields=["source", "created_at"], name="lead_source_created"),
            models.Index(fields=["campaign", "created_at"], name="lead_campaign_created"),
            models.Index(fields=["score", "id"], name="lead_score_id"),
            GinIndex(search.DOCUMENT, name="lead_search"),  # leads.search; migration 0009
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email

    @property
    def lead_type(self) -> str:
        """mal / iql / engaged / cold before MQL (fit at or above the active scoring model's MAL fit threshold;
        else by content consumed and engagement), else from the stage. Lists annotate `consumed_content` and
        `mal_threshold` (`leads.selectors.with_lead_type`); a single lead asks the database."""
        if self.stage in (Stage.DISQUALIFIED, Stage.LOST):
            return LeadType.CLOSED
        if self.stage not in (Stage.KNOWN, Stage.RECYCLED):
            return self.stage
        mal_threshold = getattr(self, "mal_threshold", _UNREAD)
        if mal_threshold is _UNREAD:
            mal_threshold = ScoringModel.objects.filter(is_active=True).values_list(
                "mal_fit_threshold", flat=True).first()
        if mal_threshold is not None and self.fit_score >= mal_threshold:
            return LeadType.MAL
        consumed = getattr(self, "consumed_content", None)
        if consumed is None:
            consumed = self.activities.filter(kind__in=CONTENT_KINDS).exists() if self.pk else False
        if consumed:
            return LeadType.IQL
        return LeadType.ENGAGED if self.engagement_score > 0 else LeadType.COLD

    def get_lead_type_display(self) -> str:
        return LeadType(self.lead_type).label

    # --- the predicted conversion probability (the lead's `LeadPrediction`, None while there is none) ----

    @property
    def prediction_record(self) -> "LeadPrediction | None":
        try:
            return self.prediction
        except LeadPrediction.DoesNotExist:
            return None

    @property
    def conversion_probability(self) -> float | None:
        record = self.prediction_record
        return record.probability if record else None

    @property
    def probability_model_version(self) -> int | None:
        record = self.prediction_record
        return record.model_version if record else None

    # --- how the score was made (the lead's `LeadScore`, None / [] while it was never scored) -----------

    @property
    def score_record(self) -> "LeadScore | None":
        try:
            return self.score_details
        except LeadScore.DoesNotExist:
            return None

    @property
    def score_model_version(self) -> int | None:
        record = self.score_record
        return record.model_version if record else None

    @property
    def score_breakdown(self) -> list:
        record = self.score_record
        return record.breakdown if record else []

    @property
    def scored_at(self):
        record = self.score_record
        return record.scored_at if record else None

    @property
    def is_in_pool(self) -> bool:
        return self.owner_id is None and self.stage == Stage.MQL

    # --- the state machine: bodies only set fields on the lead itself ---------------------------------

    @transition(field=stage, source=[Stage.KNOWN, Stage.RECYCLED], target=Stage.MQL)
    def mark_mql(self, **inputs):
        pass

    @transition(field=stage, source=Stage.MQL, target=Stage.SAL)
    def accept(self, **inputs):
        pass

    @transition(field=stage, source=Stage.MQL, target=Stage.RECYCLED)
    def reject(self, *, reason: str, **inputs):
        self.stage_reason = reason
        self.owner = None
        self.assigned_at = None

    @transition(field=stage, source=Stage.SAL, target=Stage.SQL)
    def qualify(self, **answers):
        for name, value in answers.items():  # BANT or MEDDIC answers, checked by the guard
            setattr(self, name, value)

    @transition(field=stage, source=Stage.SQL, target=Stage.OPPORTUNITY)
    def open_opportunity(self, *, deal_value, close_date, **inputs):
        self.deal_value, self.close_date = deal_value, close_date

    @transition(field=stage, source=Stage.OPPORTUNITY, target=Stage.CUSTOMER)
    def win(self, *, contract_signed_on, **inputs):
        self.contract_signed_on = contract_signed_on

    @transition(field=stage, source=Stage.OPPORTUNITY, target=Stage.LOST)
    def lose(self, *, reason: str, **inputs):
        self.stage_reason = reason

    @transition(field=stage, source=[Stage.SAL, Stage.SQL, Stage.OPPORTUNITY], target=Stage.RECYCLED)
    def recycle(self, *, reason: str, **inputs):
        self.stage_reason = reason
        self.owner = None
        self.assigned_at = None
        self.contact_attempts = 0

    @transition(
        field=stage,
        source=[Stage.KNOWN, Stage.MQL, Stage.SAL, Stage.SQL, Stage.RECYCLED],
        target=Stage.DISQUALIFIED,
    )
    def disqualify(self, *, reason: str, **inputs):
        self.stage_reason = reason

    @transition(field=stage, source=[Stage.LOST, Stage.DISQUALIFIED], target=Stage.KNOWN)
    def reopen(self, *, reason: str, **inputs):
        self.stage_reason = reason
        self.owner = None  # the MQL hand-off that follows routes it afresh
        self.assigned_at = None
        self.contact_attempts = 0


class LeadPrediction(models.Model):
    """The lead's predicted conversion probability (`leads.predictive`): a narrow row of its own, like `LeadScore`,
    so predicting a million leads on every rescoring writes small rows, never the wide lead row.

    The factors are not stored: `leads.predictive.explain` recomputes them from the lead as of `predicted_at`
    (its fields, its activities until then, and the stage it was in then, kept here because a transition does not
    re-predict) with the model version that made the probability; they add up to it. No row: no active predictive
    model predicts for the lead (see `predictive.note_for`).
    """

    lead = models.OneToOneField(
        Lead, verbose_name=_("lead"), primary_key=True, on_delete=models.CASCADE, related_name="prediction"
    )
    model_version = models.PositiveIntegerField(_("predictive model version"))
    probability = models.FloatField(_("conversion probability"))
    stage = models.CharField(_("stage when predicted"), max_length=16, choices=Stage.choices)
    stage_entered_at = models.DateTimeField(_("in that stage since"))
    predicted_at = models.DateTimeField(_("predicted at"))

    class Meta:
        verbose_name = _("lead prediction")
        verbose_name_plural = _("lead predictions")
        indexes = [models.Index(fields=["probability", "lead"], name="leadprediction_probability")]

    def __str__(self) -> str:
        return f"{self.probability:.0%} (v{self.model_version})"


class LeadScore(models.Model):
    """How a lead's current score was made: the model version, the breakdown and the moment it is as of.

    One row per scored lead. The score, fit, engagement and temperature stay on the lead (lists sort and
    filter on them); this narrow row takes what changes on every rescoring, so rescoring a million leads
    writes a million small rows and only the lead rows whose score actually moved (`leads.scores`).
    `scores.replay(lead_id, at=scored_at)` recomputes the stored score from the activity log.
    """

    lead = models.OneToOneField(
        Lead, verbose_name=_("lead"), primary_key=True, on_delete=models.CASCADE, related_name="score_details"
    )
    model_version = models.PositiveIntegerField(_("scoring model version"))
    breakdown = models.JSONField(_("score breakdown"), default=list, blank=True)
    scored_at = models.DateTimeField(_("scored at"))

    class Meta:
        verbose_name = _("lead score")
        verbose_name_plural = _("lead scores")

    def __str__(self) -> str:
        return f"{self.lead_id}: v{self.model_version} @ {self.scored_at:%Y-%m-%d %H:%M}"


class Visitor(models.Model):
    """An anonymous visitor known by the id the tracking script keeps in the browser."""

    anonymous_id = models.CharField(_("anonymous id"), max_length=64, unique=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), null=True, blank=True, on_delete=models.SET_NULL, related_name="visitors"
    )
    capture_form = models.ForeignKey(
        CaptureForm, verbose_name=_("capture form"), null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")

    def __str__(self) -> str:
        return self.anonymous_id


class Activity(models.Model):
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    visitor = models.ForeignKey(
        Visitor, verbose_name=_("visitor"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="activities",
    )
    kind = models.CharField(_("kind"), max_length=32, choices=ActivityKind.choices)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    url = models.URLField(_("URL"), max_length=2000, blank=True)
    note = models.TextField(_("note"), blank=True)
    next_step_on = models.DateField(_("next step on"), null=True, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("logged by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.CheckConstraint(
                condition=Q(lead__isnull=False) | Q(visitor__isnull=False), name="activity_has_subject"
            )
        ]
        indexes = [
            models.Index(fields=["lead", "occurred_at"], name="activity_lead_time"),
            models.Index(fields=["visitor", "occurred_at"], name="activity_visitor_time"),
            models.Index(fields=["kind", "occurred_at"], name="activity_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d %H:%M}"


class LeadTransition(models.Model):
    """The audit log: every stage change and every owner change, written in the same transaction."""

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="transitions")
    name = models.CharField(_("transition"), max_length=32, choices=TransitionName.choices)
    source = models.CharField(_("from"), max_length=16, choices=Stage.choices)
    target = models.CharField(_("to"), max_length=16, choices=Stage.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.SET_NULL,
        help_text=_("Empty when the system made the change."),
    )
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("lead transition")
        verbose_name_plural = _("lead transitions")
        indexes = [
            models.Index(fields=["lead", "at"], name="transition_lead_at"),
            models.Index(fields=["name", "at"], name="transition_name_at"),
            models.Index(fields=["target", "at"], name="transition_target_at"),
            models.Index(fields=["at"], name="transition_at"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.source} -> {self.target}"


class Submission(models.Model):
    """Every capture attempt as it arrived, with its outcome: nothing is silently dropped."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", _("Received, not yet processed")
        CREATED = "created", _("Created a lead")
        MERGED = "merged", _("Merged into an existing lead")
        REJECTED = "rejected", _("Rejected")
        SPAM = "spam", _("Spam")

    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    capture_form = models.ForeignKey(
        CaptureForm, verbose_name=_("capture form"), null=True, blank=True, on_delete=models.SET_NULL
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("submitted by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    idempotency_scope = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    payload_hash = models.CharField(max_length=64)
    payload = models.JSONField(_("payload"), default=dict)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.RECEIVED)
    errors = models.JSONField(_("errors"), default=dict, blank=True)
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="submission_idempotency_unique",
            )
        ]
        indexes = [
            models.Index(fields=["received_at"], name="submission_received_open", condition=Q(outcome="received")),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.received_at:%Y-%m-%d %H:%M} {self.outcome}"


class Notification(models.Model):
    """An in-app message to a user; its e-mail is sent once (emailed_at claims it)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="notifications"
    )
    lead = models.ForeignKey(Lead, verbose_name=_("lead"), null=True, blank=True, on_delete=models.CASCADE)
    key = models.CharField(
        max_length=120, unique=True, help_text=_("What the notification is about; a retry never doubles it.")
    )
    kind = models.CharField(
        _("kind"), max_length=32, choices=NotificationKind.choices, default=NotificationKind.ASSIGNMENT
    )
    message = models.CharField(_("message"), max_length=300)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["user", "read_at"], name="notification_user_unread"),
            # The e-mail backlog (/metrics) counts these.
            models.Index(fields=["created_at"], name="notification_unmailed", condition=Q(emailed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.message


class SlaClock(models.Model):
    """One running (or finished) SLA of one lead. Started and stopped by the lifecycle in the same
    transaction as the event; the sweep (`leads.sla.sweep`) records the breach and runs each escalation
    step once, claiming the step with a conditional update and logging it as an `SlaEscalation`."""

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="sla_clocks")
    policy = models.ForeignKey(
        "routing.SlaPolicy", verbose_name=_("policy"), on_delete=models.PROTECT, related_name="+"
    )
    stage = models.CharField(_("stage at start"), max_length=16, choices=Stage.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner at start"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    started_at = models.DateTimeField(_("started at"))
    due_at = models.DateTimeField(_("due at"))
    met_at = models.DateTimeField(_("met at"), null=True, blank=True)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)
    stop_reason = models.CharField(
        _("stopped by"), max_length=64, blank=True,
        help_text=_("The transition or contact attempt that met it, or why it was cancelled."),
    )
    breached = models.BooleanField(_("breached"), default=False, help_text=_("Still running when it was due."))
    step = models.PositiveSmallIntegerField(_("escalation steps done"), default=0)
    next_step_at = models.DateTimeField(
        _("next look by the sweep"), null=True, blank=True,
        help_text=_("The due (to record the breach), then each escalation step; empty when nothing is left."),
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("SLA clock")
        verbose_name_plural = _("SLA clocks")
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "policy"], condition=Q(stopped_at__isnull=True), name="sla_clock_one_running"
            ),
        ]
        indexes = [
            # The sweep: running clocks whose next look is due, oldest first.
            models.Index(
                fields=["next_step_at"], name="sla_clock_sweep",
                condition=Q(stopped_at__isnull=True, next_step_at__isnull=False),
            ),
            # Lists sorted or filtered by the running clocks' due.
            models.Index(fields=["lead", "due_at"], name="sla_clock_running_due", condition=Q(stopped_at__isnull=True)),
            models.Index(fields=["lead", "started_at"], name="sla_clock_lead_started"),
            models.Index(fields=["policy", "started_at"], name="sla_clock_policy_started"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_running(self) -> bool:
        return self.stopped_at is None

    def is_breached(self, now=None) -> bool:
        """Breached: recorded by the sweep, met late, or running past its due right now."""
        now = now or timezone.now()
        if self.breached:
            return True
        if self.met_at is not None:
            return self.met_at > self.due_at
        return self.stopped_at is None and now >= self.due_at


class SlaEscalation(models.Model):
    """One escalation step of one clock, written in the same transaction as its effects. The unique
    (clock, step) makes a second execution impossible, whatever two workers or a redelivery try."""

    clock = models.ForeignKey(SlaClock, verbose_name=_("clock"), on_delete=models.CASCADE, related_name="escalations")
    step = models.PositiveSmallIntegerField(_("step"))
    action = models.CharField(_("action"), max_length=24)
    at = models.DateTimeField(_("at"))
    outcome = models.TextField(_("outcome"), blank=True)

    class Meta:
        ordering = ["clock", "step"]
        verbose_name = _("SLA escalation")
        verbose_name_plural = _("SLA escalations")
        constraints = [models.UniqueConstraint(fields=["clock", "step"], name="sla_escalation_once_per_step")]

    def __str__(self) -> str:
        return f"{self.clock_id} #{self.step} {self.action}"


class JobRun(models.Model):
    """The last run of a periodic job (the SLA sweep): `manage.py health` and the admin read it."""

    name = models.CharField(_("job"), max_length=64, unique=True)
    last_started_at = models.DateTimeField(_("last started"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last finished"), null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(_("last duration (ms)"), null=True, blank=True)
    last_result = models.JSONField(_("last result"), default=dict, blank=True)
    runs = models.PositiveBigIntegerField(_("runs"), default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")

    def __str__(self) -> str:
        return self.name
