"""Scoring models in the database and the admin: the default model, versions, validation refusals."""

import json

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from scoring import policy, versioning
from scoring.models import ScoringModel
from scoring.policy import ActivityFact, LeadFacts

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:scoring_scoringmodel_changelist")


def change_url(model):
    return reverse("admin:scoring_scoringmodel_change", args=[model.pk])


@pytest.fixture
def default_model():
    return ScoringModel.objects.get(version=1)


@pytest.fixture
def draft(default_model):
    return versioning.new_draft_from(default_model)


@pytest.fixture
def what_if_provider():
    saved = list(versioning._what_if)
    yield versioning.register_what_if
    versioning._what_if[:] = saved


def form_value(value):
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def change_form_data(model, rule_changes=None, new_rules=(), **model_changes):
    """The POST the admin change form sends for `model`, with changes to the model and its rules."""
    data = {
        "name": model.name,
        "mql_threshold": model.mql_threshold,
        "warm_from": model.warm_from,
        "hot_from": model.hot_from,
        "total_cap": model.total_cap or "",
        "fit_cap": model.fit_cap or "",
        "engagement_cap": model.engagement_cap or "",
        "notes": model.notes,
        "_save": "Save",
    }
    data.update(model_changes)
    rules = list(model.rules.order_by("position", "id"))
    rows = []
    for index, rule in enumerate(rules):
        row = {
            "id": rule.pk,
            "model": model.pk,
            "position": rule.position,
            "is_enabled": "on" if rule.is_enabled else "",
            "name": rule.name,
            "group": rule.group,
            "field": rule.field,
            "operator": rule.operator,
            "value": form_value(rule.value),
            "activity_kind": rule.activity_kind,
            "url_pattern": rule.url_pattern,
            "points": rule.points,
            "max_occurrences": rule.max_occurrences or "",
            "half_life_days": rule.half_life_days or "",
            "window_days": rule.window_days or "",
        }
        row.update((rule_changes or {}).get(index, {}))
        rows.append(row)
    for new in new_rules:
        row = {"id": "", "model": model.pk, "position": 999, "is_enabled": "on", "name": "New rule"}
        row.update(new)
        rows.append(row)
    data.update(
        {
            "rules-TOTAL_FORMS": len(rows),
            "rules-INITIAL_FORMS": len(rules),
            "rules-MIN_NUM_FORMS": 0,
            "rules-MAX_NUM_FORMS": 1000,
        }
    )
    for index, row in enumerate(rows):
        for key, value in row.items():
            if key == "is_enabled" and not value:
                continue  # an unchecked box is not sent
            data[f"rules-{index}-{key}"] = value
    return data


def rule_snapshot(model):
    return list(model.rules.order_by("id").values_list("name", "points", "operator", "value"))


# --- The default model ---


def test_the_default_model_exists_after_migrate_and_is_the_only_active_one(default_model):
    assert ScoringModel.active() == default_model
    assert default_model.status == "active"
    assert ScoringModel.objects.filter(is_active=True).count() == 1
    assert default_model.rules.filter(group="fit").exists()
    assert default_model.rules.filter(group="engagement").exists()


def test_the_default_model_is_valid(default_model):
    assert policy.validate_model(default_model.to_spec()) == []


def test_one_page_view_does_not_reach_the_default_threshold():
    now = timezone.now()
    facts = LeadFacts(email_domain_type="business", activities=[ActivityFact("page_view", now, "/blog/")])

    result = policy.score(facts, ScoringModel.active_spec(), at=now)

    assert result.score == 1
    assert not result.reaches_threshold
    assert result.temperature == "cold"


def test_a_demo_request_from_a_fitting_senior_lead_reaches_the_default_threshold():
    now = timezone.now()
    facts = LeadFacts(
        company_size=120,
        industry="Software",
        job_title="Head of Marketing",
        email_domain_type="business",
        activities=[ActivityFact("demo_request", now)],
    )

    result = policy.score(facts, ScoringModel.active_spec(), at=now)

    assert result.reaches_threshold
    assert result.temperature == "hot"
    assert "Demo request" in [item.rule for item in result.breakdown]
    assert result.model_version == 1


def test_a_demo_request_from_a_free_mail_student_does_not_reach_the_default_threshold():
    now = timezone.now()
    facts = LeadFacts(email_domain_type="student", activities=[ActivityFact("demo_request", now)])

    assert not policy.score(facts, ScoringModel.active_spec(), at=now).reaches_threshold


# --- Versions ---


def test_the_database_refuses_a_second_active_model(default_model, draft):
    with pytest.raises(IntegrityError), transaction.atomic():
        ScoringModel.objects.filter(pk=draft.pk).update(is_active=True, status="active")


