"""Readable chat messages for Slack and Microsoft Teams incoming webhooks: a new hot lead (it became an MQL)
with its score and owner, an SLA breach, a lead that reached SQL. Rendered from the lead when the message
is sent (deliveries store ids only); `None` when there is nothing to say (the lead is gone).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from core.vocabulary import EventType, Stage
from integrations.models import Format
from leads.models import Lead

HOT_LEAD, REACHED_SQL, SLA_BREACH = "hot_lead", "reached_sql", "sla_breach"
CHAT_EVENT_TYPES = (EventType.LEAD_STAGE_CHANGED, EventType.SLA_BREACHED)


def kind_of(event_type: str, data: dict) -> str | None:
    """Which message an event makes, or None (chat targets hear of three things only)."""
    if event_type == EventType.LEAD_STAGE_CHANGED:
        return {Stage.MQL: HOT_LEAD, Stage.SQL: REACHED_SQL}.get(data.get("target"))
    if event_type == EventType.SLA_BREACHED:
        return SLA_BREACH
    return None


@dataclass(frozen=True)
class Message:
    title: str
    lead: str
    company: str
    facts: list[tuple[str, str]]
    link: str
    color: str

    @property
    def text(self) -> str:
        who = f"{self.lead} ({self.company})" if self.company else self.lead
        facts = ", ".join(f"{name} {value}" for name, value in self.facts)
        return f"{self.title}: {who}. {facts}."


def _owner(lead: Lead) -> str:
    if lead.owner is None:
        return _("nobody yet (pool)")
    return lead.owner.get_full_name() or lead.owner.get_username()


def message(kind: str, *, lead_id: int | None, data: dict) -> Message | None:
    lead = Lead.objects.select_related("owner").filter(pk=lead_id).first() if lead_id else None
    if lead is None:
        return None
    link = f"{settings.SITE_URL}/leads/{lead.pk}/"
    score, owner = (_("Score"), str(lead.score)), (_("Owner"), _owner(lead))
    if kind == HOT_LEAD:
        return Message(_("New hot lead"), lead.display_name, lead.company, [score, owner], link, "E8590C")
    if kind == REACHED_SQL:
        return Message(_("Lead reached SQL"), lead.display_name, lead.company, [score, owner], link, "2F9E44")
    if kind == SLA_BREACH:
        facts = [(_("Stage"), lead.get_stage_display()), owner]
        if data.get("due_at"):
            facts.append((_("Due"), str(data["due_at"])))
        return Message(_("SLA breached"), lead.display_name, lead.company, facts, link, "C92A2A")
    return None


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(msg: Message) -> dict:
    """Slack: `text` (notifications, screen readers) and Block Kit blocks."""
    who = _slack_escape(msg.lead) + (f" ({_slack_escape(msg.company)})" if msg.company else "")
    title = _slack_escape(msg.title)
    return {
        "text": msg.text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*: <{msg.link}|{who}>"}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": f"*{_slack_escape(name)}*\n{_slack_escape(value)}"}
                for name, value in msg.facts
            ]},
        ],
    }


def teams(msg: Message) -> dict:
    """Microsoft Teams (incoming webhook / Workflows): an Adaptive Card in a message."""
    who = f"{msg.lead} ({msg.company})" if msg.company else msg.lead
    return {
        "type": "message",
        "summary": msg.text,
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": msg.title, "weight": "Bolder", "size": "Medium", "wrap": True},
                    {"type": "TextBlock", "text": who, "wrap": True},
                    {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in msg.facts]},
                ],
                "actions": [{"type": "Action.OpenUrl", "title": _("Open the lead"), "url": msg.link}],
            },
        }],
    }


def body(fmt: str, kind: str, *, lead_id: int | None, data: dict) -> dict | None:
    msg = message(kind, lead_id=lead_id, data=data)
    if msg is None:
        return None
    return slack(msg) if fmt == Format.SLACK else teams(msg)
