"""German ships next to English: pages, the language switcher and the API speak German when asked, and the
catalogue in locale/de is complete, consistent and compiled (the .mo is committed, so a fresh machine needs no
gettext tools)."""

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from core.vocabulary import Role
from tests.factories import UserFactory

LC_MESSAGES = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES"
PO_FILE = LC_MESSAGES / "django.po"
MO_FILE = LC_MESSAGES / "django.mo"

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


# --- pages ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_page_speaks_german_when_the_browser_asks_for_it(client):
    german = client.get(reverse("login"), **GERMAN).content.decode()
    english = client.get(reverse("login"), **ENGLISH).content.decode()

    assert '<html lang="de">' in german
    for text in ("Bei Leadwerk anmelden", "Benutzername", "Passwort", "Anmelden"):
        assert text in german
    assert "Log in to Leadwerk" not in german
    assert "Log in to Leadwerk" in english and "Benutzername" not in english


@pytest.mark.django_db
def test_sdr_queue_speaks_german(client):
    client.force_login(UserFactory(username="sdr1", role=Role.SDR))

    page = client.get(reverse("leads:queue"), **GERMAN)

    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Meine Leads</h1>" in html
    assert "<title>Meine Leads" in html
    assert "Warten auf Annahme" in html
    assert "My queue" not in html and "Waiting for acceptance" not in html


@pytest.mark.django_db
def test_language_switcher_switches_to_german_and_back(client):
    assert "Log in to Leadwerk" in client.get(reverse("login")).content.decode()

    switched = client.post("/i18n/setlang/", {"language": "de", "next": reverse("login")})

    assert switched.status_code == 302
    assert switched.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    # The cookie wins over the default language, with no Accept-Language header at all.
    assert "Bei Leadwerk anmelden" in client.get(reverse("login")).content.decode()

    client.post("/i18n/setlang/", {"language": "en", "next": reverse("login")})
    assert "Log in to Leadwerk" in client.get(reverse("login")).content.decode()


# --- API ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_refused_transition_explains_itself_in_german(sdr, own_mql, api_as):
    response = api_as(sdr).post(f"/api/v1/leads/{own_mql.pk}/transitions/reject/", **GERMAN)

    assert response.status_code == 409
    unmet = {item["code"]: item["message"] for item in response.json()["unmet"]}
    assert unmet == {"reason_missing": "Geben Sie einen Grund an."}
    assert "reject" in response.json()["detail"] and "noch nicht möglich" in response.json()["detail"]


@pytest.mark.django_db
def test_refused_transition_stays_english_without_a_german_request(sdr, own_mql, api_as):
    response = api_as(sdr).post(f"/api/v1/leads/{own_mql.pk}/transitions/reject/", **ENGLISH)

    assert response.status_code == 409
    assert response.json()["unmet"] == [{"code": "reason_missing", "message": "Give a reason."}]


# --- the catalogue --------------------------------------------------------------------------------------


ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(line: str) -> str:
    quoted = line[line.index('"') + 1 : line.rindex('"')]
    return re.sub(r"\\(.)", lambda match: ESCAPES.get(match.group(1), match.group(0)), quoted)


def parse_po(path: Path) -> list[dict]:
    """A small .po reader: entries with flags, msgid, msgid_plural and msgstr (index -> text); no obsolete ones."""
    entries, entry, field = [], None, None

    def start():
        return {"flags": set(), "msgid": "", "msgid_plural": None, "msgstr": {}, "seen": set()}

    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            if entry is not None and "msgid" in entry["seen"]:
                entries.append(entry)
            entry, field = None, None
            continue
        if line.startswith("#~"):  # obsolete entries are not part of the catalogue
            continue
        entry = entry or start()
        if line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith("msgid_plural "):
            entry["msgid_plural"], field = _unquote(line), ("msgid_plural", None)
        elif line.startswith("msgid "):
            entry["msgid"], field = _unquote(line), ("msgid", None)
            entry["seen"].add("msgid")
        elif line.startswith("msgstr["):
            index = int(line[len("msgstr[") : line.index("]")])
            entry["msgstr"][index], field = _unquote(line), ("msgstr", index)
        elif line.startswith("msgstr "):
            entry["msgstr"][0], field = _unquote(line), ("msgstr", 0)
        elif line.startswith('"') and field:
            name, index = field
            if name == "msgstr":
                entry["msgstr"][index] += _unquote(line)
            else:
                entry[name] += _unquote(line)
    return entries


@pytest.fixture(scope="module")
def catalogue():
    entries = parse_po(PO_FILE)
    header = next(entry for entry in entries if entry["msgid"] == "")
    return header, [entry for entry in entries if entry["msgid"] != ""]


def test_header_declares_german_utf8_and_two_plural_forms(catalogue):
    header, _messages = catalogue
    assert "fuzzy" not in header["flags"]
    text = header["msgstr"][0]
    assert "Language: de\n" in text
    assert "Content-Type: text/plain; charset=UTF-8\n" in text
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in text


def test_every_message_is_translated_and_none_is_fuzzy(catalogue):
    _header, messages = catalogue
    assert len(messages) > 500  # a parser that found nothing would pass the rest vacuously
    untranslated = [
        entry["msgid"]
        for entry in messages
        if not entry["msgstr"]
        or any(not text.strip() for text in entry["msgstr"].values())
        or (entry["msgid_plural"] is not None and sorted(entry["msgstr"]) != [0, 1])
    ]
    fuzzy = [entry["msgid"] for entry in messages if "fuzzy" in entry["flags"]]
    assert untranslated == []
    assert fuzzy == []


PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|%[sd]|\{\w*\}|</?[a-z][^>]*>")


def test_translations_keep_every_placeholder_and_tag(catalogue):
    _header, messages = catalogue
    broken = []
    for entry in messages:
        sources = [entry["msgid"], entry["msgid_plural"] or entry["msgid"]]
        for index, text in entry["msgstr"].items():
            wanted = sorted(PLACEHOLDER.findall(sources[min(index, 1)]))
            if sorted(PLACEHOLDER.findall(text)) != wanted:
                broken.append((entry["msgid"], text))
    assert broken == []


def test_committed_mo_matches_the_po(catalogue):
    """The compiled catalogue is committed: it must hold exactly what the .po says, plurals included."""
    _header, messages = catalogue
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in messages:
        if entry["msgid_plural"] is None:
            if compiled.gettext(entry["msgid"]) != entry["msgstr"][0]:
                stale.append(entry["msgid"])
        else:
            one = compiled.ngettext(entry["msgid"], entry["msgid_plural"], 1)
            many = compiled.ngettext(entry["msgid"], entry["msgid_plural"], 5)
            if (one, many) != (entry["msgstr"][0], entry["msgstr"][1]):
                stale.append(entry["msgid"])
    assert stale == []


def test_no_translatable_string_in_the_code_uses_unicode_escapes():
    """makemessages stores `\\u201c` literally, so such a string never matches the catalogue at runtime
    (SLA escalation messages once showed in English that way). Write the characters themselves."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for app in ("config", "leads", "scoring", "routing", "reporting")
        for path in (root / app).rglob("*.py")
        if "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"_\(\s*[\"'][^\"']*\\u[0-9a-fA-F]{4}", line)
    ]
    assert offenders == []


def test_sla_escalation_messages_are_german():
    from django.utils import translation
    from django.utils.translation import gettext

    with translation.override("de"):
        assert gettext("SLA “%(policy)s” missed") == "SLA „%(policy)s“ verfehlt"
