"""The vocabulary: stage values, transition names, channels, activity kinds and their groups, roles.

Defined once, here; every app (`scoring` and `routing` included) reads it from here. Values are part of
the API and of the database: never renamed.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Stage(models.TextChoices):
    KNOWN = "known", _("Known lead")
    MQL = "mql", _("MQL")
    SAL = "sal", _("SAL")
    SQL = "sql", _("SQL")
    OPPORTUNITY = "opportunity", _("Opportunity")
    CUSTOMER = "customer", _("Customer")
    RECYCLED = "recycled", _("Recycled")
    DISQUALIFIED = "disqualified", _("Disqualified")
    LOST = "lost", _("Lost")


# Funnel order of the main path (side states are not in it).
FUNNEL = (Stage.KNOWN, Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)
# How far along the main path a stage is (0 off it); lost leads were opportunities. A lead "reached" a funnel
# stage when its stage, or the target of any of its stage changes, ranks at least as high: the funnel report
# (`reporting.selectors`) and the lead list's `reached` filter both count so.
FUNNEL_RANK = {
    Stage.KNOWN: 0, Stage.MQL: 1, Stage.SAL: 2, Stage.SQL: 3, Stage.OPPORTUNITY: 4, Stage.LOST: 4, Stage.CUSTOMER: 5,
}


def reached_or_later(stage) -> list[str]:
    """The stages that mean a lead got at least as far as funnel stage `stage`."""
    rank = FUNNEL_RANK[Stage(stage)]
    return [str(other) for other, other_rank in FUNNEL_RANK.items() if other_rank >= rank]
# Stages a lead is still on its way in (SLA clocks run, retention waits); the others are closed or done.
OPEN_STAGES = (Stage.KNOWN, Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)
CLOSED_STAGES = frozenset(Stage) - frozenset(OPEN_STAGES)
# Stages in which a rep works the lead (queue follow-ups, an owner kept through a merge).
WORKED_STAGES = (Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)
# Stages that count against a rep's capacity.
CAPACITY_STAGES = (Stage.MQL, Stage.SAL)


class TransitionName(models.TextChoices):
    """`LeadTransition.name`: the lifecycle's transitions, the owner changes and merges (all logged alike)."""

    MARK_MQL = "mark_mql", _("Mark as MQL")
    ACCEPT = "accept", _("Accept")
    REJECT = "reject", _("Reject")
    QUALIFY = "qualify", _("Qualify")
    OPEN_OPPORTUNITY = "open_opportunity", _("Open opportunity")
    WIN = "win", _("Win")
    LOSE = "lose", _("Lose")
    RECYCLE = "recycle", _("Recycle")
    DISQUALIFY = "disqualify", _("Disqualify")
    REOPEN = "reopen", _("Reopen")
    ASSIGN = "assign", _("Assign")
    CLAIM = "claim", _("Claim")
    RELEASE = "release", _("Release to the pool")
    MERGE = "merge", _("Merge")
    UNMERGE = "unmerge", _("Undo merge")


# Owner changes are logged like transitions, with source == target.
OWNER_CHANGES = (TransitionName.ASSIGN, TransitionName.CLAIM, TransitionName.RELEASE)
# An owner change that gives the lead an owner (speed to lead, "owned before" filters).
ASSIGNMENTS = (TransitionName.ASSIGN, TransitionName.CLAIM)
# Transitions that take a reason (the reasons report groups them).
REASON_TRANSITIONS = (TransitionName.REJECT, TransitionName.RECYCLE, TransitionName.DISQUALIFY, TransitionName.LOSE)


