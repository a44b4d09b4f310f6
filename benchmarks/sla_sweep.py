"""5. SLA sweep: one running clock per lead (a million at full size), ten thousand of them due.

Reports "not available yet" while `leads.sla.sweep` does not exist.

`make_clocks` writes the clocks set-based (`generate._insert`, model defaults for columns it does not
name) under a bench-only policy ("Bench: SLA sweep", around the clock, one step: warn the owner at the
due; active only while this benchmark runs): one running clock for every lead. 10,000 of them are due ten
minutes ago whatever the size (every k-th known lead, k = known leads / 10,000: every 64th at a million;
at 20,000 leads nearly every known one), the others due within the next 1,000 hours.
Then `leads.sla.sweep.run()`, the function the minute schedule runs, is timed as it is: it records each due
clock's breach and runs its step (a notification to the owner, or to the managers when there is none),
set-based in batches of `SWEEP_BATCH` clocks per transaction, for at most its time budget per run
(`SWEEP_BUDGET_SECONDS`). Sweeps are repeated until nothing is due (at most `MAX_SWEEPS`; figure: the
first), anything still due is set aside, and one more sweep shows an idle sweep over all running clocks.
The clocks are removed afterwards.

Reference, same run: the same writes set-based without the logic (`same_writes_reference`), timed from
the same state just before the sweep: the due clocks in batches of `SWEEP_BATCH` per transaction, each
batch found through the sweep's partial index, its clocks marked breached and advanced (one UPDATE), one
escalation row per clock (INSERT ... SELECT), one notification per clock to its owner (a manager when it
has none), and the e-mail task's queue row, committed; then all of it is undone (untimed). Figure and
reference both cover every due clock: the sweeps' time summed against the reference's. Finding the due
clocks alone (`SELECT count(*)`) is a detail.
"""

from __future__ import annotations

import importlib.util
import time

from benchmarks.common import Context, Figure, Result

NAME = "sla_sweep"
TITLE = "SLA sweep"
GOAL = "within 2x of the same-writes reference (1,000,000 open clocks, 10,000 due)"
POLICY = "Bench: SLA sweep"
DUE_TARGET = 10_000  # due clocks, whatever the size (fewer only when there are fewer known leads)
MAX_SWEEPS = 5  # sweeps timed while clocks are due; each works for up to its budget (`SWEEP_BUDGET_SECONDS`)


def _policy():
    from routing.models import BusinessCalendar, EscalationStep, SlaPolicy

    calendar = BusinessCalendar.objects.filter(is_always_open=True).first() or BusinessCalendar.objects.create(
        name="Bench: around the clock", is_always_open=True
    )
    policy, _created = SlaPolicy.objects.update_or_create(
        name=POLICY,
        defaults={"is_active": True, "stage": "known", "starts_on": "stage_entered", "stops_on": "stage_exit",
                  "counts_from": "event", "duration": 1, "unit": "hours", "calendar": calendar},
    )
    EscalationStep.objects.filter(policy=policy).delete()
    EscalationStep.objects.create(policy=policy, position=1, after=0, unit="hours", action="warn_owner")
    return policy


def remove_clocks(policy_id: int) -> None:
    from django.db import connection

    from leads.models import SlaClock, SlaEscalation

    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {SlaEscalation._meta.db_table} WHERE clock_id IN "
            f"(SELECT id FROM {SlaClock._meta.db_table} WHERE policy_id = %s)", [policy_id]
        )
        cursor.execute(f"DELETE FROM {SlaClock._meta.db_table} WHERE policy_id = %s", [policy_id])


