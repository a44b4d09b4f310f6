"""The lead list as CSV, filtered like the page (`leads.filters.LeadFilter`), for whoever may see those
leads (`leads.selectors.visible_leads`); every cell through the safe CSV writer (`core.csv`), so a name
like `=HYPERLINK(...)` is text in the spreadsheet. Streamed: a large list does not sit in memory."""

from __future__ import annotations

import io
from collections.abc import Iterator

from django.utils import timezone

from core import csv as safe_csv
from leads import selectors
from leads.filters import LeadFilter

COLUMNS = (
    "id", "email", "first_name", "last_name", "company", "job_title", "phone", "country", "stage", "score",
    "owner", "source", "campaign", "consent_status", "created_at", "updated_at",
)


def filtered(user, query) -> LeadFilter:
    return LeadFilter(query, queryset=selectors.visible_leads(user).order_by("-created_at", "-id"))


def _row(lead) -> list:
    return [
        lead.pk, lead.email, lead.first_name, lead.last_name, lead.company, lead.job_title, lead.phone,
        lead.country, lead.stage, lead.score, lead.owner.get_username() if lead.owner else "", lead.source,
        lead.campaign.slug if lead.campaign else "", lead.consent_status,
        timezone.localtime(lead.created_at).isoformat(), timezone.localtime(lead.updated_at).isoformat(),
    ]


def rows(lead_filter: LeadFilter) -> Iterator[str]:
    """CSV text, a chunk of lines at a time (header first)."""
    buffer = io.StringIO()
    writer = safe_csv.writer(buffer)
    writer.writerow(COLUMNS)
    for number, lead in enumerate(lead_filter.qs.iterator(chunk_size=2000), start=1):
        writer.writerow(_row(lead))
        if number % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
