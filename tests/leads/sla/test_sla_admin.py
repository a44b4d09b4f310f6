"""SLA policies, calendars, the recycling rule and stall thresholds are edited in the admin."""

import pytest
from django.urls import reverse

from leads.sla import sweep
from routing.models import BusinessCalendar, SlaPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("model", [
    "routing_slapolicy", "routing_businesscalendar", "routing_recyclingrule", "routing_stallthreshold",
    "leads_slaclock", "leads_jobrun",
])
def test_the_sla_admin_lists_open(admin_client, model):
    assert admin_client.get(reverse(f"admin:{model}_changelist")).status_code == 200


def test_the_clock_list_says_when_the_sweep_last_ran(admin_client):
    response = admin_client.get(reverse("admin:leads_slaclock_changelist"))
    assert "never run" in response.content.decode()
    sweep.run()
    response = admin_client.get(reverse("admin:leads_slaclock_changelist"))
    assert "last ran at" in response.content.decode()


def test_a_calendar_shows_its_coming_days_off(admin_client):
    calendar = BusinessCalendar.objects.get(name__startswith="Business hours")
    response = admin_client.get(reverse("admin:routing_businesscalendar_change", args=[calendar.pk]))
    assert response.status_code == 200 and "Days off in the next 90 days" in response.content.decode()


def calendar_form(**changes):
    data = {
        "name": "Munich office", "time_zone": "Europe/Berlin", "working_hours": "mon-fri 09:00-17:00",
        "holiday_country": "DE", "holiday_subdivision": "BY",
        "closures-TOTAL_FORMS": "1", "closures-INITIAL_FORMS": "0",
        "closures-0-name": "Christmas", "closures-0-starts_on": "2026-12-24", "closures-0-ends_on": "2026-12-31",
    }
    return data | changes


def test_a_calendar_is_created_in_plain_words(admin_client):
    response = admin_client.post(reverse("admin:routing_businesscalendar_add"), calendar_form())
    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get(name="Munich office")
    assert calendar.working_hours["mon"] == [["09:00", "17:00"]]
    assert calendar.closures.get().name == "Christmas"


def test_an_unknown_holiday_region_is_refused(admin_client):
    response = admin_client.post(reverse("admin:routing_businesscalendar_add"),
                                 calendar_form(holiday_subdivision="XY"))
    assert response.status_code == 200 and "not a subdivision of DE" in response.content.decode()
    assert not BusinessCalendar.objects.filter(name="Munich office").exists()


def policy_form(**changes):
    calendar = BusinessCalendar.objects.get(name__startswith="Business hours")
    data = {
        "name": "SAL touched within a day", "is_active": "on", "stage": "sal", "starts_on": "stage_entered",
        "stops_on": "contact_attempt", "counts_from": "event", "duration": "1", "unit": "days",
        "calendar": str(calendar.pk),
        "steps-TOTAL_FORMS": "1", "steps-INITIAL_FORMS": "0",
        "steps-0-position": "1", "steps-0-after": "0", "steps-0-unit": "hours", "steps-0-action": "warn_owner",
        "steps-0-reason": "",
    }
    return data | changes


def test_a_policy_with_its_steps_is_created(admin_client):
    response = admin_client.post(reverse("admin:routing_slapolicy_add"), policy_form())
    assert response.status_code == 302
    assert SlaPolicy.objects.get(name="SAL touched within a day").steps.get().action == "warn_owner"


def test_a_step_that_cannot_work_in_the_stage_is_refused(admin_client):
    response = admin_client.post(reverse("admin:routing_slapolicy_add"), policy_form(**{"steps-0-action": "release"}))
    assert response.status_code == 200 and "Only an MQL can be released" in response.content.decode()
    assert not SlaPolicy.objects.filter(name="SAL touched within a day").exists()


def test_a_stage_entry_policy_needs_a_stage(admin_client):
    response = admin_client.post(reverse("admin:routing_slapolicy_add"), policy_form(stage=""))
    assert response.status_code == 200 and "Choose the stage" in response.content.decode()


def test_the_lead_page_in_the_admin_lists_its_clocks(admin_client, manager, sdr):
    from core.vocabulary import Stage
    from leads import lifecycle
    from tests.factories import LeadFactory

    lead = LeadFactory(stage=Stage.MQL)
    lifecycle.assign(lead_id=lead.pk, owner_username="sdr1", by=manager)
    response = admin_client.get(reverse("admin:leads_lead_change", args=[lead.pk]))
    assert response.status_code == 200 and "MQL accepted within 4 business hours" in response.content.decode()
