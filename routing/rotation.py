"""Routing with the database: lock the teams, decide, store the rotation. Leads are not touched here.

Call `route()` inside the transaction that makes the lead an MQL, then write the owner and the decision
trace in that same transaction. Concurrent routes into the same team wait for each other on the team's
row lock, so round-robin keeps every rep within one lead of the others and capacity holds, as long as the
`open_loads` callback counts from the database (it runs after the lock is taken).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping

from django.db import transaction
from django.utils import timezone

from routing import policy, selectors
from routing.models import RotationState, Team

OpenLoads = Callable[[Collection[int]], Mapping[int, int]]


def route(
    facts: policy.LeadFacts,
    *,
    open_loads: OpenLoads,
    now: dt.datetime | None = None,
    exclude_user_ids: Collection[int] = (),
) -> policy.Decision:
    """Decide who gets the lead and advance the rotation; the caller assigns the owner.

    `open_loads(user_ids)` returns {user id: open MQL + SAL leads} for those users (missing means 0).
    `exclude_user_ids`: users who must not get it (the current owner when an SLA escalation reassigns).
    """
    now = now or timezone.now()
    with transaction.atomic():
        rules = selectors.rule_specs()
        rule, _phrases = policy.first_match(facts, rules)
        lock_teams(selectors.team_ids_for(rule, facts))
        candidates = selectors.candidates_for_rule(rule, facts, {}, now)
        if exclude_user_ids:
            candidates = [c for c in candidates if c.user_id not in set(exclude_user_ids)]
        loads = open_loads([c.user_id for c in candidates]) if candidates else {}
        candidates = [dataclasses.replace(c, open_load=int(loads.get(c.user_id, 0))) for c in candidates]
        decision = policy.choose_owner(facts, candidates, rules, now=now)
        if decision.rotation is not None:
            record_assignment(decision.rotation, now=now)
    return decision


def lock_teams(team_ids: Iterable[int]) -> list[Team]:
    """Lock the teams' rows (in id order, so two routes never deadlock) until the transaction ends."""
    ids = sorted(set(team_ids))
    if not ids:
        return []
    return list(Team.objects.select_for_update().filter(pk__in=ids).order_by("pk"))


def record_assignment(update: policy.RotationUpdate, *, now: dt.datetime | None = None) -> RotationState:
    """Store a decision's rotation update: the rep's new position and the team's new floor.

    Locks the team row (re-entrant inside `route()`); the floor only ever rises.
    """
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=update.team_id)
        state, _created = RotationState.objects.select_for_update().get_or_create(
            team_id=update.team_id, rep_id=update.rep_id
        )
        state.assigned += 1
        state.virtual_time = update.virtual_time
        state.last_assigned_at = now or timezone.now()
        state.save(update_fields=["assigned", "virtual_time", "last_assigned_at"])
        if update.clock > team.rotation_clock:
            team.rotation_clock = update.clock
            team.save(update_fields=["rotation_clock"])
    return state
