"""One capture service behind every channel: hosted and embedded forms, the JSON API, CSV import, manual
entry and the tracked visitor who identifies itself.

Each submission is first recorded as it arrived (`Submission`, committed on its own), then processed in
one transaction that writes the lead, its touchpoint, consent, visitor stitching and the submission's
outcome together. Every stored submission reaches a final outcome:

- bad input is `rejected` with the errors (a bounded excerpt of the body is kept, `rules.rejected_record`);
- a failure of the processing itself (a bug, a value the database refuses) is also finished as `rejected`,
  with the error recorded, and logged: it can never poison the recovery job or an Idempotency-Key repeat;
- only a lost database connection (a restart, a killed process) leaves the submission `received`:
  `recover_stale` (every minute) and a repeat of its Idempotency-Key finish it.

An Idempotency-Key is held, while its request is stored and processed, by a session-level PostgreSQL
advisory lock (`HOLD_KEY_SQL`), taken before anything is stored; only the holder stores or takes over. A
repeat that can take the lock while the submission is unfinished knows that the first request's process
(and its database session) is gone, and takes it over at once; one that cannot answers 409 "in progress".
"""

import hashlib
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from capture import profiling, rules
from core import parsers
from core.errors import Invalid
from core.http import IDEMPOTENCY_KEY, clean_header
from core.vocabulary import ActivityKind, Channel, EventType
from leads import accounts, activities
from leads.fields import FILL_EMPTY, fill_empty, is_empty
from leads.models import Activity, Campaign, CaptureForm, JobRun, Lead, Submission, Visitor
from leads.validation import clean_capture
from outbox import events as outbox_events
from privacy import consent, suppression
from privacy.models import ConsentEvent


@dataclass
class CaptureResult:
    """The answer to a submission. `lead` is the lead as this capture left it, in memory (its consent summary,
    written by `leads.consent`, is read again from the database when accessed)."""

    status: int
    body: dict
    submission: Submission | None = None
    lead: Lead | None = None

    @property
    def created(self) -> bool:
        return self.status == 201


log = logging.getLogger(__name__)

# An Idempotency-Key's holder: a session-level advisory lock on the (scope, key), taken before the
# submission is stored and released when it is finished. PostgreSQL releases it when the holder's session
# ends, so a repeat can tell a live first request (lock taken: 409) from a dead one (lock free: take over).
# Raw SQL: advisory locks have no ORM API. The seed keeps these keys apart from the address locks.
HOLD_KEY_SQL = "SELECT pg_try_advisory_lock(hashtextextended(%s, 13))"
RELEASE_KEY_SQL = "SELECT pg_advisory_unlock(hashtextextended(%s, 13))"
# Connection failures leave a submission `received` for recovery; every other failure finishes it.
CONNECTION_LOST = (OperationalError, InterfaceError)


def payload_hash(payload) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@contextmanager
def _holding(scope: str, key: str):
    """Try to hold the Idempotency-Key for this request; yields whether it is held (released after)."""
    name = f"{scope}\n{key}"
    with connection.cursor() as cursor:
        cursor.execute(HOLD_KEY_SQL, [name])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(RELEASE_KEY_SQL, [name])
            except DatabaseError:  # the session is gone, and the lock with it
                pass


def _storable(payload) -> tuple[object, dict | None]:
    """The payload as it can be stored, and the errors when it cannot be (a caller that did not go through
    the API's parser: NUL, lone surrogates, non-finite numbers, nesting)."""
    try:
        parsers.check_value(payload)
    except Invalid as invalid:
        return {"unstorable": True}, invalid.errors
    except RecursionError:
        return {"unstorable": True}, {"non_field_errors": [_("The body is nested too deeply.")]}
    return payload, None


