"""The programme report: exact figures from a history built by hand, and the two-proportion test."""

import pytest

from engagement import report
from engagement.models import Enrolment, Message, TrackingEvent
from tests.engagement.helpers import programme, template
from tests.factories import LeadFactory


def test_two_proportion_matches_the_hand_computed_z():
    # 10/100 against 25/100: pooled 0.175, se = sqrt(0.175*0.825*0.02) = 0.053735, z = 0.15/0.053735 = 2.7915
    result = report.two_proportion(10, 100, 25, 100, confidence=0.95)
    assert result.z == pytest.approx(2.7915, abs=1e-3)
    assert result.p_value == pytest.approx(0.00525, abs=2e-4)
    assert result.winner == "b"


def test_no_winner_below_the_chosen_confidence():
    assert report.two_proportion(10, 100, 25, 100, confidence=0.999).winner == ""
    assert report.two_proportion(0, 0, 1, 10, confidence=0.95) is None


@pytest.mark.django_db
def test_the_report_counts_by_variant_and_the_api_serves_it(api_as, marketing, sdr):
    prog = programme("split", steps=[{"kind": "send_email", "variant_template": None}])
    step = prog.steps.get()
    step.variant_template, step.variant_share = template("B"), 50
    step.save()
    for index in range(6):
        variant = "a" if index < 3 else "b"
        enrolment = Enrolment.objects.create(programme=prog, lead=LeadFactory(), variant=variant)
        message = Message.objects.create(enrolment=enrolment, step=step, template=step.template, variant=variant,
                                         status="sent")
        if variant == "b" or index == 0:
            TrackingEvent.objects.create(message=message, kind="clicked")
            TrackingEvent.objects.create(message=message, kind="opened")
    figures = report.programme_report(prog)
    assert figures["enrolled"] == 6
    by_variant = {row["variant"]: row for row in figures["steps"]}
    assert (by_variant["a"]["sent"], by_variant["a"]["clicked"]) == (3, 1)
    assert (by_variant["b"]["sent"], by_variant["b"]["clicked"], by_variant["b"]["opened"]) == (3, 3, 3)
    assert figures["ab_tests"][0]["winner"] == ""  # 1/3 against 3/3 is not significant at 95 %
    answer = api_as(marketing).get("/api/v1/programmes/split/report/", {"confidence": "0.9"})
    assert answer.status_code == 200 and answer.json()["ab_tests"][0]["confidence"] == 0.9
    assert api_as(marketing).get("/api/v1/programmes/split/report/", {"confidence": "2"}).status_code == 400
    assert api_as(sdr).get("/api/v1/programmes/split/report/").status_code == 404
