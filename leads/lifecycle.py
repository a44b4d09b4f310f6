"""The only code that fires lifecycle transitions and changes owners.

Every function: lock the lead row, check permission, parse inputs, check guards, fire, save, write the
`LeadTransition` row, start and stop the lead's SLA clocks (`leads.clocks`), and enqueue side effects on
commit. A refusal changes nothing.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg import sql

from core import dates
from core.errors import Conflict, Invalid, NotFound, NotPermitted, Refused
from core.parsers import bad_text
from core.tasks import enqueue_on_commit
from core.vocabulary import REASON_TRANSITIONS, ActivityKind, EventType, NotificationKind, Outcome, Role, Stage
from definitions import rules
from definitions.models import REASON_OTHER
from leads import clocks, guards, performance, roles
from leads.models import Account, Activity, Lead, LeadTransition, Notification
from leads.validation import email_domain, website_domain
from outbox import events as outbox_events
from routing import policy as routing_policy
from routing import rotation as routing_rotation
from routing import selectors as routing_selectors
from routing.models import Rep
from scoring.models import ScoringModel
from scoring.policy import ModelSpec as ScoringModelSpec


class LeadNotFound(NotFound):
    """No such lead (or transition), or one the caller may not see."""


class TransitionRefused(Refused):
    """The transition exists and is permitted, but guards are unmet (or the lead is in the wrong stage)."""


def _declared_transitions() -> dict[str, tuple[tuple[str, ...], str]]:
    """name -> (sources, target), read from the FSM declarations on `Lead`, in declaration order."""
    found: dict[str, tuple[list[str], str]] = {}
    for t in Lead._meta.get_field("stage").get_all_transitions(Lead):
        sources, target = found.setdefault(t.name, ([], t.target))
        sources.append(t.source)
    order = list(guards.GUARDS)
    return {name: (tuple(found[name][0]), found[name][1]) for name in order if name in found}


TRANSITIONS = _declared_transitions()


# --- reading helpers ------------------------------------------------------------------------------------


def transitions_from(stage: str) -> list[str]:
    return [name for name, (sources, _target) in TRANSITIONS.items() if stage in sources]


def available_transitions(user, lead: Lead) -> list[str]:
    """Transitions this user may fire on this lead from its current stage, in declaration order."""
    return [name for name in transitions_from(lead.stage) if roles.may_fire(user, lead, name)]


def has_hot_intent(lead: Lead, *, now: dt.datetime | None = None, activities=None) -> bool:
    """The hot-intent rule the teams agreed on (`definitions`; by default a demo or contact request since
    the lead entered its stage, or 3 pricing-page views within 7 days).

    `activities`: the lead's whole activity log as (kind, occurred_at) pairs when the caller has it (a lead
    just created); nothing is read then.
    """
    now = now or timezone.now()
    rule = rules.hot_intent()
    since = now - dt.timedelta(days=rule.within_days)
    if activities is not None:
        if any(kind in rule.kinds and at >= lead.stage_entered_at for kind, at in activities):
            return True
        return sum(kind == ActivityKind.PRICING_VIEW and at >= since for kind, at in activities) >= rule.pricing_views
    activities = Activity.objects.filter(lead_id=lead.pk)
    if rule.kinds and activities.filter(kind__in=rule.kinds, occurred_at__gte=lead.stage_entered_at).exists():
        return True
    views = activities.filter(kind=ActivityKind.PRICING_VIEW, occurred_at__gte=since)
    return views.count() >= rule.pricing_views


def mql_threshold(spec: ScoringModelSpec | None = None) -> int:
    """The threshold of `spec` (default: the active scoring model's); the MQL_SCORE_THRESHOLD setting only
    when no model is active."""
    spec = spec or ScoringModel.active_spec()
    return spec.mql_threshold if spec is not None else settings.MQL_SCORE_THRESHOLD


def qualification_framework(lead: Lead) -> str:
    """BANT, or MEDDIC when the owner's team is set to it."""
    return routing_selectors.qualification_framework_for(lead.owner_id)


def _facts(lead: Lead, name: str, by, *, threshold: int | None = None, hot_intent: bool | None = None) -> guards.Facts:
    """What the guards need besides the lead. `threshold` and `hot_intent`, when the caller already knows
    them (capture), save their queries."""
    is_mark_mql = name == "mark_mql"
    return guards.Facts(
        today=timezone.localdate(),
        mql_threshold=(threshold if threshold is not None else mql_threshold()) if is_mark_mql else 0,
        has_hot_intent=(hot_intent if hot_intent is not None else has_hot_intent(lead)) if is_mark_mql else False,
        has_connected_conversation=(
            Activity.objects.filter(
                lead_id=lead.pk, kind__in=[ActivityKind.CALL, ActivityKind.MEETING], outcome=Outcome.CONNECTED
            ).exists()
            if name == "qualify"
            else False
        ),
        has_activity_since_close=(
            Activity.objects.filter(lead_id=lead.pk, occurred_at__gt=lead.stage_entered_at).exists()
            if name == "reopen"
            else False
        ),
        actor_id=by.pk if by else None,
        actor_is_manager=roles.is_manager(by) if by else True,
        actor_is_sdr=roles.is_sdr(by) if by else False,
        framework=qualification_framework(lead) if name == "qualify" else "bant",
    )


# --- input parsing (types and lengths; presence is a guard) --------------------------------------------


def parse_inputs(name: str, raw: dict | None) -> dict:
    """Turn a request body into typed transition inputs; unknown or malformed fields raise Invalid."""
    raw = dict(raw or {})
    allowed = set(guards.INPUTS[name])
    errors: dict[str, list[str]] = {}
    parsed: dict = {}
    for key, value in raw.items():
        if key not in allowed:
            errors[key] = [_("Unknown field for this transition.")]
            continue
        if value is None or value == "":
            continue
        if key == "deal_value":
            if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
                errors[key] = [_("Enter a number.")]
                continue
            try:
                number = Decimal(str(value))
            except (InvalidOperation, ValueError):
                errors[key] = [_("Enter a number.")]
                continue
            # adjusted() first: abs() of 1e999999999 overflows the decimal context
            if not number.is_finite() or number.adjusted() >= 12:
                errors[key] = [_("Enter a number below 1,000,000,000,000.")]
                continue
            parsed[key] = number.quantize(Decimal("0.01"))
        elif key == "reason_code":
            if not isinstance(value, str) or bad_text(value) or len(value) > 40:
                errors[key] = [_("Unknown reason code for this transition.")]
                continue
            parsed[key] = value.strip()
        elif key in ("close_date", "contract_signed_on"):
            day = parse_day(value)
            if day is None:
                errors[key] = [_("Enter a date as YYYY-MM-DD.")]
                continue
            if not dates.in_window(day):
                errors[key] = [dates.out_of_window()]
                continue
            parsed[key] = day
        else:
            if not isinstance(value, str):
                errors[key] = [_("Enter text.")]
                continue
            if bad_text(value):
                errors[key] = [bad_text(value)]
                continue
            if len(value) > 2000:
                errors[key] = [_("Keep it under 2000 characters.")]
                continue
            parsed[key] = value.strip()
    if errors:
        raise Invalid(errors)
    return parsed


def parse_day(value) -> dt.date | None:
    """A date from a date object or a YYYY-MM-DD string; None when it is neither."""
    return dates.parse_day(value)


def with_reason_code(name: str, values: dict) -> dict:
    """The reason code of a transition that takes a reason, checked against the transition's list: a free
    text without a code counts as "other" (the API before reason codes, free-text reasons of old); an
    unknown or no longer offered code raises Invalid naming it."""
    if name not in REASON_TRANSITIONS:
        return values
    code = values.get("reason_code") or ""
    if not code and values.get("reason"):
        code = REASON_OTHER
    if code and rules.reason(name, code) is None:
        raise Invalid({"reason_code": [
            _("“%(code)s” is not a reason code for %(transition)s.") % {"code": code, "transition": name}
        ]})
    return {**values, "reason_code": code} if code else values


def system_reason_code(name: str, preferred: str) -> str:
    """The code the system gives its own setbacks (the recycling rule, SLA escalations): `preferred` while
    it is offered, else "other" (with the system's words as the text)."""
    return preferred if rules.reason(name, preferred) is not None else REASON_OTHER


def reason_text(name: str, values: dict) -> str:
    """What the lead and its history keep as the reason in words: the free text as written, or the code's
    label when there is none (the code itself is kept in the transition's data, `reason_code`)."""
    text = (values.get("reason") or "").strip()
    code = values.get("reason_code") or ""
    return text or (rules.reason_label(name, code) if code else "")


def _audit_data(inputs: dict) -> dict:
    out = {}
    for key, value in inputs.items():
        if key == "reason":
            continue
        out[key] = value.isoformat() if isinstance(value, dt.date) else str(value)
    return out


# --- firing ---------------------------------------------------------------------------------------------


def _lock(lead_id) -> Lead:
    try:
        return Lead.objects.select_for_update().get(pk=lead_id)
    except (Lead.DoesNotExist, ValueError, TypeError):
        raise LeadNotFound(_("No such lead."))


@transaction.atomic
def fire(*, lead_id: int, name: str, by, inputs: dict | None = None, parsed: dict | None = None) -> Lead:
    """Fire transition `name` on a lead as user `by` (None: the system)."""
    if name not in TRANSITIONS:
        raise LeadNotFound(_("No such transition."))
    return _fire_locked(_lock(lead_id), name=name, by=by, inputs=inputs, parsed=parsed)


SALES_TRANSITIONS = ("open_opportunity", "win", "lose")


@transaction.atomic
def fire_for_sales(*, lead_id: int, name: str, by, inputs: dict | None = None) -> Lead:
    """`fire` for the sales app closing an opportunity: it has checked that `by` may (the account executive
    who owns the opportunity, or a manager), so the lead's owner rule is not asked again; guards are."""
    if name not in SALES_TRANSITIONS:
        raise LeadNotFound(_("No such transition."))
    return _fire_locked(_lock(lead_id), name=name, by=by, inputs=inputs, permission_checked=True)


def _fire_locked(
    lead: Lead, *, name: str, by, inputs: dict | None = None, parsed: dict | None = None,
    threshold: int | None = None, hot_intent: bool | None = None, permission_checked: bool = False,
) -> Lead:
    """`fire` on a lead the caller has locked and read in this transaction. Refusals raise before any write."""
    if not permission_checked and not roles.may_fire(by, lead, name):
        raise NotPermitted(_("You may not %(transition)s this lead.") % {"transition": name.replace("_", " ")})
    values = with_reason_code(name, parsed if parsed is not None else parse_inputs(name, inputs))
    sources, target = TRANSITIONS[name]
    if lead.stage not in sources:
        raise TransitionRefused(
            _("The lead is in stage %(stage)s; %(transition)s is not possible from there.")
            % {"stage": lead.get_stage_display(), "transition": name},
            [guards.Unmet("wrong_stage", _("The lead is not in a stage this transition starts from."))],
        )
    unmet = guards.GUARDS[name](lead, values, _facts(lead, name, by, threshold=threshold, hot_intent=hot_intent))
    if unmet:
        raise TransitionRefused(_("The transition %(transition)s is not possible yet.") % {"transition": name}, unmet)

    now = timezone.now()
    if name == "accept" and lead.owner_id is None and by is not None:
        _change_owner(lead, new_owner=by, by=by, name="claim", now=now)
    source = lead.stage
    if name in REASON_TRANSITIONS:
        values = {**values, "reason": reason_text(name, values)}
    getattr(lead, name)(**values)
    lead.stage_entered_at = now
    if name == "mark_mql":  # speed to lead counts from here, again after a recycled lead re-engages
        lead.became_mql_at, lead.mql_assigned_at, lead.first_contact_at = now, None, None
        if lead.owner_id is not None:
            lead.mql_assigned_at = now
    lead.save()
    LeadTransition.objects.create(
        lead=lead, name=name, source=source, target=lead.stage, actor=by,
        reason=values.get("reason", ""), data=_audit_data(values), at=now,
    )
    outbox_events.record(
        EventType.LEAD_STAGE_CHANGED, lead_id=lead.pk, actor_id=by.pk if by else None,
        payload={"transition": name, "source": source, "target": lead.stage},
    )
    clocks.on_transition(lead, name=name, source=source, now=now)
    if name == "mark_mql" and lead.owner_id is None:
        route(lead, now=now)
    return lead


def try_mark_mql(
    *, lead: Lead, locked: bool = False, threshold: int | None = None, hot_intent: bool | None = None
) -> bool:
    """Fire mark_mql as the system when its guards pass; used after capture and new activity.

    `locked=True`: the caller holds the lead's row lock in its transaction and `lead` is current, so it is
    fired on as it is instead of being locked and read again (capture passes the lead it wrote). The
    caller may pass the MQL `threshold` and whether the lead shows `hot_intent` when it knows them.
    """
    if lead.stage not in TRANSITIONS["mark_mql"][0]:
        return False
    if not locked:
        try:
            fire(lead_id=lead.pk, name="mark_mql", by=None, parsed={})
        except TransitionRefused:
            return False
        return True
    with transaction.atomic(savepoint=False):  # no savepoint: a refusal raises before anything is written
        try:
            _fire_locked(lead, name="mark_mql", by=None, parsed={}, threshold=threshold, hot_intent=hot_intent)
        except TransitionRefused:
            return False
    return True


def hand_off_crossed(lead_ids, *, now: dt.datetime | None = None) -> int:
    """After a bulk rescore (a model activation, the nightly decay run): the leads whose score now crosses
    the MQL threshold are handed off as a live activity would do it: mark_mql as the system, one lead at a
    time (its row lock, guards, audit row, SLA clocks, routing, notifications on commit). Leads that moved
    on meanwhile are refused by the guard and skipped. Returns how many were handed off."""
    handed = 0
    for lead_id in lead_ids:
        try:
            fire(lead_id=lead_id, name="mark_mql", by=None, parsed={})
        except (TransitionRefused, LeadNotFound):
            continue
        handed += 1
    return handed


def try_reopen(*, lead: Lead, activity: Activity) -> bool:
    """A lost or disqualified lead shows hot intent again (`definitions.rules.hot_intent`: a demo or contact
    request, by default): the system reopens it (back to known), with the activity as the reason. The
    caller holds the lead's row lock and `lead` is current; the MQL hand-off is the caller's next step."""
    if lead.stage not in TRANSITIONS["reopen"][0] or activity.kind not in rules.hot_intent().kinds:
        return False
    if activity.occurred_at <= lead.stage_entered_at:
        return False  # an activity from before the close does not reopen it
    reason = _("%(kind)s after the lead was %(stage)s") % {
        "kind": activity.get_kind_display(), "stage": lead.get_stage_display().lower(),
    }
    with transaction.atomic(savepoint=False):  # no savepoint: a refusal raises before anything is written
        try:
            _fire_locked(lead, name="reopen", by=None, parsed={"reason": reason})
        except TransitionRefused:
            return False
    return True


# --- owners ---------------------------------------------------------------------------------------------


def _change_owner(lead: Lead, *, new_owner, by, name: str, now: dt.datetime, trace=None) -> LeadTransition:
    """Set the owner, keep why (the routing trace, or who did it by hand), log it, notify the new owner."""
    old_owner = lead.owner
    lead.owner = new_owner
    lead.assigned_at = now if new_owner else None
    update_fields = ["owner", "assigned_at", "assignment", "updated_at"]
    if new_owner is not None and lead.stage == Stage.MQL and lead.mql_assigned_at is None:
        lead.mql_assigned_at = now
        update_fields.append("mql_assigned_at")
    if trace is None:
        actor = by.get_username() if by else "system"
        reasons = {
            "claim": _("claimed from the pool by %(actor)s"),
            "assign": _("assigned by %(actor)s"),
            "release": _("released to the pool by %(actor)s"),
        }
        trace = {
            "rule": "", "method": name, "chosen_by": name,
            "owner": new_owner.get_username() if new_owner else None,
            "reason": reasons[name] % {"actor": actor}, "skipped": [], "at": now.isoformat(),
        }
    lead.assignment = trace
    lead.save(update_fields=update_fields)
    entry = LeadTransition.objects.create(
        lead=lead, name=name, source=lead.stage, target=lead.stage, actor=by, at=now,
        reason=trace["reason"] if by is None else "",  # the routing decision says why; people act as themselves
        data={
            "from_owner": old_owner.get_username() if old_owner else None,
            "to_owner": new_owner.get_username() if new_owner else None,
            "rule": trace.get("rule", ""),
            "method": trace.get("method", name),
        },
    )
    outbox_events.record(
        EventType.LEAD_OWNER_CHANGED, lead_id=lead.pk, actor_id=by.pk if by else None,
        payload={
            "change": name, "from_owner": old_owner.pk if old_owner else None,
            "to_owner": new_owner.pk if new_owner else None, "rule": trace.get("rule", ""),
        },
    )
    clocks.on_owner_change(lead, now=now)
    if new_owner is not None and new_owner != by:
        notify(
            user=new_owner, lead=lead, kind=NotificationKind.ASSIGNMENT, key=f"assignment:{entry.pk}",
            message=_assignment_message(lead, by=by, trace=trace),
        )
    return entry


def _assignment_message(lead: Lead, *, by, trace: dict) -> str:
    """What happened, by whom and why: the person who assigned it, or routing with its reason."""
    if by is not None:
        return _("%(lead)s was assigned to you by %(actor)s.") % {
            "lead": lead.display_name, "actor": by.get_full_name() or by.get_username(),
        }
    reason = trace.get("reason") or ""
    rule = trace.get("rule") or ""
    why = f"{rule}: {reason}" if rule and rule not in reason else reason
    if not why:
        return _("%(lead)s was assigned to you by routing.") % {"lead": lead.display_name}
    return _("%(lead)s was assigned to you by routing: %(why)s") % {"lead": lead.display_name, "why": why}


def _notify_once_sql() -> sql.Composed:
    """One notification per key in one statement: the ORM's create would raise on a duplicate key (and
    poison the transaction), and get_or_create costs a savepoint and a second statement."""
    opts = Notification._meta
    columns = [opts.get_field(name).column for name in ("user", "lead", "key", "kind", "message", "created_at")]
    return sql.SQL(
        "INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT ({key}) DO NOTHING RETURNING {id}"
    ).format(
        table=sql.Identifier(opts.db_table), columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join([sql.Placeholder()] * len(columns)), key=sql.Identifier(columns[2]),
        id=sql.Identifier(opts.pk.column),
    )


NOTIFY_ONCE_SQL = _notify_once_sql()


def notify(*, user, lead: Lead | None, kind: str, key: str, message: str) -> Notification | None:
    """An in-app notification plus its e-mail (sent on commit by the worker); once per key.

    One statement: the insert does nothing when the key exists (also when a concurrent transaction wrote
    it first: PostgreSQL waits for that one and then skips), and None comes back.
    """
    note = Notification(user=user, lead=lead, key=key, kind=kind, message=message[:300], created_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(NOTIFY_ONCE_SQL, [user.pk, lead.pk if lead else None, key, kind, note.message, note.created_at])
        row = cursor.fetchone()
    if row is None:
        return None
    note.pk = row[0]
    note._state.adding = False
    enqueue_on_commit("leads.tasks.email_notification", note.pk)
    return note


def eligible_owners():
    """Users who can own leads: active SDRs and managers."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[Role.SDR, Role.MANAGER])
        .distinct()
        .order_by("username")
    )


@transaction.atomic
def assign(*, lead_id: int, owner_username: str | None, by) -> Lead:
    """Assign an owner (or release to the pool with None). Managers, marketing and admins."""
    if not roles.can_assign(by):
        raise NotPermitted(_("Only managers and marketing can assign leads."))
    new_owner = None
    if owner_username:
        new_owner = eligible_owners().filter(username=owner_username).first()
        if new_owner is None:
            raise Invalid({"owner": [_("No active SDR or manager has this username.")]})
    lead = _lock(lead_id)
    if lead.owner_id == (new_owner.pk if new_owner else None):
        return lead
    if new_owner is None and lead.stage != Stage.MQL:
        # The pool holds MQLs; a released SAL or later would be visible to no SDR. Reassign it instead.
        raise Invalid({"owner": [_("Only MQLs can be released to the pool; assign this lead to a rep.")]})
    _change_owner(lead, new_owner=new_owner, by=by, name="assign" if new_owner else "release", now=timezone.now())
    return lead


def release(*, lead_id: int, by) -> Lead:
    return assign(lead_id=lead_id, owner_username=None, by=by)


@transaction.atomic
def claim(*, lead_id: int, by) -> Lead:
    """An SDR (or manager) takes an unowned MQL from the pool, within their capacity.

    Exactly one of concurrent claims wins (row lock); the claimer's team is locked too, so claims and
    automatic routing never push a rep past capacity together.
    """
    if not roles.can_claim(by):
        raise NotPermitted(_("Only SDRs and managers can claim leads."))
    rep = Rep.objects.filter(user=by).first()
    if rep is not None and rep.team_id:
        routing_rotation.lock_teams([rep.team_id])
    lead = _lock(lead_id)
    if lead.owner_id == by.pk:
        return lead
    if lead.owner_id is not None:
        raise Conflict(_("Someone else already owns this lead."))
    if lead.stage != Stage.MQL:
        raise Conflict(_("Only MQLs waiting in the pool can be claimed."))
    if rep is not None:
        load = open_loads([by.pk]).get(by.pk, 0)
        if load >= rep.capacity:
            raise Conflict(
                _("You are at capacity (%(load)s of %(capacity)s open MQLs and SALs): work some first.")
                % {"load": load, "capacity": rep.capacity}
            )
    _change_owner(lead, new_owner=by, by=by, name="claim", now=timezone.now())
    return lead


# --- routing --------------------------------------------------------------------------------------------


def open_loads(user_ids) -> dict[int, int]:
    """Open MQL + SAL leads per owner, counted in the database."""
    rows = (
        Lead.objects.filter(owner_id__in=list(user_ids), stage__in=[Stage.MQL, Stage.SAL])
        .values("owner_id").annotate(open=Count("id")).values_list("owner_id", "open")
    )
    return dict(rows)


def routing_facts(lead: Lead) -> routing_policy.LeadFacts:
    mail_domain = email_domain(lead.email_normalized)
    site_domain = website_domain(lead.website) if lead.website else ""
    account = lead.account
    if account is None:
        domains = [d for d in (site_domain, mail_domain, lead.company_domain) if d]
        account = Account.objects.filter(domain__in=domains).first() if domains else None
    return routing_policy.LeadFacts(
        country=lead.country, industry=lead.industry, company_size=lead.company_size, score=lead.score,
        source=lead.source, campaign=lead.campaign.slug if lead.campaign_id else "", email_domain=mail_domain,
        website_domain=site_domain, account_owner_id=account.owner_id if account else None,
        conversion_probability=lead.conversion_probability, lead_id=lead.pk,
    )


@transaction.atomic
def reassign(*, lead_id: int, reason: str, now: dt.datetime | None = None) -> str | None:
    """The system moves a lead to another owner through routing, never back to the current one (an SLA
    escalation). Nobody available: an MQL goes to the pool (its team's manager is told); a later-stage
    lead keeps its owner. Returns the username of the owner afterwards (None: the pool)."""
    now = now or timezone.now()
    lead = _lock(lead_id)
    previous = lead.owner
    decision = routing_rotation.route(
        routing_facts(lead), open_loads=open_loads, now=now, exclude_user_ids=[previous.pk] if previous else [],
        performance=performance.sal_to_sql,
    )
    trace = decision.as_trace() | {"reason": f"{reason}; {decision.reason}"}
    if decision.owner_user_id is not None:
        owner = get_user_model().objects.get(pk=decision.owner_user_id)
        entry = _change_owner(lead, new_owner=owner, by=None, name="assign", now=now, trace=trace)
    elif lead.stage == Stage.MQL and previous is not None:
        entry = _change_owner(lead, new_owner=None, by=None, name="release", now=now, trace=trace)
        _tell_manager_about_pool(lead, decision, now=now)
    else:
        return previous.get_username() if previous else None
    if previous is not None:
        notify(
            user=previous, lead=lead, kind=NotificationKind.REASSIGNED, key=f"reassigned:{entry.pk}",
            message=_("%(lead)s was taken from you: %(reason)s") % {"lead": lead.display_name, "reason": reason},
        )
    return lead.owner.get_username() if lead.owner_id else None


@transaction.atomic
def release_by_system(*, lead_id: int, reason: str, now: dt.datetime | None = None) -> Lead:
    """The system sends an owned MQL back to the pool (an SLA escalation), with the reason logged."""
    now = now or timezone.now()
    lead = _lock(lead_id)
    if lead.owner_id is None:
        return lead
    trace = {
        "rule": "", "method": "release", "chosen_by": "release", "owner": None, "reason": reason, "skipped": [],
        "at": now.isoformat(),
    }
    _change_owner(lead, new_owner=None, by=None, name="release", now=now, trace=trace)
    return lead


def route(lead: Lead, *, now: dt.datetime) -> routing_policy.Decision:
    """Give a new MQL its owner (or leave it in the pool), store why, notify on commit. Locked lead only."""
    decision = routing_rotation.route(routing_facts(lead), open_loads=open_loads, now=now,
                                      performance=performance.sal_to_sql)
    if decision.experiment is not None:  # the arm stays on the lead (the trace may be replaced by later changes)
        experiment_id, _name, arm = decision.experiment
        lead.experiment_arms = {**(lead.experiment_arms or {}), str(experiment_id): arm}
        Lead.objects.filter(pk=lead.pk).update(experiment_arms=lead.experiment_arms)
    if decision.owner_user_id is not None:
        owner = get_user_model().objects.get(pk=decision.owner_user_id)
        _change_owner(lead, new_owner=owner, by=None, name="assign", now=now, trace=decision.as_trace())
        return decision
    lead.assignment = decision.as_trace()
    lead.save(update_fields=["assignment", "updated_at"])
    clocks.on_pool_entered(lead, now=now)
    _tell_manager_about_pool(lead, decision, now=now)
    return decision


def _tell_manager_about_pool(lead: Lead, decision: routing_policy.Decision, *, now: dt.datetime) -> None:
    if decision.notify_manager_of_team_id:
        manager_id = routing_selectors.manager_of(decision.notify_manager_of_team_id)
        if manager_id:
            notify(
                user=get_user_model().objects.get(pk=manager_id), lead=lead, kind=NotificationKind.POOL,
                key=f"pool:{lead.pk}:{now.isoformat()}",
                message=_("%(lead)s waits in the pool: no rep was available.") % {"lead": lead.display_name},
            )
