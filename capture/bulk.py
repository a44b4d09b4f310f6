"""Capture in bulk: many submissions of one channel, each with the outcome `submissions.submit` would give it, in
a fixed number of statements per batch instead of 20-65 per row. Used by the CSV import.

`capture_many(payloads=..., channel=..., by=..., campaigns=...)` returns one `submissions.CaptureResult` per
payload, in order: 201 created, 200 merged (body: id, created, stage, score, owner, as capture answers),
400 rejected (body: `errors` by field), 500 when even the one-by-one path failed for that row.

1. Every payload is validated first with capture's own `clean_capture` (pure Python, no statement).
2. The rows are written in batches of `BATCH`, each in one transaction:
   - capture's advisory lock (`pg_advisory_xact_lock(hashtextextended(email, 0))`) on every address of the
     batch, in sorted order: a capture of the same address waits for the batch or the batch for it, and
     two imports never deadlock;
   - one query for active suppressions: an erased person is rejected on `consent`, as capture does
     without fresh consent (bulk rows never carry consent);
   - one query for the leads that already exist, up to four for the accounts of the new leads
     (matched or created from the domain, else matched by company name: `leads.accounts`);
   - one `COPY` of the new leads (built as capture builds them from the first row of their address; later
     rows of the same address fill what is still empty), one `UPDATE ... FROM (VALUES ...)` that merges
     into the existing leads as capture does (fill empty fields only, never overwrite, the touch only moves
     forward), one `COPY` of the touchpoints (a form submit per row, naming its submission);
   - `scores.rescore_many` for the batch's leads (new leads were inserted with the score it will find, so
     it rewrites only what changed), then `lifecycle.try_mark_mql` only for the few whose
     score reached the MQL threshold (guards, audit row, SLA clocks, routing, notifications): what
     `activities.after_activity` does after a capture (a form submit is never hot intent);
   - one `COPY` of the submissions, one per row, with its outcome, errors and response body.
3. A repeated address merges into the lead its first row created (in the same batch or an earlier one).
   The response body of every row shows its lead as the batch left it (a capture per row would show a
   repeated row's lead after that row).

A batch that fails (a lead created meanwhile by a path that takes no lock, a lost connection, a bug) is
rolled back whole and its rows go one by one through `submissions.submit`, the path every row took before.
Payloads with consent, a visitor id or a reported activity (which the CSV import never sends) also go
through `submissions.submit`, in their place in the order.
"""

import datetime as dt
import json
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg import sql
from psycopg.types.json import Jsonb

from capture import rules, submissions
from capture.submissions import CaptureResult
from core.errors import Invalid
from core.vocabulary import ActivityKind, EventType
from leads import accounts, lifecycle, scores
from leads.fields import FILL_EMPTY_NUMBERS, FILL_EMPTY_TEXT, first_values
from leads.models import Activity, Lead, Submission
from leads.validation import clean_capture
from outbox import events as outbox_events
from privacy import suppression
from privacy.models import Suppression
from scoring import policy

logger = logging.getLogger(__name__)

BATCH = 5000
_LEAD_COLUMNS = (
    "email", "email_normalized", "source", "campaign_id", "company_domain", "account_id", "first_touch_at",
    "last_touch_at", "stage_entered_at", "created_at", "updated_at", *FILL_EMPTY_TEXT, *FILL_EMPTY_NUMBERS,
    "score", "fit_score", "engagement_score", "temperature",
)


def _table(model) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def _column(model, name: str) -> sql.Identifier:
    return sql.Identifier(model._meta.get_field(name).column)


