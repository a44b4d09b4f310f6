"""Play a demo plan (`config.demo.build_plan`) through the product's own code over its 90 simulated days.

The plan says who the people are and what they do when (visits, forms, replies, decisions); this module makes
it happen, in time order, on a simulated clock (time-machine, without ticking), through the same services a
request or a worker would call: page views through `capture.tracking.track`, forms and API submissions through
`capture.submissions.submit`, the fair's business cards through `capture.bulk.capture_many`, activities
through `leads.activities`, transitions through `leads.lifecycle`, opportunities through `sales.services`
(hand-off through the outbox consumer), consent confirmations through the link in the opt-in mail, and the
SLA sweep every few simulated minutes, with its escalations. What the product decides is what the data shows:
routing picks the owners, scoring the scores, the sweep the breaches and reassignments, the recycling rule
the recycled leads; the plan's owners only say which SDR picks a lead from the pool.

Reps answer new leads the way a good team does: most first touches within a few minutes of the assignment in
business hours (the next morning for leads assigned at night), some later, a few only after the SLA fired.

Background tasks run inline at the simulated time, with e-mail kept in memory: nothing is mailed, yet every
notification is marked e-mailed and every opt-in link exists.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from django.core import mail
from django.db import connection
from django.db.models import F, Min
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.module_loading import import_string

from capture import bulk, tracking
from capture import submissions as capture
from core import tasks as core_tasks
from core.errors import Conflict, Invalid, NotPermitted, Refused
from core.vocabulary import ActivityKind as K
from core.vocabulary import Channel, Stage
from leads import activities, lifecycle
from leads.models import Activity, Lead, Notification, SlaClock, Visitor
from leads.sla import sweep
from outbox import events as outbox_events
from privacy import consent
from privacy.models import ConsentEvent
from sales import handoff
from sales import services as sales_services
from sales.models import Opportunity

SWEEP_LAG = dt.timedelta(seconds=30)  # the sweep runs every minute: on average half a minute after the due
BUSINESS_OPENS, BUSINESS_CLOSES = dt.time(8, 0), dt.time(18, 0)  # the demo reps' working hours
# Tasks the simulation does itself: the outbox dispatch where a consumer must have heard, the notification
# e-mails in one statement at the end.
SIMULATED_TASKS = ("outbox.tasks.dispatch", "leads.tasks.email_notification", "leads.tasks.email_notifications")
CONTACT_KINDS = (K.CALL, K.EMAIL, K.LINKEDIN, K.MEETING)
TOO_EARLY = "Zu früh: noch kein Projekt, weiter im Nurturing"
CONFIRM_LINK = re.compile(r"/privacy/confirm/([A-Za-z0-9_\-]+)/")
# Refusals the product may rightly give while the plan plays (a lead the recycling rule took back, a claim
# somebody else made first): the step is skipped and counted, never forced.
EXPECTED = (Refused, Conflict, NotPermitted, Invalid, lifecycle.LeadNotFound)


@dataclass
class Run:
    """What the simulation shares: the plan, the users and catalogue, the clock and what happened."""

    plan: object
    users: dict
    forms: dict
    campaigns: dict
    traveller: object
    lead_ids: dict = field(default_factory=dict)  # plan index -> lead id
    opt_in_tokens: dict = field(default_factory=dict)  # lead id -> token of its confirmation link
    skipped: Counter = field(default_factory=Counter)
    next_due: dt.datetime | None = None  # the earliest next look of a running clock
    clocks_changed: bool = True  # a step may have started or stopped clocks: read next_due again
    imported: set = field(default_factory=set)  # fair days whose business cards are imported
    seed: int = 42
    progress: object = None  # called with the simulated day once a week
    spawn: object = None  # adds a script to the run
    index_of: dict = field(default_factory=dict)  # lead id -> plan index
    pending: dict = field(default_factory=dict)  # lead id -> the plan's next stage transition (spec) or None
    answered: dict = field(default_factory=dict)  # lead id -> the assignment its rep responded to
    buffered: dict = field(default_factory=dict)  # lead id -> nurture activities not stored yet
    decided: set = field(default_factory=set)  # ids of planned transitions a rep made on the first call


# --- the clock and the background work ------------------------------------------------------------------


@contextmanager
def simulated(start: dt.datetime):
    """A frozen clock at `start` (moved by the caller), tasks run inline at that time, mail kept in memory,
    and commits without waiting for the disk (a demo loaded again after a crash is cheap)."""
    import time_machine  # a development dependency: only the demo needs it outside the tests
    from django_q.conf import Conf  # read when needed (django-q2 reads its settings at import)

    saved_outbox = getattr(mail, "outbox", None)
    mail.outbox = []
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        with (
            time_machine.travel(start, tick=False) as traveller,
            override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"),
            # Not sync mode: inside a transaction (a caller's, a test's) a task is then handed over at once, and
            # runs inline here; outside one, on the commit, which in autocommit is at once too.
            mock.patch.object(Conf, "SYNC", False),
            mock.patch.object(core_tasks, "_enqueue", _run_inline),
        ):
            yield traveller
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO DEFAULT")
        if saved_outbox is None:
            del mail.outbox
        else:
            mail.outbox = saved_outbox


def _run_inline(func: str, args, kwargs) -> None:
    """A task enqueued (after its commit) runs now, at the simulated time, as a sync-mode worker would run it.
    The outbox dispatch is left to the simulation, which calls it where a consumer must have heard."""
    if func in SIMULATED_TASKS:
        return
    import_string(func)(*args, **kwargs)


def _sweep_until(run: Run, at: dt.datetime) -> None:
    """Run the SLA sweep at every moment a running clock is due until `at`, as the minute job would (it
    looks within a minute of the due): breaches recorded, escalation steps run, each once."""
    while True:
        if run.clocks_changed:
            run.next_due = SlaClock.objects.filter(
                stopped_at__isnull=True, next_step_at__isnull=False
            ).aggregate(due=Min("next_step_at"))["due"]
            run.clocks_changed = False
        if run.next_due is None or run.next_due > at:
            return
        moment = run.next_due + SWEEP_LAG
        run.traveller.move_to(moment)
        if sweep.run(now=moment).steps:  # a reassignment reaches a new rep, who answers it
            for lead in Lead.objects.filter(stage=Stage.MQL, owner__isnull=False, assigned_at=moment):
                _watch(run, lead)
        run.clocks_changed = True


def _is_business_time(moment: dt.datetime) -> bool:
    local = timezone.localtime(moment)
    return local.weekday() < 5 and BUSINESS_OPENS <= local.time() < BUSINESS_CLOSES


def next_business_moment(moment: dt.datetime) -> dt.datetime:
    """`moment` if it lies in the reps' working hours, else the next morning (Mon-Fri 08:00 local)."""
    if _is_business_time(moment):
        return moment
    local = timezone.localtime(moment)
    day = local.date() + dt.timedelta(days=0 if local.time() < BUSINESS_OPENS else 1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, BUSINESS_OPENS))


