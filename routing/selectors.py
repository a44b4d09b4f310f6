"""Reads that turn routing's models into the pure policy's input. No writes, no locks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Q

from routing import policy
from routing.models import Experiment, Rep, RotationState, RoutingRule, Team


def rule_specs(kind: str = policy.TEAM_SDR) -> list[policy.RuleSpec]:
    """Enabled routing rules in the order they are tried. An empty list routes everything to the pool.

    `kind`: which routing this is. Lead routing (SDR) uses the rules whose target is not a closing team
    (pool rules included); the sales hand-off (closing) only the rules that target a closing team or one
    of its reps. Without closing teams lead routing sees every rule, as before.
    """
    to_closing = Q(target_team__kind=policy.TEAM_CLOSING) | Q(target_rep__team__kind=policy.TEAM_CLOSING)
    rules = RoutingRule.objects.filter(is_enabled=True)
    rules = rules.filter(to_closing) if kind == policy.TEAM_CLOSING else rules.exclude(to_closing)
    return [rule.as_spec() for rule in rules.order_by("position", "id")]


def team_ids_for(rule: policy.RuleSpec | None, facts: policy.LeadFacts) -> list[int]:
    """The teams whose rotation a decision under `rule` may read or advance (lock these, in this order)."""
    team_ids: set[int] = set()
    if rule is None:
        return []
    if rule.target_team_id is not None:
        team_ids.add(rule.target_team_id)
    rep_ids = [rule.target_rep_id] if rule.target_rep_id is not None else []
    reps = Q(pk__in=rep_ids)
    if rule.method == policy.ACCOUNT_OWNER_FIRST and facts.account_owner_id is not None:
        reps |= Q(user_id=facts.account_owner_id)
    if rep_ids or rule.method == policy.ACCOUNT_OWNER_FIRST:
        team_ids.update(Rep.objects.filter(reps).values_list("team_id", flat=True))
    return sorted(team_ids)


def candidates_for(
    team_ids: Iterable[int],
    open_loads: Mapping[int, int],
    now: dt.datetime,
    *,
    user_ids: Collection[int] = (),
    rep_ids: Collection[int] = (),
) -> list[policy.Candidate]:
    """Every rep in the given teams, plus the reps of the given users / rep ids, as policy candidates.

    `open_loads` maps user id -> open MQL + SAL leads (missing means 0); the leads app counts them.
    Three queries whatever the number of reps.
    """
    team_ids = list(team_ids)
    wanted = Q(team_id__in=team_ids)
    if user_ids:
        wanted |= Q(user_id__in=list(user_ids))
    if rep_ids:
        wanted |= Q(pk__in=list(rep_ids))
    reps = list(Rep.objects.filter(wanted).select_related("user", "team"))
    states = {
        (state.team_id, state.rep_id): state
        for state in RotationState.objects.filter(rep__in=[rep.pk for rep in reps])
    }
    return [_candidate(rep, states.get((rep.team_id, rep.pk)), open_loads, now) for rep in reps]


def candidates_for_rule(
    rule: policy.RuleSpec | None, facts: policy.LeadFacts, open_loads: Mapping[int, int], now: dt.datetime
) -> list[policy.Candidate]:
    """Just the candidates `policy.choose_owner` needs for a lead that matches `rule`."""
    if rule is None or (rule.target_type == policy.TARGET_POOL and rule.method != policy.ACCOUNT_OWNER_FIRST):
        return []
    owner_ids = [facts.account_owner_id] if rule.method == policy.ACCOUNT_OWNER_FIRST and facts.account_owner_id else []
    return candidates_for(
        [rule.target_team_id] if rule.target_team_id is not None else [],
        open_loads,
        now,
        user_ids=owner_ids,
        rep_ids=[rule.target_rep_id] if rule.target_rep_id is not None else [],
    )


def preview(
    facts: policy.LeadFacts, *, open_loads: Mapping[int, int], now: dt.datetime, kind: str = policy.TEAM_SDR
) -> policy.Decision:
    """The dry run: the decision routing would take now, with nothing locked, assigned or advanced."""
    rules = rule_specs(kind)
    rule, _phrases = policy.first_match(facts, rules)
    return policy.choose_owner(facts, candidates_for_rule(rule, facts, open_loads, now), rules, now=now)


def manager_of(team_id: int | None) -> int | None:
    """The user id of the team's manager (told when a lead for the team lands in the pool)."""
    if team_id is None:
        return None
    return Team.objects.filter(pk=team_id).values_list("manager_id", flat=True).first()


def team_of(user_id: int | None) -> Team | None:
    """The team of the rep who is this user (None for users who are not reps)."""
    rep = Rep.objects.filter(user_id=user_id).select_related("team").first()
    return rep.team if rep else None


def team_ids_of_kind(kind: str) -> list[int]:
    return list(Team.objects.filter(kind=kind).values_list("pk", flat=True))


def qualification_framework_for(user_id: int | None) -> str:
    """"bant" or "meddic": the framework of the rep's team (BANT for users who are not reps)."""
    framework = Rep.objects.filter(user_id=user_id).values_list("team__qualification_framework", flat=True).first()
    return framework or "bant"


def _candidate(
    rep: Rep, state: RotationState | None, open_loads: Mapping[int, int], now: dt.datetime
) -> policy.Candidate:
    local_today = now.astimezone(_zone(rep.time_zone)).date()
    return policy.Candidate(
        rep_id=rep.pk,
        user_id=rep.user_id,
        username=rep.user.get_username(),
        team_id=rep.team_id,
        is_available=rep.is_available and rep.user.is_active,
        out_of_office=policy.is_out_of_office(rep.out_of_office_from, rep.out_of_office_until, local_today),
        on_shift=not rep.respect_working_hours or policy.is_on_shift(rep.working_hours, rep.time_zone, now),
        open_load=int(open_loads.get(rep.user_id, 0)),
        capacity=rep.capacity,
        weight=rep.weight,
        rotation=state.virtual_time if state else None,
        team_clock=rep.team.rotation_clock,
        specialties=tuple(rep.specialties or ()),
        territories=tuple(rep.territories or ()),
    )


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # saved past clean(): fall back rather than fail routing
        return dt.UTC


def running_experiment(rule_id: int | None):
    """The running experiment on a routing rule, or None."""
    if rule_id is None:
        return None
    return Experiment.objects.filter(rule_id=rule_id, status=Experiment.RUNNING).first()
