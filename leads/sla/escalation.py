"""The escalation actions of SLA policies: one table (`ACTIONS`) that both paths of the sweep read.

Per action: the kind of its notifications, its message (the notification's text, or the reason the lifecycle
logs), who is told, the outcome sentence written on its `SlaEscalation` row, whether it runs set-based (its
only effect is a notification: a batch of clocks per statement, `sweep._SweepRun`) or per lead (it changes the
lead: one lead per transaction through the lifecycle, `sweep.advance`), and for per-lead actions the effect.

Both paths take who is told from `Recipients` (read as needed, kept for a whole sweep, or made for one lead),
the texts from `Notices` (the table's templates translated once per batch) and the key from
`NOTIFICATION_KEY`, so a step writes the same rows whichever path runs it. `run_step` runs one step for one
lead (the per-lead path).

To add an action: its value and its pure checks in `routing/sla_policy.py` (`ACTIONS`, `policy_problems`) and
its choice in `routing.models.EscalationAction`, then one row here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.vocabulary import NotificationKind, Role, Stage
from leads import lifecycle
from leads.models import Lead, Notification, SlaClock
from routing import sla_policy
from routing.models import Rep, SlaPolicy

# How an action runs
SET_BASED = "set_based"  # only notifications: a batch of clocks per statement
PER_LEAD = "per_lead"  # changes the lead: one lead per transaction, through the lifecycle

# Who is told
TELL_OWNER = "owner"  # the owner; a lead without owner: every active manager
TELL_MANAGER = "manager"  # the owner's team manager, when active; else every active manager (the pool has no team)

MESSAGE_LENGTH = Notification._meta.get_field("message").max_length
DUE_FORMAT = "%Y-%m-%d %H:%M"  # the due in messages, in the current time zone


@dataclass(frozen=True)
class Action:
    """One escalation action. Messages take `lead`, `policy`, `due` and `owner` (the owner's username)."""

    runs: str  # SET_BASED or PER_LEAD
    message: Promise  # the notifications' text; for a per-lead action the reason the lifecycle logs
    outcome: Promise  # the escalation row's outcome when it ran (`users`: who was told)
    kind: str = ""  # the notifications' kind (set-based actions)
    told: str = ""  # TELL_OWNER or TELL_MANAGER (set-based actions)
    effect: Callable[..., str] | None = None  # per-lead actions: do it, return the outcome (see `_reassign`)


# --- the effects of the per-lead actions (inside the step's transaction, lead and clock locked) -------------


def _reassign(action: Action, *, lead: Lead, step: sla_policy.StepSpec, words: dict, now: dt.datetime) -> str:
    before = lead.owner.get_username() if lead.owner_id else None
    after = lifecycle.reassign(lead_id=lead.pk, reason=str(action.message) % words, now=now)
    return str(action.outcome) % {"before": before or _("the pool"), "after": after or _("the pool")}


def _release(action: Action, *, lead: Lead, step: sla_policy.StepSpec, words: dict, now: dt.datetime) -> str:
    if lead.stage != Stage.MQL or lead.owner_id is None:
        return _("not released: only an owned MQL can go back to the pool")
    lifecycle.release_by_system(lead_id=lead.pk, reason=str(action.message) % words, now=now)
    return str(action.outcome)


def _recycle(action: Action, *, lead: Lead, step: sla_policy.StepSpec, words: dict, now: dt.datetime) -> str:
    name = sla_policy.RECYCLE_TRANSITION.get(lead.stage)
    if name is None:
        return _("not recycled: a %(stage)s lead cannot be recycled") % {"stage": lead.get_stage_display()}
    reason = step.reason or str(action.message) % words
    try:
        lifecycle.fire(lead_id=lead.pk, name=name, by=None, parsed={
            "reason_code": lifecycle.system_reason_code(name, "sla_breach"), "reason": reason,
        })
    except lifecycle.TransitionRefused as refused:
        return _("not recycled: %(why)s") % {"why": refused.detail}
    return str(action.outcome) % {"reason": reason}


# --- the table ----------------------------------------------------------------------------------------------

ACTIONS: dict[str, Action] = {
    sla_policy.WARN_OWNER: Action(
        runs=SET_BASED, kind=NotificationKind.SLA_WARNING, told=TELL_OWNER,
        message=gettext_lazy("%(lead)s: “%(policy)s” was due at %(due)s."),
        outcome=gettext_lazy("warned %(users)s"),
    ),
    sla_policy.NOTIFY_MANAGER: Action(
        runs=SET_BASED, kind=NotificationKind.SLA_ESCALATION, told=TELL_MANAGER,
        message=gettext_lazy("%(lead)s missed “%(policy)s” (owner: %(owner)s)."),
        outcome=gettext_lazy("told %(users)s"),
    ),
    sla_policy.REASSIGN: Action(
        runs=PER_LEAD, effect=_reassign,
        message=gettext_lazy("SLA “%(policy)s” missed: reassigned by routing"),
        outcome=gettext_lazy("reassigned from %(before)s to %(after)s"),
    ),
    sla_policy.RELEASE: Action(
        runs=PER_LEAD, effect=_release,
        message=gettext_lazy("SLA “%(policy)s” missed: released to the pool"),
        outcome=gettext_lazy("released to the pool"),
    ),
    sla_policy.RECYCLE: Action(
        runs=PER_LEAD, effect=_recycle,
        message=gettext_lazy("SLA “%(policy)s” missed"),  # when the step gives no reason of its own
        outcome=gettext_lazy("recycled: %(reason)s"),
    ),
}


# The actions the sweep runs set-based (an unknown action runs per lead, which says it did nothing).
SET_BASED_ACTIONS = frozenset(name for name, action in ACTIONS.items() if action.runs == SET_BASED)

# A step's notification to one user (clock id, step number, user id): unique, so a step run again never notifies
# twice. A `%s` template because the set-based path has PostgreSQL's `format()` fill it in.
NOTIFICATION_KEY = "sla:%s:%s:%s"


def notification_key(clock_id: int, step: int, user_id: int) -> str:
    return NOTIFICATION_KEY % (clock_id, step, user_id)


# --- who is told ----------------------------------------------------------------------------------------


class Recipients:
    """Who gets told, read as needed and kept for as long as this object lives (one sweep, or one lead):
    owners' usernames, their team managers (active ones only), every active manager."""

    def __init__(self):
        self._usernames: dict[int, str] = {}
        self._team_manager: dict[int, tuple[int, str] | None] = {}
        self._all_managers: list[tuple[int, str]] | None = None

    def prepare(self, owner_ids: set[int]) -> None:
        """Read what is not known yet of these owners (two statements, none when all are known)."""
        new = owner_ids - self._team_manager.keys()
        if not new:
            return
        User = get_user_model()
        manager_of = dict(Rep.objects.filter(user_id__in=new).values_list("user_id", "team__manager_id"))
        wanted = new | {pk for pk in manager_of.values() if pk is not None}
        active = set()
        for pk, username, is_active in User.objects.filter(pk__in=wanted).values_list(
            "pk", User.USERNAME_FIELD, "is_active"
        ):
            self._usernames[pk] = username
            if is_active:
                active.add(pk)
        for owner_id in new:
            manager_id = manager_of.get(owner_id)
            self._team_manager[owner_id] = (
                (manager_id, self._usernames[manager_id]) if manager_id in active else None
            )

    def username(self, user_id: int) -> str:
        return self._usernames[user_id]

    def managers_of(self, owner_id: int | None) -> list[tuple[int, str]]:
        """The owner's team manager; else every active manager (the pool has no team)."""
        if owner_id is not None and self._team_manager.get(owner_id) is not None:
            return [self._team_manager[owner_id]]
        if self._all_managers is None:
            User = get_user_model()
            self._all_managers = list(
                User.objects.filter(is_active=True, groups__name=Role.MANAGER).distinct()
                .order_by(User.USERNAME_FIELD).values_list("pk", User.USERNAME_FIELD)
            )
        return self._all_managers

    def told(self, told: str, owner_id: int | None) -> list[tuple[int, str]]:
        """(user id, username) of everyone an action tells about a lead of this owner (prepared)."""
        if told == TELL_OWNER:
            return [(owner_id, self.username(owner_id))] if owner_id is not None else self.managers_of(None)
        return self.managers_of(owner_id)


class Notices:
    """What set-based steps on leads of these owners write: the table's texts translated once, who is told
    worked out once per action and owner."""

    def __init__(self, recipients: Recipients, owner_ids: Iterable[int | None]):
        recipients.prepare({pk for pk in owner_ids if pk is not None})
        self.recipients = recipients
        self._texts = {
            name: (str(action.message), str(action.outcome)) for name, action in ACTIONS.items()
            if action.runs == SET_BASED
        }
        self._nobody, self._pool = _("nobody"), _("nobody (pool)")
        self._zone = timezone.get_current_timezone()
        self._due: dict[dt.datetime, str] = {}
        self._known: dict[tuple[str, int | None], tuple[str, str, str, list[int], str]] = {}

    def of(self, action: str, *, owner_id: int | None, lead_name: str, policy_name: str, due_at: dt.datetime) -> dict:
        """A step's notifications and outcome: `kind`, `message`, `outcome` and `users` (the ids of the users
        told, in order), as the batch's statement takes them."""
        known = self._known.get((action, owner_id)) or self._tell(action, owner_id)
        kind, template, outcome, users, owner = known
        due = self._due.get(due_at)
        if due is None:
            due = self._due[due_at] = due_at.astimezone(self._zone).strftime(DUE_FORMAT)
        message = template % {"lead": lead_name, "policy": policy_name, "due": due, "owner": owner}
        return {"kind": kind, "message": message[:MESSAGE_LENGTH], "outcome": outcome, "users": users}

    def _tell(self, action: str, owner_id: int | None) -> tuple[str, str, str, list[int], str]:
        """(kind, message template, outcome, user ids, the owner's name) of an action on a lead of this owner."""
        entry = ACTIONS[action]
        template, outcome = self._texts[action]
        users = self.recipients.told(entry.told, owner_id)
        names = ", ".join(name for _pk, name in users) or self._nobody
        owner = self.recipients.username(owner_id) if owner_id is not None else self._pool
        known = self._known[action, owner_id] = (
            str(entry.kind), template, outcome % {"users": names}, [pk for pk, _name in users], owner
        )
        return known


# --- one step for one lead (the per-lead path) --------------------------------------------------------------


def run_step(step: sla_policy.StepSpec, *, clock: SlaClock, lead: Lead, policy: SlaPolicy, now: dt.datetime) -> str:
    """Do one escalation step for one lead (inside `sweep.advance`'s transaction, lead and clock locked);
    return what happened, in words. A set-based action writes what the set-based path would write."""
    action = ACTIONS.get(step.action)
    if action is None:
        return _("unknown action %(action)s: nothing done") % {"action": step.action}
    if action.effect is None:
        owner_id = sla_policy.warned_owner(
            starts_on=policy.starts_on, lead_owner_id=lead.owner_id, clock_owner_id=clock.owner_id
        )
        notice = Notices(Recipients(), [owner_id]).of(
            step.action, owner_id=owner_id, lead_name=lead.display_name, policy_name=policy.name,
            due_at=clock.due_at,
        )
        users = get_user_model().objects.in_bulk(notice["users"])
        for user_id in notice["users"]:
            lifecycle.notify(user=users[user_id], lead=lead, kind=notice["kind"], message=notice["message"],
                             key=notification_key(clock.pk, step.number, user_id))
        return notice["outcome"]
    due = timezone.localtime(clock.due_at).strftime(DUE_FORMAT)
    words = {"lead": lead.display_name, "policy": policy.name, "due": due}
    return action.effect(action, lead=lead, step=step, words=words, now=now)
