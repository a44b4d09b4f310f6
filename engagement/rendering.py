"""Templates to e-mails: Markdown -> responsive HTML with inline CSS, plus a plain-text part.

Merge fields come from a fixed context (`MERGE_FIELDS`), written `{{ name }}` or `{{ name | fallback }}`;
values are escaped in the HTML part. `check` finds syntax errors and unknown fields with their line, so a
version that would fail at send time is refused on save. Raw HTML in the Markdown is escaped, not rendered.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from markdown_it import MarkdownIt

MERGE_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "owner_name",
    "owner_signature",
    "unsubscribe_url",
    "preferences_url",
)
FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|([^{}]*))?\}\}")
PLACEHOLDER = "MERGEFIELDX{}X"
# Link addresses may hold only the links Leadwerk makes itself: a lead's own words (company, names) inside an
# href would let whatever they typed (javascript:, a phishing site behind our signed redirect) into the e-mail.
LINK_FIELDS = ("unsubscribe_url", "preferences_url")
LINK_TARGET = re.compile(r"\]\(([^)]*)\)|<([^<>\s]*\{\{[^<>]*)>")
PLACEHOLDER_RE = re.compile(r"MERGEFIELDX(\d+)X")

# Inline styles per element (mail clients drop <style> blocks; these survive everywhere).
STYLES = {
    "p": "margin:0 0 16px 0;font-size:16px;line-height:24px;",
    "h1": "margin:0 0 16px 0;font-size:24px;line-height:30px;font-weight:bold;",
    "h2": "margin:0 0 12px 0;font-size:20px;line-height:26px;font-weight:bold;",
    "h3": "margin:0 0 12px 0;font-size:18px;line-height:24px;font-weight:bold;",
    "a": "color:#1d4ed8;text-decoration:underline;",
    "ul": "margin:0 0 16px 0;padding-left:24px;",
    "ol": "margin:0 0 16px 0;padding-left:24px;",
    "li": "margin:0 0 6px 0;font-size:16px;line-height:24px;",
    "blockquote": "margin:0 0 16px 0;padding-left:12px;border-left:3px solid #cbd5e1;color:#475569;",
}
TAG = re.compile(r"<(p|h1|h2|h3|a|ul|ol|li|blockquote)(\s[^>]*)?>")
HREF = re.compile(r'href="([^"]*)"')

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})

LAYOUT = (
    '<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>{subject}</title></head>'
    '<body style="margin:0;padding:0;background:#f1f5f9;">'
    '<span style="display:none;max-height:0;overflow:hidden;opacity:0;">{preheader}</span>'
    '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background:#f1f5f9;">'
    '<tr><td align="center" style="padding:24px 12px;">'
    '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
    'style="max-width:600px;background:#ffffff;border-radius:6px;">'
    '<tr><td style="padding:32px 28px;font-family:Helvetica,Arial,sans-serif;color:#0f172a;">{body}</td></tr>'
    '<tr><td style="padding:16px 28px;font-family:Helvetica,Arial,sans-serif;font-size:12px;line-height:18px;'
    'color:#64748b;">{footer}</td></tr>'
    "</table></td></tr></table></body></html>"
)


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    links: tuple[str, ...]  # the URLs the template itself contains (the only ones a click may lead to)


def check(text: str) -> list[Problem]:
    """Syntax errors and unknown merge fields, each with its line (1-based)."""
    problems = []
    for number, line in enumerate(text.splitlines() or [""], start=1):
        rest = FIELD.sub("", line)
        for match in FIELD.finditer(line):
            if match.group(1) not in MERGE_FIELDS:
                problems.append(
                    Problem(number, _("Line %(line)s: unknown merge field “%(name)s”.")
                            % {"line": number, "name": match.group(1)})
                )
        for target in LINK_TARGET.finditer(line):
            for match in FIELD.finditer(target.group(1) or target.group(2) or ""):
                if match.group(1) in MERGE_FIELDS and match.group(1) not in LINK_FIELDS:
                    problems.append(
                        Problem(number, _("Line %(line)s: the merge field “%(name)s” cannot be part of a link address.")
                                % {"line": number, "name": match.group(1)})
                    )
        if "{{" in rest or "}}" in rest:
            problems.append(Problem(number, _("Line %(line)s: a merge field is not closed or not well formed.")
                                    % {"line": number}))
    return problems


def _split(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The text with each merge field replaced by a placeholder, and the fields (name, fallback) in order."""
    fields: list[tuple[str, str]] = []

    def replace(match):
        fields.append((match.group(1), (match.group(2) or "").strip()))
        return PLACEHOLDER.format(len(fields) - 1)

    return FIELD.sub(replace, text), fields


def _fill(text: str, fields: list[tuple[str, str]], context: dict, *, escape: bool) -> str:
    def value(match):
        name, fallback = fields[int(match.group(1))]
        raw = str(context.get(name) or "") or fallback
        return html.escape(raw) if escape else raw

    return PLACEHOLDER_RE.sub(value, text)


def _style(markup: str) -> str:
    return TAG.sub(lambda m: f'<{m.group(1)} style="{STYLES[m.group(1)]}"{m.group(2) or ""}>', markup)


def _plain(markdown_text: str) -> str:
    """The plain-text part: the Markdown itself, with links written out as `text (url)`."""
    text = re.sub(r"\[([^\]]*)\]\(([^)\s]*)\)", r"\1 (\2)", markdown_text)
    return re.sub(r"(\*\*|__|`)", "", text)


def render(*, subject: str, preheader: str, body: str, context: dict, language: str) -> Rendered:
    """One e-mail for one recipient. `context` holds the MERGE_FIELDS values (missing ones are empty)."""
    subject_text, subject_fields = _split(subject)
    pre_text, pre_fields = _split(preheader)
    body_text, body_fields = _split(body)
    body_html = _style(_markdown.render(body_text))
    links = tuple(dict.fromkeys(HREF.findall(body_html)))
    filled_links = tuple(_fill(html.unescape(link), body_fields, context, escape=False) for link in links)
    footer = _fill(
        _style('<a href="{u}">{t}</a> · <a href="{p}">{pt}</a>').format(
            u=PLACEHOLDER.format(0), t=html.escape(_("Unsubscribe")),
            p=PLACEHOLDER.format(1), pt=html.escape(_("E-mail preferences")),
        ),
        [("unsubscribe_url", ""), ("preferences_url", "")], context, escape=True,
    )
    page = LAYOUT.format(
        lang=html.escape(language or settings.LANGUAGE_CODE),
        subject=html.escape(_fill(subject_text, subject_fields, context, escape=False)),
        preheader=_fill(html.escape(pre_text), pre_fields, context, escape=True),
        body=_fill(body_html, body_fields, context, escape=True),
        footer=footer,
    )
    text = _fill(_plain(body_text), body_fields, context, escape=False).strip()
    text += "\n\n-- \n" + _("Unsubscribe: %(url)s") % {"url": context.get("unsubscribe_url", "")}
    return Rendered(
        subject=_fill(subject_text, subject_fields, context, escape=False).replace("\n", " ").strip(),
        text=text + "\n",
        html=page,
        links=filled_links,
    )