def response_delay(rng: random.Random) -> dt.timedelta:
    """How long a rep takes to make the first contact attempt after the lead reached them (in business time)."""
    bucket = rng.random()
    if bucket < 0.8:
        return dt.timedelta(seconds=rng.uniform(40, 280))  # the 5-minute rule kept
    if bucket < 0.92:
        return dt.timedelta(minutes=rng.uniform(6, 28))
    if bucket < 0.97:
        return dt.timedelta(minutes=rng.uniform(35, 150))  # the manager was told
    return dt.timedelta(hours=rng.uniform(4.2, 6))  # the SLA reassigns it first


# --- the events -------------------------------------------------------------------------------------------


def play(run: Run, *, seed: int) -> None:
    """Run every script (leads, anonymous visitors, stray submissions) in time order, sweeping in between."""
    now = run.plan.now
    queue: list = []
    sequence = 0

    def push(at, script):
        nonlocal sequence
        heapq.heappush(queue, (at, sequence, script))
        sequence += 1

    def spawn(script):
        at = next(script, None)
        if at is not None:
            push(max(at, timezone.now()), script)

    run.spawn, run.seed = spawn, seed
    scripts = [_lead_script(run, index, lead_plan, random.Random(f"{seed}:{index}:run"))
               for index, lead_plan in enumerate(run.plan.leads)]
    _anonymous_visitors(run)
    scripts += [_stray_script(run, spec) for spec in run.plan.stray_submissions]
    for script in scripts:
        at = next(script, None)
        if at is not None:
            push(at, script)
    reported = None
    while queue:
        at, _sequence, script = heapq.heappop(queue)
        if at >= now:
            continue  # the plan's future: it has not happened yet
        week = timezone.localtime(at).date().isocalendar()[:2]
        if run.progress is not None and week != reported:
            reported = week
            run.progress(timezone.localtime(at).date())
        _sweep_until(run, at)
        run.traveller.move_to(max(at, timezone.now()))
        following = next(script, None)
        if following is not None:
            push(max(following, at), script)
    _sweep_until(run, now - SWEEP_LAG)
    run.traveller.move_to(now)
    outbox_events.dispatch(wait_seconds=0)
    # The worker e-mailed each notification as it came (the demo mails nobody: the mail stayed in memory).
    Notification.objects.filter(emailed_at__isnull=True).update(emailed_at=F("created_at"))