_LEAD = {name: _column(Lead, name) for name in (
    "id", "email_normalized", "last_touch_at", "updated_at", "stage", "score", "owner", *FILL_EMPTY_TEXT,
    *FILL_EMPTY_NUMBERS,
)}
# The leads of a batch's addresses: one array parameter (the ORM's `__in` would send 5,000 placeholders).
_EXISTING_SQL = sql.SQL("SELECT {address}, {id} FROM {lead} WHERE {address} = ANY(%s)").format(
    address=_LEAD["email_normalized"], id=_LEAD["id"], lead=_table(Lead),
)
# The active suppressions among the batch's hashes: two array parameters, as above.
_SUPPRESSED_SQL = sql.SQL(
    "SELECT {kind}, {hash} FROM {suppression} WHERE {lifted} IS NULL AND "
    "(({kind} = %s AND {hash} = ANY(%s)) OR ({kind} = %s AND {hash} = ANY(%s)))"
).format(
    kind=_column(Suppression, "kind"), hash=_column(Suppression, "value_hash"),
    lifted=_column(Suppression, "lifted_at"), suppression=_table(Suppression),
)
# Capture's row locks on the leads a batch merges into, in id order as every other locker takes them.
_LOCK_LEADS_SQL = sql.SQL("SELECT {id} FROM {lead} WHERE {id} = ANY(%s) ORDER BY {id} FOR UPDATE").format(
    id=_LEAD["id"], lead=_table(Lead),
)
# The notes the batch's leads already hold among the batch's notes (`rules.new_note`): two array parameters.
_HELD_NOTES_SQL = sql.SQL("SELECT {lead}, {note} FROM {activity} WHERE {lead} = ANY(%s) AND {note} = ANY(%s)").format(
    lead=_column(Activity, "lead"), note=_column(Activity, "note"), activity=_table(Activity),
)
# The leads the batch lifted to the MQL threshold (stages and threshold are parameters).
_READY_SQL = sql.SQL("SELECT {id} FROM {lead} WHERE {id} = ANY(%s) AND {stage} = ANY(%s) AND {score} >= %s").format(
    id=_LEAD["id"], lead=_table(Lead), stage=_LEAD["stage"], score=_LEAD["score"],
)


def _fill_sql(rows: int) -> sql.Composed:
    """The fill-only-empty merge (`leads.fields.FILL_EMPTY`) of `rows` leads in one UPDATE ... FROM (VALUES):
    the ORM has no update of many rows to different values. A field is filled only while empty; the touch
    only moves forward."""
    lead = sql.Identifier("l")
    value = sql.Identifier("v")
    sets = [
        sql.SQL("{name} = CASE WHEN {lead}.{name} = '' THEN {value}.{name} ELSE {lead}.{name} END").format(
            name=_LEAD[name], lead=lead, value=value)
        for name in FILL_EMPTY_TEXT
    ] + [
        sql.SQL("{name} = COALESCE({lead}.{name}, {value}.{name})").format(name=_LEAD[name], lead=lead, value=value)
        for name in FILL_EMPTY_NUMBERS
    ] + [
        sql.SQL("{touch} = GREATEST({lead}.{touch}, %s)").format(touch=_LEAD["last_touch_at"], lead=lead),
        sql.SQL("{updated} = %s").format(updated=_LEAD["updated_at"]),
    ]
    row = sql.SQL("(%s::bigint, {text}, {numbers})").format(
        text=sql.SQL(", ").join([sql.SQL("%s::text")] * len(FILL_EMPTY_TEXT)),
        numbers=sql.SQL(", ").join([sql.SQL("%s::integer")] * len(FILL_EMPTY_NUMBERS)),
    )
    return sql.SQL("UPDATE {table} AS {lead} SET {sets} FROM (VALUES {rows}) AS {value}({names}) "
                   "WHERE {lead}.{id} = {value}.{id}").format(
        table=_table(Lead), lead=lead, value=value, sets=sql.SQL(", ").join(sets),
        rows=sql.SQL(", ").join([row] * rows),
        names=sql.SQL(", ").join([_LEAD["id"], *(_LEAD[name] for name in (*FILL_EMPTY_TEXT, *FILL_EMPTY_NUMBERS))]),
        id=_LEAD["id"],
    )


@dataclass
class _Row:
    index: int  # position in the payload list
    payload: dict
    clean: dict | None = None  # None: rejected by validation
    errors: dict | None = None
    submission_id: int | None = None
    lead_id: int | None = None
    created: bool = False

    @property
    def needs_one_by_one(self) -> bool:
        """Consent, visitor stitching and reported activities are capture's own work: not done in bulk."""
        clean = self.clean
        return clean is not None and bool(clean["consent"] or clean["visitor_id"] or clean["activity"])


