"""The account of a captured lead: matched or created from the company domain, else matched by company name.

One home for the rule, used by the single capture (`capture.submissions`) and the bulk path (`capture.bulk`,
the CSV import) alike, in a fixed number of statements for any number of leads (`accounts_for`):

1. **A corporate domain** (the website's, else the e-mail's; `validation.company_domain`): the account with
   that domain, or a new one (named after the company given, else the domain), `made_at_capture`. Free-mail
   and competitor domains (`COMPETITOR_DOMAINS`) never make an account and never match one.
2. **No corporate domain but a company name** (free-mail address, competitor domain): the best fuzzy match of
   the company name among the accounts' names (`name_key` + rapidfuzz's `token_sort_ratio` at least
   `ACCOUNT_NAME_MATCH_SCORE`). Candidates are the accounts whose name contains the longest word of the given
   name (one query). Ties are broken, in this order, by: the higher score; the same name once legal forms,
   case, accents and punctuation are set aside; an account that has an owner (routing has someone to send to);
   the account with more leads; the older account (lower id). No match: no account (a name alone makes none:
   an account is keyed by its domain).

Creation is `INSERT ... ON CONFLICT DO NOTHING` and a second read; `claim_made` then records the lead an account
was made for (`Account.made_for`; a lead merge moves it, erasure reads it): two captures of one new domain at once make
one account. See docs/sales.md.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, OuterRef, Q, Subquery
from rapidfuzz import fuzz

from leads.models import Account, Lead
from leads.validation import is_free_mail

# Legal forms and filler words that do not tell two companies apart ("Quixo Firma GmbH" = "quixo firma").
LEGAL_FORMS = frozenset(
    """gmbh mbh ag se kg ohg gbr ug kgaa eg ev co cokg inc incorporated ltd limited llc llp plc corp corporation
    company sa sas sarl srl spa bv nv ab oy as aps haftungsbeschrankt the und and""".split()
)
CANDIDATE_LIMIT = 200
_WORD = re.compile(r"[a-z0-9]+")
_TRANSLITERATE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


@dataclass(frozen=True)
class Wanted:
    """What a captured lead offers for its account: its company domain (may be empty) and company name."""

    domain: str
    company: str = ""


def account_domain(domain: str) -> str:
    """The domain if it may name an account: not empty, not free mail, not a competitor's."""
    domain = (domain or "").strip().lower()
    if not domain or is_free_mail(domain) or domain in settings.COMPETITOR_DOMAINS:
        return ""
    return domain


def name_key(name: str) -> str:
    """The company name without case, accents, punctuation and legal forms: "Müller & Co. KG" -> "mueller"."""
    text = unicodedata.normalize("NFKD", (name or "").casefold().translate(_TRANSLITERATE))
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = [word for word in _WORD.findall(text) if word not in LEGAL_FORMS]
    return " ".join(words)


def _longest_word(name: str) -> str:
    words = sorted(_WORD.findall((name or "").casefold()), key=lambda w: (-len(w), w))
    return words[0] if words and len(words[0]) >= 3 else ""


def best_by_name(company: str, candidates: list[tuple[int, str, bool, int]]) -> int | None:
    """The id of the account whose name matches `company` best, by the tie-breakers above, or None.

    `candidates`: (id, name, has_owner, lead count). Pure: tests call it without a database."""
    key = name_key(company)
    if len(key) < 3:
        return None
    threshold = settings.ACCOUNT_NAME_MATCH_SCORE
    ranked = []
    for pk, name, has_owner, leads in candidates:
        other = name_key(name)
        if not other:
            continue
        score = fuzz.token_sort_ratio(key, other)
        if score >= threshold:
            ranked.append((-score, other != key, not has_owner, -leads, pk))
    return min(ranked)[-1] if ranked else None


def accounts_for(wanted: list[Wanted]) -> list[int | None]:
    """The account id for each wanted (None: no account), creating the accounts of new corporate domains.

    At most four statements whatever the length of `wanted` (one when every domain has its account)."""
    return resolve(wanted)[0]


def resolve(wanted: list[Wanted]) -> tuple[list[int | None], set[int]]:
    """`accounts_for`, and the ids of the accounts it made now (their lead is recorded by `claim_made`)."""
    domains = [account_domain(w.domain) for w in wanted]
    names = {}
    for w, domain in zip(wanted, domains, strict=True):
        if domain and domain not in names:
            names[domain] = (w.company or "").strip()[:200] or domain
    by_domain = dict(Account.objects.filter(domain__in=list(names)).values_list("domain", "pk")) if names else {}
    missing = [d for d in sorted(names) if d not in by_domain]
    made: set[int] = set()
    if missing:
        Account.objects.bulk_create(
            [Account(domain=d, name=names[d], made_at_capture=True) for d in missing], ignore_conflicts=True
        )
        fresh = dict(Account.objects.filter(domain__in=missing).values_list("domain", "pk"))
        by_domain.update(fresh)
        made = set(fresh.values())
    by_name = _match_names({w.company for w, domain in zip(wanted, domains, strict=True) if not domain})
    ids = [
        by_domain.get(domain) if domain else by_name.get(w.company) for w, domain in zip(wanted, domains, strict=True)
    ]
    return ids, made


def account_id_for(*, domain: str, company: str = "") -> tuple[int | None, bool]:
    """The account of one captured lead (`accounts_for` with one), and whether it was made now."""
    ids, made = resolve([Wanted(domain=domain, company=company)])
    return ids[0], ids[0] in made


def claim_made(lead_ids: list[int]) -> None:
    """Record which new lead an account made at capture was made for (the lead did not exist yet when the
    account was made): the lowest of `lead_ids` at it. One statement; accounts that know theirs keep it."""
    if not lead_ids:
        return
    first = Lead.objects.filter(account_id=OuterRef("pk"), pk__in=lead_ids).order_by("pk").values("pk")[:1]
    Account.objects.filter(leads__in=lead_ids, made_at_capture=True, made_for__isnull=True).update(
        made_for_id=Subquery(first)
    )


def _match_names(companies: set[str]) -> dict[str, int | None]:
    """Company name -> matching account id, from one query for the candidates of every name."""
    words = {company: _longest_word(company) for company in companies if company}
    wanted_words = sorted({word for word in words.values() if word})
    if not wanted_words:
        return {}
    condition = Q()
    for word in wanted_words:
        condition |= Q(name__icontains=word)
    rows = list(
        Account.objects.filter(condition)
        .exclude(domain__endswith=".invalid")  # erased accounts match nobody
        .annotate(n=Count("leads"))
        .order_by("pk")
        .values_list("pk", "name", "owner_id", "n")[: CANDIDATE_LIMIT * len(wanted_words)]
    )
    candidates = [(pk, name, owner is not None, n) for pk, name, owner, n in rows]
    return {
        company: best_by_name(company, [c for c in candidates if word in c[1].casefold()])
        for company, word in words.items()
        if word
    }
