"""One table of escalation actions (`leads.sla.escalation.ACTIONS`) read by both paths of the sweep: the
set-based batch and the per-lead `advance` write the same escalation rows and notifications for the same due
clocks (same recipients, same message, same outcome)."""

import pytest
import time_machine
from django.db import transaction

from core.vocabulary import NotificationKind, Role, Stage
from leads import clocks as sla_clocks
from leads.models import Notification, SlaClock, SlaEscalation
from leads.sla import escalation
from leads.sla import sweep as sla_sweep
from routing import sla_policy
from routing.models import EscalationAction, EscalationStep, Rep, Team
from tests.factories import LeadFactory, UserFactory
from tests.sla_helpers import ACCEPT, berlin, only_policies, policy

STARTED = berlin(2026, 6, 1, 10, 0)  # due 14:00 (4 business hours)
SWEPT = berlin(2026, 6, 3, 15, 0)  # long after: the warning at the due and the manager 2 h later both due


def team_of(slug: str, *, manager, members):
    team = Team.objects.create(name=slug, slug=slug, manager=manager)
    for member in members:
        Rep.objects.create(user=member, team=team, capacity=50)


@pytest.fixture
def due_clocks(db):
    """Due clocks of leads whose people differ in every way the recipients rule looks at."""
    only_policies(ACCEPT)
    subject = policy(ACCEPT)
    subject.steps.all().delete()
    EscalationStep.objects.create(policy=subject, position=1, after=0, unit="hours", action="warn_owner")
    EscalationStep.objects.create(policy=subject, position=2, after=2, unit="hours", action="notify_manager")
    UserFactory(username="manager-b", role=Role.MANAGER)
    UserFactory(username="manager-a", role=Role.MANAGER)
    UserFactory(username="manager-gone", role=Role.MANAGER, is_active=False)
    team_lead = UserFactory(username="team-lead", role=Role.MANAGER)
    in_team = UserFactory(username="sdr-team", role=Role.SDR)
    orphaned = UserFactory(username="sdr-orphaned", role=Role.SDR)
    team_of("inside", manager=team_lead, members=[in_team])
    team_of("orphaned", manager=UserFactory(username="left-manager", role=Role.MANAGER, is_active=False),
            members=[orphaned])
    owners = {
        "a rep whose team has a manager": in_team,
        "a rep whose team manager left": orphaned,
        "a rep in no team": UserFactory(username="sdr-alone", role=Role.SDR),
        "an owner who left": UserFactory(username="sdr-left", role=Role.SDR, is_active=False),
        "nobody (the pool)": None,
    }
    found = {}
    for number, (case, owner) in enumerate(owners.items()):
        names = ("", "") if owner is None else ("Ada", f"No{number}")  # a nameless lead is called by its address
        lead = LeadFactory(stage=Stage.MQL, owner=owner, email=f"buyer{number}@kunde.de", first_name=names[0],
                           last_name=names[1])
        with time_machine.travel(STARTED, tick=False):
            found[case] = sla_clocks.start(lead, subject, now=STARTED, owner_id=owner.pk if owner else None).pk
    return found


def written(clock_ids) -> dict:
    """What the sweep wrote for these clocks: per clock and step, the escalation's action and outcome and its
    notifications (user, kind, message, key) in the order they were written; and the clocks' state."""
    steps = {}
    for clock_id, step, action, outcome in SlaEscalation.objects.filter(clock_id__in=clock_ids).values_list(
        "clock_id", "step", "action", "outcome"
    ):
        steps[clock_id, step] = {"action": action, "outcome": outcome, "notifications": []}
    for note in Notification.objects.filter(key__startswith="sla:").select_related("user").order_by("id"):
        _prefix, clock_id, step, _user = note.key.split(":")
        steps[int(clock_id), int(step)]["notifications"].append(
            (note.user.username, note.lead_id, note.kind, note.message, note.key)
        )
    state = list(SlaClock.objects.filter(pk__in=clock_ids).order_by("pk").values_list(
        "pk", "breached", "step", "next_step_at", "stopped_at"
    ))
    return {"steps": steps, "clocks": state}


@pytest.mark.django_db
def test_both_sweep_paths_write_the_same_escalations_and_notifications(due_clocks):
    ids = list(due_clocks.values())
    with transaction.atomic():  # the set-based path, then undone
        with time_machine.travel(SWEPT, tick=False):
            result = sla_sweep.run()
        assert (result.breaches, result.steps, result.failed) == (5, 10, 0)
        set_based = written(ids)
        transaction.set_rollback(True)
    assert not SlaEscalation.objects.exists() and not Notification.objects.filter(key__startswith="sla:").exists()

    with time_machine.travel(SWEPT, tick=False):  # the per-lead path, clock by clock, on the same clocks
        for clock_id in ids:
            outcomes = [sla_sweep.advance(clock_id=clock_id, now=SWEPT) for _look in range(4)]
            assert outcomes == ["breach", "step", "step", "idle"]
    per_lead = written(ids)

    assert set_based == per_lead
    told = {
        case: [(row["action"], [note[0] for note in row["notifications"]], row["outcome"])
               for (clock_id, _step), row in sorted(set_based["steps"].items()) if clock_id == due_clocks[case]]
        for case in due_clocks
    }
    everyone = ["manager-a", "manager-b", "team-lead"]  # the active managers, by username
    assert told == {
        "a rep whose team has a manager": [("warn_owner", ["sdr-team"], "warned sdr-team"),
                                           ("notify_manager", ["team-lead"], "told team-lead")],
        "a rep whose team manager left": [("warn_owner", ["sdr-orphaned"], "warned sdr-orphaned"),
                                          ("notify_manager", everyone, "told " + ", ".join(everyone))],
        "a rep in no team": [("warn_owner", ["sdr-alone"], "warned sdr-alone"),
                             ("notify_manager", everyone, "told " + ", ".join(everyone))],
        "an owner who left": [("warn_owner", ["sdr-left"], "warned sdr-left"),
                              ("notify_manager", everyone, "told " + ", ".join(everyone))],
        "nobody (the pool)": [("warn_owner", everyone, "warned " + ", ".join(everyone)),
                              ("notify_manager", everyone, "told " + ", ".join(everyone))],
    }
    pool = [row for (clock_id, _step), row in sorted(set_based["steps"].items())
            if clock_id == due_clocks["nobody (the pool)"]]
    assert pool[0]["notifications"][0][3] == "buyer4@kunde.de: “MQL accepted within 4 business hours” was due at " \
                                             "2026-06-01 14:00."
    assert pool[1]["notifications"][0][3] == ("buyer4@kunde.de missed “MQL accepted within 4 business hours” "
                                              "(owner: nobody (pool)).")


def test_every_escalation_action_has_one_row_in_the_table():
    assert set(escalation.ACTIONS) == set(sla_policy.ACTIONS) == set(EscalationAction.values)
    for name, action in escalation.ACTIONS.items():
        if action.runs == escalation.SET_BASED:  # only notifications: who is told what, no effect of its own
            assert action.kind in NotificationKind.values, name
            assert action.told in (escalation.TELL_OWNER, escalation.TELL_MANAGER), name
            assert action.effect is None, name
        else:  # changes the lead: through the lifecycle, one lead at a time
            assert action.runs == escalation.PER_LEAD, name
            assert action.effect is not None and not action.kind and not action.told, name
        assert (name in escalation.SET_BASED_ACTIONS) == (action.runs == escalation.SET_BASED)