def test_a_new_draft_copies_the_model_and_its_rules_with_the_next_version(default_model):
    draft = versioning.new_draft_from(default_model)

    assert (draft.version, draft.status, draft.is_active, draft.based_on) == (2, "draft", False, default_model)
    assert rule_snapshot(draft) == rule_snapshot(default_model)
    assert draft.mql_threshold == default_model.mql_threshold


def test_activating_a_draft_retires_the_active_model_and_keeps_it_readable(default_model, draft):
    rules_before = rule_snapshot(default_model)
    draft.rules.filter(activity_kind="pricing_view").update(points=12)

    activated = versioning.activate(draft)

    default_model.refresh_from_db()
    assert (activated.status, activated.is_active) == ("active", True)
    assert activated.activated_at is not None
    assert (default_model.status, default_model.is_active) == ("retired", False)
    assert default_model.retired_at is not None
    assert rule_snapshot(default_model) == rules_before
    assert ScoringModel.active() == activated


def test_activation_is_refused_for_an_invalid_draft_and_changes_nothing(default_model, draft):
    ScoringModel.objects.filter(pk=draft.pk).update(mql_threshold=10_000)

    with pytest.raises(versioning.ActivationRefused) as refusal:
        versioning.activate(draft)

    assert "above the highest reachable score" in refusal.value.problems[0]
    assert ScoringModel.active() == default_model
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_activation_is_refused_for_a_model_that_is_not_a_draft(default_model):
    with pytest.raises(versioning.ActivationRefused, match="only a draft can be activated"):
        versioning.activate(default_model)


def test_activation_listeners_run_once_after_commit(draft, django_capture_on_commit_callbacks, monkeypatch):
    calls = []
    monkeypatch.setattr(versioning, "_on_activated", [])
    versioning.register_on_activated(lambda model_id: calls.append(model_id))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        versioning.activate(draft)
    assert calls == []
    for callback in callbacks:
        callback()

    assert calls == [draft.pk]


def test_rescore_progress_is_counted_until_every_lead_is_done(default_model):
    versioning.start_rescore(default_model.pk, total=3)
    versioning.add_rescored(default_model.pk, 2)
    default_model.refresh_from_db()
    assert (default_model.rescore_done, default_model.rescore_finished_at) == (2, None)

    versioning.add_rescored(default_model.pk, 1)

    default_model.refresh_from_db()
    assert default_model.rescore_finished_at is not None


# --- The admin ---


def test_the_admin_lists_every_version(admin_client, default_model, draft):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert [row.version for row in response.context["cl"].result_list] == [2, 1]


def test_the_active_model_is_read_only_in_the_admin(admin_client, default_model):
    page = admin_client.get(change_url(default_model))
    assert page.status_code == 200
    assert b'name="mql_threshold"' not in page.content
    assert b'name="_save"' not in page.content
    assert "Create a new draft version from this model" in page.content.decode()
    before = rule_snapshot(default_model)

    response = admin_client.post(change_url(default_model), change_form_data(default_model, mql_threshold=10))

    assert response.status_code == 403
    default_model.refresh_from_db()
    assert default_model.mql_threshold == 50
    assert rule_snapshot(default_model) == before


