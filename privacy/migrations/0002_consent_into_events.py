"""`Consent` (the old summary record, table leads_consent) becomes events of the consent log; then it goes.

Every consent fact of a record is carried over as an event unless the log holds an equivalent one already
(capture wrote both, so most records have one): a `given` event with the record's wording, wording hash, form,
channel, method (from the channel, as capture derives it), IP address, user agent and time; `confirmed` when
it was confirmed (the double opt-in link: method `email_link`, its token hash); `withdrawn` when it was
withdrawn (method `system`: the record does not say how). A record's `given` counts as present when the log
has a `given` event of the same lead and purpose within a second of it, or one recorded by a submission of
that lead that was being processed at the record's time; `confirmed` and `withdrawn` when an event of that
kind lies within a second. Each carried event names its record in `note`. The given event needs double opt-in
when the record was confirmed, holds a confirmation token, or came from a double-opt-in form for an e-mail
purpose (what capture asked for). Merges recorded before name the records they moved (`privacy.consent`):
the events carried from those records are added to the same merge's moved rows, so an undo moves them back.
`Lead.consent_status` of the leads that received events is derived again from their log (privacy.consent).

Reversible: the table comes back and is refilled with one record per `given` event, with the confirmation
and withdrawal that followed it before the next `given`. The log keeps every event (it is append-only, and
the events are the proof), so a second forward run finds each rebuilt record's events and adds nothing.

Refused, with a sentence naming them, while a record names a purpose the consent log does not know: such a
record cannot become an event without deciding what was agreed to; correct its purpose first.
"""

from django.db import migrations
from django.db.models import Count, Q
from psycopg import sql

PURPOSES = ("newsletter", "marketing_email", "sales_email", "sales_phone")
EMAIL_PURPOSES = ["newsletter", "marketing_email", "sales_email"]  # those double opt-in applies to
CARRY = "consent_carry"  # the temporary table: which event each carried fact becomes
NOTE = "Carried over from consent record #"
CHUNK = 20_000

# One row per fact (given / confirmed / withdrawn) of a record that the log lacks, with the id its event gets:
# the ORM cannot number rows from a sequence in a set-based anti-join over three facts per record.
PLAN_CARRY = """
CREATE TEMPORARY TABLE {carry} AS
SELECT nextval(pg_get_serial_sequence(%(event_table)s, 'id')) AS event_id, c.id AS consent_id, c.lead_id,
       fact.kind, fact.at
FROM {consent} c
CROSS JOIN LATERAL (VALUES ('given', c.requested_at), ('confirmed', c.confirmed_at), ('withdrawn', c.withdrawn_at))
    AS fact(kind, at)
WHERE fact.at IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM {event} e LEFT JOIN {submission} s ON s.id = e.submission_id
    WHERE e.lead_id = c.lead_id AND e.purpose = c.purpose AND e.kind = fact.kind
      AND (e.at BETWEEN fact.at - interval '1 second' AND fact.at + interval '1 second'
           OR (fact.kind = 'given' AND s.lead_id = c.lead_id
               AND fact.at BETWEEN s.received_at AND COALESCE(s.processed_at, 'infinity')))
)
"""