def capture_many(*, payloads: list[dict], channel: str, by=None, campaigns: dict | None = None,
                 batch_size: int | None = None, file_name: str = "") -> list[CaptureResult]:
    """Capture every payload as `submissions.submit(channel=..., payload=..., by=...)` would; see the module
    docstring. `campaigns` maps slug -> Campaign for the slugs the payloads name (looked up by the caller);
    `file_name` (the imported file) is recorded on every touchpoint."""
    batch_size = batch_size or BATCH
    now = timezone.now()
    rows = [_validated(index, payload, campaigns or {}, now) for index, payload in enumerate(payloads)]
    results: list[CaptureResult | None] = [None] * len(rows)
    pending: list[_Row] = []
    options = {"channel": channel, "by": by, "file_name": file_name}
    for row in rows:
        if row.needs_one_by_one:
            _write_batch_or_fall_back(pending, results=results, **options)
            pending = []
            results[row.index] = _submit_one(row, **options)
            continue
        pending.append(row)
        if len(pending) >= batch_size:
            _write_batch_or_fall_back(pending, results=results, **options)
            pending = []
    _write_batch_or_fall_back(pending, results=results, **options)
    return results


def _validated(index: int, payload: dict, campaigns: dict, now) -> _Row:
    slug = payload.get("campaign") if isinstance(payload, dict) else None
    named = {slug: campaigns[slug]} if isinstance(slug, str) and slug in campaigns else {}
    try:
        return _Row(index, payload, clean=clean_capture(payload, campaigns=named, now=now))
    except Invalid as invalid:
        return _Row(index, payload, errors=invalid.errors)


def _write_batch_or_fall_back(rows: list[_Row], *, channel: str, by, results: list, file_name: str = "") -> None:
    if not rows:
        return
    try:
        with transaction.atomic():
            for row, result in zip(rows, write_batch(rows, channel=channel, by=by, file_name=file_name), strict=True):
                results[row.index] = result
    except Exception:  # the batch left nothing behind: give each row its own chance, as capture would
        logger.exception("Bulk capture: a batch of %s rows failed; capturing them one by one", len(rows))
        for row in rows:
            results[row.index] = _submit_one(row, channel=channel, by=by, file_name=file_name)


def _submit_one(row: _Row, *, channel: str, by, file_name: str = "") -> CaptureResult:
    try:
        result = submissions.submit(channel=channel, payload=row.payload, by=by)
    except Exception:  # one broken row must not stop the others
        logger.exception("Bulk capture: row %s failed", row.index)
        return CaptureResult(500, {"detail": _("The row could not be saved because of an internal error.")})
    if file_name and result.lead is not None and result.submission is not None:
        _name_the_file(result.submission.pk, file_name)
    return result


def _name_the_file(submission_id: int, file_name: str) -> None:
    """The touchpoint of a row captured one by one names its file too, as the batch's do (`rules.touchpoint_data`)."""
    for activity in Activity.objects.filter(data__submission=submission_id).only("pk", "data"):
        Activity.objects.filter(pk=activity.pk).update(data={**activity.data, "file": file_name[:255]})


def write_batch(rows: list[_Row], *, channel: str, by, file_name: str = "") -> list[CaptureResult]:
    """Write one batch (inside the caller's transaction) and return each row's result, in order."""
    now = timezone.now()
    submitted_by = by.pk if by is not None and by.is_authenticated else None
    valid = [row for row in rows if row.clean is not None]
    _lock_addresses(sorted({row.clean["email_normalized"] for row in valid}))
    _reject_suppressed(valid)
    valid = [row for row in valid if row.clean is not None]

    groups: dict[str, list[_Row]] = {}  # normalised e-mail -> its rows, in file order
    for row in valid:
        groups.setdefault(row.clean["email_normalized"], []).append(row)
    existing = dict(_fetch(_EXISTING_SQL, [list(groups)]))
    spec = scores.active_spec()  # one scoring model for the whole batch
    created = _create_leads([group for email, group in groups.items() if email not in existing], channel, now, spec)
    _fill_existing([(existing[email], group) for email, group in groups.items() if email in existing], now)
    for email, group in groups.items():
        for row in group:
            row.lead_id = existing.get(email) or created[email]
        group[0].created = email not in existing

    for row, pk in zip(rows, _next_ids(Submission, len(rows)), strict=True):
        row.submission_id = pk  # the touchpoints name their submission, written last with its answer
    _drop_held_notes(valid)
    touchpoints = _create_touchpoints(valid, channel=channel, submitted_by=submitted_by, now=now, file_name=file_name)
    outbox_events.record_many([
        *(
            {"type": EventType.LEAD_CREATED if group[0].created else EventType.LEAD_UPDATED,
             "lead_id": group[0].lead_id, "actor_id": submitted_by,
             "payload": {"source": _source(group[0], channel), "channel": channel} if group[0].created
             else {"fields": [], "by": "capture"}}
            for group in groups.values()
        ),
        *(
            {"type": EventType.ACTIVITY_LOGGED, "lead_id": row.lead_id, "actor_id": submitted_by,
             "payload": {"activity": activity_id, "kind": ActivityKind.FORM_SUBMIT.value}}
            for row, activity_id in zip(valid, touchpoints, strict=True)
        ),
    ])
    lead_ids = [group[0].lead_id for group in groups.values()]  # in the order of first appearance
    if lead_ids:
        scores.rescore_many(lead_ids, spec=spec)
        _hand_off_mqls(lead_ids, threshold=lifecycle.mql_threshold(spec))
    results = [
        CaptureResult(400, {"errors": row.errors}) if row.clean is None
        else CaptureResult(201 if row.created else 200, body)
        for row, body in zip(rows, _response_bodies(rows, lead_ids), strict=True)
    ]
    _create_submissions(rows, results, channel=channel, submitted_by=submitted_by, now=now)
    return results


