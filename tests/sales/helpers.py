from core.vocabulary import Role, Stage
from leads.models import Account
from routing import policy
from routing.models import Rep, RoutingRule, Team
from tests.factories import LeadFactory, UserFactory


def closing_team(*names, manager=None, capacity=25, slug="closing"):
    team = Team.objects.create(name="Closing", slug=slug, kind=policy.TEAM_CLOSING, manager=manager)
    reps = [
        Rep.objects.create(user=UserFactory(username=n, role=Role.SDR), team=team, capacity=capacity) for n in names
    ]
    RoutingRule.objects.create(
        name="SQLs to closing",
        position=1,
        target_type=policy.TARGET_TEAM,
        target_team=team,
        method=policy.ROUND_ROBIN,
    )
    return team, reps


def sql_lead(owner, **fields):
    account = (
        fields.pop("account", None) or Account.objects.get_or_create(domain="acme.de", defaults={"name": "Acme"})[0]
    )
    return LeadFactory(stage=Stage.SQL, owner=owner, account=account, company="Acme GmbH", **fields)
