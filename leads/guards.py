"""Guards: pure predicates on a lead, the inputs of a transition and a few facts.

Each returns None when met, or an `Unmet` with a sentence a user understands.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from core.errors import Unmet
from definitions.models import REASON_OTHER

BANT_FIELDS = ("budget", "authority", "need", "timeline")
MEDDIC_FIELDS = ("metrics", "economic_buyer", "decision_criteria", "decision_process", "identify_pain", "champion")
FRAMEWORK_FIELDS = {"bant": BANT_FIELDS, "meddic": MEDDIC_FIELDS}


@dataclass(frozen=True)
class Facts:
    """What guards may know beyond the lead row; built by `leads.lifecycle` inside the lock."""

    today: dt.date
    mql_threshold: int
    has_hot_intent: bool = False
    has_connected_conversation: bool = False
    has_activity_since_close: bool = False
    actor_id: int | None = None
    actor_is_manager: bool = False
    actor_is_sdr: bool = False
    framework: str = "bant"
    extra: dict = field(default_factory=dict)


def _reason(inputs: dict) -> list[Unmet]:
    """A reason code from the transition's list (`definitions`); "other" needs a few words too. A free text
    without a code counts as "other" (`leads.lifecycle` sets the code before the guard)."""
    code = str(inputs.get("reason_code") or "").strip()
    if not code:
        return [Unmet("reason_missing", _("Give a reason."))]
    if code == REASON_OTHER and not str(inputs.get("reason") or "").strip():
        return [Unmet("reason_text_missing", _("Say in a few words why (the reason is “other”)."))]
    return []


def mark_mql(lead, inputs: dict, facts: Facts) -> list[Unmet]:
    unmet = []
    if lead.score < facts.mql_threshold and not facts.has_hot_intent:
        unmet.append(
            Unmet(
                "score_below_threshold",
                _(
                    "The score is %(score)s, below the MQL threshold of %(threshold)s, and there is no "
                    "high-intent activity (a demo or contact request, or 3 pricing-page views within 7 days)."
                )
                % {"score": lead.score, "threshold": facts.mql_threshold},
            )
        )
    if not lead.email_normalized or "@" not in lead.email_normalized:
        unmet.append(Unmet("email_invalid", _("The lead has no valid e-mail address, so nobody can contact it.")))
    return unmet


def accept(lead, inputs: dict, facts: Facts) -> list[Unmet]:
    if lead.owner_id is None and facts.actor_is_sdr:
        return []  # the acting SDR claims it from the pool in the same step
    if lead.owner_id is None:
        return [Unmet("no_owner", _("The lead has no owner yet: claim it from the pool or assign it first."))]
    if lead.owner_id != facts.actor_id and not facts.actor_is_manager:
        return [Unmet("not_owner", _("Only the lead's owner can accept it."))]
    return []


def reject(lead, inputs: dict, facts: Facts) -> list[Unmet]:
    return _reason(inputs)


def qualify(lead, inputs: dict, facts: Facts) -> list[Unmet]:
    """BANT, or MEDDIC for teams set to it; and a real conversation."""
    labels = {
        "budget": _("Budget is not answered."),
        "authority": _("Authority (who decides) is not answered."),
        "need": _("Need is not answered."),
        "timeline": _("Timeline is not answered."),
        "metrics": _("Metrics (the measurable gain) are not answered."),
        "economic_buyer": _("The economic buyer is not named."),
        "decision_criteria": _("The decision criteria are not answered."),
        "decision_process": _("The decision process is not answered."),
        "identify_pain": _("The pain is not identified."),
        "champion": _("No champion is named."),
    }
    unmet = [
        Unmet(f"{name}_missing", labels[name])
        for name in FRAMEWORK_FIELDS.get(facts.framework, BANT_FIELDS)
        if not str(inputs.get(name, getattr(lead, name)) or "").strip()
    ]
    if not facts.has_connected_conversation:
        unmet.append(
            Unmet(
                "no_conversation",
                _("No conversation is logged yet: log a call or meeting with the outcome “connected”."),
            )
        )
    return unmet


def open_opportunity(lead, inputs: dict, facts: Facts) -> list[Unmet]:
    unmet = []
    value = inputs.get("deal_value", lead.deal_value)
    if value is None or Decimal(value) <= 0:
        unmet.append(Unmet("deal_value_missing", _("Enter a deal value greater than 0.")))
    close_date = inputs.get("close_date", lead.close_date)
    if close_date is None:
        unmet.append(Unmet("close_date_missing", _("Enter a forecast close date.")))
    elif close_date < facts.today:
        unmet.append(Unmet("close_date_past", _("The forecast close date must be today or later.")))
    return unmet


def win(lead, inputs: dict, facts: Facts) -> list[Unmet]:
    if inputs.get("contract_signed_on", lead.contract_signed_on) is None:
        return [Unmet("contract_date_missing", _("Enter the date the contract was signed."))]
    return []


def lose(lead, inputs: dict, facts: Facts) -> list[Unmet]:
    return _reason(inputs)


def recycle(lead, inputs: dict, facts: Facts) -> list[Unmet]:
    return _reason(inputs)


def disqualify(lead, inputs: dict, facts: Facts) -> list[Unmet]:
    return _reason(inputs)


def reopen(lead, inputs: dict, facts: Facts) -> list[Unmet]:
    """Back into the funnel: the lead did something after it was closed, and someone says why."""
    unmet = []
    if not facts.has_activity_since_close:
        unmet.append(Unmet("no_new_activity", _("The lead has shown no activity since it was closed.")))
    if not str(inputs.get("reason") or "").strip():
        unmet.append(Unmet("reason_missing", _("Give a reason.")))
    return unmet


GUARDS = {
    "mark_mql": mark_mql,
    "accept": accept,
    "reject": reject,
    "qualify": qualify,
    "open_opportunity": open_opportunity,
    "win": win,
    "lose": lose,
    "recycle": recycle,
    "disqualify": disqualify,
    "reopen": reopen,
}

# The inputs each transition takes (everything else in a request body is refused).
INPUTS = {
    "mark_mql": (),
    "accept": (),
    "reject": ("reason_code", "reason"),
    "qualify": BANT_FIELDS + MEDDIC_FIELDS,
    "open_opportunity": ("deal_value", "close_date"),
    "win": ("contract_signed_on",),
    "lose": ("reason_code", "reason"),
    "recycle": ("reason_code", "reason"),
    "disqualify": ("reason_code", "reason"),
    "reopen": ("reason",),
}


# Each guard in words, for the lifecycle document and the Definitions page (hot intent: the default rule).
IN_WORDS = {
    "mark_mql": _l("score at or above the MQL threshold, or a hot-intent activity (demo or contact request since "
        "entering the stage, or 3 pricing-page views within 7 days); a valid e-mail"),
    "accept": _l("the acting SDR owns the lead (an unowned pool lead is claimed in the same step); a manager may "
        "accept for the owner"),
    "reject": _l("a reason code from the list (with a few words for “other”)"),
    "qualify": _l("BANT answered (budget, authority, need, timeline) and a call or meeting logged as connected"),
    "open_opportunity": _l("deal value > 0 and a forecast close date today or later"),
    "win": _l("the contract signed date"),
    "lose": _l("a reason code from the list (with a few words for “other”)"),
    "recycle": _l("a reason code from the list (with a few words for “other”)"),
    "disqualify": _l("a reason code from the list (with a few words for “other”)"),
    "reopen": _l("an activity after the lead was closed, and a reason (the system reopens it by itself on a new "
        "hot-intent activity, then hands it off as an MQL)"),
}