class Channel(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    MANUAL = "manual", _("Manual entry")
    TRACKING = "tracking", _("Site tracking")
    EVENT = "event", _("Event / trade fair")
    REFERRAL = "referral", _("Referral")
    PAID_SEARCH = "paid_search", _("Paid search")
    PAID_SOCIAL = "paid_social", _("Paid social")
    ORGANIC_SEARCH = "organic_search", _("Organic search")
    SOCIAL = "social", _("Social media")
    EMAIL = "email", _("E-mail")
    PARTNER = "partner", _("Partner")
    CHAT = "chat", _("Live chat")
    OTHER = "other", _("Other")


class ActivityKind(models.TextChoices):
    PAGE_VIEW = "page_view", _("Page view")
    PRICING_VIEW = "pricing_view", _("Pricing page view")
    DOWNLOAD = "download", _("Download")
    WEBINAR_REGISTERED = "webinar_registered", _("Webinar registration")
    WEBINAR_ATTENDED = "webinar_attended", _("Webinar attended")
    EMAIL_OPEN = "email_open", _("E-mail opened")
    EMAIL_CLICK = "email_click", _("E-mail link clicked")
    FORM_SUBMIT = "form_submit", _("Form submitted")
    DEMO_REQUEST = "demo_request", _("Demo request")
    CONTACT_REQUEST = "contact_request", _("Contact request")
    NEWSLETTER_SIGNUP = "newsletter_signup", _("Newsletter sign-up")
    CHAT = "chat", _("Chat conversation")
    CALL = "call", _("Call")
    EMAIL = "email", _("E-mail sent")
    LINKEDIN = "linkedin", _("LinkedIn message")
    MEETING = "meeting", _("Meeting")
    NOTE = "note", _("Note")


# What a visitor or a form may report; the rest is logged by staff.
MARKETING_KINDS = frozenset({
    ActivityKind.PAGE_VIEW,
    ActivityKind.PRICING_VIEW,
    ActivityKind.DOWNLOAD,
    ActivityKind.WEBINAR_REGISTERED,
    ActivityKind.WEBINAR_ATTENDED,
    ActivityKind.EMAIL_OPEN,
    ActivityKind.EMAIL_CLICK,
    ActivityKind.FORM_SUBMIT,
    ActivityKind.DEMO_REQUEST,
    ActivityKind.CONTACT_REQUEST,
    ActivityKind.NEWSLETTER_SIGNUP,
    ActivityKind.CHAT,
})
TRACKED_KINDS = frozenset({
    ActivityKind.PAGE_VIEW,
    ActivityKind.PRICING_VIEW,
    ActivityKind.DOWNLOAD,
    ActivityKind.EMAIL_OPEN,
    ActivityKind.EMAIL_CLICK,
})
CONTACT_KINDS = frozenset({ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.LINKEDIN, ActivityKind.MEETING})
HOT_INTENT_KINDS = frozenset({ActivityKind.DEMO_REQUEST, ActivityKind.CONTACT_REQUEST})


# Content consumption that makes an information-qualified lead (IQL, seed 001).
CONTENT_KINDS = frozenset({ActivityKind.DOWNLOAD, ActivityKind.WEBINAR_REGISTERED, ActivityKind.WEBINAR_ATTENDED})


class LeadType(models.TextChoices):
    """The seeds' lead types beside the stage: before MQL by engagement, from MQL on the stage itself."""

    COLD = "cold", _("Cold lead (no engagement yet)")
    ENGAGED = "engaged", _("Known lead, engaged")
    IQL = "iql", _("IQL (content consumed)")
    MAL = "mal", _("MAL (marketing accepted: fits, not engaged enough yet)")
    MQL = "mql", _("MQL")
    SAL = "sal", _("SAL")
    SQL = "sql", _("SQL")
    OPPORTUNITY = "opportunity", _("Opportunity")
    CUSTOMER = "customer", _("Customer")
    CLOSED = "closed", _("Disqualified or lost")


class Temperature(models.TextChoices):
    COLD = "cold", _("Cold")
    WARM = "warm", _("Warm")
    HOT = "hot", _("Hot")


class Outcome(models.TextChoices):
    NO_ANSWER = "no_answer", _("No answer")
    VOICEMAIL = "voicemail", _("Voicemail")
    CONNECTED = "connected", _("Connected")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    BOUNCED = "bounced", _("Bounced")


class ConsentStatus(models.TextChoices):
    NONE = "none", _("No consent")
    GIVEN = "given", _("Given")
    PENDING = "pending", _("Awaiting double opt-in")
    CONFIRMED = "confirmed", _("Confirmed")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ConsentPurpose(models.TextChoices):
    NEWSLETTER = "newsletter", _("Newsletter")
    MARKETING_EMAIL = "marketing_email", _("Marketing e-mail")
    SALES_EMAIL = "sales_email", _("Sales e-mail")
    SALES_PHONE = "sales_phone", _("Sales phone calls")


class NotificationKind(models.TextChoices):
    ASSIGNMENT = "assignment", _("Assigned to you")
    REASSIGNED = "reassigned", _("Taken from you")
    POOL = "pool", _("Waiting in the pool")
    HOT_INTENT = "hot_intent", _("Hot intent")
    EXPANSION = "expansion", _("Expansion signal")
    SLA_WARNING = "sla_warning", _("SLA warning")
    SLA_ESCALATION = "sla_escalation", _("SLA escalation")
    DEFINITIONS_REVIEW = "definitions_review", _("Definitions review due")
    WEBHOOK_DISABLED = "webhook_disabled", _("Webhook disabled")


class Role:
    """Roles are Django groups of these names (admin is the superuser)."""

    MARKETING = "marketing"
    SDR = "sdr"
    MANAGER = "manager"
    ALL = (MARKETING, SDR, MANAGER)


class EventType:
    """Domain events of the transactional outbox (`outbox`), as the events feed and webhooks name them.
    The catalogue with payload examples is in docs/integrations.md."""

    LEAD_CREATED = "lead.created"
    LEAD_UPDATED = "lead.updated"  # payload: the changed fields
    LEAD_STAGE_CHANGED = "lead.stage_changed"  # payload: transition, source, target
    LEAD_OWNER_CHANGED = "lead.owner_changed"
    LEAD_MERGED = "lead.merged"
    LEAD_ERASED = "lead.erased"  # no personal data
    ACTIVITY_LOGGED = "activity.logged"
    CONSENT_CHANGED = "consent.changed"
    SLA_BREACHED = "sla.breached"
    OPPORTUNITY_CREATED = "opportunity.created"
    OPPORTUNITY_STAGE_CHANGED = "opportunity.stage_changed"
    OPPORTUNITY_WON = "opportunity.won"
    OPPORTUNITY_LOST = "opportunity.lost"
    ALL = (
        LEAD_CREATED, LEAD_UPDATED, LEAD_STAGE_CHANGED, LEAD_OWNER_CHANGED, LEAD_MERGED, LEAD_ERASED,
        ACTIVITY_LOGGED, CONSENT_CHANGED, SLA_BREACHED, OPPORTUNITY_CREATED, OPPORTUNITY_STAGE_CHANGED,
        OPPORTUNITY_WON, OPPORTUNITY_LOST,
    )


EVENT_TYPES = EventType.ALL  # an importable name for the API schema's enum (config.settings)


class SalesOutcome(models.TextChoices):
    """Where an opportunity stands overall; its sales stage (discovery, demo, ...) is configurable."""

    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class StakeholderRole(models.TextChoices):
    ECONOMIC_BUYER = "economic_buyer", _("Economic buyer")
    CHAMPION = "champion", _("Champion")
    DECISION_MAKER = "decision_maker", _("Decision maker")
    USER = "user", _("User")
    BLOCKER = "blocker", _("Blocker")


# The default sales stages inside an opportunity: (name, win probability %, requires a next step, ... date)
DEFAULT_SALES_STAGES = (
    ("discovery", 10, False, False),
    ("demo", 30, True, False),
    ("proposal", 60, True, True),
    ("negotiation", 80, True, True),
)
