"""The pipeline report has one rule and two paths: `forecast.aggregate` over rows (the reference) and SQL
aggregates (`selectors.pipeline_aggregates`, what the pages and the API use). They give the same report."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.vocabulary import Role, SalesOutcome
from routing.models import Team
from sales import forecast, selectors
from sales.models import Opportunity
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals(admin_user):
    today = timezone.localdate()
    pipeline = selectors.default_pipeline()
    stages = selectors.stages_of(pipeline)
    reps = [UserFactory(username=f"ae{i}", role=Role.SDR) for i in range(3)]
    team = Team.objects.create(name="Closing", slug="closing", kind="closing")
    campaign = CampaignFactory(slug="messe")
    now = timezone.now()
    for i in range(40):
        outcome = [SalesOutcome.OPEN, SalesOutcome.OPEN, SalesOutcome.WON, SalesOutcome.LOST][i % 4]
        close = today + dt.timedelta(days=(i * 11) % 150 - 30) if i % 9 else None
        created = now - dt.timedelta(days=20 + i * 3, hours=i)
        Opportunity.objects.create(
            name=f"Deal {i}",
            lead=LeadFactory(source=["web_form", "event", "referral"][i % 3], campaign=campaign if i % 2 else None),
            pipeline=pipeline,
            stage=stages[i % len(stages)],
            outcome=outcome,
            value=None if i % 13 == 0 else Decimal(1000 + 337 * i) / 3,
            currency="EUR",
            close_date=close,
            first_close_date=close - dt.timedelta(days=10) if close and i % 5 == 0 else close,
            owner=reps[i % 3] if i % 7 else None,
            team=team if i % 2 else None,
            sourced_by=reps[(i + 1) % 3],
            created_at=created,
            closed_at=created + dt.timedelta(days=5 + i) if outcome != SalesOutcome.OPEN and i % 6 else None,
        )
    return admin_user, reps, today


def test_the_sql_path_gives_the_report_of_the_row_path(deals):
    admin, reps, today = deals
    for user in (admin, reps[0]):
        expected = forecast.summary(selectors.pipeline_rows(user), today=today)
        assert selectors.pipeline_summary(user, today=today) == expected
        assert expected["open"]["count"] > 0 and expected["win_rate"] > 0


def test_the_sql_path_runs_a_fixed_number_of_queries(deals, django_assert_max_num_queries):
    admin, _reps, today = deals
    with django_assert_max_num_queries(8):
        selectors.pipeline_aggregates(admin, today=today)
