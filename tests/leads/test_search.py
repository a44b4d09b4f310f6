"""Lead search: word prefixes over e-mail, name and company, on the GIN index `lead_search`."""

import pytest
from django.db import connection

from leads import search
from leads.models import Lead
from tests.factories import LeadFactory


def found(text, queryset=None):
    return set(search.filter_leads(queryset if queryset is not None else Lead.objects.all(), text)
               .values_list("pk", flat=True))


@pytest.fixture
def people(db):
    return {
        "anna": LeadFactory(first_name="Anna", last_name="Müller", company="Müller-Lüdenscheidt Maschinenbau GmbH",
                            email="anna.mueller@mueller-mb.de", email_normalized="anna.mueller@mueller-mb.de"),
        "jens": LeadFactory(first_name="Jens", last_name="Schulz", company="Zeppelin Werke AG",
                            email="j.schulz@zeppelin.example", email_normalized="j.schulz@zeppelin.example"),
        "lea": LeadFactory(first_name="Lea", last_name="Köhler", company="Firma 117218 GmbH",
                           email="lea_koehler+fair@web.de", email_normalized="lea_koehler+fair@web.de"),
    }


def ids(people, *names):
    return {people[name].pk for name in names}


def test_query_text_keeps_only_words_as_required_prefixes():
    assert search.query_text("  Müller  GmbH ") == "müller:* & gmbh:*"
    assert search.query_text("a b") == "a & b"
    assert search.query_text("x' | !(y:*) & z") == "x & y & z"
    assert search.query_text("'&|!:*()") is None
    assert search.query_text("") is None


def test_words_match_the_start_of_any_name_company_or_email_word(people):
    assert found("mül") == ids(people, "anna")
    assert found("zeppelin") == ids(people, "jens")
    assert found("lüdenscheidt") == ids(people, "anna")
    assert found("gmbh") == ids(people, "anna", "lea")
    assert found("117218") == ids(people, "lea")


def test_every_word_must_match(people):
    assert found("lea gmbh") == ids(people, "lea")
    assert found("anna zeppelin") == set()


def test_case_does_not_matter(people):
    assert found("MÜLLER") == ids(people, "anna")
    assert found("köHLER") == ids(people, "lea")


def test_email_parts_and_whole_addresses_match(people):
    assert found("mueller") == ids(people, "anna")
    assert found("koehler") == ids(people, "lea")
    assert found("fair") == ids(people, "lea")
    assert found("anna.mueller@mueller-mb.de") == ids(people, "anna")
    assert found("j.schulz@zeppelin") == ids(people, "jens")


def test_the_middle_of_a_word_does_not_match(people):
    assert found("ller") == set()


def test_input_without_a_word_leaves_the_list_alone(people):
    assert found("  ' ! ") == ids(people, "anna", "jens", "lea")


def test_the_search_only_narrows_the_queryset_it_is_given(people):
    only_jens = Lead.objects.filter(pk=people["jens"].pk)
    assert found("gmbh", only_jens) == set()
    assert found("schulz", only_jens) == ids(people, "jens")


def test_many_matches_filter_on_the_condition_itself(people, monkeypatch):
    monkeypatch.setattr(search, "FEW", 1)
    narrowed = search.filter_leads(Lead.objects.all(), "gmbh")
    assert "@@" in str(narrowed.query)
    assert set(narrowed.values_list("pk", flat=True)) == ids(people, "anna", "lea")
    few = search.filter_leads(Lead.objects.all(), "zeppelin")
    assert "@@" not in str(few.query)
    assert set(few.values_list("pk", flat=True)) == ids(people, "jens")


def test_the_search_condition_is_served_by_the_gin_index(people):
    query = search.matches(Lead.objects.all(), "mül:*").values("pk")
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "lead_search" in plan, plan


def test_the_lead_list_page_and_the_api_search(client, api_as, manager, people):
    client.force_login(manager)
    response = client.get("/leads/", {"q": "zeppelin werke"})
    assert response.status_code == 200
    assert [lead.pk for lead in response.context["page"].object_list] == [people["jens"].pk]
    response = api_as(manager).get("/api/v1/leads/", {"q": "köhler"})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [people["lea"].pk]


def test_an_sdr_finds_only_leads_they_may_see(client, sdr, people):
    people["jens"].owner = sdr
    Lead.objects.filter(pk=people["jens"].pk).update(owner=sdr)
    client.force_login(sdr)
    response = client.get("/leads/", {"q": "gmbh"})
    assert list(response.context["page"].object_list) == []
    response = client.get("/leads/", {"q": "zeppelin"})
    assert [lead.pk for lead in response.context["page"].object_list] == [people["jens"].pk]


def test_a_search_counts_at_most_few_matches(client, manager, people, monkeypatch):
    monkeypatch.setattr(search, "FEW", 1)
    client.force_login(manager)
    response = client.get("/leads/", {"q": "gmbh"})
    paginator = response.context["page"].paginator
    assert paginator.CAP == 1 and paginator.is_capped
    assert {lead.pk for lead in response.context["page"].object_list} == ids(people, "anna", "lea")
    assert "More than 1 leads" in response.content.decode()
    unfiltered = client.get("/leads/").context["page"].paginator
    assert unfiltered.CAP == 10_000 and unfiltered.count == 3