def _anonymous_visitors(run: Run) -> None:
    """Visitors who never filled in a form: their page views as `capture.tracking.track` stores them (a visitor
    row, one activity per view, no lead), written in bulk since nothing downstream reacts to them."""
    form = run.forms["Kontaktformular Website"]
    visitors = [Visitor(anonymous_id=spec["anonymous_id"], capture_form=form, first_seen_at=spec["first_seen_at"],
                        last_seen_at=spec["last_seen_at"]) for spec in run.plan.visitors]
    Visitor.objects.bulk_create(visitors, batch_size=1000)
    Activity.objects.bulk_create([
        Activity(visitor=visitor, kind=a["kind"], url=a["url"], occurred_at=a["occurred_at"], data={},
                 created_at=a["occurred_at"])
        for visitor, spec in zip(visitors, run.plan.visitors, strict=True) for a in spec["activities"]
    ], batch_size=2000)


def _stray_script(run: Run, spec: dict):
    yield spec["at"]
    capture.submit(channel=Channel.WEB_FORM, payload=spec["payload"], form=run.forms[spec["form"]],
                   ip_address="203.0.113.99", is_spam=spec["outcome"] == "spam")


def _payload(lead_plan, spec: dict | None = None, *, first: bool = True) -> dict:
    """The form's fields as the lead filled them in; consent is asked on the first form (the plan's log)."""
    fields = lead_plan.fields
    payload = {
        "email": fields["email"], "first_name": fields["first_name"], "last_name": fields["last_name"],
        "company": fields["company"], "job_title": fields["job_title"], "country": fields["country"],
        "industry": fields["industry"], "company_size": fields["company_size"], "source": fields["source"],
    }
    for name in ("phone", "website", "campaign", "utm_source", "utm_medium", "utm_campaign"):
        if fields.get(name):
            payload[name] = fields[name]
    if spec is not None:
        activity = {"kind": spec["kind"]}
        if spec["url"]:
            activity["url"] = spec["url"]
        payload["activity"] = activity
        if spec["note"]:
            payload["message"] = spec["note"]
    if lead_plan.visitor:
        payload["visitor_id"] = lead_plan.visitor["anonymous_id"]
    given = [e for e in lead_plan.consent_events if e["kind"] == ConsentEvent.Kind.GIVEN]
    if given and first:
        payload["consent"] = True
    return payload


def _proof(lead_plan) -> dict:
    given = next((e for e in lead_plan.consent_events if e["kind"] == ConsentEvent.Kind.GIVEN), None)
    return {"ip_address": given["ip_address"], "user_agent": given["user_agent"]} if given else {}