def submit(
    *,
    channel: str,
    payload: dict,
    form: CaptureForm | None = None,
    by=None,
    idempotency_key: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    is_spam: bool = False,
) -> CaptureResult:
    """Record and process one submission; the form (if any) gives source and campaign where the payload is silent."""
    if idempotency_key and not IDEMPOTENCY_KEY.match(idempotency_key):
        return CaptureResult(400, {"errors": {"Idempotency-Key": [
            _("Use 1 to 200 printable ASCII characters.")
        ]}})
    digest = payload_hash(payload)
    payload, unstorable = _storable(payload)
    scope = f"form:{form.pk}" if form else f"user:{by.pk}" if by else "anonymous"
    fields = {
        "channel": channel, "capture_form": form, "submitted_by": by if by and by.is_authenticated else None,
        "payload_hash": digest, "payload": payload,
        "ip_address": ip_address, "user_agent": clean_header(user_agent or "", 400),
    }
    if not idempotency_key:
        return _run(Submission.objects.create(**fields), is_spam=is_spam, unstorable=unstorable)
    with _holding(scope, idempotency_key) as held:
        if not held:  # another live request holds this key: it stores and processes the submission
            return _repeat(scope, idempotency_key, digest, holder_gone=False)
        try:
            with transaction.atomic():
                submission = Submission.objects.create(
                    idempotency_scope=scope, idempotency_key=idempotency_key, **fields
                )
        except IntegrityError:  # stored before, by a request whose session is gone (we hold the key)
            return _repeat(scope, idempotency_key, digest, holder_gone=True)
        return _run(submission, is_spam=is_spam, unstorable=unstorable)


def _run(submission: Submission, *, is_spam: bool, unstorable: dict | None) -> CaptureResult:
    if unstorable is not None:
        return _finish_rejected(submission, unstorable)
    if is_spam:
        return _finish_spam(submission)
    return process(submission)


def _repeat(scope: str, key: str, digest: str, *, holder_gone: bool) -> CaptureResult:
    """A repeat of an Idempotency-Key: the first answer; or, while the first is unfinished, 409 while its
    holder lives (it may not even have stored it yet), and a take-over at once when it is gone. Only the
    caller that holds the key may take over (`holder_gone`): two takers never process one submission."""
    first = Submission.objects.filter(idempotency_scope=scope, idempotency_key=key).first()
    if first is None:
        return CaptureResult(409, {"detail": _("The first request with this Idempotency-Key is still in progress.")})
    if first.payload_hash != digest:
        return CaptureResult(
            422, {"detail": _("This Idempotency-Key was already used with a different request body.")}
        )
    if first.outcome != Submission.Outcome.RECEIVED:
        return CaptureResult(first.response_status, first.response_body, first, first.lead)
    if holder_gone and _take_over(first):
        return process(first)
    return CaptureResult(409, {"detail": _("The first request with this Idempotency-Key is still in progress.")})


def _take_over(submission: Submission) -> bool:
    """Claim a submission whose first processing died (conditional update: one taker wins)."""
    taken = Submission.objects.filter(
        pk=submission.pk, outcome=Submission.Outcome.RECEIVED, received_at=submission.received_at
    ).update(received_at=timezone.now())
    submission.refresh_from_db()
    return taken == 1


def _finish_spam(submission: Submission) -> CaptureResult:
    body = {"detail": _("Thank you.")}
    Submission.objects.filter(pk=submission.pk).update(
        outcome=Submission.Outcome.SPAM, response_status=200, response_body=body, processed_at=timezone.now()
    )
    return CaptureResult(200, body, submission)


def _finish_rejected(submission: Submission, errors: dict[str, list[str]]) -> CaptureResult:
    """Finish a submission as rejected: the answer and what is kept of it are bounded (`rules`)."""
    payload, errors = rules.rejected_record(submission.payload, errors)
    body = {"errors": errors}
    fields = {"payload": payload}
    if rules.is_suppressed(errors):  # nothing that identifies the person: no address, no user agent
        fields.update(ip_address=None, user_agent="")
    Submission.objects.filter(pk=submission.pk).update(
        outcome=Submission.Outcome.REJECTED, errors=errors, response_status=400, response_body=body,
        processed_at=timezone.now(), **fields,
    )
    return CaptureResult(400, body, submission)


def process(submission: Submission) -> CaptureResult:
    """Process a stored submission to its final outcome. Only a lost database connection raises (the
    submission stays `received` for recovery); any other failure finishes it as rejected, logged."""
    try:
        return _process(submission)
    except CONNECTION_LOST:
        raise
    except Exception as error:
        log.exception("Capture processing failed for submission %s", submission.pk)
        errors = {"non_field_errors": [
            _("The submission could not be processed (%(error)s); it was recorded.") % {"error": type(error).__name__}
        ]}
        return _finish_rejected(submission, errors)