# The events themselves, copied from their records in one statement (700,000 records at a million leads).
INSERT_EVENTS = """
INSERT INTO {event} (id, lead_id, purpose, kind, requires_confirmation, channel, method, legal_basis, at, wording,
    wording_hash, wording_version_id, capture_form_id, submission_id, page_url, recorded_by_id, ip_address,
    user_agent, token_hash, mail_sent_at, confirmed_at, evidence_reference, note)
SELECT k.event_id, c.lead_id, c.purpose, k.kind,
    k.kind = 'given' AND (c.confirmed_at IS NOT NULL OR c.token_hash <> ''
        OR (COALESCE(f.double_opt_in, false) AND c.purpose = ANY(%(email_purposes)s))),
    CASE WHEN k.kind = 'given' THEN c.channel ELSE '' END,
    CASE k.kind WHEN 'confirmed' THEN 'email_link' WHEN 'withdrawn' THEN 'system'
        ELSE CASE c.channel WHEN 'web_form' THEN 'web_form' WHEN 'api' THEN 'api' WHEN 'import' THEN 'import'
             ELSE 'manual' END END,
    'consent', k.at,
    CASE WHEN k.kind = 'given' THEN c.wording ELSE '' END,
    CASE WHEN k.kind = 'given' THEN c.wording_hash ELSE '' END,
    NULL, CASE WHEN k.kind = 'given' THEN c.capture_form_id END, NULL, '', NULL,
    CASE WHEN k.kind = 'given' THEN c.ip_address END,
    CASE WHEN k.kind = 'given' THEN c.user_agent ELSE '' END,
    CASE WHEN k.kind = 'confirmed' THEN c.token_hash ELSE '' END,
    NULL, CASE WHEN k.kind = 'confirmed' THEN c.confirmed_at END, '', %(note)s || c.id
FROM {carry} k JOIN {consent} c ON c.id = k.consent_id LEFT JOIN {form} f ON f.id = c.capture_form_id
ORDER BY k.event_id
"""

# The reverse: one record per given event, with the confirmation and withdrawal that followed it before the
# next given of that lead and purpose (lateral look-ups the ORM does not express).
REBUILD_RECORDS = """
INSERT INTO {consent} (lead_id, purpose, wording, wording_hash, capture_form_id, channel, ip_address, user_agent,
    requested_at, confirmed_at, withdrawn_at, token_hash)
SELECT g.lead_id, g.purpose, g.wording, g.wording_hash, g.capture_form_id, g.channel, g.ip_address, g.user_agent,
    g.at, yes.at, no.at, COALESCE(yes.token_hash, '')
FROM {event} g
LEFT JOIN LATERAL (
    SELECT n.at FROM {event} n WHERE n.lead_id = g.lead_id AND n.purpose = g.purpose AND n.kind = 'given'
    AND (n.at, n.id) > (g.at, g.id) ORDER BY n.at, n.id LIMIT 1
) AS next_given ON true
LEFT JOIN LATERAL (
    SELECT e.at, e.token_hash FROM {event} e WHERE e.lead_id = g.lead_id AND e.purpose = g.purpose
    AND e.kind = 'confirmed' AND (e.at, e.id) > (g.at, g.id) AND (next_given.at IS NULL OR e.at < next_given.at)
    ORDER BY e.at, e.id LIMIT 1
) AS yes ON true
LEFT JOIN LATERAL (
    SELECT e.at FROM {event} e WHERE e.lead_id = g.lead_id AND e.purpose = g.purpose
    AND e.kind = 'withdrawn' AND (e.at, e.id) > (g.at, g.id) AND (next_given.at IS NULL OR e.at < next_given.at)
    ORDER BY e.at, e.id LIMIT 1
) AS no ON true
WHERE g.kind = 'given'
ORDER BY g.at, g.id
"""


def _tables(apps) -> dict:
    return {
        "consent": sql.Identifier(apps.get_model("privacy", "Consent")._meta.db_table),
        "event": sql.Identifier(apps.get_model("privacy", "ConsentEvent")._meta.db_table),
        "submission": sql.Identifier(apps.get_model("leads", "Submission")._meta.db_table),
        "form": sql.Identifier(apps.get_model("leads", "CaptureForm")._meta.db_table),
        "carry": sql.Identifier(CARRY),
    }


def _execute(schema_editor, statement: str, tables: dict, params=None):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL(statement).format(**tables).as_string(connection.connection), params)
        return cursor.rowcount


