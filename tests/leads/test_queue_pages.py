"""The SDR's queue and the pool."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core.vocabulary import Stage
from leads.models import SlaClock
from routing.models import SlaPolicy
from tests.factories import ActivityFactory, LeadFactory
from tests.pages import as_user, count_queries, text

pytestmark = pytest.mark.django_db


# --- queue and pool -------------------------------------------------------------------------------------


def test_queue_lists_waiting_mqls_oldest_first_with_their_age_and_the_sals(client, sdr, other_sdr):
    now = timezone.now()
    newer = LeadFactory(stage=Stage.MQL, owner=sdr, last_name="Neu", stage_entered_at=now - dt.timedelta(minutes=30))
    older = LeadFactory(stage=Stage.MQL, owner=sdr, last_name="Alt", stage_entered_at=now - dt.timedelta(hours=3))
    working = LeadFactory(stage=Stage.SAL, owner=sdr, last_name="Dran")
    others = LeadFactory(stage=Stage.MQL, owner=other_sdr, last_name="Fremd")
    response = as_user(client, sdr).get(reverse("leads:queue"))
    page = text(response)
    assert [lead.pk for lead in response.context["waiting"]] == [older.pk, newer.pk]
    assert [lead.pk for lead in response.context["working"]] == [working.pk]
    assert page.index("Alt") < page.index("Neu")
    assert "3 h" in page and "30 min" in page
    assert others.last_name not in page
    assert page.count('data-transition="accept"') == 2
    assert 'data-testid="count-waiting">2<' in page


def test_queue_puts_the_longest_waiting_first_then_the_highest_score(client, sdr):
    entered = timezone.now() - dt.timedelta(hours=2)
    low = LeadFactory(stage=Stage.MQL, owner=sdr, score=40, stage_entered_at=entered)
    high = LeadFactory(stage=Stage.MQL, owner=sdr, score=80, stage_entered_at=entered)
    oldest = LeadFactory(stage=Stage.MQL, owner=sdr, score=10, stage_entered_at=entered - dt.timedelta(hours=1))
    response = as_user(client, sdr).get(reverse("leads:queue"))
    assert [lead.pk for lead in response.context["waiting"]] == [oldest.pk, high.pk, low.pk]


def start_clock(lead, *, due_in: dt.timedelta) -> SlaClock:
    now = timezone.now()
    return SlaClock.objects.create(lead=lead, policy=SlaPolicy.objects.order_by("pk").first(), stage=lead.stage,
                                   owner=lead.owner, started_at=now - dt.timedelta(hours=1), due_at=now + due_in)


def test_queue_puts_the_sla_due_soonest_first(client, sdr):
    now = timezone.now()
    oldest = LeadFactory(stage=Stage.MQL, owner=sdr, score=90, stage_entered_at=now - dt.timedelta(hours=5))
    later = LeadFactory(stage=Stage.MQL, owner=sdr, stage_entered_at=now - dt.timedelta(minutes=5))
    sooner = LeadFactory(stage=Stage.MQL, owner=sdr, stage_entered_at=now - dt.timedelta(minutes=1))
    late = LeadFactory(stage=Stage.SAL, owner=sdr)
    start_clock(later, due_in=dt.timedelta(hours=3))
    start_clock(sooner, due_in=dt.timedelta(minutes=20))
    start_clock(late, due_in=-dt.timedelta(hours=2))
    response = as_user(client, sdr).get(reverse("leads:queue"))
    assert [lead.pk for lead in response.context["waiting"]] == [sooner.pk, later.pk, oldest.pk]
    page = text(response)
    assert "due in 20 min" in page or "due in 19 min" in page
    assert 'data-sla="breached"' in page and "2 h late" in page


def test_queue_counts_waiting_mqls_sals_to_contact_and_follow_ups_due_today(client, sdr, other_sdr):
    today = timezone.localdate()
    LeadFactory.create_batch(2, stage=Stage.MQL, owner=sdr)
    sal = LeadFactory(stage=Stage.SAL, owner=sdr, last_name="Heute")
    LeadFactory(stage=Stage.SAL, owner=sdr)
    ActivityFactory(lead=sal, kind="call", outcome="no_answer", created_by=sdr, next_step_on=today,
                    note="Call back after lunch")
    page = text(as_user(client, sdr).get(reverse("leads:queue")))
    assert 'data-testid="count-waiting">2<' in page
    assert 'data-testid="count-working">2<' in page
    assert 'data-testid="count-follow-ups">1<' in page
    assert "Call back after lunch" in page


def test_follow_ups_due_today_are_own_open_leads_whose_latest_next_step_is_due(client, sdr, other_sdr):
    today = timezone.localdate()
    due = LeadFactory(stage=Stage.SAL, owner=sdr, last_name="Faellig")
    overdue = LeadFactory(stage=Stage.SQL, owner=sdr, last_name="Ueberfaellig")
    later = LeadFactory(stage=Stage.SAL, owner=sdr, last_name="Spaeter")
    done = LeadFactory(stage=Stage.SAL, owner=sdr, last_name="Erledigt")
    closed = LeadFactory(stage=Stage.CUSTOMER, owner=sdr, last_name="Kunde")
    others = LeadFactory(stage=Stage.SAL, owner=other_sdr, last_name="Fremd")
    for lead, day in ((due, today), (overdue, today - dt.timedelta(days=2)), (later, today + dt.timedelta(days=1)),
                      (done, today), (closed, today), (others, today)):
        ActivityFactory(lead=lead, kind="call", created_by=lead.owner, next_step_on=day)
    ActivityFactory(lead=done, kind="call", outcome="connected", created_by=sdr)  # the call was made
    ActivityFactory(lead=later, kind="page_view")  # tracking changes no plan
    response = as_user(client, sdr).get(reverse("leads:queue"))
    assert [lead.pk for lead in response.context["follow_ups"]] == [overdue.pk, due.pk]
    page = text(response)
    assert "overdue since" in page


def test_queue_with_follow_ups_runs_a_fixed_number_of_queries(client, sdr):
    today = timezone.localdate()
    ActivityFactory(lead=LeadFactory(owner=sdr, stage=Stage.SAL), kind="call", created_by=sdr, next_step_on=today)
    client = as_user(client, sdr)
    few = count_queries(client, "leads:queue")
    for _number in range(6):
        ActivityFactory(lead=LeadFactory(owner=sdr, stage=Stage.SAL), kind="call", created_by=sdr,
                        next_step_on=today)
    assert count_queries(client, "leads:queue") == few


def test_pool_lists_unowned_mqls_with_a_claim_button(client, sdr, pool_mql, own_mql):
    page = text(as_user(client, sdr).get(reverse("leads:pool")))
    assert pool_mql.email in page or pool_mql.display_name in page
    assert own_mql.display_name not in page
    assert 'data-action="claim"' in page


def test_pool_has_no_claim_button_for_marketing(client, marketing, pool_mql):
    page = text(as_user(client, marketing).get(reverse("leads:pool")))
    assert pool_mql.display_name in page
    assert 'data-action="claim"' not in page


def test_header_shows_the_unread_notification_count(client, manager, sdr, pool_mql):
    as_user(client, manager).post(reverse("leads:assign", args=[pool_mql.pk]), {"owner": "sdr1"})
    page = text(as_user(client, sdr).get(reverse("leads:queue")))
    assert '<span class="count">1</span>' in page