def _process(submission: Submission) -> CaptureResult:
    payload = submission.payload
    try:
        form = submission.capture_form
        clean = clean_capture(
            payload, campaigns=_campaigns_named(payload), required=profiling.required_fields(form, payload),
            topics=form.topics if form else None,
        )
    except Invalid as invalid:
        return _finish_rejected(submission, invalid.errors)
    with transaction.atomic():
        blocked = suppression.suppressed(email=clean["email"], phone=clean["phone"])
        if blocked and not clean["consent"]:
            return _reject_suppressed(submission)
        if blocked:
            suppression.lift(blocked)  # fresh consent brings the person back
        lead, created, activity, stitched = _create_or_merge(submission, clean)
        # The lead stays locked and current in memory from here on: scoring, mark_mql and routing work on it.
        activities.after_activity(lead=lead, activity=activity, only_activity=created and not stitched,
                                  stitched=bool(stitched))
        status = 201 if created else 200
        body = {
            "id": lead.pk,
            "created": created,
            "stage": lead.stage,
            "score": lead.score,
            "owner": lead.owner.get_username() if lead.owner_id else None,
        }
        Submission.objects.filter(pk=submission.pk).update(
            outcome=Submission.Outcome.CREATED if created else Submission.Outcome.MERGED, lead=lead,
            response_status=status, response_body=body, processed_at=timezone.now(),
        )
    return CaptureResult(status, body, submission, lead)


def _reject_suppressed(submission: Submission) -> CaptureResult:
    """An erased person is not captured again without fresh consent: recorded as rejected, without any of
    their data (`rules.rejected_record`)."""
    return _finish_rejected(submission, rules.suppressed_errors())


def _campaigns_named(payload) -> dict:
    slug = payload.get("campaign") if isinstance(payload, dict) else None
    if not isinstance(slug, str) or not slug:
        return {}
    return {c.slug: c for c in Campaign.objects.filter(slug=slug)}


def _create_or_merge(submission: Submission, clean: dict) -> tuple[Lead, bool, Activity, int]:
    """The lead (created, or locked and updated), whether it is new, its touchpoint, and whether that
    touchpoint is its only activity (a new lead that took over no anonymous visits)."""
    now = timezone.now()
    form = submission.capture_form
    with connection.cursor() as cursor:
        cursor.execute(rules.LOCK_ADDRESS_SQL, [clean["email_normalized"]])
    lead = (
        Lead.objects.select_for_update(of=("self",)).select_related("owner")
        .filter(email_normalized=clean["email_normalized"]).first()
    )
    source = rules.source_of(reported=clean["source"], form=form, channel=submission.channel)
    campaign = rules.campaign_of(reported=clean["campaign"], form=form)
    activity = clean["activity"]
    touched_at = activity.occurred_at if activity else now
    created = lead is None
    if created:
        domain = rules.company_domain(website=clean["website"], email=clean["email"])
        account_id, account_made = accounts.account_id_for(domain=domain, company=clean["company"])
        lead = Lead(
            email=clean["email"], email_normalized=clean["email_normalized"], source=source, campaign=campaign,
            capture_form=form, company_domain=domain, first_touch_at=touched_at, last_touch_at=touched_at,
            stage_entered_at=touched_at, created_at=now,
            account_id=account_id,
            **{name: clean[name] for name in FILL_EMPTY if not is_empty(clean[name])},
        )
        lead.save()
        if account_made:
            accounts.claim_made([lead.pk])
        filled = []
    else:
        filled = fill_empty(lead, clean)
        lead.last_touch_at = max(lead.last_touch_at, touched_at)
        lead.save(update_fields=["last_touch_at", "updated_at", *filled])

    kind = activity.kind if activity else (form.activity_kind if form else ActivityKind.FORM_SUBMIT)
    note = clean["message"]
    if note and not created:  # a note the lead holds already is not added again (`rules.new_note`)
        note = rules.new_note(note, set(lead.activities.filter(note=note).values_list("note", flat=True)))
    touchpoint = Activity.objects.create(
        lead=lead, kind=kind, occurred_at=touched_at, url=activity.url if activity else "",
        note=note,
        data=rules.touchpoint_data(
            submission_id=submission.pk, channel=submission.channel, source=source, campaign=campaign, clean=clean
        ),
        created_by=submission.submitted_by,
    )
    actor_id = submission.submitted_by_id
    outbox_events.record_many([
        {"type": EventType.LEAD_CREATED, "lead_id": lead.pk, "actor_id": actor_id,
         "payload": {"source": source, "campaign": lead.campaign_id, "channel": submission.channel}}
        if created else
        {"type": EventType.LEAD_UPDATED, "lead_id": lead.pk, "actor_id": actor_id,
         "payload": {"fields": sorted(filled), "by": "capture"}},
        {"type": EventType.ACTIVITY_LOGGED, "lead_id": lead.pk, "actor_id": actor_id,
         "payload": {"activity": touchpoint.pk, "kind": touchpoint.kind}},
    ])
    stitched = _stitch_visitor(lead, clean["visitor_id"], form, now) if clean["visitor_id"] else 0
    if clean["consent"]:
        _record_consent(lead, submission, form, now, page_url=activity.url if activity else "")
    return lead, created, touchpoint, stitched


