"""Realistic, deterministic demo data (`manage.py seed_demo [--seed 42] [--leads 600]` runs `load`).

Users (admin, marketing, manager, sdr1-sdr4 with DEMO_PASSWORD and their roles), campaigns with costs,
capture forms, accounts, anonymous visitors, and leads from the last 90 days in every stage.

`build_plan(seed=..., leads=..., now=...)` is pure (no database): the same seed gives the same people,
companies and planned stages whatever `now` is, and what each lead does when. `load` plays the plan through
the product's own code on a simulated clock (`config.demo_run`, docs/demo.md): captures, scoring, routing,
SLA sweeps, notifications, consent, the sales hand-off; the history is what the product wrote, never in the
future. Does nothing when leads exist already.
"""

import datetime as dt
import hashlib
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from capture.submissions import METHODS
from config import demo_run
from core.errors import Conflict, Invalid
from core.vocabulary import ActivityKind as K
from core.vocabulary import Channel, ConsentStatus, Outcome, Role, Stage
from engagement import demo as engagement_demo
from leads import demo as leads_demo
from leads import scores
from leads.models import (
    Account,
    Activity,
    Campaign,
    CaptureForm,
    Lead,
    LeadTransition,
    Notification,
    SlaClock,
    SlaEscalation,
    Submission,
    Visitor,
)
from privacy import consent as consent_log
from privacy.models import ConsentEvent
from routing.models import Rep, RoutingRule, Team
from sales import demo as sales_demo

WINDOW = dt.timedelta(days=90)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
SITE = "https://www.leadwerk.example"

# username, first name, last name, role (None: superuser)
USERS = (
    ("admin", "Ada", "Adler", None),
    ("marketing", "Miriam", "Krause", Role.MARKETING),
    ("manager", "Thomas", "Lehmann", Role.MANAGER),
    ("sdr1", "Jonas", "Becker", Role.SDR),
    ("sdr2", "Lena", "Wagner", Role.SDR),
    ("sdr3", "Felix", "Schulz", Role.SDR),
    ("sdr4", "Aylin", "Demir", Role.SDR),
)
SDRS = ("sdr1", "sdr2", "sdr3", "sdr4")
SDR_WEIGHTS = (30, 28, 24, 18)

CONSENT_EMAIL = (
    "Ja, ich möchte per E-Mail Informationen zu Leadwerk erhalten. Die Einwilligung kann ich jederzeit "
    f"widerrufen (Datenschutzerklärung: {SITE}/datenschutz)."
)
CONSENT_WEBINAR = (
    "Ich willige ein, dass die Leadwerk GmbH meine Daten zur Durchführung des Webinars und für Informationen "
    "zu ähnlichen Themen per E-Mail und Telefon nutzt. Widerruf jederzeit möglich."
)
CONSENT_NEWSLETTER = (
    "Ja, ich möchte den Leadwerk-Newsletter erhalten (Double-Opt-in, Abmeldung jederzeit über den Link in "
    "jeder Ausgabe)."
)
CONSENT_CONTACT = (
    "I agree that Leadwerk may use my data to answer my request and to contact me about related offers. "
    "I can withdraw this consent at any time."
)

# Campaign: slug, name, channel, cost, start and end in days before now (None: still running).
CAMPAIGNS = (
    ("google-ads-q4", "Google Ads Q4 – Lead-Management", Channel.PAID_SEARCH, "18500.00", 88, None),
    ("linkedin-abm", "LinkedIn ABM DACH", Channel.PAID_SOCIAL, "24000.00", 80, 5),
    ("webinar-lead-management-2026", "Webinar „Lead-Management 2026“", Channel.WEB_FORM, "3200.00", 62, 32),
    ("dmexco", "Messe DMEXCO", Channel.EVENT, "38000.00", 66, 64),
    ("newsletter", "Newsletter", Channel.EMAIL, "1200.00", 90, None),
    ("whitepaper-dsgvo", "Whitepaper DSGVO im Lead-Management", Channel.WEB_FORM, "4500.00", 75, None),
)
WEBINAR_DAYS_AGO = 32
FAIR_DAYS_AGO = 64

# Capture form: name, campaign slug, source channel, activity kind, title, consent wording, double opt-in.
FORMS = (
    ("Google Ads Landingpage: Demo", "google-ads-q4", Channel.PAID_SEARCH, K.FORM_SUBMIT,
     "Leads schneller qualifizieren", CONSENT_EMAIL, False),
    ("LinkedIn Lead Gen Form", "linkedin-abm", Channel.PAID_SOCIAL, K.FORM_SUBMIT,
     "Lead-Management für B2B-Teams", CONSENT_EMAIL, False),
    ("Webinar-Anmeldung Lead-Management 2026", "webinar-lead-management-2026", Channel.WEB_FORM,
     K.WEBINAR_REGISTERED, "Webinar: Lead-Management 2026", CONSENT_WEBINAR, False),
    ("Newsletter-Anmeldung", "newsletter", Channel.EMAIL, K.NEWSLETTER_SIGNUP, "Newsletter", CONSENT_NEWSLETTER,
     True),
    ("Whitepaper DSGVO", "whitepaper-dsgvo", Channel.WEB_FORM, K.DOWNLOAD,
     "Whitepaper: DSGVO im Lead-Management", CONSENT_EMAIL, False),
    ("Demo anfragen", None, Channel.ORGANIC_SEARCH, K.DEMO_REQUEST, "Demo anfragen", CONSENT_CONTACT, False),
    ("Kontaktformular Website", None, Channel.ORGANIC_SEARCH, K.FORM_SUBMIT, "Kontakt", CONSENT_CONTACT, False),
)
TRACKING_FORM = "Kontaktformular Website"


@dataclass(frozen=True)
class Origin:
    """Where a lead comes from: campaign, source, the channel of its submission and the form it used."""

    key: str
    share: int
    source: str
    channel: str
    campaign: str | None = None
    form: str | None = None
    utm: tuple[str, str, str] | None = None
    consent_rate: float = 0.8


ORIGINS = (
    Origin("google", 18, Channel.PAID_SEARCH, Channel.WEB_FORM, "google-ads-q4", "Google Ads Landingpage: Demo",
           ("google", "cpc", "q4-lead-management"), 0.85),
    Origin("linkedin", 12, Channel.PAID_SOCIAL, Channel.API, "linkedin-abm", "LinkedIn Lead Gen Form",
           ("linkedin", "paid_social", "abm-dach"), 0.9),
    Origin("webinar", 12, Channel.WEB_FORM, Channel.WEB_FORM, "webinar-lead-management-2026",
           "Webinar-Anmeldung Lead-Management 2026", None, 0.95),
    Origin("fair", 12, Channel.EVENT, Channel.IMPORT, "dmexco", None, None, 0.3),
    Origin("newsletter", 9, Channel.EMAIL, Channel.WEB_FORM, "newsletter", "Newsletter-Anmeldung",
           ("newsletter", "email", "anmeldung"), 1.0),
    Origin("whitepaper", 12, Channel.WEB_FORM, Channel.WEB_FORM, "whitepaper-dsgvo", "Whitepaper DSGVO",
           ("linkedin", "social", "whitepaper-dsgvo"), 0.85),
    Origin("organic", 15, Channel.ORGANIC_SEARCH, Channel.WEB_FORM, None, "Kontaktformular Website", None, 0.75),
    Origin("referral", 4, Channel.REFERRAL, Channel.MANUAL, None, None, None, 0.2),
    Origin("partner", 3, Channel.PARTNER, Channel.API, None, None, ("partner", "referral", "systemhaus"), 0.5),
    Origin("chat", 3, Channel.CHAT, Channel.WEB_FORM, None, None, None, 0.6),
)

# Share of leads per final stage (per mille); known takes the rest.
STAGE_SHARES = {
    Stage.MQL: 110, Stage.SAL: 80, Stage.SQL: 60, Stage.OPPORTUNITY: 50, Stage.CUSTOMER: 40,
    Stage.RECYCLED: 110, Stage.DISQUALIFIED: 110, Stage.LOST: 40,
}