def _due_condition(cursor) -> tuple[str, int]:
    """SQL for "this lead's clock is due": every k-th known lead by id, the first DUE_TARGET of them."""
    cursor.execute("SELECT count(*) FROM leads_lead WHERE stage = 'known'")
    every = max(1, cursor.fetchone()[0] // DUE_TARGET)
    due = f"mod(l.id, {every}) = 0 AND l.stage = 'known'"
    cursor.execute(f"SELECT l.id FROM leads_lead l WHERE {due} ORDER BY l.id OFFSET {DUE_TARGET} LIMIT 1")
    first_not_due = cursor.fetchone()
    if first_not_due:
        due += f" AND l.id < {first_not_due[0]}"
    return f"({due})", every


def make_clocks(policy_id: int) -> tuple[int, int, int]:
    from django.db import connection, transaction

    from benchmarks.generate import _insert
    from leads.models import SlaClock

    with connection.cursor() as cursor:
        due, every = _due_condition(cursor)
    due_at = (f"CASE WHEN {due} THEN now() - interval '10 minutes' "
              "ELSE now() + (1 + mod(l.id, 1000)) * interval '1 hour' END")
    provided = {
        "lead_id": "l.id", "policy_id": "%(policy)s::bigint", "stage": "l.stage", "owner_id": "l.owner_id",
        "started_at": f"{due_at} - interval '1 hour'", "due_at": due_at, "met_at": "NULL::timestamptz",
        "stopped_at": "NULL::timestamptz", "stop_reason": "''", "breached": "false", "step": "0",
        "next_step_at": due_at,
    }
    fields = {f.column for f in SlaClock._meta.concrete_fields}
    provided = {k: v for k, v in provided.items() if k in fields}
    with transaction.atomic(), connection.cursor() as cursor:
        written = _insert(cursor, SlaClock, provided, "FROM leads_lead l ORDER BY l.id", {"policy": policy_id})
        cursor.execute(f"SELECT count(*) FROM leads_lead l WHERE {due}")
        due_count = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {SlaClock._meta.db_table}")
    return written, due_count, every


def _due_count_ms() -> tuple[float, int]:
    from django.db import connection

    from leads.models import SlaClock

    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {SlaClock._meta.db_table} WHERE stopped_at IS NULL "
                       "AND next_step_at IS NOT NULL AND next_step_at <= now()")
        count = cursor.fetchone()[0]
    return (time.perf_counter() - start) * 1000, count


REFERENCE_KEY = "bench-sla-ref"