def _stitch_visitor(lead: Lead, anonymous_id: str, form: CaptureForm | None, now) -> int:
    """Link the anonymous visitor to the lead; returns how many of its earlier activities the lead took over."""
    visitor, _created = Visitor.objects.get_or_create(
        anonymous_id=anonymous_id, defaults={"lead": lead, "capture_form": form, "first_seen_at": now}
    )
    if visitor.lead_id is None:
        visitor.lead = lead
        visitor.last_seen_at = now
        visitor.save(update_fields=["lead", "last_seen_at"])
    if visitor.lead_id == lead.pk:
        return Activity.objects.filter(visitor=visitor, lead__isnull=True).update(lead=lead)
    return 0


METHODS = {
    Channel.WEB_FORM: ConsentEvent.Method.WEB_FORM, Channel.API: ConsentEvent.Method.API,
    Channel.IMPORT: ConsentEvent.Method.IMPORT, Channel.MANUAL: ConsentEvent.Method.MANUAL,
}


def _record_consent(lead: Lead, submission: Submission, form: CaptureForm | None, now, page_url: str = "") -> None:
    """The consent box was ticked: one `given` event per purpose the form asks for, with the wording shown;
    a double-opt-in form opens a request whose confirmation mail goes out on commit. (`now` is the capture's
    time; each event takes the time it is recorded at, so it sorts after anything recorded before it.)"""
    purposes = (form.consent_purposes if form else None) or ["marketing_email"]
    consent.give(
        lead=lead, purposes=purposes, method=METHODS.get(submission.channel, ConsentEvent.Method.MANUAL),
        double_opt_in=bool(form and form.double_opt_in), by=submission.submitted_by, channel=submission.channel,
        form=form, submission=submission, page_url=page_url, ip_address=submission.ip_address,
        user_agent=submission.user_agent,
    )
    # `give` updated the lead's consent summary in the database only: drop the stale value in memory, so
    # it is read again if anybody asks and a later save() of this lead leaves the column alone.
    del lead.consent_status


RECOVERY_JOB = "recover_submissions"  # its JobRun row: /healthz and the admin show when it last ran
HEALTHY_RECOVERY_AGE = timezone.timedelta(minutes=3)  # it runs every minute


def recover_and_record() -> int:
    """The minute job: `recover_stale()`, with its run recorded on `JobRun` (start, finish, result)."""
    started = timezone.now()
    JobRun.objects.update_or_create(name=RECOVERY_JOB, defaults={"last_started_at": started})
    done = recover_stale()
    finished = timezone.now()
    JobRun.objects.filter(name=RECOVERY_JOB).update(
        last_finished_at=finished, last_duration_ms=int((finished - started).total_seconds() * 1000),
        last_result={"recovered": done}, runs=F("runs") + 1,
    )
    return done


def recover_stale(*, older_than_seconds: int | None = None, limit: int = 500) -> int:
    """Process submissions whose first processing died (still `received` after the stale time), each to its
    final outcome: a row that fails is finished as rejected and the batch goes on."""
    seconds = older_than_seconds if older_than_seconds is not None else settings.IDEMPOTENCY_STALE_SECONDS
    cutoff = timezone.now() - timezone.timedelta(seconds=seconds)
    done = 0
    stale = Submission.objects.filter(outcome=Submission.Outcome.RECEIVED, received_at__lt=cutoff)
    for submission in stale.order_by("received_at", "pk")[:limit]:
        if not _take_over(submission):
            continue
        if submission.idempotency_key:
            with _holding(submission.idempotency_scope, submission.idempotency_key) as held:
                if not held:  # its request is being processed right now, by a live session
                    continue
                process(submission)
        else:
            process(submission)
        done += 1
    return done
