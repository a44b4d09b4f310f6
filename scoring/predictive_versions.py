"""Versions of predictive models: storing a training run, admin-only activation, and the hooks `leads` fills.

`scoring` must not import `leads`, so the training that reads lead history is registered from outside:
`register_trainer(fn)` (`fn(horizon_days=..., target=...)` trains and stores a version; the admin's "Train now"
enqueues it) and `register_on_activated(fn)` (called with `model_id=` after an activation commits, to
recompute the stored probabilities).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Refused, Unmet
from scoring import defaults
from scoring.models import PredictiveModel

ACTIVATION_LOCK = 0x5C0122  # serialises activations across processes (PostgreSQL advisory lock)
ACTIVATION_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"

_trainer: list[Callable[..., object]] = []
_on_activated: list[Callable[..., None]] = []


class ConfirmationNeeded(Refused):
    """The model is below the quality floor: activating it needs an explicit confirmation."""


def register_trainer(fn: Callable[..., object]) -> None:
    _trainer[:] = [fn]


def trainer() -> Callable[..., object] | None:
    return _trainer[0] if _trainer else None


def register_on_activated(fn: Callable[..., None]) -> None:
    if fn not in _on_activated:
        _on_activated.append(fn)


def next_version() -> int:
    return (PredictiveModel.objects.aggregate(top=Max("version"))["top"] or 0) + 1


def store(*, target: str, horizon_days: int, parameters: dict | None = None, quality: dict | None = None,
          refusal: str = "", seconds: float | None = None) -> PredictiveModel:
    """A new version from a training run (trained, or refused with the sentence why)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(ACTIVATION_LOCK_SQL, [ACTIVATION_LOCK])
        return PredictiveModel.objects.create(
            version=next_version(), target=target, horizon_days=horizon_days,
            status=PredictiveModel.REFUSED if refusal else PredictiveModel.TRAINED,
            parameters=parameters or {}, quality=quality or {}, refusal=refusal,
            auc=(quality or {}).get("auc"), trained_at=timezone.now(), training_seconds=seconds,
        )


def quality_floor() -> float:
    return settings.PREDICTIVE_QUALITY_FLOOR


def activate(model: PredictiveModel, *, by, confirm_below_floor: bool = False) -> PredictiveModel:
    """Retire the active version and activate `model` (an admin's act); refused with a sentence when it is not a
    trained version, or is below the quality floor and `confirm_below_floor` is not given."""
    if not getattr(by, "is_superuser", False):
        raise Refused(_("Only an administrator activates a predictive model."), [Unmet("admin", _("Administrator"))])
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(ACTIVATION_LOCK_SQL, [ACTIVATION_LOCK])
        model = PredictiveModel.objects.select_for_update().get(pk=model.pk)
        if model.status != PredictiveModel.TRAINED:
            raise Refused(_("Version %(version)s is %(status)s; only a trained version that is not active can be "
                            "activated.") % {"version": model.version, "status": model.get_status_display()},
                          [Unmet("status", model.get_status_display())])
        floor = quality_floor()
        if (model.auc is None or model.auc < floor) and not confirm_below_floor:
            raise ConfirmationNeeded(
                _("Version %(version)s ranks leads with an AUC of %(auc)s, below the quality floor of %(floor)s: "
                  "confirm to activate it anyway.") % {
                    "version": model.version, "auc": "-" if model.auc is None else f"{model.auc:.2f}",
                    "floor": f"{floor:.2f}"},
                [Unmet("quality_floor", _("AUC at or above %(floor)s") % {"floor": f"{floor:.2f}"})])
        now = timezone.now()
        PredictiveModel.objects.filter(is_active=True).update(is_active=False, status=defaults.RETIRED, retired_at=now)
        PredictiveModel.objects.filter(pk=model.pk).update(is_active=True, status=defaults.ACTIVE, activated_at=now,
                                                           activated_by=by if getattr(by, "pk", None) else None)
        model_id = model.pk
        for fn in list(_on_activated):
            transaction.on_commit(lambda fn=fn: fn(model_id=model_id))
    model.refresh_from_db()
    return model
