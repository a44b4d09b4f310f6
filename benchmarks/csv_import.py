"""7. CSV import: rows per second with validation and dedup, against PostgreSQL's own COPY of the rows.

A trade-fair list as German Excel writes it (semicolon separated, German headers, UTF-8): 85% new
people, 10% people already in the database (merged), 3% repeated within the file (merged), 2% bad rows
(invalid e-mail or country, reported with row and column). It is imported with
`leads.imports.import_csv(...)`, the function behind the Import page and `manage.py import_leads`: every
row gets what a capture would give it (submission recorded, validated, deduplicated, merged, scored, and
handed off when it reaches the MQL threshold), written in batches of 1,000 by `leads.bulk`. A known
lead whose score the filled-in fields lift over the threshold becomes an MQL and is routed (counted).

Reference, same run: `COPY ... FROM STDIN (FORMAT csv)` of the same people, as lead rows (every column of
`leads_lead`, the values the import stores: normalised e-mail, country code, company size as a number,
model defaults for the rest), into `bench_lead_copy`, a logged table made `LIKE leads_lead INCLUDING ALL`
(the same columns, defaults, constraints and every index, no foreign keys, empty), committed. That is the
fastest PostgreSQL takes these leads into a table indexed like ours; the import also records a submission,
an activity and a consent event per row and merges, which the reference does not. Rows per second of both
count the rows of the file; the reference copies one lead row per distinct valid e-mail of the file. The
COPY into an unindexed temporary table (the old reference) is shown as a detail.
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


def lead_rows_csv(rows: int, run_id: str, existing: list[str]) -> tuple[bytes, list[str], int]:
    """The file's people as `leads_lead` rows (CSV for COPY, NULL as \\N): one per distinct valid e-mail."""
    import datetime as dt
    import json

    from leads.models import Lead

    fields = [f for f in Lead._meta.concrete_fields if not f.primary_key and not getattr(f, "generated", False)]
    now = dt.datetime.now(dt.UTC)
    data, _mix = build_csv(rows, run_id, existing)
    given = {"email": 0, "first_name": 1, "last_name": 2, "company": 3, "job_title": 4, "phone": 5,
             "industry": 8}
    seen: set[str] = set()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in list(csv.reader(io.StringIO(data.decode()), delimiter=";"))[1:]:
        email = row[0].lower()
        if "@" not in email or row[6] != "Deutschland" or email in seen:
            continue
        seen.add(email)
        values = []
        for f in fields:
            if f.name in given:
                value = row[given[f.name]]
            elif f.name == "email_normalized":
                value = email
            elif f.name == "country":
                value = "DE"
            elif f.name == "company_size":
                value = 1200
            elif f.has_default():
                value = f.get_default()
            elif f.null:
                value = None
            elif f.get_internal_type() in ("DateTimeField",):
                value = now
            else:
                value = ""
            if value is None:
                values.append("\\N")
            elif isinstance(value, bool):
                values.append("t" if value else "f")
            elif isinstance(value, dict | list):
                values.append(json.dumps(value))
            elif isinstance(value, dt.datetime):
                values.append(value.isoformat())
            else:
                values.append(str(value))
        writer.writerow(values)
    return out.getvalue().encode(), [f.column for f in fields], len(seen)


def indexed_copy_reference(data: bytes, columns: list[str]) -> tuple[float, int]:
    """Seconds to COPY the lead rows into a committed copy of the lead table with all its indexes."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_lead_copy")
        cursor.execute("CREATE TABLE bench_lead_copy (LIKE leads_lead INCLUDING ALL)")
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'bench_lead_copy'")
        indexes = cursor.fetchone()[0]
    try:
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            names = ", ".join(f'"{c}"' for c in columns)
            with cursor.cursor.copy(f"COPY bench_lead_copy ({names}) FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
                copy.write(data)
        seconds = time.perf_counter() - start
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_lead_copy")
    return seconds, indexes


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
    lead_data, lead_columns, lead_rows = lead_rows_csv(rows, run_id, existing)
    indexed_seconds, indexes = indexed_copy_reference(lead_data, lead_columns)
    transitions_before = LeadTransition.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    start = time.perf_counter()
    report = imports.import_csv(data=data, by=user, source="event", campaign_slug=campaign)
    seconds = time.perf_counter() - start
    rate = report.total / seconds if seconds else 0.0
    made_mql = LeadTransition.objects.filter(pk__gt=transitions_before, name="mark_mql").count()
    copy_rate = rows / copy_seconds if copy_seconds else 0.0
    indexed_rate = rows / indexed_seconds if indexed_seconds else 0.0
    ratio = rate / indexed_rate if indexed_rate else None
    return Result(
        name=NAME, title=TITLE,
        figure=Figure("import_csv", rate, "rows/s"),
        reference=Figure(f"COPY of the leads into a copy of leads_lead ({indexes} indexes)", indexed_rate, "rows/s"),
        ratio=ratio, goal=">= 30% of the indexed-copy reference", goal_met=ratio is not None and ratio >= 0.3,
        details=[
            Figure("rows in the file", report.total),
            Figure("created", report.created),
            Figure("merged (already known, or repeated in the file)", report.merged),
            Figure("rejected (reported with row and column)", report.rejected),
            Figure("known leads that became MQLs (routed one by one)", made_mql),
            Figure("import wall time", seconds, "s"),
            Figure("time per row", seconds / max(report.total, 1) * 1000, "ms"),
            Figure("indexed COPY wall time", indexed_seconds * 1000, "ms"),
            Figure("lead rows copied (distinct valid e-mails)", lead_rows),
            Figure("COPY into an unindexed temporary table (old reference)", copy_rate, "rows/s"),
            Figure("unindexed COPY wall time", copy_seconds * 1000, "ms"),
        ],
        params={"rows": rows, "mix": mix, "bytes": len(data), "format": "semicolon, German headers, UTF-8"},
    )