def _capture(run: Run, index: int, lead_plan) -> int | None:
    """Submit the lead's first form (or import its business card with the rest of that fair day's)."""
    fields = lead_plan.fields
    touchpoint = next(a for a in lead_plan.activities if a.get("submission") == 0)
    channel = lead_plan.submissions[0]["channel"]
    if channel == Channel.IMPORT:
        day = timezone.localtime(fields["created_at"]).date()
        if day not in run.imported:
            run.imported.add(day)
            batch = [i for i, p in enumerate(run.plan.leads) if p.submissions[0]["channel"] == Channel.IMPORT
                     and timezone.localtime(p.fields["created_at"]).date() == day]
            payloads = []
            for i in batch:
                plan_i = run.plan.leads[i]
                spec = next(a for a in plan_i.activities if a.get("submission") == 0)
                payloads.append(_payload(plan_i, spec))
            results = bulk.capture_many(payloads=payloads, channel=Channel.IMPORT, by=run.users["marketing"],
                                        campaigns=run.campaigns)
            for i, result in zip(batch, results, strict=True):
                if result.body and result.body.get("id"):
                    run.lead_ids[i] = result.body["id"]
                else:
                    run.skipped["capture refused: " + ", ".join(sorted((result.body or {}).get("errors", {})))] += 1
        return run.lead_ids.get(index)
    form = run.forms.get(fields["capture_form"]) if fields["capture_form"] else None
    by = run.users["marketing"] if channel == Channel.MANUAL else None
    result = capture.submit(channel=channel, payload=_payload(lead_plan, touchpoint), form=form, by=by,
                            **_proof(lead_plan))
    lead_id = result.body.get("id") if result.body else None
    if lead_id:
        run.lead_ids[index] = lead_id
    else:
        run.skipped["capture refused: " + ", ".join(sorted((result.body or {}).get("errors", {})))] += 1
    return lead_id


def _steps(lead_plan) -> list[tuple]:
    """The plan's events of one lead after its capture, in time order: (at, order, kind, spec)."""
    steps = []
    for spec in lead_plan.activities:
        if spec.get("submission") == 0 or spec.get("visitor"):
            continue
        kind = "submission" if spec.get("submission") is not None else (
            "sales_activity" if spec["created_by"] else "marketing_activity")
        steps.append((spec["occurred_at"], 1, kind, spec))
    for spec in lead_plan.transitions:
        steps.append((spec["at"], 2, "transition", spec))
    for spec in lead_plan.consent_events:
        if spec["kind"] != ConsentEvent.Kind.GIVEN:
            steps.append((spec["at"], 3, str(spec["kind"]), spec))
    return sorted(steps, key=lambda step: (step[0], step[1]))


def _lead(run: Run, lead_id: int) -> Lead:
    """The lead as it is now. Every step that writes reads it first: clocks may start or stop from here."""
    run.clocks_changed = True
    return Lead.objects.select_related("owner").get(pk=lead_id)


def _lead_script(run: Run, index: int, lead_plan, rng: random.Random):
    """One lead's life: captured, nurtured, handed over, worked by whoever owns it, closed."""
    users = run.users
    for spec in lead_plan.activities:  # anonymous visits before the form, stitched by capture
        if spec.get("visitor"):
            yield spec["occurred_at"]
            tracking.track(form=run.forms["Kontaktformular Website"],
                           raw={"visitor_id": lead_plan.visitor["anonymous_id"], "kind": spec["kind"],
                                "url": spec["url"]})
    yield lead_plan.fields["created_at"]
    lead_id = _capture(run, index, lead_plan)
    if lead_id is None:
        return
    run.index_of[lead_id] = index
    _watch(run, _lead(run, lead_id))
    steps = _steps(lead_plan)
    planned_owner = users[lead_plan.fields.get("owner") or "sdr1"]
    cursor = lead_plan.fields["created_at"]
    for position, (at, _order, kind, spec) in enumerate(steps):
        run.pending[lead_id] = _next_decision(steps, position)
        yield max(at, cursor)
        cursor = timezone.now()
        if kind == "marketing_activity":
            _marketing_activity(run, lead_id, spec)
            continue
        _flush(run, lead_id)
        lead = _lead(run, lead_id)
        if kind == "submission":
            capture.submit(channel=Channel.WEB_FORM, payload=_payload(lead_plan, spec, first=False),
                           form=run.forms["Demo anfragen"], **_proof(lead_plan))
        elif kind == "sales_activity":
            by = lead.owner or (users["manager"] if lead.stage not in (Stage.KNOWN, Stage.MQL) else None)
            if by is None or lead.stage in (Stage.RECYCLED, Stage.DISQUALIFIED):
                run.skipped["activity_without_owner"] += 1
                continue
            raw = {"kind": spec["kind"], "note": spec["note"]}
            if spec["outcome"]:
                raw["outcome"] = spec["outcome"]
            if spec.get("next_step_on"):
                raw["next_step_on"] = spec["next_step_on"].isoformat()
            _act(run, "activity", activities.log_activity, lead_id=lead_id, by=by, raw=raw)
        elif kind == "confirmed":
            token = run.opt_in_tokens.get(lead_id) or _opt_in_token(run, lead)
            if token:
                _act(run, "confirm", consent.confirm, token=token, **_proof(lead_plan))
        elif kind == "withdrawn":
            consent.unsubscribe(lead=lead, ip_address=None, user_agent="")
        elif kind == "transition":
            if id(spec) in run.decided:
                continue  # the rep accepted (or rejected) it on the first call already
            _transition(run, lead, spec, planned_owner, rng, lead_plan)
        if kind in ("transition", "submission"):  # routing, a claim or the manager may have given it an owner
            _watch(run, _lead(run, lead_id))
    _flush(run, lead_id)
    run.pending[lead_id] = None


