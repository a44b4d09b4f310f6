"""Normalise and validate what arrives from every capture channel.

`clean_capture(payload)` returns typed, normalised values or raises `core.errors.Invalid` naming every bad
field. Forms post strings, JSON clients post typed values: both are accepted where the meaning is clear.
"""

import datetime as dt
import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.translation import gettext as _

from core import dates
from core.errors import Invalid
from core.parsers import bad_text
from core.vocabulary import MARKETING_KINDS, ActivityKind, Channel
from leads import countries

SOURCES = frozenset(Channel.values)  # `Channel.values` builds a new list on every call

TEXT_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "company": 200,
    "job_title": 150,
    "industry": 100,
    "topic": 200,
    "message": 5000,
    "utm_source": 200,
    "utm_medium": 200,
    "utm_campaign": 200,
    "utm_term": 200,
    "utm_content": 200,
}
# The postal address and the language of a lead (edited on the lead; `leads.fields.CONTACT_FIELDS`).
ADDRESS_LIMITS = {"street": 200, "postcode": 16, "city": 100, "region": 100}
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,4})?$")
CAPTURE_FIELDS = (
    "email", "first_name", "last_name", "company", "job_title", "phone", "country", "industry",
    "company_size", "website", "source", "campaign", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content", "visitor_id", "street", "postcode", "city", "region", "topic", "message", "consent", "activity",
)
ACTIVITY_FIELDS = ("kind", "url", "occurred_at")
FREE_MAIL_DOMAINS = frozenset(
    """gmail.com googlemail.com yahoo.com yahoo.de hotmail.com hotmail.de outlook.com outlook.de live.com
    live.de msn.com icloud.com me.com aol.com gmx.de gmx.net gmx.at gmx.ch web.de t-online.de freenet.de
    posteo.de mail.de arcor.de protonmail.com proton.me mailbox.org yandex.com""".split()
)
VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_CLOCK_SKEW = dates.MAX_CLOCK_SKEW
URL_LIMIT = 2000

_email_validator = EmailValidator()
_url_validator = URLValidator(schemes=["http", "https"])


@dataclass
class CleanActivity:
    kind: str
    url: str
    occurred_at: dt.datetime


def normalize_email(value: str) -> str:
    return value.strip().lower()


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower() if "@" in email else ""


def is_free_mail(domain: str) -> bool:
    return domain.lower() in FREE_MAIL_DOMAINS


def website_domain(url: str) -> str:
    host = re.sub(r"^https?://", "", url.strip().lower()).split("/", 1)[0].split(":", 1)[0]
    return host[4:] if host.startswith("www.") else host