FIRST_NAMES_F = (
    "Anna", "Julia", "Laura", "Sarah", "Lisa", "Katharina", "Sandra", "Stefanie", "Christina", "Melanie",
    "Nicole", "Sabine", "Claudia", "Petra", "Susanne", "Andrea", "Miriam", "Johanna", "Lea", "Sophie",
    "Hannah", "Franziska", "Carina", "Nadine", "Vanessa", "Birgit", "Elena", "Ayşe", "Natalia", "Eva",
)
FIRST_NAMES_M = (
    "Thomas", "Michael", "Andreas", "Stefan", "Christian", "Markus", "Daniel", "Tobias", "Florian", "Sebastian",
    "Alexander", "Matthias", "Martin", "Jan", "Philipp", "Lukas", "Jonas", "Maximilian", "Benedikt", "Fabian",
    "Kai", "Jörg", "Uwe", "Frank", "Ralf", "Oliver", "Patrick", "Dominik", "Mehmet", "Nikola",
)
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
    "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
    "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber",
    "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Vogel",
    "Gruber", "Pichler", "Steiner", "Moser", "Brunner", "Keller", "Frei", "Meier", "Baumann", "Gerber",
    "Yılmaz", "Kaya", "Nowak", "Kowalski", "Popović", "Rossi",
)
JOB_TITLES = (
    ("Head of Marketing", 8), ("Leiterin Marketing", 5), ("Leiter Marketing", 5), ("Marketing Manager", 9),
    ("Marketing Operations Manager", 5), ("Demand Generation Manager", 4), ("CMO", 4), ("Geschäftsführer", 6),
    ("Geschäftsführerin", 3), ("Head of Sales", 6), ("Vertriebsleiter", 6), ("Leiterin Vertrieb", 3),
    ("Sales Operations Manager", 4), ("Teamleiter Inside Sales", 3), ("Revenue Operations Lead", 3),
    ("CRM-Manager", 4), ("IT-Leiter", 3), ("CFO", 2), ("Einkaufsleiter", 2), ("Prokurist", 2),
    ("Online-Marketing-Managerin", 4), ("Werkstudent Marketing", 1), ("Assistenz der Geschäftsführung", 2),
)
INDUSTRIES = {
    "Maschinenbau": ("Maschinenbau", "Anlagenbau", "Präzisionstechnik"),
    "Software": ("Software", "Digital", "Cloud Solutions"),
    "IT-Dienstleistungen": ("IT-Service", "Systemhaus", "Datentechnik"),
    "Logistik": ("Logistik", "Spedition", "Transport"),
    "Medizintechnik": ("Medizintechnik", "Medical", "Diagnostik"),
    "Automotive": ("Automotive", "Fahrzeugtechnik", "Antriebstechnik"),
    "Finanzdienstleistungen": ("Finanz", "Leasing", "Asset Services"),
    "Beratung": ("Consulting", "Beratung", "Partners"),
    "Großhandel": ("Handel", "Großhandel", "Distribution"),
    "Energie": ("Energie", "Solar", "Energietechnik"),
    "Elektrotechnik": ("Elektrotechnik", "Elektronik", "Automation"),
    "Chemie": ("Chemie", "Kunststoffe", "Coatings"),
}
STEMS = (
    "Nordwind", "Alpenblick", "Rheintal", "Hansa", "Isarwerk", "Bergmann", "Elbtal", "Schwarzwald", "Donau",
    "Bodensee", "Spree", "Weser", "Taunus", "Harz", "Allgäu", "Brandt", "Vogel", "Sommer", "Winkler",
    "Lorenz", "Hartmann", "Seidel", "Lindner", "Graf", "Falke", "Kranich", "Merkur", "Quadriga", "Helix",
    "Vektor", "Prisma", "Novum", "Lumen", "Orbis", "Kubus", "Zenit", "Aurum", "Ferrum", "Silva", "Terra",
    "Polaris", "Nexus", "Fokus", "Primus", "Optima", "Werkraum", "Feldmann", "Baumann", "Schröder",
    "Neumann", "Wolff", "Roth", "Jäger", "Engel", "Horn", "Kühn", "Pohl", "Stein", "Matterhorn", "Säntis",
    "Pilatus", "Wachau", "Tirol", "Salzach", "Lech", "Main", "Mosel", "Eifel", "Ostsee", "Nordlicht",
)
# country, share, legal forms, e-mail TLD, phone prefixes with subscriber lengths
COUNTRIES = (
    ("DE", 72, ("GmbH", "GmbH", "GmbH", "AG", "GmbH & Co. KG", "SE", "KG"), "de",
     (("+4930", 8), ("+4940", 8), ("+4989", 7), ("+4969", 8), ("+49221", 7), ("+49211", 7), ("+49711", 7),
      ("+49911", 7), ("+49341", 7), ("+49511", 7), ("+49421", 7), ("+49231", 6))),
    ("AT", 13, ("GmbH", "GmbH", "AG", "GesmbH"), "at",
     (("+431", 7), ("+43662", 6), ("+43512", 6), ("+43732", 6), ("+43316", 6))),
    ("CH", 11, ("AG", "AG", "GmbH", "SA"), "ch",
     (("+4144", 7), ("+4131", 7), ("+4161", 7), ("+4141", 7), ("+4171", 7))),
    ("NL", 2, ("B.V.",), "nl", (("+3120", 7), ("+3110", 7))),
    ("GB", 2, ("Ltd",), "co.uk", (("+44207946", 4),)),
)
MOBILE_PREFIXES = {"DE": ("+49151", "+49160", "+49170", "+49171", "+49176"), "AT": ("+43664", "+43676"),
                   "CH": ("+4179", "+4178"), "NL": ("+316",), "GB": ("+447700",)}
MOBILE_DIGITS = {"DE": 8, "AT": 7, "CH": 7, "NL": 8, "GB": 6}
FREE_MAIL = ("gmx.de", "web.de", "gmail.com", "t-online.de", "outlook.de")

PAGES = (
    "/", "/produkt", "/produkt/lead-routing", "/produkt/lead-scoring", "/produkt/sla", "/loesungen/marketing",
    "/loesungen/vertrieb", "/blog/mql-definition", "/blog/5-minuten-regel", "/blog/dsgvo-double-opt-in",
    "/blog/bant-vs-meddic", "/kunden", "/ueber-uns", "/integrationen", "/ressourcen",
)
PRICING = "/preise"
DOWNLOADS = ("/downloads/whitepaper-dsgvo.pdf", "/downloads/checkliste-lead-routing.pdf",
             "/downloads/benchmark-lead-velocity-2025.pdf", "/downloads/ebook-lead-scoring.pdf")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
)

MESSAGES = (
    "Wir suchen eine Lösung, um Messekontakte schneller an den Vertrieb zu übergeben.",
    "Bitte um eine Demo für unser Marketing-Team (5 Personen).",
    "Unsere Leads versanden im CRM – wie funktioniert bei Ihnen das Routing?",
    "Interested in SLA tracking between marketing and sales.",
    "Wir nutzen aktuell Excel-Listen und wollen das ablösen.",
    "Können Sie DSGVO-konformes Double-Opt-in abbilden?",
    "Please send pricing for about 20 users.",
    "Rückruf erwünscht, am besten vormittags.",
)
BUDGETS = (
    "Budget von ca. 40.000 € für 2026 freigegeben", "Budget 25–30 T€ im Marketing-Etat eingeplant",
    "Approved budget of EUR 60k for the rollout", "Budget wird im Q1 final freigegeben, Rahmen ca. 50 T€",
    "Kostenstelle Vertrieb, bis 20 T€ ohne Vorstandsfreigabe", "Budget steht, Vergleich mit zwei Anbietern",
)
AUTHORITIES = (
    "Entscheidung durch CMO gemeinsam mit dem CFO", "Geschäftsführer entscheidet, IT-Leiter prüft",
    "Head of Sales is the economic buyer; IT signs off security", "Einkauf verhandelt, Vertriebsleitung entscheidet",
    "Vorstand Vertrieb, Champion ist die Marketing-Leitung",
)
NEEDS = (
    "Messeleads gehen verloren; kein einheitlicher Übergabeprozess an den Vertrieb",
    "Reaktionszeit auf Anfragen liegt bei über 24 Stunden",
    "No shared MQL definition; sales ignores marketing leads", "Lead-Routing nach Gebieten erfolgt manuell",
    "Kein Reporting über Kampagnen-ROI und Lead-Velocity", "DSGVO-Nachweise für Einwilligungen fehlen",
)
TIMELINES = (
    "Einführung bis Ende Q1", "Go-live vor der Messesaison im Frühjahr", "Entscheidung in 6–8 Wochen",
    "Rollout in Q2, Pilot ab sofort", "Vertragsbeginn zum nächsten Quartal",
)
REJECT_REASONS = (
    "Kein Entscheider, nur Informationsinteresse", "Student / kein Geschäftskunde", "Zu früh – Projekt erst 2027",
    "Company too small for our offering", "Bereits Kunde eines Partners", "Nur Interesse am Whitepaper",
)
RECYCLE_REASONS = (
    "Keine Rückmeldung nach {n} Kontaktversuchen", "No contact after {n} attempts",
    "Projekt auf nächstes Jahr verschoben", "Ansprechpartner hat das Unternehmen verlassen",
    "Budget eingefroren, in 6 Monaten erneut ansprechen",
)
DISQUALIFY_REASONS = (
    "Wettbewerber", "Ungültige E-Mail-Adresse", "Kein B2B-Kontakt", "Spam-Anmeldung",
    "Außerhalb des Zielmarkts", "Outside our target market (B2C)", "Dublette eines bestehenden Kontakts",
)
LOSE_REASONS = (
    "Wettbewerber gewählt (günstigeres Angebot)", "Kein Budget mehr nach Umstrukturierung", "Projekt gestoppt",
    "Lost to competitor: existing CRM add-on", "Preis zu hoch im Vergleich zur Inhouse-Lösung",
    "Entscheidung vertagt, kein Projekt in diesem Jahr",
)
FAILED_CALL_NOTES = ("Mailbox, Rückruf erbeten", "Nicht erreicht", "Zentrale verbindet nicht weiter",
                     "Left a voicemail", "Im Termin, später erneut versuchen")
