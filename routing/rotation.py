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
from django.db.models import F
from django.utils import timezone

from routing import experiments, policy, selectors
from routing.models import RotationState, Team

OpenLoads = Callable[[Collection[int]], Mapping[int, int]]
Records = Callable[[Collection[int]], Mapping[int, tuple[int, int]]]


def route(
    facts: policy.LeadFacts,
    *,
    open_loads: OpenLoads,
    now: dt.datetime | None = None,
    exclude_user_ids: Collection[int] = (),
    performance: Records | None = None,
    kind: str = policy.TEAM_SDR,
) -> policy.Decision:
    """Decide who gets the lead and advance the rotation; the caller assigns the owner.

    `open_loads(user_ids)` returns {user id: open MQL + SAL leads} for those users (missing means 0).
    `exclude_user_ids`: users who must not get it (the current owner when an SLA escalation reassigns).
    `performance(user_ids)` returns {user id: (SAL->SQL, SAL)} over the performance window, for the
    performance-weighted method. A running experiment on the matched rule picks the method by the lead's arm
    (`routing.experiments.assign`) and is named in the decision.
    `kind`: `policy.TEAM_SDR` routes a lead by the rules for SDR teams; `policy.TEAM_CLOSING` routes an
    opportunity to an account executive by the rules that target closing teams (the sales hand-off).
    """
    now = now or timezone.now()
    # No savepoint inside the caller's transaction (two statements saved per route): nothing here is
    # caught and retried, so an error rolls back the caller's transaction as it should.
    with transaction.atomic(savepoint=False):
        rules = selectors.rule_specs(kind)
        rule, _phrases = policy.first_match(facts, rules)
        experiment = None
        if rule is not None and facts.lead_id is not None:
            running = selectors.running_experiment(rule.id)
            if running is not None:
                arm = experiments.assign(running.pk, facts.lead_id, experiments.parse_arms(running.arms))
                experiment = (running.pk, running.name, arm.name)
                rule = dataclasses.replace(rule, method=arm.method)
                rules = [rule if r.id == rule.id else r for r in rules]
        teams = {team.pk: team for team in lock_teams(selectors.team_ids_for(rule, facts))}
        candidates = selectors.candidates_for_rule(rule, facts, {}, now)
        if exclude_user_ids:
            candidates = [c for c in candidates if c.user_id not in set(exclude_user_ids)]
        loads = open_loads([c.user_id for c in candidates]) if candidates else {}
        candidates = [dataclasses.replace(c, open_load=int(loads.get(c.user_id, 0))) for c in candidates]
        if rule is not None and rule.method == policy.PERFORMANCE and performance is not None and candidates:
            records = performance([c.user_id for c in candidates])
            candidates = [dataclasses.replace(c, record=tuple(records.get(c.user_id, (0, 0)))) for c in candidates]
        decision = policy.choose_owner(facts, candidates, rules, now=now)
        if experiment is not None:
            decision = dataclasses.replace(decision, experiment=experiment)
        if decision.rotation is not None:
            # the team is locked above; a rotation in another team (not expected) is locked by record_assignment
            record_assignment(decision.rotation, now=now, team=teams.get(decision.rotation.team_id))
    return decision


def lock_teams(team_ids: Iterable[int]) -> list[Team]:
    """Lock the teams' rows (in id order, so two routes never deadlock) until the transaction ends."""
    ids = sorted(set(team_ids))
    if not ids:
        return []
    return list(Team.objects.select_for_update().filter(pk__in=ids).order_by("pk"))


def record_assignment(
    update: policy.RotationUpdate, *, now: dt.datetime | None = None, team: Team | None = None
) -> None:
    """Store a decision's rotation update: the rep's new position and the team's new floor (it only rises).

    Under the team's row lock: `team` as the caller locked and read it in this transaction (`route()`),
    otherwise it is locked here. The lock serialises every writer of the team's rotation, so a plain UPDATE
    (or the first INSERT for a rep new to the team) cannot race; one or two statements.
    """
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):
        if team is None:
            team = Team.objects.select_for_update().get(pk=update.team_id)
        moved = RotationState.objects.filter(team_id=update.team_id, rep_id=update.rep_id).update(
            assigned=F("assigned") + 1, virtual_time=update.virtual_time, last_assigned_at=now
        )
        if not moved:
            RotationState.objects.create(
                team_id=update.team_id, rep_id=update.rep_id, assigned=1, virtual_time=update.virtual_time,
                last_assigned_at=now,
            )
        if update.clock > team.rotation_clock:
            Team.objects.filter(pk=update.team_id).update(rotation_clock=update.clock)
