"""7. CSV import: rows per second with validation and dedup, against PostgreSQL's own COPY of the rows.

A trade-fair list as German Excel writes it (semicolon separated, German headers, UTF-8): 85% new
people, 10% people already in the database (merged), 3% repeated within the file (merged), 2% bad rows
(invalid e-mail or country, reported with row and column). It is imported with
`leads.imports.import_csv(...)`, the function behind the Import page and `manage.py import_leads`: every
row gets what a capture would give it (submission recorded, validated, deduplicated, merged, scored, and
handed off when it reaches the MQL threshold), written in batches of 1,000 by `leads.bulk`. A known
lead whose score the filled-in fields lift over the threshold becomes an MQL and is routed (counted).

Reference, same run: `COPY ... FROM STDIN (FORMAT csv)` of the same bytes into a temporary table with the
same columns, the fastest way PostgreSQL takes these rows at all.
"""

from __future__ import annotations

import csv
import io
import time
import uuid

from benchmarks.common import Context, Figure, Result

NAME = "csv_import"
TITLE = "CSV import"
HEADER = ["E-Mail", "Vorname", "Nachname", "Firma", "Position", "Telefon", "Land", "Mitarbeiter", "Branche",
          "Notiz"]


def build_csv(rows: int, run_id: str, existing: list[str]) -> tuple[bytes, dict]:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    mix = {"new": 0, "existing": 0, "repeated": 0, "bad": 0}
    for i in range(rows):
        slot = i % 100
        if slot < 10 and existing:
            email, tag = existing[i % len(existing)], "existing"
        elif 10 <= slot < 13 and i >= 100:
            email, tag = f"fair.{run_id}.{i - 100}@firma{(i - 100) % 577}.example", "repeated"
        elif 13 <= slot < 15:
            email, tag = f"fair.{run_id}.{i}(at)firma.example", "bad"
        else:
            email, tag = f"fair.{run_id}.{i}@firma{i % 577}.example", "new"
        mix[tag] += 1
        country = "Atlantis" if tag == "bad" and i % 2 else "Deutschland"
        writer.writerow([email, "Erika", f"Muster {i}", f"Firma {i % 577} GmbH", "Leiterin Marketing",
                         f"030 {1000000 + i}", country, "1.200", "Software", "Messegespräch Halle 7"])
    return out.getvalue().encode(), mix


def copy_reference(data: bytes) -> float:
    """Seconds PostgreSQL takes to COPY the same CSV into a temporary table with the same columns."""
    from django.db import connection, transaction

    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE bench_copy ({columns}) ON COMMIT DROP")
        start = time.perf_counter()
        with cursor.cursor.copy("COPY bench_copy FROM STDIN (FORMAT csv, HEADER true, DELIMITER ';')") as copy:
            copy.write(data)
        seconds = time.perf_counter() - start
    return seconds


def run(ctx: Context) -> Result:
    from django.contrib.auth import get_user_model

    from benchmarks.generate import MARKETING
    from capture import imports
    from leads.models import Lead, LeadTransition

    rows = ctx.scaled(5000, 1000)
    run_id = uuid.uuid4().hex[:8]
    existing = list(Lead.objects.filter(stage="known").order_by("-pk").values_list("email", flat=True)[:300])
    data, mix = build_csv(rows, run_id, existing)
    user = get_user_model().objects.get(username=MARKETING)
    campaign = "dmexco-2026"

    copy_seconds = copy_reference(data)
    transitions_before = LeadTransition.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    start = time.perf_counter()
    report = imports.import_csv(data=data, by=user, source="event", campaign_slug=campaign)
    seconds = time.perf_counter() - start
    rate = report.total / seconds if seconds else 0.0
    made_mql = LeadTransition.objects.filter(pk__gt=transitions_before, name="mark_mql").count()
    copy_rate = rows / copy_seconds if copy_seconds else 0.0
    return Result(
        name=NAME, title=TITLE,
        figure=Figure("import_csv", rate, "rows/s"),
        reference=Figure("COPY of the same rows", copy_rate, "rows/s"),
        ratio=rate / copy_rate if copy_rate else None,
        goal=">= 5,000 rows/s", goal_met=rate >= 5000,
        details=[
            Figure("rows in the file", report.total),
            Figure("created", report.created),
            Figure("merged (already known, or repeated in the file)", report.merged),
            Figure("rejected (reported with row and column)", report.rejected),
            Figure("known leads that became MQLs (routed one by one)", made_mql),
            Figure("import wall time", seconds, "s"),
            Figure("time per row", seconds / max(report.total, 1) * 1000, "ms"),
            Figure("COPY wall time", copy_seconds * 1000, "ms"),
        ],
        params={"rows": rows, "mix": mix, "bytes": len(data), "format": "semicolon, German headers, UTF-8"},
    )
