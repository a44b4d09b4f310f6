"""Versions of scoring models: drafts, activation, rescoring progress, and the hooks `leads` fills.

The active model is never edited in place: `new_draft_from()` copies a model with its rules into a
new draft (the next free version number), and `activate()` retires the active model and activates
the draft in one transaction. Retired versions stay as they were, so a stored score can always name
and show the version that made it.

`scoring` must not import `leads`, so what needs lead data is registered from outside:
`register_on_activated(fn)` (called with `model_id=` after an activation commits, to start the
background rescoring) and `register_what_if(fn)` (called with a draft's `ModelSpec`, returns rows for
the admin's what-if section).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from django.db import connection, transaction
from django.db.models import F, Func, Max, Value
from django.db.models.functions import Least
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Refused, Unmet
from scoring import defaults, policy
from scoring.models import ScoringModel, ScoringRule

# Any constant will do: it serialises activations across processes (PostgreSQL advisory lock).
ACTIVATION_LOCK = 0x5C0121
# Serialises activations across processes for the transaction: the ORM has no advisory locks.
ACTIVATION_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"


class ActivationRefused(Refused):
    """Activation refused; `problems` are the sentences (also as `unmet`)."""

    def __init__(self, problems: Sequence[str]):
        self.problems = [str(problem) for problem in problems]
        super().__init__(" ".join(self.problems), [Unmet("problem", problem) for problem in self.problems])


_on_activated: list[Callable[..., None]] = []
_what_if: list[Callable[[policy.ModelSpec], Sequence[tuple[str, object]]]] = []


def register_on_activated(fn: Callable[..., None]) -> None:
    """`fn(model_id=...)` runs after every activation commits (e.g. to enqueue rescoring)."""
    if fn not in _on_activated:
        _on_activated.append(fn)


def register_what_if(fn: Callable[[policy.ModelSpec], Sequence[tuple[str, object]]]) -> None:
    """`fn(spec)` returns (label, value) rows: what would change if this draft were activated."""
    _what_if[:] = [fn]


_rule_review: list[Callable[[int], Sequence[dict]]] = []


def register_rule_review(fn: Callable[[int], Sequence[dict]]) -> None:
    """`fn(version)` returns one dict per rule that counted in leads scored by that version: rule_id, rule,
    fired, sql_with, sql_without, won_with, won_without (shares 0..1 or None), lift_sql, lift_won."""
    _rule_review[:] = [fn]


def rule_review(model: ScoringModel) -> Sequence[dict] | None:
    """The feedback-loop table for a model version, or None when no provider is registered."""
    if not _rule_review:
        return None
    return _rule_review[0](model.version)


def what_if(model: ScoringModel) -> Sequence[tuple[str, object]] | None:
    """The what-if rows for a model, or None when no provider is registered."""
    if not _what_if:
        return None
    return _what_if[0](model.to_spec())


def next_version() -> int:
    return (ScoringModel.objects.aggregate(highest=Max("version"))["highest"] or 0) + 1


@transaction.atomic
def new_draft_from(model: ScoringModel, *, notes: str = "") -> ScoringModel:
    """A new draft copying `model` and all its rules (enabled or not), with the next version number."""
    draft = ScoringModel.objects.create(
        name=model.name,
        version=next_version(),
        status=defaults.DRAFT,
        is_active=False,
        based_on=model,
        mql_threshold=model.mql_threshold,
        mal_fit_threshold=model.mal_fit_threshold,
        warm_from=model.warm_from,
        hot_from=model.hot_from,
        total_cap=model.total_cap,
        fit_cap=model.fit_cap,
        engagement_cap=model.engagement_cap,
        notes=notes or _("Draft based on version %(version)s.") % {"version": model.version},
    )
    ScoringRule.objects.bulk_create(
        ScoringRule(
            model=draft,
            position=rule.position,
            is_enabled=rule.is_enabled,
            name=rule.name,
            group=rule.group,
            field=rule.field,
            operator=rule.operator,
            value=rule.value,
            activity_kind=rule.activity_kind,
            url_pattern=rule.url_pattern,
            points=rule.points,
            max_occurrences=rule.max_occurrences,
            half_life_days=rule.half_life_days,
            window_days=rule.window_days,
        )
        for rule in model.rules.order_by("position", "id")
    )
    return draft


def activate(draft: ScoringModel) -> ScoringModel:
    """Retire the active model and activate `draft`, atomically; raises ActivationRefused with reasons.

    Refused when `draft` is not a draft or `policy.validate_model()` finds problems. After commit,
    every function registered with `register_on_activated` is called with `model_id=`.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(ACTIVATION_LOCK_SQL, [ACTIVATION_LOCK])
        draft = ScoringModel.objects.select_for_update().get(pk=draft.pk)
        if not draft.is_draft:
            raise ActivationRefused(
                [
                    _("Version %(version)s is %(status)s; only a draft can be activated.")
                    % {"version": draft.version, "status": draft.get_status_display()}
                ]
            )
        problems = policy.validate_model(draft.to_spec())
        if problems:
            raise ActivationRefused(problems)
        now = timezone.now()
        ScoringModel.objects.filter(is_active=True).update(is_active=False, status=defaults.RETIRED, retired_at=now)
        ScoringModel.objects.filter(pk=draft.pk).update(is_active=True, status=defaults.ACTIVE, activated_at=now)
        model_id = draft.pk
        for fn in list(_on_activated):
            transaction.on_commit(lambda fn=fn: fn(model_id=model_id))
    draft.refresh_from_db()
    return draft


