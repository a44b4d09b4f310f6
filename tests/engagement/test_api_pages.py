"""The API (programmes, enrolment with 409 reasons, a lead's messages), the public endpoints (signed click
redirect, open pixel, one-click unsubscribe) and the pages (step editor, template editor, lead page)."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from core.vocabulary import ActivityKind, ConsentStatus, Stage
from engagement import engine, sending, services
from engagement.models import EmailTemplate, Enrolment, Message, Step, TemplateVersion, TrackingEvent
from leads.models import Activity
from privacy import consent
from tests.engagement.helpers import consenting_lead, programme, template
from tests.factories import LeadFactory


def sent_message(django_capture_on_commit_callbacks, **lead_fields):
    prog = programme("welcome")
    lead = consenting_lead(**lead_fields)
    with django_capture_on_commit_callbacks(execute=True):
        services.enrol(programme=prog, lead_id=lead.pk)
    return Message.objects.get(), mail.outbox[-1]


@pytest.mark.django_db
def test_the_api_lists_programmes_with_steps(api_as, marketing):
    programme("welcome")
    answer = api_as(marketing).get("/api/v1/programmes/")
    assert answer.status_code == 200
    assert answer.json()[0]["slug"] == "welcome" and answer.json()[0]["steps"][0]["kind"] == "send_email"


@pytest.mark.django_db
def test_the_api_enrols_a_lead_201(api_as, marketing, django_capture_on_commit_callbacks):
    programme("welcome")
    lead = consenting_lead()
    with django_capture_on_commit_callbacks(execute=True):
        answer = api_as(marketing).post("/api/v1/programmes/welcome/enrolments/", {"lead": lead.pk}, format="json")
    assert answer.status_code == 201 and answer.json()["status"] in ("active", "completed")
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_api_answers_409_naming_why(api_as, marketing):
    programme("welcome", steps=[{"kind": "wait", "wait_days": 2}, {"kind": "send_email"}])
    without = LeadFactory()
    answer = api_as(marketing).post("/api/v1/programmes/welcome/enrolments/", {"lead": without.pk}, format="json")
    assert answer.status_code == 409 and answer.json()["reason"] == "no consent for marketing e-mail"
    lead = consenting_lead()
    api_as(marketing).post("/api/v1/programmes/welcome/enrolments/", {"lead": lead.pk}, format="json")
    again = api_as(marketing).post("/api/v1/programmes/welcome/enrolments/", {"lead": lead.pk}, format="json")
    assert again.status_code == 409 and again.json()["reason"] == "already enrolled"
    assert Enrolment.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{}, {"lead": "x"}, {"lead": -1}, [1]])
def test_the_api_refuses_bad_input_with_400_naming_the_field(api_as, marketing, body):
    programme("welcome")
    answer = api_as(marketing).post("/api/v1/programmes/welcome/enrolments/", body, format="json")
    assert answer.status_code == 400
    assert not Enrolment.objects.exists()


@pytest.mark.django_db
def test_a_lead_the_caller_may_not_see_is_404(api_as, sdr, others_lead):
    programme("welcome")
    answer = api_as(sdr).post("/api/v1/programmes/welcome/enrolments/", {"lead": others_lead.pk}, format="json")
    assert answer.status_code == 404
    assert api_as(sdr).get(f"/api/v1/leads/{others_lead.pk}/messages/").status_code == 404


@pytest.mark.django_db
def test_the_leads_messages_carry_status_and_reason(api_as, marketing, django_capture_on_commit_callbacks):
    message, _mail = sent_message(django_capture_on_commit_callbacks)
    rows = api_as(marketing).get(f"/api/v1/leads/{message.enrolment.lead_id}/messages/").json()
    assert rows[0]["status"] == "sent" and rows[0]["programme"] == "welcome" and rows[0]["opened"] is False


@pytest.mark.django_db
def test_a_tracked_click_redirects_to_the_templates_url_and_becomes_an_activity(
    client, django_capture_on_commit_callbacks
):
    message, sent = sent_message(django_capture_on_commit_callbacks, language="de")
    html = sent.alternatives[0][0]
    link = html.split('href="http://127.0.0.1:8000', 1)[1].split('"', 1)[0]
    assert link.startswith("/e/c/")
    answer = client.get(link)
    assert answer.status_code == 302 and answer["Location"] == "https://www.example.com/leitfaden?a=1&b=2"
    assert TrackingEvent.objects.filter(message=message, kind="clicked").exists()
    assert Activity.objects.filter(lead_id=message.enrolment.lead_id, kind=ActivityKind.EMAIL_CLICK).exists()


@pytest.mark.django_db
def test_a_forged_click_token_is_404(client, django_capture_on_commit_callbacks):
    sent_message(django_capture_on_commit_callbacks)
    token = sending.click_token(1, "https://evil.example/")
    assert client.get(f"/e/c/{token[:-3]}xyz/").status_code == 404


@pytest.mark.django_db
def test_the_open_pixel_records_one_open(client, django_capture_on_commit_callbacks):
    message, _sent = sent_message(django_capture_on_commit_callbacks)
    token = sending.open_token(message.pk)
    assert client.get(f"/e/o/{token}/")["Content-Type"] == "image/gif"
    client.get(f"/e/o/{token}/")
    assert TrackingEvent.objects.filter(message=message, kind="opened").count() == 1
    assert Activity.objects.filter(kind=ActivityKind.EMAIL_OPEN).count() == 1


@pytest.mark.django_db
def test_one_click_unsubscribe_withdraws_consent_and_ends_enrolments(client, django_capture_on_commit_callbacks):
    prog = programme("welcome", steps=[{"kind": "send_email"}, {"kind": "wait", "wait_days": 3},
                                       {"kind": "send_email"}])
    lead = consenting_lead()
    with django_capture_on_commit_callbacks(execute=True):
        services.enrol(programme=prog, lead_id=lead.pk)
    url = mail.outbox[0].extra_headers["List-Unsubscribe"].strip("<>").replace("http://127.0.0.1:8000", "")
    assert client.get(url).status_code == 200  # a scanner's GET changes nothing
    assert consent.statuses(lead.pk)["marketing_email"] == ConsentStatus.CONFIRMED
    answer = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert consent.statuses(lead.pk)["marketing_email"] == ConsentStatus.WITHDRAWN
    enrolment = Enrolment.objects.get()
    assert enrolment.status == Enrolment.Status.EXITED and enrolment.exit_reason == "unsubscribed"
    engine.tick(now=timezone.now() + dt.timedelta(days=4))
    sending.send_due(now=timezone.now() + dt.timedelta(days=4))
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_forged_unsubscribe_token_is_404(client):
    assert client.post("/e/u/forged/").status_code == 404


@pytest.mark.django_db
def test_the_step_editor_adds_a_step_and_refuses_a_zero_wait(client, marketing):
    prog = programme("nurture", steps=[])
    client.force_login(marketing)
    bad = client.post(f"/engagement/programmes/{prog.slug}/", {"position": 1, "kind": "wait", "wait_days": 0})
    assert bad.status_code == 400 and "greater than zero" in bad.content.decode()
    assert not Step.objects.exists()
    good = client.post(f"/engagement/programmes/{prog.slug}/", {"position": 1, "kind": "wait", "wait_days": 3})
    assert good.status_code == 302 and Step.objects.get().wait_days == 3


@pytest.mark.django_db
def test_the_template_editor_refuses_an_unknown_merge_field_with_its_line(client, marketing):
    tpl = EmailTemplate.objects.create(name="T")
    client.force_login(marketing)
    answer = client.post(f"/engagement/templates/{tpl.pk}/",
                         {"language": "de", "subject": "Hallo", "body": "Zeile\n{{ vorname }}"})
    assert answer.status_code == 400 and "Line 2" in answer.content.decode()
    assert not TemplateVersion.objects.exists()


@pytest.mark.django_db
def test_preview_on_a_real_lead_and_test_send_to_oneself(client, marketing):
    tpl = template("Welcome")
    lead = LeadFactory(first_name="Hildegard")
    marketing.email = "me@example.com"
    marketing.save()
    client.force_login(marketing)
    preview = client.get(f"/engagement/templates/{tpl.pk}/preview/", {"language": "de", "lead": lead.pk})
    assert preview.status_code == 200 and "Willkommen, Hildegard!" in preview.content.decode()
    client.post(f"/engagement/templates/{tpl.pk}/test-send/", {"language": "de", "lead": lead.pk})
    assert mail.outbox[0].to == ["me@example.com"] and "Hildegard" in mail.outbox[0].subject


@pytest.mark.django_db
def test_the_lead_page_shows_enrolments_and_messages_and_enrols(client, marketing, django_capture_on_commit_callbacks):
    message, _sent = sent_message(django_capture_on_commit_callbacks, language="de")
    programme("other", steps=[{"kind": "wait", "wait_days": 1}])
    client.force_login(marketing)
    page = client.get(f"/leads/{message.enrolment.lead_id}/").content.decode()
    assert "Welcome · " in page  # the enrolment
    assert "Willkommen Erika" in page and "sent" in page  # the message in the timeline
    answer = client.post(f"/engagement/leads/{message.enrolment.lead_id}/enrol/", {"programme": "other"})
    assert answer.status_code == 302
    assert Enrolment.objects.filter(programme__slug="other", status="active").exists()


@pytest.mark.django_db
def test_a_cadence_task_appears_for_the_owner_today(sdr):
    from engagement import selectors

    lead = LeadFactory(owner=sdr, stage=Stage.SAL)
    prog = programme("cadence", steps=[{"kind": "task", "task_channel": "call", "task_script": "Hallo!"},
                                       {"kind": "wait", "wait_days": 2, "business_days": True},
                                       {"kind": "task", "task_channel": "linkedin"}], exit_stage="sql")
    services.enrol(programme=prog, lead_id=lead.pk, by=sdr)
    tasks = list(selectors.tasks_due_today(sdr))
    assert [t.channel for t in tasks] == ["call"] and tasks[0].script == "Hallo!"


@pytest.mark.django_db
def test_my_queue_shows_the_cadence_task_and_done_ticks_it_off(client, sdr, other_sdr):
    lead = LeadFactory(owner=sdr, stage=Stage.SAL, first_name="Konrad")
    prog = programme("cadence", steps=[{"kind": "task", "task_channel": "call", "task_script": "Nach Budget fragen"},
                                       {"kind": "wait", "wait_days": 3}], exit_stage="sql")
    services.enrol(programme=prog, lead_id=lead.pk, by=sdr)
    client.force_login(sdr)
    page = client.get("/queue/").content.decode()
    assert "Cadence tasks due today" in page and "Nach Budget fragen" in page
    task = lead.cadence_tasks.get()
    client.force_login(other_sdr)
    assert client.post(f"/engagement/tasks/{task.pk}/done/").status_code == 404  # not theirs
    client.force_login(sdr)
    client.post(f"/engagement/tasks/{task.pk}/done/", {"next": "//evil.example/"})
    assert "Nach Budget fragen" not in client.get("/queue/").content.decode()