def _watch(run: Run, lead: Lead) -> None:
    """A lead that reached a rep (routing, a claim, the manager, the SLA's reassignment) gets an answer."""
    if (lead.stage == Stage.MQL and lead.owner_id and lead.assigned_at
            and run.answered.get(lead.pk) != lead.assigned_at):
        run.answered[lead.pk] = lead.assigned_at
        rng = random.Random(f"{run.seed}:{run.index_of.get(lead.pk)}:{lead.assigned_at.isoformat()}")
        run.spawn(_respond(run, lead.pk, lead.assigned_at, rng))


def _respond(run: Run, lead_id: int, assigned_at: dt.datetime, rng: random.Random):
    """The rep the lead reached calls (in business time, mostly within five minutes) and, when the plan's next
    decision is to accept or reject it, decides on that call."""
    yield next_business_moment(assigned_at) + response_delay(rng)
    lead = _lead(run, lead_id)
    if lead.stage != Stage.MQL or lead.assigned_at != assigned_at:
        return  # decided, or handed to somebody else, meanwhile
    decision = run.pending.get(lead_id)
    if decision is None and rng.random() >= 0.85:
        return
    _act(run, "first_touch", activities.log_activity, lead_id=lead_id, by=lead.owner, raw={
        "kind": K.CALL, "outcome": rng.choice(("connected", "connected", "voicemail")),
        "note": "Erster Anruf nach der Anfrage"})
    if decision is None or decision["name"] not in ("accept", "reject", "mark_mql"):
        return
    yield timezone.now() + dt.timedelta(minutes=rng.uniform(1, 12))
    lead = _lead(run, lead_id)
    if lead.stage != Stage.MQL or lead.assigned_at != assigned_at:
        return
    if decision["name"] == "mark_mql":  # scoring found it hot before the plan did: too early, back to nurture
        _act(run, "reject", lifecycle.fire, lead_id=lead_id, name="reject", by=lead.owner,
             inputs={"reason": TOO_EARLY})
        return
    inputs = {"reason": decision["reason"]} if decision["name"] == "reject" else None
    if _act(run, decision["name"], lifecycle.fire, lead_id=lead_id, name=decision["name"], by=lead.owner,
            inputs=inputs) is not None:
        run.decided.add(id(decision))


def _next_decision(steps, position) -> dict | None:
    """The plan's next stage transition for the lead (its spec), if any."""
    for _at, _order, kind, spec in steps[position:]:
        if kind == "transition" and spec["name"] not in ("assign", "claim"):
            return spec
    return None


def _act(run: Run, what: str, function, **kwargs):
    try:
        return function(**kwargs)
    except EXPECTED:
        run.skipped[what] += 1
        return None


def _opt_in_token(run: Run, lead: Lead) -> str | None:
    """The token of the confirmation link in the lead's opt-in mail (the mail the worker sent)."""
    for message in reversed(mail.outbox):
        if lead.email in message.to:
            found = CONFIRM_LINK.search(message.body)
            if found:
                run.opt_in_tokens[lead.pk] = found.group(1)
                return found.group(1)
    return None


