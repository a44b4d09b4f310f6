"""The sales app's personal data in the privacy registry: what an erasure leaves of contacts, opportunities,
their stage log and an account made for the person alone.

Registered from `SalesConfig.ready` (privacy sits below sales and cannot import it). Erasure runs inside
`privacy.rights.erase`'s transaction, after the lead itself was anonymised:
- the person's contact goes, and with it their stakeholder roles;
- their opportunities keep the figures (value, currency, stage, dates, owner, outcome: the pipeline and the
  forecast do not change) and lose the words: the name (copied from the company), next step, lost reason,
  the routing trace's reason, the free-text reasons of the stage log;
- an account made at capture (`Account.made_at_capture`) for the person (their account, or one made for a
  duplicate merged into them: `Account.made_for`) that holds no other person who is not erased is anonymised
  (its domain may be a private address's); so are the undo records of account merges that moved only them.
  An account made by hand (admin, API, a manager) is company data and stays.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from leads.models import Account, Lead
from privacy.registry import ERASED, Table, register
from sales.models import AccountMerge, Contact, Opportunity, OpportunityStageChange, Stakeholder

TRACE_KEPT = ("rule", "method", "chosen_by", "owner", "at")


def erase_contacts(lead: Lead, now) -> None:
    Contact.objects.filter(lead=lead).delete()  # stakeholders cascade


def erase_opportunities(lead: Lead, now) -> None:
    for opportunity in Opportunity.objects.filter(lead=lead).only("pk", "lost_reason", "assignment"):
        Opportunity.objects.filter(pk=opportunity.pk).update(
            name=_("Opportunity #%(id)s (erased)") % {"id": opportunity.pk},
            next_step="",
            lost_reason=ERASED if opportunity.lost_reason else "",
            assignment={k: v for k, v in (opportunity.assignment or {}).items() if k in TRACE_KEPT},
        )


def erase_stage_log(lead: Lead, now) -> None:
    OpportunityStageChange.objects.filter(opportunity__lead=lead).exclude(reason="").update(reason=ERASED)


def erase_accounts(lead: Lead, now) -> None:
    """The account made at capture for this person alone goes anonymous (its undo records of merges too)."""
    made = Account.objects.filter(made_at_capture=True).filter(Q(pk=lead.account_id) | Q(made_for=lead))
    for account in made:  # its own, and those made for duplicates merged into it (the merge moved `made_for`)
        _erase_if_alone(account, lead)
    for merge in AccountMerge.objects.filter(moved__leads__contains=[lead.pk]):
        others = [pk for pk in merge.moved.get("leads", []) if pk != lead.pk]
        if not Lead.objects.filter(pk__in=others, erased_at__isnull=True).exists():
            AccountMerge.objects.filter(pk=merge.pk).update(
                merged_domain=f"{ERASED}-merge-{merge.pk}.invalid",
                merged_name=_("Account (erased)"),
            )


def _erase_if_alone(account: Account | None, lead: Lead) -> None:
    if account is None:
        return
    others = account.leads.exclude(pk=lead.pk).filter(erased_at__isnull=True)
    if others.exists():
        return
    Account.objects.filter(pk=account.pk).update(
        domain=f"{ERASED}-{account.pk}.invalid", name=_("Account #%(id)s (erased)") % {"id": account.pk}
    )


def register_tables() -> None:
    register(
        Table(
            Contact,
            "lead",
            (),
            ("id", "account", "created_at"),
            category="The person as a contact at their company's account",
            purpose="Sales: the people of a deal",
            retention="With the lead; deleted on erasure (with their stakeholder roles)",
            erase=erase_contacts,
        )
    )
    register(
        Table(
            Stakeholder,
            "contact__lead",
            (),
            ("id", "opportunity", "role"),
            category="The person's role in a deal (economic buyer, champion, ...)",
            purpose="Sales: MEDDIC's economic buyer and champion are people",
            retention="With the lead; deleted on erasure",
        )
    )
    register(
        Table(
            Opportunity,
            "lead",
            ("name", "next_step", "lost_reason", "assignment"),
            ("id", "stage", "outcome", "value", "currency", "close_date", "created_at", "closed_at"),
            category="Opportunities of the person: name (from the company), next step, lost reason, routing trace",
            purpose="Sales: pipeline and forecast",
            retention="With the lead; on erasure the words go, the figures stay (pipeline and forecast unchanged)",
            erase=erase_opportunities,
        )
    )
    register(
        Table(
            OpportunityStageChange,
            "opportunity__lead",
            ("reason",),
            ("id", "name", "source", "target", "at"),
            category="Stage log of the person's opportunities: free-text reasons",
            purpose="Sales: velocity, slipped deals",
            retention="With the lead; reasons erased, the log stays for the figures",
            erase=erase_stage_log,
        )
    )
    register(
        Table(
            Account,
            "leads",
            ("domain", "name"),
            ("id", "made_at_capture"),
            category="The company account of the person (domain and name)",
            purpose="Routing to the account owner; sales",
            retention=(
                "Company data; an account made at capture that holds no other person is anonymised with its "
                "last person (its domain may be a private address's), as are the undo records of its merges"
            ),
            erase=erase_accounts,
        )
    )