def start_rescore(model_id: int, *, total: int, at: dt.datetime | None = None, parts: int = 0) -> None:
    """Record that a run rescoring `total` leads with this model as of `at` (default now) has begun, in
    `parts` id ranges numbered 0..parts-1 (none: a run in one piece, finished when the count is reached).
    Resets the counter; a run started earlier is superseded (its tasks stop counting and never finish it)."""
    at = at or timezone.now()
    ScoringModel.objects.filter(pk=model_id).update(
        rescore_total=total,
        rescore_done=0,
        rescore_started_at=at,
        rescore_finished_at=at if total == 0 else None,
        rescore_parts_left=list(range(parts)),
    )


def is_current_run(model_id: int, *, at: dt.datetime) -> bool:
    """Whether the model is still active and its latest run is the one as of `at`."""
    return ScoringModel.objects.filter(pk=model_id, is_active=True, rescore_started_at=at).exists()


def add_rescored(model_id: int, count: int, *, at: dt.datetime | None = None) -> None:
    """Add `count` rescored leads to the run (only to the run as of `at` when given); safe from parallel
    tasks (one UPDATE with F()). The count stops at the total: a redelivered task counts its leads again.
    A run in one piece is marked finished when the count reaches the total; a run in parts by `finish_part`."""
    run = ScoringModel.objects.filter(pk=model_id, **({"rescore_started_at": at} if at is not None else {}))
    run.update(rescore_done=Least(F("rescore_done") + count, F("rescore_total")))
    run.filter(
        rescore_finished_at__isnull=True, rescore_done__gte=F("rescore_total"), rescore_parts_left=[]
    ).update(rescore_finished_at=timezone.now())


def finish_part(model_id: int, *, at: dt.datetime, part: int) -> bool:
    """Mark id range `part` of the run as of `at` done; True for exactly one caller: the one that finished
    the last range (a range finished twice, a run superseded, a model retired meanwhile, whose final step
    would rescore the new version's leads with the old one, or an unknown part give False).

    Call it inside the transaction that then runs the run's final step and `finish_rescore`: the
    conditional UPDATE locks the model's row until that commits, so two ranges finishing at once are
    serialised, and a task that dies before the commit leaves its range to be finished again.
    """
    claimed = ScoringModel.objects.filter(
        pk=model_id, is_active=True, rescore_started_at=at, rescore_parts_left__contains=[part]
    ).update(rescore_parts_left=Func(F("rescore_parts_left"), Value(part), function="array_remove"))
    if not claimed:
        return False
    left = ScoringModel.objects.filter(pk=model_id).values_list("rescore_parts_left", flat=True).get()
    return not left


def finish_rescore(model_id: int, *, at: dt.datetime) -> None:
    """Mark the run as of `at` finished (after its final step)."""
    ScoringModel.objects.filter(pk=model_id, rescore_started_at=at, rescore_finished_at__isnull=True).update(
        rescore_finished_at=timezone.now()
    )
