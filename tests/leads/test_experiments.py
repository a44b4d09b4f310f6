"""Routing experiments end to end: arms on the lead and in the trace, the report, stopping keeps the winner;
performance-weighted routing from the real transition log."""

import datetime as dt
import math

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import Invalid, Refused
from core.vocabulary import Stage
from leads import experiments, performance
from leads.models import Lead, LeadTransition
from routing import experiments as pure
from routing import services
from routing.models import Experiment, RoutingRule
from tests.leads.test_routing_integration import hot_capture, make_team

pytestmark = pytest.mark.django_db

ARMS = [{"name": "A", "share": 50, "method": "round_robin"}, {"name": "B", "share": 50, "method": "least_loaded"}]


def start(rule, *, arms=ARMS, outcome=Experiment.ACCEPTANCE):
    experiment = Experiment(name="Round-robin or least loaded", rule=rule, arms=arms, outcome=outcome)
    experiment.full_clean()
    experiment.save()
    return experiment


def test_new_mqls_are_split_by_the_hash_of_their_id_and_carry_the_arm():
    make_team()
    experiment = start(RoutingRule.objects.get(name="Everyone to inside sales"))
    for number in range(20):
        assert hot_capture(number).body["stage"] == "mql"
    arms = pure.parse_arms(experiment.arms)
    for lead in Lead.objects.filter(stage=Stage.MQL):
        expected = pure.assign(experiment.pk, lead.pk, arms)
        assert lead.experiment_arms == {str(experiment.pk): expected.name}
        assert lead.assignment["experiment"] == {"id": experiment.pk, "name": experiment.name, "arm": expected.name}
        assert lead.assignment["method"] == expected.method
    assert len({lead.experiment_arms[str(experiment.pk)] for lead in Lead.objects.filter(stage=Stage.MQL)}) == 2


def test_the_report_counts_each_arms_outcome_and_stopping_keeps_the_winner(manager):
    make_team()
    rule = RoutingRule.objects.get(name="Everyone to inside sales")
    experiment = start(rule)
    for number in range(24):
        hot_capture(number)
    leads = list(Lead.objects.filter(stage=Stage.MQL).order_by("pk"))
    accepted_b = [lead for lead in leads if lead.experiment_arms[str(experiment.pk)] == "B"]
    for lead in accepted_b:
        LeadTransition.objects.create(lead=lead, name="accept", source=Stage.MQL, target=Stage.SAL)
    found = experiments.report(experiment)
    rows = {row["arm"]: row for row in found["arms"]}
    assert rows["B"]["rate"] == 1.0 and rows["A"]["rate"] == 0.0
    assert rows["A"]["leads"] + rows["B"]["leads"] == 24
    assert rows["B"]["p"] < 0.05 and rows["B"]["significant"] and found["best"] == "B"
    assert rows["A"]["interval"][0] == pytest.approx(0.0, abs=1e-12) and rows["B"]["interval"][1] == pytest.approx(1.0)
    services.stop_experiment(experiment_id=experiment.pk, keep="B")
    rule.refresh_from_db()
    experiment.refresh_from_db()
    assert rule.method == "least_loaded" and experiment.status == Experiment.STOPPED and experiment.winner == "B"
    with pytest.raises(Refused):
        services.stop_experiment(experiment_id=experiment.pk, keep="A")
    hot_capture(99)
    assert "experiment" not in Lead.objects.get(email="buyer99@kunde99.de").assignment


def test_stopping_with_an_arm_that_does_not_exist_is_refused_and_changes_nothing():
    make_team()
    rule = RoutingRule.objects.get(name="Everyone to inside sales")
    experiment = start(rule)
    with pytest.raises(Invalid) as error:
        services.stop_experiment(experiment_id=experiment.pk, keep="C")
    assert "keep" in error.value.errors
    rule.refresh_from_db()
    experiment.refresh_from_db()
    assert rule.method == "round_robin" and experiment.status == Experiment.RUNNING


@pytest.mark.parametrize(("arms", "message"), [
    ([{"name": "A", "share": 100, "method": "round_robin"}], "at least two arms"),
    ([{"name": "A", "share": 60, "method": "round_robin"}, {"name": "B", "share": 60, "method": "least_loaded"}],
     "add up to 120 %"),
])
def test_the_admin_refuses_bad_arms_with_a_sentence_and_saves_nothing(admin_client, arms, message):
    make_team()
    rule = RoutingRule.objects.get(name="Everyone to inside sales")
    import json

    response = admin_client.post(reverse("admin:routing_experiment_add"), {
        "name": "Bad", "rule": rule.pk, "arms": json.dumps(arms), "outcome": "acceptance", "outcome_days": 30})
    assert response.status_code == 200 and message in response.content.decode()
    assert not Experiment.objects.exists()


