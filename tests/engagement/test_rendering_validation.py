"""Templates and steps: rendering (escaped merge fields, both parts, the lead's language) and the refusals on
save, each naming the field, nothing saved."""

import pytest

from core.errors import Invalid, NotPermitted
from engagement import rendering, services
from engagement.models import EmailTemplate, Step, TemplateVersion
from tests.engagement.helpers import programme, template

CONTEXT = {"first_name": "<b>Eve</b>", "company": "A & B", "unsubscribe_url": "https://x.test/u/1",
           "preferences_url": "https://x.test/p/1"}


def test_merge_fields_are_escaped_in_html_and_plain_in_text():
    out = rendering.render(subject="Hi {{ first_name }}", preheader="", body="Dear {{ first_name }} of {{ company }}",
                           context=CONTEXT, language="en")
    assert "&lt;b&gt;Eve&lt;/b&gt;" in out.html and "<b>Eve</b>" not in out.html
    assert "A &amp; B" in out.html
    assert "Dear <b>Eve</b> of A & B" in out.text
    assert out.subject == "Hi <b>Eve</b>"


def test_a_missing_first_name_takes_the_fallback():
    out = rendering.render(subject="s", preheader="", body="Hallo {{ first_name | liebe Leserin }}",
                           context={"first_name": ""}, language="de")
    assert "Hallo liebe Leserin" in out.text


def test_markdown_becomes_inline_styled_html_and_raw_html_is_escaped():
    out = rendering.render(subject="s", preheader="Vorschau", body="# Title\n\n<script>x</script>\n\n[a](https://e.test/x)",
                           context=CONTEXT, language="de")
    assert '<h1 style="' in out.html and 'lang="de"' in out.html
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "Vorschau" in out.html
    assert out.links == ("https://e.test/x",)
    assert "a (https://e.test/x)" in out.text


def test_check_names_unknown_field_and_unclosed_field_with_line():
    problems = rendering.check("Hallo\n{{ vorname }}\n{{ first_name")
    assert [p.line for p in problems] == [2, 3]
    assert "vorname" in problems[0].message


def test_a_leads_own_words_cannot_become_a_link_address():
    # A company typed as "javascript:..." must never end up in an href of a sent e-mail.
    problems = rendering.check("Hallo\n[Ihr Profil]({{ company }})\n<https://x.example/{{ first_name }}>")
    assert [p.line for p in problems] == [2, 3]
    assert "company" in problems[0].message and "first_name" in problems[1].message
    assert rendering.check("[Abmelden]({{ unsubscribe_url }}) [Preise](https://leadwerk.example/preise)") == []


@pytest.mark.django_db
def test_a_version_with_an_unknown_merge_field_is_refused_and_not_saved(marketing):
    tpl = EmailTemplate.objects.create(name="T")
    with pytest.raises(Invalid) as refused:
        services.save_version(template=tpl, language="de", subject="Hi", preheader="",
                              body="Hallo\n\n{{ vorname }}", by=marketing)
    assert "body" in refused.value.errors
    assert "Line 3" in refused.value.errors["body"][0] and "vorname" in refused.value.errors["body"][0]
    assert not TemplateVersion.objects.exists()


@pytest.mark.django_db
def test_an_sdr_may_not_edit_templates(sdr):
    tpl = EmailTemplate.objects.create(name="T")
    with pytest.raises(NotPermitted):
        services.save_version(template=tpl, language="de", subject="Hi", preheader="", body="x", by=sdr)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"kind": "wait", "wait_days": 0}, "wait_days"),
        ({"kind": "wait", "wait_days": -3}, "wait_days"),
        ({"kind": "condition", "condition_field": "shoe_size", "condition_value": "42"}, "condition_field"),
        ({"kind": "condition", "condition_field": "score", "condition_value": "many"}, "condition_value"),
        ({"kind": "send_email"}, "template"),
        ({"kind": "task", "task_channel": "pigeon"}, "task_channel"),
    ],
)
def test_a_bad_step_is_refused_naming_the_field(marketing, fields, named):
    prog = programme("p", steps=[])
    with pytest.raises(Invalid) as refused:
        services.save_step(step=Step(programme=prog, position=1, **fields), by=marketing)
    assert named in refused.value.errors
    assert not Step.objects.exists()


@pytest.mark.django_db
def test_a_step_on_a_deleted_template_is_refused(marketing):
    prog = programme("p", steps=[])
    tpl = template("Old")
    services.delete_template(template=tpl, by=marketing)
    tpl.refresh_from_db()
    with pytest.raises(Invalid) as refused:
        services.save_step(step=Step(programme=prog, position=1, kind="send_email", template=tpl), by=marketing)
    assert "was deleted" in refused.value.errors["template"][0]
    assert not Step.objects.exists()