def _marketing_activity(run: Run, lead_id: int, spec: dict) -> None:
    """Nurture: e-mail opens and clicks from the mailing tool, tracked visits and downloads. They are stored
    when the lead next does something (`_flush`) and scored when it next moves (`_mark_mql`, the nightly
    rescore), as tracked activity is; storing and rescoring each one at once would cost the demo minutes."""
    now = timezone.now()
    run.buffered.setdefault(lead_id, []).append(Activity(
        lead_id=lead_id, kind=spec["kind"], occurred_at=now, url=spec["url"], data=dict(spec["data"]), created_at=now,
    ))


def _flush(run: Run, lead_id: int) -> None:
    rows = run.buffered.pop(lead_id, None)
    if not rows:
        return
    Activity.objects.bulk_create(rows)
    last = max(row.occurred_at for row in rows)
    Lead.objects.filter(pk=lead_id, last_touch_at__lt=last).update(last_touch_at=last, updated_at=timezone.now())


def _owner_for(run: Run, lead: Lead, planned_owner):
    """Who acts for the lead: its owner; an unowned MQL is claimed from the pool by the planned SDR."""
    if lead.owner_id:
        return lead.owner
    if lead.stage == Stage.MQL:
        if _act(run, "claim", lifecycle.claim, lead_id=lead.pk, by=planned_owner) is not None:
            return planned_owner
    return None


def _opportunity(lead: Lead) -> Opportunity | None:
    return lead.opportunities.filter(outcome="open").select_related("owner").order_by("pk").first()


def _transition(run: Run, lead: Lead, spec: dict, planned_owner, rng, lead_plan) -> None:
    name = spec["name"]
    users = run.users
    if name == "assign":  # the manager hands a pool lead to the planned rep
        if lead.stage == Stage.MQL and lead.owner_id is None:
            _act(run, "assign", lifecycle.assign, lead_id=lead.pk, owner_username=planned_owner.username,
                 by=users["manager"])
        return
    if name == "claim":
        if lead.stage == Stage.MQL and lead.owner_id is None:
            _act(run, "claim", lifecycle.claim, lead_id=lead.pk, by=planned_owner)
        return
    if name == "mark_mql":
        _mark_mql(run, lead, spec, lead_plan)
        return
    if name == "reopen":  # a new demo request: the product reopens the closed lead and hands it off itself
        if lead.stage not in (Stage.DISQUALIFIED, Stage.LOST):
            run.skipped[name] += 1
            return
        request = {"kind": K.DEMO_REQUEST, "url": "", "note": "Wir würden uns das gern noch einmal ansehen."}
        capture.submit(channel=Channel.WEB_FORM, payload=_payload(lead_plan, request, first=False),
                       form=run.forms["Demo anfragen"], **_proof(lead_plan))
        return
    if name in ("accept", "reject"):
        if lead.stage != Stage.MQL:
            run.skipped[name] += 1
            return
        owner = _owner_for(run, lead, planned_owner)
        if owner is None:
            run.skipped[name] += 1
            return
        inputs = {"reason": spec["reason"]} if name == "reject" else None
        _act(run, name, lifecycle.fire, lead_id=lead.pk, name=name, by=owner, inputs=inputs)
        return
    if name == "qualify":
        if lead.stage != Stage.SAL or lead.owner is None:
            run.skipped[name] += 1
            return
        inputs = {key: spec["data"][key] for key in ("budget", "authority", "need", "timeline")}
        try:
            lifecycle.fire(lead_id=lead.pk, name="qualify", by=lead.owner, inputs=inputs)
        except Refused:  # the conversation the guard asks for had not been logged: the rep has it now
            activities.log_activity(lead_id=lead.pk, by=lead.owner, raw={
                "kind": K.CALL, "outcome": "connected", "note": "Qualifizierungsgespräch"})
            _act(run, name, lifecycle.fire, lead_id=lead.pk, name="qualify", by=lead.owner, inputs=inputs)
        outbox_events.dispatch(wait_seconds=0)  # the sales app hears of it: hand-off to Closing DACH
        if not lead.opportunities.exists():  # in a caller's transaction the outbox cannot position the event yet
            handoff.on_transition(lead_id=lead.pk, transition="qualify")
        return
    if name == "open_opportunity":
        _open_opportunity(run, lead, spec)
        return
    if name in ("win", "lose"):
        if lead.stage == Stage.SQL:
            _open_opportunity(run, lead, _planned_open(lead_plan))
            lead = _lead(run, lead.pk)
        opportunity = _opportunity(lead)
        if opportunity is None or lead.stage != Stage.OPPORTUNITY:
            run.skipped[name] += 1
            return
        by = opportunity.owner or users["manager"]
        if name == "win":
            _act(run, name, sales_services.win, opportunity_id=opportunity.pk, by=by,
                 contract_signed_on=timezone.localdate().isoformat())
        else:
            _act(run, name, sales_services.lose, opportunity_id=opportunity.pk, by=by, reason=spec["reason"])
        return
    # recycle, disqualify
    if lead.stage not in lifecycle.TRANSITIONS[name][0]:
        run.skipped[name] += 1  # e.g. the recycling rule took the lead back already
        return
    by = lead.owner if name == "recycle" else (lead.owner or users["marketing"])
    if by is None:
        by = users["manager"]
    _act(run, name, lifecycle.fire, lead_id=lead.pk, name=name, by=by, inputs={"reason": spec["reason"]})


