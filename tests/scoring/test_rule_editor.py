"""The rules editor of a scoring draft: list values as lists (not JSON), the widgets rendered in Python give
Django's own HTML, and the draft pages stay cheap."""

import pytest
from django import forms
from django.test.html import parse_html
from django.urls import reverse

from scoring.forms import FastCheckboxInput, FastNumberInput, FastSelect, FastTextInput, ScoringRuleForm
from scoring.models import ScoringRule
from tests.scoring.test_scoring_admin import change_form_data, change_url, default_model, draft

__all__ = ["default_model", "draft"]  # fixtures
pytestmark = pytest.mark.django_db


def squeeze(html: str):
    """The HTML as a tree (attribute order and whitespace between tags do not count), as assertHTMLEqual."""
    return parse_html(str(html))


@pytest.mark.parametrize("fast, django, value, attrs", [
    (FastTextInput(), forms.TextInput(), "Software & <SaaS>", {"id": "id_x", "class": "vTextField"}),
    (FastTextInput(), forms.TextInput(), None, {"id": "id_x", "required": True}),
    (FastNumberInput(), forms.NumberInput(), 10, {"id": "id_n"}),
    (FastCheckboxInput(), forms.CheckboxInput(), True, {"id": "id_c"}),
    (FastCheckboxInput(), forms.CheckboxInput(), False, {"id": "id_c"}),
])
def test_the_fast_inputs_render_djangos_html(fast, django, value, attrs):
    assert squeeze(fast.render("rules-0-x", value, attrs)) == squeeze(django.render("rules-0-x", value, attrs))


@pytest.mark.parametrize("name", ["group", "field", "operator", "activity_kind"])
def test_the_fast_selects_render_djangos_html_for_every_choice(name):
    choices = ScoringRuleForm.base_fields[name].choices
    django = forms.Select(choices=choices)
    fast = FastSelect(choices=choices)
    for value, _label in list(choices)[:6]:
        assert squeeze(fast.render(name, value, {"id": f"id_{name}"})) == squeeze(
            django.render(name, value, {"id": f"id_{name}"}))


def test_list_values_are_shown_as_lists_not_json(admin_client, draft):
    rule = draft.rules.filter(operator="in_list").first()
    rule.value = ["Software", "SaaS", "Fintech"]
    rule.save(update_fields=["value"])

    page = admin_client.get(change_url(draft)).content.decode()

    assert 'value="Software, SaaS, Fintech"' in page
    assert "[&quot;Software" not in page


def test_a_list_typed_with_commas_is_saved_as_a_list_and_json_still_works(admin_client, draft):
    rules = list(draft.rules.order_by("position", "id"))
    index = next(i for i, rule in enumerate(rules) if rule.operator == "in_list")
    for typed, saved in (("Software,  SaaS ,Fintech", ["Software", "SaaS", "Fintech"]),
                         ('["Handel, Groß", "Software"]', ["Handel, Groß", "Software"])):
        data = change_form_data(draft, rule_changes={index: {"value": typed}})
        response = admin_client.post(change_url(draft), data)
        assert response.status_code == 302
        assert ScoringRule.objects.get(pk=rules[index].pk).value == saved
    page = admin_client.get(change_url(draft)).content.decode()
    assert "[&quot;Handel, Groß&quot;, &quot;Software&quot;]" in page  # an item with a comma keeps its JSON


def test_a_bad_list_value_is_refused_at_the_field_and_keeps_what_was_typed(admin_client, draft):
    rules = list(draft.rules.order_by("position", "id"))
    index = next(i for i, rule in enumerate(rules) if rule.field == "company_size")
    before = ScoringRule.objects.get(pk=rules[index].pk).value
    data = change_form_data(draft, rule_changes={index: {"operator": "between", "value": "viele, 500"}})

    response = admin_client.post(change_url(draft), data)

    assert response.status_code == 200
    assert 'value="viele, 500"' in response.content.decode()
    assert "Enter the range as two numbers" in response.content.decode()
    assert ScoringRule.objects.get(pk=rules[index].pk).value == before


def test_the_draft_page_runs_a_fixed_number_of_queries(admin_client, draft, django_assert_max_num_queries):
    url = change_url(draft)
    admin_client.get(url)
    with django_assert_max_num_queries(25):
        assert admin_client.get(url).status_code == 200
    with django_assert_max_num_queries(15):
        assert admin_client.post(reverse("admin:scoring_scoringmodel_new_draft", args=[draft.pk])).status_code == 302
