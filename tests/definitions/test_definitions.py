"""Definitions the teams own: the hot-intent rule and stage words edited by admins (every change logged),
the Definitions page everyone reads, and the quarterly review with its reminder."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from core.vocabulary import ActivityKind, NotificationKind, Stage
from definitions import services
from definitions.models import DefinitionChange, HotIntentRule, Review, StageDefinition
from leads import lifecycle
from leads.models import Notification
from reporting import agreement
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def page_for(user):
    client = Client()
    client.force_login(user)
    return client


def _views(lead, count, *, days_ago=1):
    at = timezone.now() - dt.timedelta(days=days_ago)
    return [(ActivityKind.PRICING_VIEW, at)] * count


def test_the_shipped_definitions_are_there_with_one_review():
    assert set(StageDefinition.objects.values_list("stage", flat=True)) == set(Stage.values)
    rule = HotIntentRule.objects.get(pk=1)
    assert (rule.pricing_views, rule.within_days) == (3, 7)
    assert set(rule.kinds) == {ActivityKind.DEMO_REQUEST, ActivityKind.CONTACT_REQUEST}
    assert Review.objects.count() == 1


def test_an_admin_changes_the_hot_intent_rule_and_it_counts_at_once_with_the_change_logged(admin_user):
    lead = LeadFactory(stage=Stage.KNOWN)
    lead.stage_entered_at = timezone.now() - dt.timedelta(days=30)
    assert not lifecycle.has_hot_intent(lead, activities=_views(lead, 2))
    response = page_for(admin_user).post("/admin/definitions/hotintentrule/1/change/", {
        "pricing_views": "2", "within_days": "7", "kinds": [ActivityKind.DEMO_REQUEST],
    })
    assert response.status_code == 302, response.content[:500]
    assert lifecycle.has_hot_intent(lead, activities=_views(lead, 2))
    # a contact request is no longer hot by itself; a demo request still is
    assert not lifecycle.has_hot_intent(lead, activities=[(ActivityKind.CONTACT_REQUEST, timezone.now())])
    assert lifecycle.has_hot_intent(lead, activities=[(ActivityKind.DEMO_REQUEST, timezone.now())])
    changes = {(c.field, c.old, c.new, c.by_id) for c in DefinitionChange.objects.filter(subject="hot_intent")}
    assert changes == {
        ("pricing_views", "3", "2", admin_user.pk),
        ("kinds", "contact_request, demo_request", "demo_request", admin_user.pk),
    }


def test_the_database_path_of_hot_intent_reads_the_rule_too(admin_user):
    lead = LeadFactory(stage=Stage.KNOWN)
    for days in (1, 2):
        lead.activities.create(kind=ActivityKind.PRICING_VIEW, occurred_at=timezone.now() - dt.timedelta(days=days))
    assert not lifecycle.has_hot_intent(lead)
    rule = HotIntentRule.objects.get(pk=1)
    rule.pricing_views = 2
    services.save(rule, by=admin_user)
    assert lifecycle.has_hot_intent(lead)


@pytest.mark.parametrize("data,field", [
    ({"pricing_views": "0", "within_days": "7"}, "pricing_views"),
    ({"pricing_views": "3", "within_days": "-1"}, "within_days"),
    ({"pricing_views": "3", "within_days": "7", "kinds": ["no_such_kind"]}, "kinds"),
    ({"pricing_views": "x", "within_days": "7"}, "pricing_views"),
])
def test_a_bad_rule_is_refused_naming_the_field_and_nothing_changes(admin_user, data, field):
    response = page_for(admin_user).post("/admin/definitions/hotintentrule/1/change/", data)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert HotIntentRule.objects.get(pk=1).pricing_views == 3
    assert not DefinitionChange.objects.exists()


def test_stage_words_are_edited_by_the_admin_and_shown_on_the_definitions_page(admin_user, sdr):
    mql = StageDefinition.objects.get(stage=Stage.MQL)
    response = page_for(admin_user).post(f"/admin/definitions/stagedefinition/{mql.pk}/change/", {
        "label": "Marketing Qualified Lead", "description": "Fit and interest enough for sales.",
        "entry_criteria": "Score 50 or hot intent.", "exit_criteria": "Accepted or rejected within 4 hours.",
        "owner": "marketing",
    })
    assert response.status_code == 302, response.content[:500]
    page = page_for(sdr).get("/reports/definitions/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Marketing Qualified Lead" in text and "Accepted or rejected within 4 hours." in text
    assert DefinitionChange.objects.filter(subject="stage:mql", field="label", new="Marketing Qualified Lead").exists()


def test_the_page_shows_the_agreement_in_force(sdr, admin_user):
    rule = HotIntentRule.objects.get(pk=1)
    rule.pricing_views = 5
    services.save(rule, by=admin_user)
    text = page_for(sdr).get("/reports/definitions/").content.decode()
    assert "5 pricing-page views within 7 days" in text
    for name in lifecycle.TRANSITIONS:
        assert f"<code>{name}</code>" in text
    context = agreement.agreement()
    if context["scoring_model"] is not None:
        assert f"score of {context['scoring_model'].mql_threshold} or more" in text


def test_anonymous_visitors_go_to_the_login():
    response = Client().get("/reports/definitions/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_review_records_what_changed_since_the_one_before(admin_user):
    rule = HotIntentRule.objects.get(pk=1)
    rule.within_days = 14
    services.save(rule, by=admin_user)
    response = page_for(admin_user).post("/admin/definitions/review/add/", {"notes": "Q4 review with sales."})
    assert response.status_code == 302, response.content[:500]
    review = Review.objects.order_by("-at", "-id").first()
    assert review.by == admin_user and review.notes == "Q4 review with sales."
    assert review.changes == "hot_intent within_days: 7 -> 14"
    second = services.record_review(Review(notes="nothing new"), by=admin_user)
    assert second.changes == ""


def test_the_reminder_comes_90_days_after_the_last_review_once_to_marketing_and_managers(marketing, manager, sdr):
    last = services.last_review()
    assert agreement.remind_review(now=last.at + dt.timedelta(days=89)) == 0
    later = last.at + dt.timedelta(days=90, minutes=1)
    assert agreement.remind_review(now=later) == 2
    assert agreement.remind_review(now=later + dt.timedelta(days=1)) == 0
    told = set(Notification.objects.filter(kind=NotificationKind.DEFINITIONS_REVIEW).values_list("user__username",
                                                                                                    flat=True))
    assert told == {"marketing", "manager"}