EMAIL_NOTES = ("Follow-up nach Anfrage mit Terminvorschlägen", "Kurze Vorstellung und Case Study gesendet",
               "Sent meeting link and agenda", "Erinnerung an offenen Terminvorschlag")
CONNECTED_NOTES = ("Erstgespräch geführt: Bedarf bestätigt, Demo vereinbart",
                   "Qualifizierungsgespräch: Budget und Zeitplan geklärt",
                   "Discovery call: pain around slow lead follow-up confirmed",
                   "Gespräch mit Marketing-Leitung, Entscheidungsprozess besprochen")


@dataclass
class LeadPlan:
    fields: dict  # Lead kwargs; owner, campaign, capture_form and account are given by username/slug/name/domain
    transitions: list[dict] = field(default_factory=list)
    activities: list[dict] = field(default_factory=list)
    submissions: list[dict] = field(default_factory=list)
    consent_events: list[dict] = field(default_factory=list)  # the consent log, oldest first
    visitor: dict | None = None


@dataclass
class Plan:
    seed: int
    now: dt.datetime
    accounts: list[dict]
    leads: list[LeadPlan]
    visitors: list[dict]  # anonymous visitors, each with "activities"
    stray_submissions: list[dict]  # rejected and spam submissions that made no lead


# --- generating the plan (pure) ------------------------------------------------------------------------------


def ascii_slug(value: str) -> str:
    value = value.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ı", "i")):
        value = value.replace(umlaut, plain)
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", value).strip("-")


def _weighted(rng: random.Random, pairs):
    items, weights = zip(*pairs, strict=True)
    return rng.choices(items, weights=weights)[0]


def _companies(rng: random.Random, count: int) -> list[dict]:
    companies, domains = [], set()
    while len(companies) < count:
        country, _share, legal_forms, tld, prefixes = _weighted(rng, [(c, c[1]) for c in COUNTRIES])
        industry = rng.choice(sorted(INDUSTRIES))
        stem, word = rng.choice(STEMS), rng.choice(INDUSTRIES[industry])
        if country == "GB":
            word = {"Beratung": "Consulting", "Handel": "Trading", "Finanz": "Finance"}.get(word, word)
        domain = f"{ascii_slug(stem)}-{ascii_slug(word)}.{tld}"
        if domain in domains:
            continue
        domains.add(domain)
        size = _weighted(rng, [((10, 49), 25), ((50, 249), 40), ((250, 999), 25), ((1000, 8000), 10)])
        prefix, digits = rng.choice(prefixes)
        companies.append({
            "name": f"{stem} {word} {rng.choice(legal_forms)}", "domain": domain, "industry": industry,
            "country": country, "size": rng.randint(*size), "phone_prefix": prefix, "phone_digits": digits,
        })
    return companies


def _phone(rng: random.Random, company: dict) -> str:
    if rng.random() < 0.25:
        country = company["country"]
        digits = MOBILE_DIGITS[country]
        return rng.choice(MOBILE_PREFIXES[country]) + str(rng.randint(10 ** (digits - 1), 10**digits - 1))
    digits = company["phone_digits"]
    return company["phone_prefix"] + str(rng.randint(2 * 10 ** (digits - 1), 10**digits - 1))


def _person(rng: random.Random, company: dict, used: set[str]) -> dict:
    female = rng.random() < 0.45
    first = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
    last = rng.choice(LAST_NAMES)
    title = _weighted(rng, JOB_TITLES)
    if female:
        title = {"Geschäftsführer": "Geschäftsführerin", "Leiter Marketing": "Leiterin Marketing",
                 "Vertriebsleiter": "Vertriebsleiterin", "Prokurist": "Prokuristin"}.get(title, title)
    else:
        title = {"Geschäftsführerin": "Geschäftsführer", "Leiterin Marketing": "Leiter Marketing",
                 "Leiterin Vertrieb": "Leiter Vertrieb", "Online-Marketing-Managerin": "Online-Marketing-Manager"
                 }.get(title, title)
    f, la = ascii_slug(first).replace("-", ""), ascii_slug(last).replace("-", "")
    free_mail = rng.random() < 0.07
    domain = rng.choice(FREE_MAIL) if free_mail else company["domain"]
    patterns = [f"{f}.{la}", f"{f[0]}.{la}", f"{f}{la}", f"{la}.{f}", f"{f}.{la}{rng.randint(2, 99)}"]
    local = _weighted(rng, list(zip(patterns, (60, 20, 8, 7, 5), strict=True)))
    email = f"{local}@{domain}"
    number = 2
    while email.lower() in used:
        email = f"{local}{number}@{domain}"
        number += 1
    used.add(email.lower())
    return {"first_name": first, "last_name": last, "job_title": title, "email": email, "free_mail": free_mail}


def _stage_list(rng: random.Random, count: int) -> list[str]:
    stages = []
    for stage, per_mille in STAGE_SHARES.items():
        stages += [stage] * max(1, round(count * per_mille / 1000))
    stages = stages[:count]
    stages += [Stage.KNOWN] * (count - len(stages))
    rng.shuffle(stages)
    return stages