def test_the_admin_shows_the_report_and_stops_keeping_the_chosen_arm(admin_client):
    make_team()
    rule = RoutingRule.objects.get(name="Everyone to inside sales")
    experiment = start(rule)
    hot_capture(1)
    page = admin_client.get(reverse("admin:routing_experiment_change", args=[experiment.pk])).content.decode()
    assert "p against the first arm" in page and "Stop and keep this arm" in page
    admin_client.post(reverse("admin:routing_experiment_stop", args=[experiment.pk]), {"keep": "B"})
    rule.refresh_from_db()
    assert rule.method == "least_loaded"


def test_performance_records_count_each_reps_accepted_leads_that_reached_sql(manager):
    _team, members = make_team(reps=2)
    now = timezone.now()
    sdr1, sdr2 = (member.user for member in members)
    leads = [Lead.objects.create(email=f"p{n}@x{n}.de", email_normalized=f"p{n}@x{n}.de") for n in range(5)]
    for number, lead in enumerate(leads):
        by = sdr1 if number < 3 else sdr2
        LeadTransition.objects.create(lead=lead, name="accept", source="mql", target="sal", actor=by,
                                      at=now - dt.timedelta(days=10))
        if number in (0, 1, 3):
            LeadTransition.objects.create(lead=lead, name="qualify", source="sal", target="sql", actor=by,
                                          at=now - dt.timedelta(days=5))
    old = Lead.objects.create(email="old@x.de", email_normalized="old@x.de")
    LeadTransition.objects.create(lead=old, name="accept", source="mql", target="sal", actor=sdr2,
                                  at=now - dt.timedelta(days=200))
    assert performance.sal_to_sql([sdr1.pk, sdr2.pk], now=now) == {sdr1.pk: (2, 3), sdr2.pk: (1, 2)}


def test_performance_routing_explains_the_weight_in_the_trace():
    _team, members = make_team(reps=2)
    RoutingRule.objects.filter(name="Everyone to inside sales").update(method="performance")
    now = timezone.now()
    for number in range(10):
        lead = Lead.objects.create(email=f"h{number}@y{number}.de", email_normalized=f"h{number}@y{number}.de")
        LeadTransition.objects.create(lead=lead, name="accept", source="mql", target="sal", actor=members[0].user,
                                      at=now - dt.timedelta(days=3))
        if number < 6:
            LeadTransition.objects.create(lead=lead, name="qualify", source="sal", target="sql",
                                          actor=members[0].user, at=now - dt.timedelta(days=1))
    body = hot_capture(1).body
    lead = Lead.objects.get(pk=body["id"])
    assert lead.assignment["method"] == "performance"
    assert "performance-weighted round-robin" in lead.assignment["reason"]
    assert "SAL→SQL" in lead.assignment["reason"] and "team mean of 60%" in lead.assignment["reason"]


def test_a_speed_to_lead_experiment_reports_means_and_prefers_the_faster_arm():
    make_team()
    rule = RoutingRule.objects.get(name="Everyone to inside sales")
    experiment = start(rule, outcome=Experiment.SPEED_TO_LEAD)
    now = timezone.now()
    minutes = {"A": (30, 40, 50, 60), "B": (5, 10, 15, 20)}
    for arm, values in minutes.items():
        for number, value in enumerate(values):
            Lead.objects.create(
                email=f"{arm}{number}@s.de", email_normalized=f"{arm}{number}@s.de", stage=Stage.SAL,
                became_mql_at=now - dt.timedelta(hours=2), first_contact_at=now - dt.timedelta(hours=2, minutes=-value),
                experiment_arms={str(experiment.pk): arm})
    found = experiments.report(experiment)
    rows = {row["arm"]: row for row in found["arms"]}
    assert rows["A"]["mean"] == pytest.approx(45) and rows["B"]["mean"] == pytest.approx(12.5)
    assert found["best"] == "B"  # lower is better
    # Welch: means 12.5 and 45, variances 41.67 and 166.67 over 4 each: z = -32.5 / sqrt(52.08) = -4.503.
    assert rows["B"]["z"] == pytest.approx(-32.5 / math.sqrt((125 / 3 + 500 / 3) / 4), rel=1e-6)
    assert rows["B"]["significant"] and rows["B"]["still_needed"] == 0