def test_the_active_model_cannot_be_deleted_in_the_admin(admin_client, default_model):
    url = reverse("admin:scoring_scoringmodel_delete", args=[default_model.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert ScoringModel.objects.filter(pk=default_model.pk).exists()


def test_the_new_draft_button_creates_a_draft_and_opens_it(admin_client, default_model):
    response = admin_client.post(reverse("admin:scoring_scoringmodel_new_draft", args=[default_model.pk]))

    draft = ScoringModel.objects.get(version=2)
    assert response.status_code == 302
    assert response.url == change_url(draft)
    assert draft.based_on == default_model


def test_the_new_draft_action_creates_a_draft(admin_client, default_model):
    response = admin_client.post(CHANGELIST, {"action": "new_draft_action", "_selected_action": [default_model.pk]})

    assert response.status_code == 302
    assert ScoringModel.objects.get(version=2).status == "draft"


def test_a_draft_is_edited_in_the_admin(admin_client, draft):
    data = change_form_data(
        draft,
        rule_changes={1: {"value": "Software, Fintech"}},
        new_rules=[{"group": "engagement", "activity_kind": "chat", "points": 5, "window_days": 30}],
        mql_threshold=60,
    )

    response = admin_client.post(change_url(draft), data)

    assert response.status_code == 302, response.context["errors"] if response.context else response
    draft.refresh_from_db()
    assert draft.mql_threshold == 60
    assert draft.rules.get(name="Industry fits").value == ["Software", "Fintech"]
    assert draft.rules.get(activity_kind="chat").window_days == 30
    assert ScoringModel.objects.get(version=1).mql_threshold == 50


def error_text(response):
    return " ".join(str(error) for error in response.context["errors"]) + " ".join(
        str(error)
        for formset in response.context["inline_admin_formsets"]
        for error in formset.formset.non_form_errors()
    )


def test_the_admin_refuses_an_operator_that_does_not_fit_the_field(admin_client, draft):
    before = rule_snapshot(draft)
    data = change_form_data(draft, rule_changes={0: {"operator": "contains", "value": "50"}})

    response = admin_client.post(change_url(draft), data)

    assert response.status_code == 200
    assert "The operator “contains (any of)” does not fit the field “Company size (employees)”" in error_text(response)
    assert rule_snapshot(draft) == before


def test_the_admin_refuses_a_rule_with_no_effect(admin_client, draft):
    data = change_form_data(draft, new_rules=[{"group": "engagement", "activity_kind": "chat", "points": 0}])

    response = admin_client.post(change_url(draft), data)

    assert response.status_code == 200
    assert "A rule worth 0 points has no effect" in error_text(response)
    assert not draft.rules.filter(activity_kind="chat").exists()


def test_the_admin_refuses_a_value_that_does_not_fit_the_operator(admin_client, draft):
    data = change_form_data(draft, rule_changes={0: {"operator": "between", "value": "500, 50"}})

    response = admin_client.post(change_url(draft), data)

    assert response.status_code == 200
    assert "The range starts above its end" in error_text(response)


def test_the_admin_refuses_a_threshold_outside_the_reachable_range(admin_client, draft):
    response = admin_client.post(change_url(draft), change_form_data(draft, mql_threshold=1000))

    assert response.status_code == 200
    assert "The MQL threshold (1000) is above the highest reachable score (184)" in error_text(response)
    draft.refresh_from_db()
    assert draft.mql_threshold == 50


def test_the_admin_checks_the_reachable_range_with_the_edited_rules(admin_client, draft):
    disable_all = {index: {"is_enabled": ""} for index in range(draft.rules.count())}

    response = admin_client.post(change_url(draft), change_form_data(draft, rule_changes=disable_all))

    assert response.status_code == 200
    assert "no lead could ever become an MQL" in error_text(response)


def test_the_admin_refuses_bands_in_the_wrong_order(admin_client, draft):
    response = admin_client.post(change_url(draft), change_form_data(draft, warm_from=60, hot_from=40))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["hot_from"] == ["“Hot from” must be above “warm from”."]


def test_the_activate_action_activates_a_draft(admin_client, default_model, draft):
    response = admin_client.post(CHANGELIST, {"action": "activate_action", "_selected_action": [draft.pk]}, follow=True)

    assert "Version 2 is now active." in response.content.decode()
    assert ScoringModel.active() == draft


def test_the_activate_button_refuses_an_invalid_draft_with_a_message(admin_client, default_model, draft):
    draft.rules.all().delete()

    response = admin_client.post(reverse("admin:scoring_scoringmodel_activate", args=[draft.pk]), follow=True)

    assert "no lead could ever become an MQL" in response.content.decode()
    assert ScoringModel.active() == default_model


def test_a_new_model_added_in_the_admin_is_a_draft_with_the_next_version(admin_client, default_model):
    data = {
        "name": "Enterprise",
        "mql_threshold": 20,
        "warm_from": 10,
        "hot_from": 20,
        "notes": "",
        "rules-TOTAL_FORMS": 1,
        "rules-INITIAL_FORMS": 0,
        "rules-MIN_NUM_FORMS": 0,
        "rules-MAX_NUM_FORMS": 1000,
        "rules-0-position": 1,
        "rules-0-is_enabled": "on",
        "rules-0-name": "Big company",
        "rules-0-group": "fit",
        "rules-0-field": "company_size",
        "rules-0-operator": "gte",
        "rules-0-value": "1000",
        "rules-0-points": 30,
    }

    response = admin_client.post(reverse("admin:scoring_scoringmodel_add"), data)

    assert response.status_code == 302
    model = ScoringModel.objects.get(name="Enterprise")
    assert (model.version, model.status) == (2, "draft")
    assert model.rules.get().value == 1000


def test_a_draft_shows_the_what_if_numbers_of_the_registered_provider(admin_client, draft, what_if_provider):
    what_if_provider(lambda spec: [("Leads that would cross the MQL threshold", 7), ("Model version", spec.version)])

    page = admin_client.get(change_url(draft)).content.decode()

    assert "Leads that would cross the MQL threshold</th><td>7" in page
    assert "Model version</th><td>2" in page


def test_without_a_provider_the_what_if_section_says_so(admin_client, draft, what_if_provider):
    versioning._what_if[:] = []

    page = admin_client.get(change_url(draft)).content.decode()

    assert "no what-if provider is registered" in page