def same_writes_reference(policy_id: int, batch: int) -> tuple[float, int]:
    """Seconds for the sweep's writes, set-based without the logic, over every due clock; undone after."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django_q.models import OrmQ

    from benchmarks.generate import _insert
    from core.tasks import enqueue_on_commit
    from core.vocabulary import Role
    from leads.models import Notification, SlaClock, SlaEscalation
    from leads.sla import sweep

    clock = SlaClock._meta.db_table
    manager = (get_user_model().objects.filter(is_active=True, groups__name=Role.MANAGER).order_by("pk")
               .values_list("pk", flat=True).first())
    queued_before = OrmQ.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    done, after = 0, 0
    start = time.perf_counter()
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT c.id, c.lead_id, coalesce(c.owner_id, l.owner_id, %s) FROM {clock} c "
                "JOIN leads_lead l ON l.id = c.lead_id WHERE c.stopped_at IS NULL AND c.next_step_at IS NOT NULL "
                "AND c.next_step_at <= now() AND c.id > %s ORDER BY c.id LIMIT %s", [manager, after, batch])
            rows = cursor.fetchall()
            if not rows:
                break
            ids, leads, users = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
            cursor.execute(f"UPDATE {clock} SET breached = true, step = 1, next_step_at = NULL "
                           "WHERE id = ANY(%s)", [ids])
            params = {"ids": ids, "leads": leads, "users": users}
            _insert(cursor, SlaEscalation, {"clock_id": "x.id", "step": "1", "action": "'warn_owner'",
                                            "at": "now()", "outcome": "''"},
                    "FROM unnest(%(ids)s::bigint[]) AS x(id)", params)
            cursor.execute(
                f"INSERT INTO {Notification._meta.db_table} (user_id, lead_id, key, kind, message, created_at) "
                "SELECT x.u, x.l, %(key)s || x.id, 'sla_warning', 'The SLA of this lead is due.', now() "
                "FROM unnest(%(ids)s::bigint[], %(leads)s::bigint[], %(users)s::bigint[]) AS x(id, l, u) "
                "WHERE x.u IS NOT NULL RETURNING id", {**params, "key": f"{REFERENCE_KEY}:"})
            notes = [r[0] for r in cursor.fetchall()]
            if notes:
                enqueue_on_commit(sweep.EMAIL_TASK, notes)
        done, after = done + len(ids), ids[-1]
    seconds = time.perf_counter() - start
    with transaction.atomic(), connection.cursor() as cursor:  # undo, untimed
        cursor.execute(f"DELETE FROM {SlaEscalation._meta.db_table} WHERE clock_id IN "
                       f"(SELECT id FROM {clock} WHERE policy_id = %s)", [policy_id])
        cursor.execute(f"DELETE FROM {Notification._meta.db_table} WHERE key LIKE %s", [f"{REFERENCE_KEY}:%"])
        cursor.execute(f"UPDATE {clock} SET breached = false, step = 0, next_step_at = due_at "
                       "WHERE policy_id = %s AND breached", [policy_id])
        OrmQ.objects.filter(pk__gt=queued_before).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {clock}")
    return seconds, done


def _manager_count() -> int:
    from django.contrib.auth import get_user_model

    from core.vocabulary import Role

    return get_user_model().objects.filter(is_active=True, groups__name=Role.MANAGER).distinct().count()


def _skip_remaining() -> int:
    from django.db import connection

    from leads.models import SlaClock

    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {SlaClock._meta.db_table} SET next_step_at = NULL WHERE stopped_at IS NULL "
                       "AND next_step_at IS NOT NULL AND next_step_at <= now()")
        return cursor.rowcount


def run(ctx: Context) -> Result:
    if importlib.util.find_spec("leads.sla.sweep") is None:
        print("   SLA sweep: not available yet (no leads.sla.sweep module)")
        return Result(name=NAME, title=TITLE, status="not available yet", goal=GOAL,
                      notes=["leads.sla.sweep does not exist yet; this benchmark lights up when it does"])
    from leads.sla import sweep

    policy = _policy()
    remove_clocks(policy.pk)
    start = time.perf_counter()
    clocks, due, every = make_clocks(policy.pk)
    setup_seconds = time.perf_counter() - start
    try:
        find_ms, found = _due_count_ms()
        reference_seconds, reference_clocks = same_writes_reference(policy.pk, sweep.SWEEP_BATCH)
        sweeps = []
        for _ in range(MAX_SWEEPS):
            t0 = time.perf_counter()
            outcome = sweep.run()
            sweeps.append(((time.perf_counter() - t0) * 1000, outcome.as_dict()))
            if not _due_count_ms()[1]:
                break
        left = _skip_remaining()  # what the next minutes' sweeps would do; set aside to time an idle sweep
        t0 = time.perf_counter()
        idle = sweep.run()
        idle_ms = (time.perf_counter() - t0) * 1000
        idle_find_ms, _none = _due_count_ms()
    finally:
        remove_clocks(policy.pk)
        type(policy).objects.filter(pk=policy.pk).update(is_active=False)  # never starts clocks elsewhere
    handled = sum(o.get("breaches", 0) for _ms, o in sweeps)
    busy_ms = sum(ms for ms, _o in sweeps)
    per_clock = busy_ms / handled if handled else None
    managers = _manager_count()
    details = [
        Figure("running clocks", clocks),
        Figure("due clocks", due),
        Figure("sweeps timed", len(sweeps)),
        Figure("due clocks left after them (set aside before the idle sweep)", left),
        Figure("breaches recorded (and steps run)", f"{handled:,} ({sum(o.get('steps', 0) for _m, o in sweeps):,})"),
        Figure("managers told when a lead has no owner", managers),
        Figure("time per due clock (breach + step, all sweeps)", per_clock, "ms"),
        Figure("idle sweep (nothing due) over all running clocks", idle_ms, "ms"),
        Figure("finding the due clocks (reference)", find_ms, "ms"),
        Figure("finding them when none is due", idle_find_ms, "ms"),
        Figure("writing the clocks (setup, not timed as the figure)", setup_seconds, "s"),
    ] + [Figure(f"sweep {i + 1}", f"{ms:,.0f} ms, {o}") for i, (ms, o) in enumerate(sweeps)]
    first_ms = sweeps[0][0] if sweeps else None
    reference_ms = reference_seconds * 1000
    ratio = busy_ms / reference_ms if reference_ms and handled == reference_clocks else None
    details += [Figure("first sweep", first_ms, "ms"),
                Figure("same-writes reference: clocks written", reference_clocks),
                Figure("same-writes reference per clock", reference_ms / reference_clocks if reference_clocks else None,
                       "ms")]
    return Result(
        name=NAME, title=TITLE,
        figure=Figure(f"sweeps until none of {due:,} is due", busy_ms, "ms"),
        reference=Figure("same writes set-based, no logic", reference_ms, "ms"),
        ratio=ratio, goal=GOAL, goal_met=ratio is not None and ratio <= 2,
        details=details,
        notes=[f"idle sweep {idle_ms:.0f} ms; {idle.as_dict()}",
               f"the sweep works for at most {sweep.SWEEP_BUDGET_SECONDS:g} s per run and then "
               "leaves the rest to the next minute",
               f"{sweep.SWEEP_BATCH} clocks per transaction"],
        params={"policy": POLICY, "step": "warn_owner at the due", "due_target": DUE_TARGET, "due_every": every},
    )
