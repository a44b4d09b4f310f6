"""sales.demo.seed: Closing DACH with ae1 and ae2, the SQL rule, opportunities with stakeholders; twice is once."""

from django.utils import timezone

from core.vocabulary import Stage
from leads.models import Account
from routing.models import RoutingRule, Team
from sales import demo
from sales.models import Opportunity, Stakeholder
from tests.factories import LeadFactory


def test_seed_makes_the_closing_team_and_is_idempotent(manager, settings):
    settings.DEMO_PASSWORD = "demo-password-1"
    account = Account.objects.create(domain="acme.de", name="Acme")
    for stage in (Stage.OPPORTUNITY, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.LOST):
        LeadFactory(stage=stage, account=account, deal_value=1000, close_date=timezone.localdate())
    for _ in range(2):
        demo.seed(timezone.now(), {"manager": manager})
    team = Team.objects.get(name="Closing DACH")
    assert sorted(team.reps.values_list("user__username", flat=True)) == ["ae1", "ae2"]
    assert team.reps.get(user__username="ae1").user.check_password("demo-password-1")
    assert RoutingRule.objects.get(name="New SQLs to Closing DACH").target_team == team
    assert Opportunity.objects.filter(team=team).count() == 4
    assert set(Opportunity.objects.values_list("outcome", flat=True)) == {"open", "won", "lost"}
    assert Stakeholder.objects.count() == 4