def _fetch(statement, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


# Ids drawn from a table's sequence ahead of a COPY (which returns none): table, column and count are
# parameters; the ORM has no way to reserve ids.
_NEXT_IDS_SQL = "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)"


def _next_ids(model, count: int) -> list[int]:
    """Draw `count` ids from the table's sequence, in order."""
    opts = model._meta
    return [pk for (pk,) in _fetch(_NEXT_IDS_SQL, [opts.db_table, opts.pk.column, count])]


# Rows written with COPY, the fastest way in (the ORM's bulk_create sends an INSERT with every value).
_COPY_SQL = sql.SQL("COPY {table} ({columns}) FROM STDIN")


def _copy_insert(model, columns: tuple[str, ...], rows: list[tuple], ids: list[int] | None = None) -> list[int]:
    """Insert rows (values of `columns`, attnames; every other column gets the field's default) with one
    `COPY`; the ids (given, or drawn from the table's sequence first) come back in the order of `rows`."""
    if not rows:
        return []
    ids = ids or _next_ids(model, len(rows))
    opts = model._meta
    fields = {
        field.attname: field for field in opts.concrete_fields
        if not field.primary_key and not getattr(field, "generated", False)  # the database computes those
    }
    rest = [field for name, field in fields.items() if name not in columns]
    template = model()
    tail = "".join("\t" + _copy_text(_default(field, template)) for field in rest)
    json_at = [index for index, name in enumerate(columns) if fields[name].get_internal_type() == "JSONField"]
    lines = []
    for pk, row in zip(ids, rows, strict=True):
        if json_at:
            row = list(row)
            for index in json_at:
                row[index] = None if row[index] is None else json.dumps(row[index])
        lines.append(f"{pk}\t" + "\t".join(map(_copy_text, row)) + tail + "\n")
    names = [opts.pk.column, *(fields[name].column for name in columns), *(field.column for field in rest)]
    with connection.cursor() as cursor:
        with cursor.cursor.copy(_COPY_SQL.format(
            table=sql.Identifier(opts.db_table), columns=sql.SQL(", ").join(map(sql.Identifier, names))
        )) as copy:
            copy.write("".join(lines))
    return ids


def _default(field, template):
    value = field.get_db_prep_save(field.pre_save(template, add=True), connection)
    return json.dumps(value.obj) if isinstance(value, Jsonb) else value


def _copy_text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _lock_addresses(addresses: list[str]) -> None:
    """Capture's advisory lock (`rules.LOCK_ADDRESSES_SQL`) on every address, in one statement, in sorted order."""
    if addresses:
        _fetch(rules.LOCK_ADDRESSES_SQL, [addresses])


def _reject_suppressed(rows: list[_Row]) -> None:
    """An erased person is not captured again without fresh consent (bulk rows never carry consent)."""
    if not rows:
        return
    email_hash = suppression.suppression_hasher(Suppression.Kind.EMAIL)
    phone_hash = suppression.suppression_hasher(Suppression.Kind.PHONE)
    hashes = {
        row.index: (email_hash(row.clean["email"]), phone_hash(row.clean["phone"]) if row.clean["phone"] else "")
        for row in rows
    }
    blocked = set(_fetch(
        _SUPPRESSED_SQL,
        [Suppression.Kind.EMAIL.value, [email for email, _phone in hashes.values()],
         Suppression.Kind.PHONE.value, [phone for _email, phone in hashes.values() if phone]],
    ))
    if not blocked:
        return
    for row in rows:
        email, phone = hashes[row.index]
        if (Suppression.Kind.EMAIL, email) in blocked or (Suppression.Kind.PHONE, phone) in blocked:
            row.clean, row.errors = None, rules.suppressed_errors()


def _source(row: _Row, channel: str) -> str:
    return rules.source_of(reported=row.clean["source"], channel=channel)


def _first_values(group: list[_Row]) -> dict:
    """What the run of rows of one address leaves on an empty lead (`leads.fields.first_values`)."""
    return first_values([row.clean for row in group])


def _create_leads(groups: list[list[_Row]], channel: str, now, spec) -> dict[str, int]:
    """New leads as capture creates them from the first row (no form: source from the payload, else the
    channel), filled by the later rows of the same address; returns normalised e-mail -> id."""
    if not groups:
        return {}
    domains = []
    for group in groups:
        clean = group[0].clean
        domains.append(rules.company_domain(website=clean["website"], email=clean["email"]))
    # Matched or created as the single capture does, from the first row (`leads.accounts`, fixed statements).
    account_ids, made = accounts.resolve([
        accounts.Wanted(domain=domain, company=group[0].clean["company"])
        for group, domain in zip(groups, domains, strict=True)
    ])
    rows, stamp = [], now.isoformat()  # rendered once for COPY
    estimate = _score_estimator(spec, now)
    for group, domain, account_id in zip(groups, domains, account_ids, strict=True):
        first, values, source = group[0].clean, _first_values(group), _source(group[0], channel)
        rows.append((
            first["email"], first["email_normalized"], source, _campaign_id(group[0]), domain,
            account_id, stamp, stamp, stamp, stamp, stamp,
            *(values.get(name, "") for name in FILL_EMPTY_TEXT), *(values.get(name) for name in FILL_EMPTY_NUMBERS),
            *estimate(first, values, source),
        ))
    ids = _copy_insert(Lead, _LEAD_COLUMNS, rows)
    accounts.claim_made([pk for pk, account_id in zip(ids, account_ids, strict=True) if account_id in made])
    return {group[0].clean["email_normalized"]: pk for group, pk in zip(groups, ids, strict=True)}


def _score_estimator(spec, now):
    """The score values a new lead will have, so that it is inserted with them: `scores.rescore_many` then
    finds them unchanged and writes only the lead's score record, instead of rewriting the fresh lead row
    (and all its index entries) a second time. Only an estimate for speed: rescore_many stays the writer
    of record and corrects any difference. Facts as `scores` reads them: the lead's fields and its one
    touchpoint, a form submit now."""
    touchpoint = (policy.ActivityFact(ActivityKind.FORM_SUBMIT.value, now, ""),)

    def estimate(first: dict, values: dict, source: str) -> tuple:
        if spec is None:
            return 0, 0, 0, "cold"
        result = policy.score(scores.facts_from({
            "email_normalized": first["email_normalized"], "company_size": values.get("company_size"),
            "industry": values.get("industry", ""), "country": values.get("country", ""),
            "job_title": values.get("job_title", ""), "source": source,
            "campaign__slug": first["campaign"].slug if first["campaign"] else "",
        }, touchpoint), spec, at=now)
        return result.score, result.fit, result.engagement, result.temperature

    return estimate


def _campaign_id(row: _Row) -> int | None:
    return row.clean["campaign"].pk if row.clean["campaign"] else None


def _fill_existing(merges: list[tuple[int, list[_Row]]], now) -> None:
    """Capture's merge for every existing lead of the batch in one statement: fill empty fields only, touch.
    The rows are locked first in id order (as `select_for_update` in capture, `dedupe.merge` and the
    rescoring do), so the batch never deadlocks with them on two leads."""
    if not merges:
        return
    _fetch(_LOCK_LEADS_SQL, [sorted(pk for pk, _g in merges)])
    params: list = [now, now]
    for lead_id, group in merges:
        values = _first_values(group)
        params += [lead_id, *(values.get(name, "") for name in FILL_EMPTY_TEXT),
                   *(values.get(name) for name in FILL_EMPTY_NUMBERS)]
    with connection.cursor() as cursor:
        cursor.execute(_fill_sql(len(merges)), params)


def _create_submissions(rows: list[_Row], results: list[CaptureResult], *, channel: str, submitted_by, now) -> None:
    """One recorded submission per row with its outcome and the answer capture would have given; a rejected
    row keeps what capture keeps of it (`rules.rejected_record`: nothing of a suppressed person)."""
    outcomes = {201: Submission.Outcome.CREATED, 200: Submission.Outcome.MERGED, 400: Submission.Outcome.REJECTED}
    stamp = now.isoformat()
    columns = ("channel", "submitted_by_id", "payload_hash", "payload", "outcome", "errors", "lead_id",
               "response_status", "response_body", "received_at", "processed_at")
    records = []
    for row, result in zip(rows, results, strict=True):
        payload, errors = row.payload, row.errors or {}
        if result.status == 400:
            payload, errors = rules.rejected_record(row.payload, errors)
        records.append((channel, submitted_by, submissions.payload_hash(row.payload), payload,
                        outcomes[result.status].value, errors, row.lead_id, result.status, result.body, stamp, stamp))
    _copy_insert(Submission, columns, records, ids=[row.submission_id for row in rows])


def _drop_held_notes(rows: list[_Row]) -> None:
    """`rules.new_note` for the batch: a note its lead already holds (or an earlier row of the batch gave it)
    is not added again; one query."""
    noted = [row for row in rows if row.clean["message"]]
    if not noted:
        return
    held: dict[int, set[str]] = {}
    for lead_id, note in _fetch(_HELD_NOTES_SQL, [sorted({row.lead_id for row in noted}),
                                                   sorted({row.clean["message"] for row in noted})]):
        held.setdefault(lead_id, set()).add(note)
    for row in noted:
        notes = held.setdefault(row.lead_id, set())
        note = rules.new_note(row.clean["message"], notes)
        notes.add(row.clean["message"])
        row.clean = {**row.clean, "message": note}


def _create_touchpoints(rows: list[_Row], *, channel: str, submitted_by, now, file_name: str = "") -> list[int]:
    """The touchpoint capture writes for each submission (no form, no reported activity: a form submit)."""
    stamp = now.isoformat()
    columns = ("lead_id", "kind", "occurred_at", "note", "created_by_id", "created_at", "data")
    return _copy_insert(Activity, columns, [
        (row.lead_id, ActivityKind.FORM_SUBMIT.value, stamp, row.clean["message"], submitted_by, stamp,
         rules.touchpoint_data(submission_id=row.submission_id, channel=channel, source=_source(row, channel),
                               campaign=row.clean["campaign"], clean=row.clean, file_name=file_name))
        for row in rows
    ])


def _hand_off_mqls(lead_ids: list[int], *, threshold: int) -> None:
    """What `activities.after_activity` does after a form submit, for the few leads whose score now reaches the
    MQL threshold: `try_mark_mql` (guards, audit, SLA clocks, routing). A form submit is no hot intent."""
    sources, _target = lifecycle.TRANSITIONS["mark_mql"]
    ready_ids = [pk for (pk,) in _fetch(
        _READY_SQL,
        [lead_ids, [str(stage) for stage in sources], threshold],
    )]
    ready = {lead.pk: lead for lead in Lead.objects.filter(pk__in=ready_ids)} if ready_ids else {}
    for lead_id in lead_ids:
        if lead_id in ready:
            lifecycle.try_mark_mql(lead=ready[lead_id])


def _state_sql() -> sql.Composed:
    """Stage, score and owner's username of a batch's leads: one array parameter, as `_EXISTING_SQL`."""
    User = get_user_model()
    return sql.SQL(
        "SELECT l.{id}, l.{stage}, l.{score}, u.{username} FROM {lead} l "
        "LEFT JOIN {user} u ON u.{user_id} = l.{owner} WHERE l.{id} = ANY(%s)"
    ).format(
        id=_LEAD["id"], stage=_LEAD["stage"], score=_LEAD["score"], owner=_LEAD["owner"], lead=_table(Lead),
        username=_column(User, User.USERNAME_FIELD), user=_table(User), user_id=sql.Identifier(User._meta.pk.column),
    )


def _response_bodies(rows: list[_Row], lead_ids: list[int]) -> list[dict | None]:
    """Capture's answer for each accepted row, from its lead after scoring and hand-off (None when rejected)."""
    state = {pk: (stage, score, owner) for pk, stage, score, owner in _fetch(_state_sql(), [lead_ids])}
    bodies = []
    for row in rows:
        if row.clean is None:
            bodies.append(None)
            continue
        stage, score, owner = state[row.lead_id]
        bodies.append({"id": row.lead_id, "created": row.created, "stage": stage, "score": score, "owner": owner})
    return bodies
