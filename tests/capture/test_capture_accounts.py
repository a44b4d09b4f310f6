"""Accounts on capture (`leads.accounts`): matched or created from the company domain, never from free mail or
a competitor's domain; by fuzzy company name, with its tie-breakers, when there is no corporate domain."""

import threading

import pytest
from django.db import connection

from capture import bulk
from capture import submissions as capture
from leads import accounts
from leads.models import Account, Lead
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_new_corporate_domain_makes_an_account_named_after_the_company():
    lead = capture.submit(channel="api", payload={"email": "anna@neufirma.de", "company": "Neufirma GmbH"}).lead
    account = Account.objects.get(domain="neufirma.de")
    assert lead.account == account
    assert (account.name, account.made_at_capture, account.made_for) == ("Neufirma GmbH", True, lead)
    assert account.owner is None


def test_a_known_domain_joins_its_account_and_makes_no_other():
    known = Account.objects.create(domain="acme.de", name="Acme AG", owner=UserFactory(username="ae9"))
    lead = capture.submit(channel="api", payload={"email": "bob@acme.de", "company": "ACME"}).lead
    assert lead.account == known
    assert Account.objects.count() == 1


def test_free_mail_and_competitor_domains_never_make_an_account(settings):
    settings.COMPETITOR_DOMAINS = frozenset({"rivale.de"})
    free = capture.submit(channel="api", payload={"email": "privat@gmx.de", "company": "Nichts GmbH"}).lead
    rival = capture.submit(channel="api", payload={"email": "spion@rivale.de", "company": "Rivale"}).lead
    assert free.account is None and rival.account is None
    assert not Account.objects.exists()


def test_a_competitor_domain_does_not_match_an_existing_account_either(settings):
    settings.COMPETITOR_DOMAINS = frozenset({"rivale.de"})
    Account.objects.create(domain="rivale.de", name="Rivale AG")
    assert capture.submit(channel="api", payload={"email": "spion@rivale.de"}).lead.account is None


def test_free_mail_with_a_company_name_joins_the_fuzzy_match():
    quixo = Account.objects.create(domain="quixo-firma.de", name="Quixo Firma GmbH")
    Account.objects.create(domain="quixote.de", name="Quixote Reisen")
    lead = capture.submit(channel="api", payload={"email": "q@gmail.com", "company": "quixo firma"}).lead
    assert lead.account == quixo


def test_free_mail_with_an_unknown_company_gets_no_account():
    Account.objects.create(domain="quixo-firma.de", name="Quixo Firma GmbH")
    lead = capture.submit(channel="api", payload={"email": "q@gmail.com", "company": "Ganz Andere Firma"}).lead
    assert lead.account is None
    assert Account.objects.count() == 1


def test_name_key_sets_aside_case_accents_punctuation_and_legal_forms():
    assert accounts.name_key("Müller & Co. KG") == "mueller"
    assert accounts.name_key("MUELLER") == "mueller"
    assert accounts.name_key("Quixo-Firma GmbH") == "quixo firma"


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        # the higher score first
        ([(1, "Quixo Firmen", True, 9), (2, "Quixo Firma", False, 0)], 2),
        # equal score: the same name once legal forms are set aside beats a near one
        ([(1, "Quixo Firma Holding", True, 9), (2, "Quixo Firma AG", False, 0)], 2),
        # same name twice: the one with an owner, then more leads, then the older
        ([(1, "Quixo Firma AG", False, 9), (2, "Quixo Firma SE", True, 0)], 2),
        ([(1, "Quixo Firma AG", True, 1), (2, "Quixo Firma SE", True, 5)], 2),
        ([(3, "Quixo Firma AG", True, 5), (2, "Quixo Firma SE", True, 5)], 2),
        # below the threshold: nothing
        ([(1, "Quartz Farm", True, 9)], None),
    ],
)
def test_the_tie_breakers_of_the_name_match(candidates, expected):
    assert accounts.best_by_name("Quixo Firma GmbH", candidates) == expected


def test_the_threshold_is_a_setting(settings):
    settings.ACCOUNT_NAME_MATCH_SCORE = 60
    assert accounts.best_by_name("Quixo Firma", [(1, "Quixo Firmen Gruppe", False, 0)]) == 1
    settings.ACCOUNT_NAME_MATCH_SCORE = 95
    assert accounts.best_by_name("Quixo Firma", [(1, "Quixo Firmen Gruppe", False, 0)]) is None


def test_the_bulk_path_makes_the_same_accounts_in_a_fixed_number_of_statements(django_assert_max_num_queries):
    Account.objects.create(domain="quixo-firma.de", name="Quixo Firma GmbH")
    wanted = [accounts.Wanted(domain=f"firma{i}.de", company=f"Firma {i}") for i in range(30)]
    wanted += [accounts.Wanted(domain="gmail.com", company="Quixo Firma"), accounts.Wanted(domain="", company="")]
    with django_assert_max_num_queries(4):
        ids = accounts.accounts_for(wanted)
    assert len({pk for pk in ids[:30]}) == 30
    assert ids[30] == Account.objects.get(domain="quixo-firma.de").pk and ids[31] is None


def test_a_csv_import_matches_and_creates_accounts_like_capture(marketing):
    Account.objects.create(domain="quixo-firma.de", name="Quixo Firma GmbH")
    results = bulk.capture_many(
        payloads=[
            {"email": "a@importfirma.de", "company": "Importfirma AG"},
            {"email": "b@importfirma.de"},
            {"email": "c@web.de", "company": "Quixo Firma"},
        ],
        channel="csv_import",
        by=marketing,
    )
    assert [r.status for r in results] == [201, 201, 201]
    leads = {lead.email: lead for lead in Lead.objects.select_related("account")}
    assert leads["a@importfirma.de"].account.name == "Importfirma AG"
    assert leads["a@importfirma.de"].account_id == leads["b@importfirma.de"].account_id
    assert leads["c@web.de"].account.domain == "quixo-firma.de"


@pytest.mark.django_db(transaction=True)
def test_two_captures_of_one_new_domain_at_once_make_one_account():
    barrier = threading.Barrier(2)
    errors = []

    def submit(address):
        try:
            barrier.wait()
            capture.submit(channel="api", payload={"email": address, "company": "Parallel GmbH"})
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(a,)) for a in ("x@parallel.de", "y@parallel.de")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Account.objects.filter(domain="parallel.de").count() == 1
    assert set(Lead.objects.values_list("account__domain", flat=True)) == {"parallel.de"}


def test_an_existing_lead_keeps_its_account():
    LeadFactory(email="alt@altfirma.de", account=None)
    lead = capture.submit(channel="api", payload={"email": "alt@altfirma.de", "company": "Altfirma"}).lead
    assert lead.account is None  # accounts are made for new leads; existing ones are linked by hand or merge