def _refuse_unknown_purposes(consent_model) -> None:
    unknown = (
        consent_model.objects.exclude(purpose__in=PURPOSES).values("purpose").annotate(n=Count("id")).order_by("purpose")
    )
    if unknown:
        listed = ", ".join(f"{row['purpose']!r} ({row['n']})" for row in unknown)
        raise RuntimeError(
            f"Consent records name purposes the consent log does not know: {listed}. Set each record's purpose "
            f"to one of {', '.join(PURPOSES)} (table {consent_model._meta.db_table}), then migrate again."
        )


def _extend_merge_records(apps, schema_editor, tables) -> None:
    """Merges that moved records now also name the events carried from them, so an undo moves those back."""
    transition_model = apps.get_model("leads", "LeadTransition")
    labels = ("privacy.consent", "leads.consent")
    merges = transition_model.objects.filter(name="merge").filter(
        Q(data__moved__has_key=labels[0]) | Q(data__moved__has_key=labels[1])
    )
    connection = schema_editor.connection
    for entry in merges.only("pk", "data"):
        moved = entry.data["moved"]
        record_ids = [pk for label in labels for pk in moved.get(label, [])]
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT event_id FROM {carry} WHERE consent_id = ANY(%s) ORDER BY event_id")
                .format(**tables).as_string(connection.connection),
                [record_ids],
            )
            carried = [row[0] for row in cursor.fetchall()]
        if not carried:
            continue
        key = "leads.consentevent" if "leads.consentevent" in moved else "privacy.consentevent"
        moved[key] = sorted({*moved.get(key, []), *carried})
        transition_model.objects.filter(pk=entry.pk).update(data=entry.data)


def _derive_summaries(apps, schema_editor, tables) -> None:
    """`Lead.consent_status` of every lead that received events, derived from its whole log."""
    # The one home of the rule; imported when the migration runs, not when the migration graph loads.
    from privacy.consent import Step, summary_of

    lead_model = apps.get_model("leads", "Lead")
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT DISTINCT lead_id FROM {carry} ORDER BY lead_id").format(**tables)
            .as_string(connection.connection)
        )
        lead_ids = [row[0] for row in cursor.fetchall()]
    read = sql.SQL(
        "SELECT lead_id, kind, requires_confirmation, purpose FROM {event} WHERE lead_id = ANY(%s) "
        "ORDER BY lead_id, at, id"
    ).format(**tables).as_string(connection.connection)
    for start in range(0, len(lead_ids), CHUNK):
        chunk = lead_ids[start:start + CHUNK]
        steps: dict[int, list] = {pk: [] for pk in chunk}
        with connection.cursor() as cursor:
            cursor.execute(read, [chunk])
            for lead_id, *step in cursor.fetchall():
                steps[lead_id].append(Step(*step))
        by_status: dict[str, list[int]] = {}
        for lead_id, events in steps.items():
            by_status.setdefault(summary_of(events), []).append(lead_id)
        for status, ids in by_status.items():
            lead_model.objects.filter(pk__in=ids).exclude(consent_status=status).update(consent_status=status)


def carry_into_events(apps, schema_editor):
    consent_model = apps.get_model("privacy", "Consent")
    event_model = apps.get_model("privacy", "ConsentEvent")
    _refuse_unknown_purposes(consent_model)
    tables = _tables(apps)
    _execute(schema_editor, PLAN_CARRY, tables, {"event_table": event_model._meta.db_table})
    _execute(schema_editor, INSERT_EVENTS, tables, {"email_purposes": EMAIL_PURPOSES, "note": NOTE})
    _extend_merge_records(apps, schema_editor, tables)
    _derive_summaries(apps, schema_editor, tables)
    _execute(schema_editor, "DROP TABLE {carry}", tables)


def rebuild_records(apps, schema_editor):
    _execute(schema_editor, REBUILD_RECORDS, _tables(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0001_initial"),
        ("leads", "0011_move_privacy_models"),
    ]

    operations = [
        migrations.RunPython(carry_into_events, rebuild_records),
        migrations.DeleteModel(name="Consent"),
    ]
