"""Sales pages: the board's guarded card move (two movers: one wins), 404 for others, merge with undo."""

from leads.models import Account, Lead
from sales import handoff
from sales.models import Opportunity
from tests.factories import LeadFactory
from tests.sales.helpers import closing_team, sql_lead


def test_two_people_moving_the_same_card_one_wins_the_other_sees_the_new_state(client, sdr, manager):
    _team, reps = closing_team("ae1", manager=manager)
    opportunity = handoff.hand_off(lead_id=sql_lead(sdr).pk)
    demo = opportunity.pipeline.stages.get(name="demo")
    opportunity.next_step = "Book the demo"
    opportunity.save()
    client.force_login(reps[0].user)
    assert client.get("/sales/opportunities/").status_code == 200
    first = client.post(f"/sales/opportunities/{opportunity.pk}/move/", {"stage": demo.pk, "version": 1})
    assert first.status_code == 200, first.content.decode()
    client.force_login(manager)
    second = client.post(f"/sales/opportunities/{opportunity.pk}/move/", {"stage": demo.pk + 1, "version": 1})
    assert second.status_code == 409
    assert "demo" in second.content.decode()
    assert Opportunity.objects.get(pk=opportunity.pk).stage == demo


def test_pages_are_404_for_someone_who_may_not_see(client, sdr, other_sdr):
    closing_team("ae1")
    opportunity = handoff.hand_off(lead_id=sql_lead(sdr).pk)
    client.force_login(other_sdr)
    assert client.get(f"/sales/opportunities/{opportunity.pk}/").status_code == 404
    assert client.get(f"/sales/accounts/{opportunity.account_id}/").status_code == 404
    client.force_login(opportunity.owner)
    assert client.get(f"/sales/opportunities/{opportunity.pk}/").status_code == 200
    assert client.get(f"/sales/accounts/{opportunity.account_id}/").status_code == 200
    assert client.get("/sales/pipeline/?format=csv").status_code == 200


def test_merge_and_undo(client, manager):
    kept = Account.objects.create(domain="acme.de", name="Acme")
    gone = Account.objects.create(domain="acme-gmbh.de", name="Acme GmbH")
    lead = LeadFactory(account=gone)
    client.force_login(manager)
    client.post(f"/sales/accounts/{kept.pk}/merge/", {"merge": gone.pk})
    assert not Account.objects.filter(pk=gone.pk).exists()
    assert Lead.objects.get(pk=lead.pk).account == kept
    merge = kept.__class__.objects.get(pk=kept.pk)
    from sales.models import AccountMerge

    record = AccountMerge.objects.get(kept=merge)
    client.post(f"/sales/accounts/{kept.pk}/merges/{record.pk}/undo/")
    restored = Account.objects.get(domain="acme-gmbh.de")
    assert Lead.objects.get(pk=lead.pk).account == restored


def test_bad_merge_input_is_a_form_error_not_a_500(client, manager):
    kept = Account.objects.create(domain="acme.de", name="Acme")
    client.force_login(manager)
    assert client.post(f"/sales/accounts/{kept.pk}/merge/", {"merge": "x"}).status_code == 400
    assert Account.objects.count() == 1


def test_the_accounts_page_lists_only_what_the_user_sees_in_fixed_queries(
    client, sdr, other_sdr, marketing, django_assert_max_num_queries
):
    closing_team("ae1")
    opportunity = handoff.hand_off(lead_id=sql_lead(sdr).pk)
    for i in range(5):
        LeadFactory(email=f"x{i}@other{i}.de", account=Account.objects.create(domain=f"other{i}.de", name=f"Other {i}"))
    client.force_login(marketing)
    with django_assert_max_num_queries(8):
        everything = client.get("/sales/accounts/").content.decode()
    assert "Acme" in everything and "Other 4" in everything
    assert "Other 3" in client.get("/sales/accounts/?q=other3").content.decode()
    assert "Acme" not in client.get("/sales/accounts/?q=other3").content.decode()
    client.force_login(opportunity.owner)  # the AE: the account of their opportunity
    page = client.get("/sales/accounts/").content.decode()
    assert "Acme" in page and "Other 1" not in page
    client.force_login(other_sdr)
    assert "Acme" not in client.get("/sales/accounts/").content.decode()


def test_the_nav_links_to_the_sales_pages_for_the_roles_that_use_them(client, sdr, marketing, manager):
    client.force_login(sdr)
    page = client.get("/sales/accounts/").content.decode()
    assert all(link in page for link in ('href="/sales/opportunities/"', 'href="/sales/pipeline/"'))
    assert 'href="/sales/accounts/"' in page
    client.force_login(manager)
    assert 'href="/sales/pipeline/"' in client.get("/sales/accounts/").content.decode()
    client.force_login(marketing)  # marketing sees accounts, but no opportunities of its own
    page = client.get("/sales/accounts/").content.decode()
    assert 'href="/sales/accounts/"' in page and 'href="/sales/opportunities/"' not in page