def _mark_mql(run: Run, lead: Lead, spec: dict, lead_plan) -> None:
    """The lead turns hot: its latest activity is scored (MQL when the score crosses the threshold); else
    marketing marks it (when the plan says so and the guard lets it), else it asks for a demo."""
    if lead.stage not in lifecycle.TRANSITIONS["mark_mql"][0]:
        return
    latest = lead.activities.order_by("-occurred_at", "-pk").first()
    if latest is not None:
        activities.after_activity(lead_id=lead.pk, activity=latest)
        if Lead.objects.filter(pk=lead.pk, stage=Stage.MQL).exists():
            return
    if spec["actor"] == "marketing":
        try:
            lifecycle.fire(lead_id=lead.pk, name="mark_mql", by=run.users["marketing"], parsed={})
            return
        except Refused:
            pass
    capture.submit(channel=Channel.WEB_FORM, form=run.forms["Demo anfragen"],
                   payload={"email": lead.email, "activity": {"kind": K.DEMO_REQUEST}}, **_proof(lead_plan))


def _planned_open(lead_plan) -> dict:
    return next(s for s in lead_plan.transitions if s["name"] == "open_opportunity")


def _open_opportunity(run: Run, lead: Lead, spec: dict) -> None:
    """The AE prices the handed-over opportunity; the lead becomes an opportunity."""
    if lead.stage != Stage.SQL:
        run.skipped["open_opportunity"] += 1
        return
    opportunity = _opportunity(lead)
    today = timezone.localdate()
    close = max(dt.date.fromisoformat(spec["data"]["close_date"]), today + dt.timedelta(days=7))
    value = spec["data"]["deal_value"]
    if opportunity is None:
        opportunity = _act(run, "open_opportunity", sales_services.create_opportunity, by=lead.owner, data={
            "lead": lead.pk, "value": value, "close_date": close.isoformat()})
        if opportunity is None:
            return
    by = opportunity.owner or run.users["manager"]
    _act(run, "price", sales_services.update_opportunity, opportunity_id=opportunity.pk, by=by,
         data={"value": value, "close_date": close.isoformat()})
    _act(run, "open_opportunity", lifecycle.fire_for_sales, lead_id=lead.pk, name="open_opportunity", by=by,
         inputs={"deal_value": value, "close_date": close.isoformat()})


def simulate(plan, *, users: dict, campaigns: dict, forms: dict, seed: int, progress=None) -> Counter:
    """Play `plan` from 90 days ago until its `now`; returns the planned steps the product refused, by kind.
    `progress(day)`, when given, hears once per simulated week how far the run is."""
    start = plan.now - dt.timedelta(days=91)
    with simulated(start) as traveller:
        run = Run(plan=plan, users=users, forms=forms, campaigns=campaigns, traveller=traveller, progress=progress)
        run.clocks_changed = True
        play(run, seed=seed)
    return run.skipped