def _text(value, field: str, errors: dict, *, limit: int | None = None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.setdefault(field, []).append(_("Enter text."))
        return ""
    problem = bad_text(value)
    if problem:
        errors.setdefault(field, []).append(problem)
        return ""
    value = value.strip()
    limit = limit or TEXT_LIMITS.get(field, 200)
    if len(value) > limit:
        errors.setdefault(field, []).append(
            _("Use at most %(limit)s characters (this has %(count)s).") % {"limit": limit, "count": len(value)}
        )
        return ""
    return value


def clean_choice(value, field: str, errors: dict, *, allowed, message: str) -> str:
    """A value of a fixed vocabulary: text first (a list or object is no choice), then membership."""
    if isinstance(value, str) and value in allowed:
        return value
    errors.setdefault(field, []).append(message)
    return ""


def clean_country(value, errors: dict) -> str:
    """An ISO 3166 code (any case) or the country's English or German name -> the upper-case code."""
    text = _text(value, "country", errors)
    if not text:
        return ""
    country = countries.country_code(text)
    if not country:
        errors.setdefault("country", []).append(
            _("Enter a country as its two-letter ISO code or its name, e.g. DE, Germany or Deutschland.")
        )
    return country


def clean_phone(value, country: str, errors: dict) -> str:
    raw = _text(value, "phone", errors)
    if not raw:
        return ""
    region = country or settings.DEFAULT_PHONE_REGION
    try:
        number = phonenumbers.parse(raw, None if raw.startswith("+") else region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        errors.setdefault("phone", []).append(
            _("Enter a valid phone number with its country code, e.g. +49 89 123456.")
        )
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_email(value, errors: dict) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.setdefault("email", []).append(_("An e-mail address is required."))
        return ""
    email = _text(value, "email", errors)
    if not email:
        return ""
    try:
        _email_validator(email)
    except ValidationError:
        errors.setdefault("email", []).append(_("Enter a valid e-mail address."))
        return ""
    if len(email) > 254:
        errors.setdefault("email", []).append(_("Use at most 254 characters."))
        return ""
    return email


# A head count as people write it: digits, optionally grouped in thousands by ".", ",", "'", "’" or a
# (narrow, no-break) space ("1.200", "1,200", "1 200"), optionally "500+". Not "1.5" or "1,20".
COMPANY_SIZE = re.compile(r"^(\d{1,3}(?:([.,'’\u00a0\u202f ])\d{3})?(?:\2\d{3})*|\d+)\+?$")


def parse_company_size(text: str) -> int | None:
    text = text.strip()
    if not COMPANY_SIZE.match(text):
        return None
    return int(re.sub(r"\D", "", text))


def clean_company_size(value, errors: dict) -> int | None:
    """The number of employees: a whole number, or text with thousands separators ("1.200", "1,200")."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str):
        number = parse_company_size(value)
    else:
        number = None
    if number is None or number < 0 or number > 10_000_000:
        errors.setdefault("company_size", []).append(
            _("Enter the number of employees as a whole number, e.g. 1200 or 1.200.")
        )
        return None
    return number


def clean_website(value, errors: dict) -> str:
    url = _text(value, "website", errors)
    if not url:
        return ""
    if not re.match(r"^https?://", url, re.I):
        url = "https://" + url
    try:
        _url_validator(url)
    except ValidationError:
        errors.setdefault("website", []).append(_("Enter a valid web address such as https://example.com."))
        return ""
    if len(url) > 300:
        errors.setdefault("website", []).append(_("Use at most 300 characters."))
        return ""
    return url


def clean_bool(value, field: str, errors: dict) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "on", "1", "yes"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "off", "0", "no"}:
        return False
    errors.setdefault(field, []).append(_("Enter true or false."))
    return False


def clean_datetime(value, field: str, errors: dict, *, now: dt.datetime) -> dt.datetime:
    """The time of an event: ISO 8601 (naive means UTC), within `core.dates`' window, not in the future."""
    if value is None or value == "":
        return now
    parsed = dates.parse_moment(value)
    if parsed is None:
        errors.setdefault(field, []).append(_("Enter a date and time in ISO 8601, e.g. 2026-11-02T14:30:00Z."))
        return now
    if not dates.in_window(parsed):
        errors.setdefault(field, []).append(dates.out_of_window())
        return now
    if parsed > now + MAX_CLOCK_SKEW:
        errors.setdefault(field, []).append(_("The time lies in the future."))
        return now
    return parsed


def clean_url(value, field: str, errors: dict) -> str:
    url = _text(value, field, errors, limit=URL_LIMIT)
    if not url:
        return ""
    try:
        _url_validator(url)
    except ValidationError:
        errors.setdefault(field, []).append(_("Enter a valid http or https address."))
        return ""
    return url


def classify_page(url: str, kind: str) -> str:
    """A page view of a pricing page counts as a pricing view."""
    if kind == ActivityKind.PAGE_VIEW and url and re.search(settings.PRICING_URL_PATTERN, url, re.I):
        return ActivityKind.PRICING_VIEW
    return kind


def clean_activity(value, errors: dict, *, now: dt.datetime, allowed=MARKETING_KINDS) -> CleanActivity | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.setdefault("activity", []).append(_("Send an object with kind, url and occurred_at."))
        return None
    unknown = sorted(set(value) - set(ACTIVITY_FIELDS))
    for key in unknown:
        errors.setdefault(f"activity.{key}", []).append(_("Unknown field."))
    kind = value.get("kind")
    if kind is None or kind == "":
        kind = ActivityKind.FORM_SUBMIT.value
    kind = clean_choice(
        kind, "activity.kind", errors, allowed={str(k) for k in allowed},
        message=_("Unknown activity kind. Use one of: %(kinds)s.") % {"kinds": ", ".join(sorted(allowed))},
    ) or ActivityKind.FORM_SUBMIT.value
    url = clean_url(value.get("url"), "activity.url", errors)
    occurred_at = clean_datetime(value.get("occurred_at"), "activity.occurred_at", errors, now=now)
    return CleanActivity(kind=classify_page(url, kind), url=url, occurred_at=occurred_at)


def clean_visitor_id(value, field: str, errors: dict) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not VISITOR_ID.match(value):
        errors.setdefault(field, []).append(
            _("Send the visitor id the tracking script set (8-64 letters, digits, - or _).")
        )
        return ""
    return value


def clean_capture(
    payload, *, campaigns: dict | None = None, now: dt.datetime | None = None, required=(), topics=None,
) -> dict:
    """Validate a capture payload. `campaigns` maps slug -> Campaign (looked up by the caller). A capture
    form's configuration adds `required` (the names of the fields it asked as required: missing is an error
    naming the field) and `topics` (the topics it offers: another topic is an error)."""
    now = now or dt.datetime.now(dt.UTC)
    errors: dict[str, list[str]] = {}
    if not isinstance(payload, dict):
        raise Invalid({"non_field_errors": [_("Send a JSON object.")]})
    for key in sorted(set(payload) - set(CAPTURE_FIELDS)):
        errors.setdefault(key, []).append(_("Unknown field."))
    clean: dict = {}
    clean["email"] = clean_email(payload.get("email"), errors)
    for field in TEXT_LIMITS:
        clean[field] = _text(payload.get(field), field, errors)
    for field, limit in ADDRESS_LIMITS.items():
        clean[field] = _text(payload.get(field), field, errors, limit=limit)
    if topics and clean["topic"] and clean["topic"] not in topics:
        errors.setdefault("topic", []).append(
            _("Choose one of the topics offered: %(topics)s.") % {"topics": ", ".join(topics)}
        )
    clean["country"] = clean_country(payload.get("country"), errors)
    clean["phone"] = clean_phone(payload.get("phone"), clean["country"], errors)
    clean["company_size"] = clean_company_size(payload.get("company_size"), errors)
    clean["website"] = clean_website(payload.get("website"), errors)
    clean["consent"] = clean_bool(payload.get("consent"), "consent", errors)
    clean["visitor_id"] = clean_visitor_id(payload.get("visitor_id"), "visitor_id", errors)
    source = payload.get("source")
    clean["source"] = "" if source is None or source == "" else clean_choice(
        source, "source", errors, allowed=SOURCES,
        message=_("Unknown source. Use one of: %(sources)s.") % {"sources": ", ".join(Channel.values)},
    )
    slug = payload.get("campaign")
    clean["campaign"] = None
    if slug not in (None, ""):
        if not isinstance(slug, str) or campaigns is None or slug not in campaigns:
            errors.setdefault("campaign", []).append(_("No campaign has this slug."))
        else:
            clean["campaign"] = campaigns[slug]
    clean["activity"] = clean_activity(payload.get("activity"), errors, now=now)
    for field in required:
        if field not in errors and (clean.get(field) is None or clean.get(field) == ""):
            errors[field] = [_("This field is required.")]
    if errors:
        raise Invalid(errors)
    clean["email_normalized"] = normalize_email(clean["email"])
    return clean


def clean_language(value, errors: dict) -> str:
    """A language tag such as de, en or de-AT, stored in lower case."""
    text = _text(value, "language", errors, limit=8).lower().replace("_", "-")
    if text and not LANGUAGE.match(text):
        errors.setdefault("language", []).append(_("Enter a language code such as de or en."))
        return ""
    return text


def clean_edit(changes: dict, *, country: str) -> dict:
    """Validate the editable fields in `changes` (`leads.fields.EDITABLE_FIELDS`; the caller refuses the
    rest) with the cleaners every capture channel uses: the same values pass, the same messages come back.
    `country` is the lead's country, for a phone number written without its country code (unless the same
    edit changes the country). Raises `Invalid` naming every bad field."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    if "email" in changes:
        clean["email"] = clean_email(changes["email"], errors)
    for field in ("first_name", "last_name", "company", "job_title", "industry"):
        if field in changes:
            clean[field] = _text(changes[field], field, errors)
    for field, limit in ADDRESS_LIMITS.items():
        if field in changes:
            clean[field] = _text(changes[field], field, errors, limit=limit)
    if "language" in changes:
        clean["language"] = clean_language(changes["language"], errors)
    if "country" in changes:
        clean["country"] = clean_country(changes["country"], errors)
    if "phone" in changes:
        clean["phone"] = clean_phone(changes["phone"], clean.get("country") or country, errors)
    if "company_size" in changes:
        clean["company_size"] = clean_company_size(changes["company_size"], errors)
    if "website" in changes:
        clean["website"] = clean_website(changes["website"], errors)
    if errors:
        raise Invalid(errors)
    return clean


def company_domain(*, website: str, email: str) -> str:
    """The company's domain: the website's, else the e-mail's; free-mail domains name no company."""
    domain = website_domain(website) if website else email_domain(email)
    return "" if is_free_mail(domain) else domain


STUDENT_DOMAIN = re.compile(r"(^|\.)(edu|ac\.[a-z]{2}|edu\.[a-z]{2})$|(^|\.)(uni-|stud\.|student)")


def domain_type(email: str) -> str:
    """business, free, competitor or student, from the e-mail's domain (a scoring fact)."""
    domain = email_domain(email)
    if not domain:
        return ""
    if domain in settings.COMPETITOR_DOMAINS:
        return "competitor"
    if is_free_mail(domain):
        return "free"
    if STUDENT_DOMAIN.search(domain):
        return "student"
    return "business"
