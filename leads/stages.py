"""Stage values, transition names, channels and activity kinds: part of the API, never renamed."""

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
FUNNEL = [Stage.KNOWN, Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER]


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
MARKETING_KINDS = {
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
}
TRACKED_KINDS = {
    ActivityKind.PAGE_VIEW,
    ActivityKind.PRICING_VIEW,
    ActivityKind.DOWNLOAD,
    ActivityKind.EMAIL_OPEN,
    ActivityKind.EMAIL_CLICK,
}
CONTACT_KINDS = {ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.LINKEDIN, ActivityKind.MEETING}
HOT_INTENT_KINDS = {ActivityKind.DEMO_REQUEST, ActivityKind.CONTACT_REQUEST}


# Content consumption that makes an information-qualified lead (IQL, seed 001).
CONTENT_KINDS = {ActivityKind.DOWNLOAD, ActivityKind.WEBINAR_REGISTERED, ActivityKind.WEBINAR_ATTENDED}


class LeadType(models.TextChoices):
    """The seeds' lead types beside the stage: before MQL by engagement, from MQL on the stage itself."""

    COLD = "cold", _("Cold lead (no engagement yet)")
    ENGAGED = "engaged", _("Known lead, engaged")
    IQL = "iql", _("IQL (content consumed)")
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


class Role:
    MARKETING = "marketing"
    SDR = "sdr"
    MANAGER = "manager"
    ALL = (MARKETING, SDR, MANAGER)