def build_plan(*, seed: int = 42, leads: int = 600, now: dt.datetime | None = None) -> Plan:
    """The whole demo data set for `seed`, as plain data; people, companies and stages do not depend on `now`."""
    now = now or timezone.now()
    rng = random.Random(seed)
    companies = _companies(rng, max(12, leads // 3))
    # A few large accounts with several contacts each, owned by an SDR.
    accounts = [
        {"domain": c["domain"], "name": c["name"], "owner": SDRS[i % len(SDRS)]} for i, c in enumerate(companies[:8])
    ]
    account_owner = {a["domain"]: a["owner"] for a in accounts}
    company_weights = [6 if i < 8 else 1 for i in range(len(companies))]
    stages = _stage_list(rng, leads)
    used_emails: set[str] = set()
    plans = []
    for index, stage in enumerate(stages):
        company = rng.choices(companies, weights=company_weights)[0]
        person = _person(rng, company, used_emails)
        origin = _weighted(rng, [(o, o.share) for o in ORIGINS])
        lead_rng = random.Random(f"{seed}:{index}")
        plans.append(
            _lead_plan(lead_rng, index=index, stage=stage, company=company, person=person, origin=origin,
                       account_owner=account_owner.get(company["domain"]), now=now)
        )
    visitor_rng = random.Random(f"{seed}:visitors")
    visitors = [_anonymous_visitor(visitor_rng, now) for _ in range(max(10, leads // 2))]
    stray = _stray_submissions(random.Random(f"{seed}:stray"), max(4, leads // 25), now)
    return Plan(seed=seed, now=now, accounts=accounts, leads=plans, visitors=visitors, stray_submissions=stray)


def _days(rng: random.Random, low: float, high: float, mode: float | None = None) -> dt.timedelta:
    return dt.timedelta(days=rng.triangular(low, high, mode if mode is not None else (low + high) / 2))


def _hours(rng: random.Random, low: float, high: float, mode: float | None = None) -> dt.timedelta:
    return dt.timedelta(hours=rng.triangular(low, high, mode if mode is not None else (low + high) / 2))


def _path(rng: random.Random, stage: str) -> list[str]:
    """The stage transitions that lead to `stage` (owner changes are added later)."""
    to_sal = ["mark_mql", "accept"]
    main = {
        Stage.KNOWN: [],
        Stage.SAL: to_sal,
        Stage.SQL: [*to_sal, "qualify"],
        Stage.OPPORTUNITY: [*to_sal, "qualify", "open_opportunity"],
        Stage.CUSTOMER: [*to_sal, "qualify", "open_opportunity", "win"],
        Stage.LOST: [*to_sal, "qualify", "open_opportunity", "lose"],
    }
    if stage in main:
        return list(main[stage])
    if stage == Stage.MQL:
        chance = rng.random()
        if chance < 0.12:
            return ["mark_mql", "reject", "mark_mql"]
        return ["disqualify", "reopen", "mark_mql"] if chance < 0.16 else ["mark_mql"]  # re-entry: a new request
    if stage == Stage.RECYCLED:
        return _weighted(rng, [
            (["mark_mql", "reject"], 45), ([*to_sal, "recycle"], 30), ([*to_sal, "qualify", "recycle"], 15),
            ([*to_sal, "qualify", "open_opportunity", "recycle"], 10),
        ])
    return _weighted(rng, [  # disqualified
        (["disqualify"], 45), (["mark_mql", "disqualify"], 20), ([*to_sal, "disqualify"], 20),
        ([*to_sal, "qualify", "disqualify"], 10), (["mark_mql", "reject", "disqualify"], 5),
    ])


TARGETS = {
    "mark_mql": Stage.MQL, "accept": Stage.SAL, "reject": Stage.RECYCLED, "qualify": Stage.SQL,
    "open_opportunity": Stage.OPPORTUNITY, "win": Stage.CUSTOMER, "lose": Stage.LOST, "recycle": Stage.RECYCLED,
    "disqualify": Stage.DISQUALIFIED, "reopen": Stage.KNOWN,
}


def _gap(rng: random.Random, name: str, previous: str | None, hot_at_capture: bool) -> dt.timedelta:
    """Time between the previous step and transition `name` (plausible, roughly the DOMAIN.md benchmarks)."""
    if name == "mark_mql":
        if previous == "reject":
            return _days(rng, 8, 30, 14)
        return dt.timedelta(seconds=rng.randint(1, 20)) if hot_at_capture else _days(rng, 0.2, 30, 6)
    if name == "accept":
        return _hours(rng, 0.05, 36, 2)
    if name == "reject":
        return _hours(rng, 0.5, 72, 6)
    if name == "qualify":
        return _days(rng, 0.5, 14, 4)
    if name == "open_opportunity":
        return _days(rng, 5, 21, 10)
    if name == "win":
        return _days(rng, 12, 60, 28)
    if name == "lose":
        return _days(rng, 8, 60, 25)
    if name == "recycle":
        return {"accept": _days(rng, 7, 21, 12), "qualify": _days(rng, 10, 40, 20)}.get(
            previous, _days(rng, 20, 60, 35)
        )
    if name == "reopen":  # a demo request weeks after the disqualification; the MQL follows at once
        return _days(rng, 10, 40, 20)
    # disqualify
    return {
        None: _days(rng, 0.3, 20, 3), "mark_mql": _hours(rng, 1, 72, 8), "accept": _days(rng, 1, 10, 3),
        "qualify": _days(rng, 4, 25, 10), "reject": _days(rng, 5, 30, 12),
    }[previous]


def _tail(rng: random.Random, stage: str) -> dt.timedelta:
    """How long an open lead has been sitting in its current stage."""
    if stage == Stage.KNOWN:  # nurture keeps its list fresh: most known leads are recent
        return _weighted(rng, [(_days(rng, 0.01, 30, 8), 75), (_days(rng, 30, 89, 40), 25)])
    if stage == Stage.MQL:
        # Most MQLs are accepted within hours; the few waiting longer are the stalled ones.
        return _weighted(rng, [(_hours(rng, 0.02, 3, 0.5), 75), (_hours(rng, 3, 24, 6), 17), (_days(rng, 1, 5, 2), 8)])
    if stage == Stage.SAL:
        return _days(rng, 0.02, 12, 2)
    if stage == Stage.SQL:
        return _days(rng, 0.5, 25, 7)
    if stage == Stage.OPPORTUNITY:
        return _days(rng, 1, 45, 14)
    return dt.timedelta(hours=rng.uniform(1, 12))  # closed: the rest of the window is spread below


def _origin_window(origin: Origin, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    if origin.key == "fair":  # business cards scanned at the stand, imported in the days after the fair
        end = now - dt.timedelta(days=FAIR_DAYS_AGO)
        return end + 6 * HOUR, end + 3 * DAY
    if origin.key == "webinar":  # registrations in the four weeks before the webinar
        webinar = now - dt.timedelta(days=WEBINAR_DAYS_AGO)
        return webinar - 28 * DAY, webinar - 2 * HOUR
    return now - WINDOW + HOUR, now - 5 * MINUTE


def _place(rng, gaps, tail, window, now, *, closed: bool) -> tuple[dt.datetime, list[dt.timedelta]]:
    """Creation time and the (possibly stretched or compressed) gaps so that the whole history ends before now;
    an open lead sits exactly `tail` in its stage (the nurture before its first step absorbs the difference)."""
    low, high = window
    needed = sum(gaps, dt.timedelta()) + tail
    latest = now - needed
    if low <= latest <= high and not closed:  # an open lead: exactly `tail` in its stage
        return latest, list(gaps)
    if latest >= low:
        created = _uniform_time(rng, low, min(high, latest))
        gaps = list(gaps)
        if not closed and gaps:  # created earlier than `latest`: a longer nurture, the same time in the stage
            gaps[0] += latest - created
        return created, gaps
    created = _uniform_time(rng, low, high)  # too long for the window: compress the history
    room = now - created - (tail if not closed else dt.timedelta())
    factor = (room * 0.95) / (needed - tail if not closed else needed) if room > dt.timedelta() and (
        closed or needed > tail) else ((now - created) * 0.95) / needed
    return created, [gap * factor for gap in gaps]


def _uniform_time(rng, low: dt.datetime, high: dt.datetime) -> dt.datetime:
    return low + (high - low) * rng.random()


OFFICE_OPENS, OFFICE_CLOSES = dt.time(8, 0), dt.time(18, 0)


def _is_office_time(moment: dt.datetime) -> bool:
    local = timezone.localtime(moment)
    return local.weekday() < 5 and OFFICE_OPENS <= local.time() < OFFICE_CLOSES


def _working_time(rng, moment: dt.datetime, *, low: dt.datetime, high: dt.datetime) -> dt.datetime:
    """`moment` moved into office hours (Mon-Fri 08:00-18:00 local): to the next morning, or when that lies
    beyond `high`, back to the last afternoon; unchanged when neither fits between `low` and `high`."""
    if _is_office_time(moment):
        return moment
    local = timezone.localtime(moment)
    day = local.date() + dt.timedelta(days=0 if local.time() < OFFICE_OPENS else 1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    forward = timezone.make_aware(dt.datetime.combine(day, OFFICE_OPENS)) + dt.timedelta(minutes=rng.randint(5, 150))
    if forward <= high:
        return forward
    day = local.date() - dt.timedelta(days=1 if local.time() < OFFICE_CLOSES else 0)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    closes = timezone.make_aware(dt.datetime.combine(day, OFFICE_CLOSES))
    backward = closes - dt.timedelta(minutes=rng.randint(5, 150))
    return backward if low <= backward < moment else moment


def _lead_plan(rng, *, index, stage, company, person, origin: Origin, account_owner, now) -> LeadPlan:
    path = _path(rng, stage)
    starts_with_mql = bool(path) and path[0] == "mark_mql"
    # How the lead became an MQL: at once on a demo request, on a later hot-intent action, or by score.
    trigger = "score"
    if starts_with_mql:
        trigger = _weighted(rng, [("capture", 12), ("demo_request", 18), ("pricing", 10), ("score", 60)])
        if origin.key == "fair" and trigger == "capture":
            trigger = "demo_request"
    form = origin.form
    if origin.key == "organic" and trigger == "capture":
        form = "Demo anfragen"
    owner = account_owner or _weighted(rng, list(zip(SDRS, SDR_WEIGHTS, strict=True)))

    # Steps: stage transitions plus the owner changes a rep needs before accepting or rejecting.
    steps: list[dict] = []
    previous = None
    mql_count = path.count("mark_mql")
    seen_mql = 0
    for position, name in enumerate(path):
        following = path[position + 1] if position + 1 < len(path) else None
        gap = _gap(rng, name, previous, trigger == "capture" and previous is None)
        if name == "accept" and steps and steps[-1].get("owner_mode") == "claim_at_accept":
            steps[-1]["gap"] = gap
            steps[-1]["claim_at_accept"] = True
            steps.append({"name": name, "gap": dt.timedelta()})
        else:
            steps.append({"name": name, "gap": gap,
                          "by_marketing": name == "mark_mql" and trigger == "score" and rng.random() < 0.1})
        previous = name
        if name == "mark_mql":
            seen_mql += 1
            needs_owner = following in ("accept", "reject") or (
                following is None and stage == Stage.MQL and seen_mql == mql_count and rng.random() < 0.55
            )
            if needs_owner:
                # Routing gives account leads to the account owner; the rest waits in the pool until an SDR
                # claims it (or accepts it straight from there) or the manager assigns it.
                mode = "routed" if account_owner and rng.random() < 0.8 else _weighted(
                    rng, [("assigned", 35), ("claim", 40), ("claim_at_accept", 25)]
                )
                if mode == "claim_at_accept" and following != "accept":
                    mode = "claim"
                gap = {
                    "routed": dt.timedelta(seconds=rng.randint(1, 40)), "assigned": _hours(rng, 0.05, 2, 0.2),
                    "claim": _hours(rng, 0.05, 2.5, 0.2), "claim_at_accept": dt.timedelta(),
                }[mode]
                steps.append({"name": "claim" if mode.startswith("claim") else "assign", "gap": gap,
                              "owner_mode": mode})
    tail = _tail(rng, stage)
    closed = stage in (Stage.CUSTOMER, Stage.LOST, Stage.RECYCLED, Stage.DISQUALIFIED)
    window = _origin_window(origin, now)
    if stage in (Stage.CUSTOMER, Stage.LOST) and origin.key not in ("fair", "webinar") and rng.random() < 0.4:
        # Small deals close fast (a demo request, a call, a proposal): some of them within the last month.
        for step in steps:
            step["gap"] *= 0.3
        needed = sum((s["gap"] for s in steps), dt.timedelta()) + tail
        window = (max(window[0], now - needed - 14 * DAY), min(window[1], now - needed))
    created, gaps = _place(rng, [s["gap"] for s in steps], tail, window, now, closed=closed)
    # B2B forms arrive mostly in office hours; imports and manual entries always do.
    if origin.channel in (Channel.IMPORT, Channel.MANUAL) or rng.random() < 0.8:
        low, high = _origin_window(origin, now)
        high = min(high, now - sum(gaps, dt.timedelta()) - 5 * MINUTE)  # the history must still end before now
        if low <= created <= high:
            created = _working_time(rng, created, low=low, high=high)
    original = previous = created
    shift = dt.timedelta()
    for step, gap in zip(steps, gaps, strict=True):
        original += gap
        at = max(previous, original + shift)
        if at > now - MINUTE:  # pushed past now by office hours before it: squeeze into the last minutes
            at = max(previous, now - MINUTE * rng.uniform(1, 20))
        # People act in office hours, and so do B2B prospects mostly: their activity makes most MQLs by day.
        by_person = step.get("by_marketing") or (step["name"] != "mark_mql" and step.get("owner_mode") != "routed") or (
            step["name"] == "mark_mql" and rng.random() < 0.85)
        if by_person:  # people act in office hours; the system at any time
            at = _working_time(rng, at, low=previous, high=now - MINUTE)
        shift = at - original
        step["at"] = previous = at
    for position, step in enumerate(steps):  # a claim made while accepting happens at the same moment
        if step.get("claim_at_accept"):
            step["at"] = steps[position + 1]["at"] = max(step["at"], steps[position + 1]["at"])

    plan = LeadPlan(fields={})
    hot = trigger in ("demo_request", "pricing") or (trigger == "capture" and form == "Demo anfragen")
    score = _score(rng, stage, hot)
    lead = {
        "email": person["email"], "email_normalized": person["email"].lower(),
        "first_name": person["first_name"], "last_name": person["last_name"], "job_title": person["job_title"],
        "phone": _phone(rng, company) if rng.random() < 0.8 else "", "company": company["name"],
        "company_domain": "" if person["free_mail"] else company["domain"], "company_size": company["size"],
        "industry": company["industry"], "country": company["country"],
        "website": f"https://www.{company['domain']}" if rng.random() < 0.7 else "",
        "account": company["domain"] if account_owner else None,
        "source": origin.source, "campaign": origin.campaign, "capture_form": form,
        "first_touch_at": created, "last_touch_at": created, "stage": stage, "stage_entered_at": created,
        "score": score, "created_at": created, "consent_status": ConsentStatus.NONE,
    }
    if origin.utm:
        lead["utm_source"], lead["utm_medium"], lead["utm_campaign"] = origin.utm
    plan.fields = lead

    # Transitions, walking the stages (owner changes keep the stage).
    current, current_owner = Stage.KNOWN, None
    for step in steps:
        name, at = step["name"], step["at"]
        if name in ("assign", "claim"):
            mode = step["owner_mode"]
            actor = {"routed": None, "assigned": "manager"}.get(mode, owner)
            method = "account_owner" if mode == "routed" else name
            reason = {
                "routed": f"owner of the account {company['name']}", "assigned": "assigned by manager",
            }.get(mode, f"claimed from the pool by {owner}")
            plan.transitions.append(_transition(
                name, current, current, actor, at, reason=reason,
                data={"from_owner": current_owner, "to_owner": owner, "rule": "", "method": method},
            ))
            current_owner = owner
            lead["owner"], lead["assigned_at"] = owner, at
            lead["assignment"] = _trace(method=method, owner=owner, reason=reason, at=at)
            continue
        data, reason = {}, ""
        actor = current_owner
        if name == "mark_mql":
            actor = "marketing" if step.get("by_marketing") else None
        elif name == "qualify":
            data = {"budget": rng.choice(BUDGETS), "authority": rng.choice(AUTHORITIES),
                    "need": rng.choice(NEEDS), "timeline": rng.choice(TIMELINES)}
            lead.update(data)
        elif name == "open_opportunity":
            deal_value, close_date = _deal(rng, company["size"], at, stage, now)
            data = {"deal_value": str(deal_value), "close_date": close_date.isoformat()}
            lead["deal_value"], lead["close_date"] = deal_value, close_date
        elif name == "win":
            signed = timezone.localtime(at).date()
            data = {"contract_signed_on": signed.isoformat()}
            lead["contract_signed_on"] = signed
        elif name == "reopen":
            reason = "Demo request after the lead was disqualified"
            actor = None
            lead["stage_reason"] = reason
        elif name in ("reject", "recycle", "disqualify", "lose"):
            pool = {"reject": REJECT_REASONS, "recycle": RECYCLE_REASONS, "disqualify": DISQUALIFY_REASONS,
                    "lose": LOSE_REASONS}[name]
            reason = rng.choice(pool).format(n=rng.randint(4, 6))
            lead["stage_reason"] = reason
            if name == "recycle" and ("Kontaktversuch" in reason or "attempts" in reason):
                actor = None  # the recycling rule: no contact after N attempts
            if name == "disqualify" and actor is None:
                actor = "marketing"
        target = TARGETS[name]
        plan.transitions.append(_transition(name, current, target, actor, at, reason=reason, data=data))
        current = target
        lead["stage_entered_at"] = at
        if name == "mark_mql" and current_owner is None:
            lead["assignment"] = _trace(method="", owner=None, reason="no rule matched: waiting in the pool", at=at)
        if name in ("reject", "recycle"):
            current_owner = None
            lead["owner"], lead["assigned_at"] = None, None
    assert current == stage, (index, path, current, stage)

    _activities(rng, plan, origin=origin, trigger=trigger, created=created, now=now, owner=owner,
                final_stage=stage, steps=steps, tail_open=not closed)
    _consent(rng, plan, origin=origin, created=created, now=now, stage=stage)
    return plan


def _trace(*, method: str, owner: str | None, reason: str, at: dt.datetime) -> dict:
    """Why the lead has its owner, in the shape routing and `lifecycle._change_owner` store on `Lead.assignment`."""
    return {"rule": "", "method": method, "chosen_by": method or "pool", "owner": owner, "reason": reason,
            "skipped": [], "at": at.isoformat()}


def _transition(name, source, target, actor, at, *, reason="", data=None) -> dict:
    return {"name": name, "source": source, "target": target, "actor": actor, "at": at, "reason": reason,
            "data": data or {}}


def _score(rng: random.Random, stage: str, hot: bool) -> int:
    if stage == Stage.KNOWN:
        return round(rng.triangular(0, 49, 12))
    if stage == Stage.RECYCLED:
        return round(rng.triangular(10, 49, 35))
    if stage == Stage.DISQUALIFIED:
        return round(rng.triangular(0, 70, 20))
    if stage == Stage.MQL and hot:  # a demo request or pricing visits made it an MQL, not the score
        return round(rng.triangular(25, 95, 55))
    return min(120, round(rng.triangular(50, 120, 68)))


def _deal(rng, size: int, opened: dt.datetime, stage: str, now: dt.datetime) -> tuple[Decimal, dt.date]:
    low, high = (6, 18) if size < 50 else (12, 45) if size < 250 else (30, 120) if size < 1000 else (80, 300)
    value = Decimal(round(rng.uniform(low, high) * 2) * 500).quantize(Decimal("0.01"))
    close = timezone.localtime(opened).date() + dt.timedelta(days=rng.randint(14, 90))
    today = timezone.localtime(now).date()
    if stage == Stage.OPPORTUNITY and close < today:  # open opportunities forecast today or later
        close = today + dt.timedelta(days=rng.randint(3, 45))
    return value, close


def _between(rng, start: dt.datetime, end: dt.datetime, count: int) -> list[dt.datetime]:
    if end <= start or count <= 0:
        return []
    span = (end - start).total_seconds()
    return sorted(start + dt.timedelta(seconds=rng.uniform(0.02, 0.98) * span) for _ in range(count))


def _activity(kind, at, *, outcome="", url="", note="", data=None, created_by=None, **extra) -> dict:
    return {"kind": kind, "occurred_at": at, "outcome": outcome, "url": url, "note": note, "data": data or {},
            "created_by": created_by, **extra}


def _activities(rng, plan: LeadPlan, *, origin, trigger, created, now, owner, final_stage, steps, tail_open):
    lead = plan.fields
    transitions = [s for s in steps if s["name"] not in ("assign", "claim")]
    first_mql = next((s["at"] for s in transitions if s["name"] == "mark_mql"), None)
    first_exit = transitions[0]["at"] if transitions else now

    # Anonymous visits before the form, stitched when the visitor identified itself.
    if rng.random() < 0.35 and created - now + WINDOW > 2 * HOUR:
        first_seen = max(now - WINDOW, created - _days(rng, 0.05, 14, 2))
        views = _between(rng, first_seen, created, rng.randint(1, 5))
        plan.visitor = {"anonymous_id": f"{rng.getrandbits(96):024x}", "first_seen_at": first_seen,
                        "last_seen_at": created, "capture_form": TRACKING_FORM}
        for at in views:
            plan.activities.append(_activity(K.PAGE_VIEW, at, url=SITE + rng.choice(PAGES), visitor=True))

    # The capture itself: one submission, one touchpoint.
    form_kind = {name: kind for name, _c, _s, kind, *_rest in FORMS}
    kind = form_kind.get(lead["capture_form"], K.FORM_SUBMIT)
    if origin.key == "chat":
        kind = K.CHAT
    url = {"webinar": "/webinar", "newsletter": "/newsletter", "whitepaper": "/whitepaper/dsgvo",
           "google": "/lp/lead-management", "linkedin": "", "fair": "", "referral": "", "partner": ""}.get(
        origin.key, "/kontakt" if kind != K.DEMO_REQUEST else "/demo")
    note = rng.choice(MESSAGES) if kind in (K.DEMO_REQUEST, K.FORM_SUBMIT, K.CHAT) and rng.random() < 0.5 else ""
    if origin.key == "fair":
        note = rng.choice(("Messekontakt DMEXCO, Stand B4", "Visitenkarte DMEXCO", "Gespräch am Stand, "
                           "Interesse an Lead-Routing", "DMEXCO: möchte Unterlagen per E-Mail"))
    plan.submissions.append({"outcome": Submission.Outcome.CREATED, "channel": origin.channel, "at": created,
                             "stage": Stage.MQL if trigger == "capture" else Stage.KNOWN})
    plan.activities.append(_activity(kind, created, url=SITE + url if url else "", note=note, submission=0,
                                     created_by="marketing" if origin.channel in (Channel.IMPORT, Channel.MANUAL)
                                     else None))

    # Nurture until the lead became an MQL (or left marketing's hands).
    nurture_end = first_mql or first_exit
    if trigger != "capture":
        if final_stage == Stage.KNOWN:
            count = rng.randint(0, 4)
            kinds = [(K.PAGE_VIEW, 50), (K.EMAIL_OPEN, 25), (K.EMAIL_CLICK, 8), (K.DOWNLOAD, 10),
                     (K.PRICING_VIEW, 7)]
        else:
            count = rng.randint(2, 9) if first_mql else rng.randint(0, 3)
            kinds = [(K.PAGE_VIEW, 35), (K.EMAIL_OPEN, 20), (K.EMAIL_CLICK, 12), (K.DOWNLOAD, 12),
                     (K.PRICING_VIEW, 12), (K.WEBINAR_ATTENDED, 4)]
        pricing_seen = 0
        times = _between(rng, created, nurture_end - MINUTE, count)
        times = sorted(
            _working_time(rng, at, low=created, high=nurture_end - MINUTE) if rng.random() < 0.7 else at
            for at in times
        )
        for at in times:
            kind = _weighted(rng, kinds)
            if kind == K.PRICING_VIEW:
                pricing_seen += 1
                if final_stage in (Stage.KNOWN, Stage.RECYCLED) and pricing_seen > 1:
                    kind = K.PAGE_VIEW
            plan.activities.append(_nurture_activity(rng, kind, at, plan))
        if trigger == "demo_request" and first_mql:
            at = max(created + MINUTE, first_mql - dt.timedelta(minutes=rng.randint(1, 30)))
            plan.activities.append(_activity(K.DEMO_REQUEST, min(at, first_mql), url=SITE + "/demo",
                                             note=rng.choice(MESSAGES), submission=len(plan.submissions)))
            plan.submissions.append({"outcome": Submission.Outcome.MERGED, "channel": Channel.WEB_FORM,
                                     "at": min(at, first_mql), "stage": Stage.MQL})
        elif trigger == "pricing" and first_mql:
            start = max(created, first_mql - 3 * DAY)
            for at in _between(rng, start, first_mql, 3):
                plan.activities.append(_activity(K.PRICING_VIEW, at, url=SITE + PRICING))
    if origin.key == "webinar":
        webinar = now - dt.timedelta(days=WEBINAR_DAYS_AGO)
        if created < webinar and rng.random() < 0.6:
            plan.activities.append(_activity(K.WEBINAR_ATTENDED, webinar + _hours(rng, 0, 1),
                                             url=SITE + "/webinar/live", data={"minutes": rng.randint(12, 58)}))

    # Marketing keeps in touch after the hand-off (newsletter opens).
    if first_mql and rng.random() < 0.4:
        for at in _between(rng, first_mql, now - HOUR, rng.randint(1, 2)):
            plan.activities.append(_activity(K.EMAIL_OPEN, at, data={"mailing": "Newsletter"}))

    _sales_activities(rng, plan, steps=transitions, now=now, owner=owner, tail_open=tail_open)

    # Touch times and attempts as the services keep them.
    lead_times = [a["occurred_at"] for a in plan.activities if not a.get("visitor")]
    lead["last_touch_at"] = max([created, *lead_times])
    last_recycle = max((t["at"] for t in plan.transitions if t["name"] == "recycle"), default=None)
    lead["contact_attempts"] = sum(
        1 for a in plan.activities
        if a["kind"] in (K.CALL, K.EMAIL, K.LINKEDIN, K.MEETING) and (last_recycle is None or
                                                                    a["occurred_at"] > last_recycle)
    )


def _nurture_activity(rng, kind, at, plan: LeadPlan) -> dict:
    if kind == K.PRICING_VIEW:
        return _activity(kind, at, url=SITE + PRICING)
    if kind == K.DOWNLOAD:
        return _activity(kind, at, url=SITE + rng.choice(DOWNLOADS))
    if kind in (K.EMAIL_OPEN, K.EMAIL_CLICK):
        mailing = rng.choice(("Newsletter", "Nurture 1: Willkommen", "Nurture 2: Case Study",
                              "Nurture 3: Lead-Routing", "Einladung Webinar"))
        return _activity(kind, at, url=SITE + rng.choice(PAGES) if kind == K.EMAIL_CLICK else "",
                         data={"mailing": mailing})
    if kind == K.WEBINAR_ATTENDED:
        return _activity(kind, at, url=SITE + "/webinar/on-demand", data={"minutes": rng.randint(8, 45)})
    return _activity(kind, at, url=SITE + rng.choice(PAGES))


def _sales_activities(rng, plan: LeadPlan, *, steps, now, owner, tail_open):
    """Calls, e-mails, LinkedIn messages and meetings between the sales-owned transitions."""
    for position, step in enumerate(steps):
        if step["name"] not in ("accept", "qualify", "open_opportunity"):
            continue
        start = step["at"] + MINUTE
        following = steps[position + 1] if position + 1 < len(steps) else None
        end = following["at"] - MINUTE if following else now - 5 * MINUTE
        then = following["name"] if following else None
        entries: list[tuple] = []  # (kind, outcome, note)
        if step["name"] == "accept":
            if then == "qualify":
                failed = rng.randint(0, 3)
                entries = [_failed_attempt(rng) for _ in range(failed)] + [
                    (K.CALL, Outcome.CONNECTED, rng.choice(CONNECTED_NOTES))]
                if rng.random() < 0.5:
                    entries.append((K.EMAIL, "", "Zusammenfassung des Gesprächs und nächste Schritte"))
            elif then == "recycle":
                entries = [_failed_attempt(rng) for _ in range(rng.randint(4, 6))]
            elif then == "disqualify":
                entries = [_failed_attempt(rng) for _ in range(rng.randint(0, 2))] + [
                    (K.CALL, Outcome.CONNECTED, "Gespräch geführt: kein Bedarf / passt nicht ins Profil")]
            else:  # still SAL
                entries = [_failed_attempt(rng) for _ in range(rng.randint(0, 3))]
                if rng.random() < 0.3:
                    entries.append((K.CALL, Outcome.CONNECTED, "Erstgespräch, BANT noch offen"))
        elif step["name"] == "qualify":
            entries = [(K.MEETING, Outcome.CONNECTED, "Demo-Termin mit Fachbereich")]
            if then == "open_opportunity":
                entries.append((K.EMAIL, "", "Angebot und Projektplan versendet"))
            elif then == "recycle":
                entries += [_failed_attempt(rng) for _ in range(rng.randint(3, 5))]
            else:
                entries.append((K.EMAIL, "", rng.choice(EMAIL_NOTES)))
        else:  # opportunity
            entries = [(K.MEETING, Outcome.CONNECTED, "Angebotsbesprechung mit Einkauf und Fachbereich"),
                       (K.EMAIL, "", "Angebot nachgefasst")]
            if then == "win":
                entries.append((K.CALL, Outcome.CONNECTED, "Zusage telefonisch, Vertrag folgt per DocuSign"))
            elif then == "lose":
                entries.append((K.CALL, Outcome.CONNECTED, "Absage erhalten"))
            elif then == "recycle":
                entries += [_failed_attempt(rng) for _ in range(rng.randint(2, 4))]
        times = sorted(_working_time(rng, at, low=start, high=end) for at in _between(rng, start, end, len(entries)))
        logged = [
            _activity(kind, at, outcome=outcome, note=note, created_by=owner)
            for (kind, outcome, note), at in zip(entries, times, strict=False)
        ]
        if logged and tail_open and following is None:  # the rep planned the next step
            logged[-1]["next_step_on"] = timezone.localtime(now).date() + dt.timedelta(days=rng.randint(1, 10))
        plan.activities += logged


def _failed_attempt(rng) -> tuple:
    kind = _weighted(rng, [(K.CALL, 60), (K.EMAIL, 25), (K.LINKEDIN, 15)])
    if kind == K.CALL:
        return kind, _weighted(rng, [(Outcome.NO_ANSWER, 60), (Outcome.VOICEMAIL, 35),
                                     (Outcome.WRONG_NUMBER, 5)]), rng.choice(FAILED_CALL_NOTES)
    if kind == K.EMAIL:
        return kind, Outcome.BOUNCED if rng.random() < 0.05 else "", rng.choice(EMAIL_NOTES)
    return kind, "", "Vernetzungsanfrage mit kurzer Nachricht"


def _consent(rng, plan: LeadPlan, *, origin: Origin, created, now, stage) -> None:
    """The consent log capture would have written (given; confirmed through the double-opt-in link; withdrawn by
    one-click unsubscribe) and the lead's summary derived from it as `privacy.consent` derives it."""
    if rng.random() >= origin.consent_rate:
        return
    wording = {name: wording for name, _c, _s, _k, _t, wording, _d in FORMS}.get(plan.fields["capture_form"])
    wording = wording or CONSENT_CONTACT
    double_opt_in = origin.key == "newsletter"
    ip_address = f"203.0.113.{rng.randint(1, 254)}" if origin.channel == Channel.WEB_FORM else None
    user_agent = rng.choice(USER_AGENTS) if origin.channel == Channel.WEB_FORM else ""
    token_hash = _hash(f"{rng.getrandbits(128):032x}") if double_opt_in else ""
    touchpoint = next((a for a in plan.activities if a.get("submission") == 0), None)
    event = {"purpose": "marketing_email", "requires_confirmation": False, "channel": "", "wording": "",
             "capture_form": None, "submission": None, "page_url": "", "recorded_by": None, "ip_address": None,
             "user_agent": "", "token_hash": "", "mail_sent_at": None, "confirmed_at": None, "note": ""}
    events = [event | {
        "kind": ConsentEvent.Kind.GIVEN, "at": created, "requires_confirmation": double_opt_in,
        "method": METHODS.get(origin.channel, ConsentEvent.Method.MANUAL), "channel": origin.channel,
        "wording": wording, "capture_form": plan.fields["capture_form"], "submission": 0,
        "page_url": touchpoint["url"] if touchpoint else "",
        "recorded_by": "marketing" if origin.channel in (Channel.IMPORT, Channel.MANUAL) else None,
        "ip_address": ip_address, "user_agent": user_agent,
    }]
    confirmed_at = withdrawn_at = None
    if double_opt_in:  # only leads marketing has not worked on yet may still wait for the confirmation
        if rng.random() < 0.8 or stage not in (Stage.KNOWN, Stage.DISQUALIFIED):
            confirmed_at = min(now - MINUTE, created + _hours(rng, 0.01, 20, 0.2))
    if rng.random() < 0.04:
        withdrawn_at = created + (now - created) * rng.uniform(0.3, 0.95)
        if confirmed_at and confirmed_at > withdrawn_at:
            confirmed_at = None  # unsubscribed before confirming
    if confirmed_at:
        events.append(event | {
            "kind": ConsentEvent.Kind.CONFIRMED, "at": confirmed_at, "method": ConsentEvent.Method.EMAIL_LINK,
            "ip_address": ip_address, "user_agent": user_agent, "token_hash": token_hash, "mail_sent_at": created,
            "confirmed_at": confirmed_at,
        })
    if withdrawn_at:
        events.append(event | {
            "kind": ConsentEvent.Kind.WITHDRAWN, "at": withdrawn_at, "method": ConsentEvent.Method.EMAIL_LINK,
            "note": "One-click unsubscribe.",
        })
    plan.consent_events = events
    plan.fields["consent_status"] = consent_log.summary_of(
        consent_log.Step(e["kind"], e["requires_confirmation"], e["purpose"]) for e in events
    )


def _anonymous_visitor(rng, now) -> dict:
    first_seen = now - WINDOW + (WINDOW - HOUR) * rng.random()
    last_possible = min(now - MINUTE, first_seen + _days(rng, 0, 10, 1))
    times = _between(rng, first_seen, last_possible, rng.randint(1, 6)) or [first_seen]
    activities = [
        _activity(K.PRICING_VIEW if page == PRICING else K.PAGE_VIEW, at, url=SITE + page)
        for at, page in ((at, _weighted(rng, [(p, 10) for p in PAGES] + [(PRICING, 12)])) for at in times)
    ]
    return {"anonymous_id": f"{rng.getrandbits(96):024x}", "first_seen_at": times[0], "last_seen_at": times[-1],
            "activities": activities}


def _stray_submissions(rng, count, now) -> list[dict]:
    stray = []
    for number in range(count):
        at = now - WINDOW + (WINDOW - HOUR) * rng.random()
        if number % 3 == 2:
            stray.append({"outcome": Submission.Outcome.SPAM, "at": at, "form": "Kontaktformular Website",
                          "payload": {"email": f"seo{rng.randint(100, 999)}@backlinks-4you.example",
                                      "message": "Best SEO offer!!!", "website": "http://spam.example"},
                          "errors": {}})
        else:
            bad = rng.choice(("max.mustermann@", "info(at)firma.de", ""))
            errors = {"email": ["An e-mail address is required." if not bad else "Enter a valid e-mail address."]}
            stray.append({"outcome": Submission.Outcome.REJECTED, "at": at, "form": "Whitepaper DSGVO",
                          "payload": {"email": bad, "first_name": rng.choice(FIRST_NAMES_F)}, "errors": errors})
    return stray


# --- writing the plan ----------------------------------------------------------------------------------------


def ensure_users() -> dict:
    """The demo users with DEMO_PASSWORD and their role; existing ones are updated. Returns username -> user."""
    password = make_password(settings.DEMO_PASSWORD)  # hashed once: the demo users share the password anyway
    groups = {group.name: group for group in Group.objects.filter(name__in=Role.ALL)}
    missing = set(Role.ALL) - set(groups)
    if missing:
        raise Conflict(f"The role groups {sorted(missing)} are missing: run `manage.py migrate` first.")
    users = {}
    for username, first_name, last_name, role in USERS:
        user, _created = get_user_model().objects.get_or_create(username=username)
        user.first_name, user.last_name = first_name, last_name
        user.email = f"{username}@leadwerk.example"
        user.password = password
        user.is_active = True
        user.is_superuser = role is None
        # Marketing and managers edit forms, campaigns, scoring and routing rules in the admin.
        user.is_staff = role in (None, Role.MARKETING, Role.MANAGER)
        user.save()
        user.groups.set([groups[role]] if role else [])
        users[username] = user
    return users


def ensure_routing(users: dict) -> None:
    """One inside-sales team with the four SDRs and two routing rules in front of the default pool rule."""
    team, _created = Team.objects.update_or_create(
        slug="inside-sales-dach", defaults={"name": "Inside Sales DACH", "manager": users["manager"]}
    )
    hours = {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    for username, weight, territories, specialties in (
        ("sdr1", 2, ["DE"], ["Software", "IT services"]),
        ("sdr2", 2, ["DE", "AT"], ["Maschinenbau", "Automotive"]),
        ("sdr3", 1, ["CH", "AT"], ["Finanzdienstleistungen"]),
        ("sdr4", 1, [], []),
    ):
        Rep.objects.update_or_create(
            user=users[username],
            defaults={"team": team, "capacity": 60, "weight": weight, "territories": territories,
                      "specialties": specialties, "is_available": True, "working_hours": hours,
                      "time_zone": "Europe/Berlin"},
        )
    RoutingRule.objects.update_or_create(
        name="Key accounts: account owner first",
        defaults={"position": 10, "conditions": {"company_size_min": 500, "country": ["DE", "AT", "CH"]},
                  "target_type": "team", "target_team": team, "method": "account_owner_first"},
    )
    RoutingRule.objects.update_or_create(
        name="DACH inbound: weighted round-robin",
        defaults={"position": 20, "conditions": {"region": ["DACH"]}, "target_type": "team",
                  "target_team": team, "method": "weighted_round_robin"},
    )


def ensure_catalogue(now: dt.datetime) -> tuple[dict, dict]:
    """Campaigns (by slug) and capture forms (by name), created or updated."""
    today = timezone.localtime(now).date()
    campaigns = {}
    for slug, name, channel, cost, start, end in CAMPAIGNS:
        campaigns[slug], _created = Campaign.objects.update_or_create(
            slug=slug,
            defaults={"name": name, "channel": channel, "cost": Decimal(cost),
                      "starts_on": today - dt.timedelta(days=start),
                      "ends_on": today - dt.timedelta(days=end) if end is not None else None,
                      "created_at": now - dt.timedelta(days=start + 7)},
        )
    forms = {}
    for name, slug, source, kind, title, wording, double_opt_in in FORMS:
        forms[name], _created = CaptureForm.objects.update_or_create(
            name=name,
            defaults={"campaign": campaigns.get(slug), "source": source, "activity_kind": kind, "title": title,
                      "consent_wording": wording, "double_opt_in": double_opt_in, "allowed_origins": SITE,
                      "thank_you_text": "Vielen Dank! Wir melden uns in Kürze."},
        )
    return campaigns, forms


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ensure_accounts(plan: Plan, users: dict) -> dict:
    """The plan's key accounts with their SDR owners, created or updated; returns domain -> account."""
    accounts = {}
    for spec in plan.accounts:
        accounts[spec["domain"]], _created = Account.objects.update_or_create(
            domain=spec["domain"], defaults={"name": spec["name"], "owner": users[spec["owner"]]}
        )
    return accounts


def load(*, seed: int = 42, leads: int = 600, progress=None) -> dict:
    """Load the demo data into an empty database; returns what was written, by kind. Raises `Invalid` for
    fewer than 20 leads (every stage needs some) and `Conflict` when leads exist already.

    The plan is played through the product's own code on a simulated clock (`config.demo_run`); what scoring,
    routing, the SLA sweep and the sales hand-off decide on the way is what the data shows."""
    if leads < 20:
        raise Invalid.field("leads", "Use at least 20, so that every stage has leads.")
    existing = Lead.objects.count()
    if existing:
        raise Conflict(f"The database already has {existing} leads: demo data not loaded.")
    plan = build_plan(seed=seed, leads=leads, now=timezone.now())
    with transaction.atomic():
        users = ensure_users()
        ensure_routing(users)
        campaigns, forms = ensure_catalogue(plan.now)
        ensure_accounts(plan, users)
        sales_demo.ensure_closing_team(users)
    skipped = demo_run.simulate(plan, users=users, campaigns=campaigns, forms=forms, seed=seed, progress=progress)
    # The nightly rescore, as it ran last night: decayed engagement, the active model's breakdown.
    scores.rescore_all(at=plan.now)
    sales_demo.seed(plan.now, users)
    leads_demo.seed(plan.now, users)
    # Other apps' demo data (one call line each), on the history above:
    engagement_demo.seed(plan.now, users)

    stages: dict[str, int] = dict(Counter(Lead.objects.values_list("stage", flat=True)))
    return {
        "campaigns": len(campaigns), "forms": len(forms), "accounts": Account.objects.count(),
        "leads": Lead.objects.count(), "visitors": Visitor.objects.count(), "activities": Activity.objects.count(),
        "transitions": LeadTransition.objects.count(), "submissions": Submission.objects.count(),
        "consents": Lead.objects.filter(consent_events__isnull=False).distinct().count(),
        "clocks": SlaClock.objects.count(), "notifications": Notification.objects.count(),
        "escalations": SlaEscalation.objects.count(), "stages": stages, "skipped": dict(skipped),
    }
