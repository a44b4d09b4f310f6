"""Writes of routing configuration that are more than a form save: stopping an experiment."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Invalid, Refused, Unmet
from routing import experiments
from routing.models import Experiment, RoutingRule

_reports: list = []


def register_report(fn) -> None:
    """`fn(experiment)` returns the experiment's report (leads registers it: routing cannot read leads)."""
    _reports[:] = [fn]


def report(experiment: Experiment) -> dict | None:
    return _reports[0](experiment) if _reports else None


@transaction.atomic
def stop_experiment(*, experiment_id: int, keep: str) -> Experiment:
    """Stop a running experiment and keep the arm `keep`: its method becomes the rule's method."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
    if experiment.status != Experiment.RUNNING:
        raise Refused(_("This experiment is stopped already (it kept %(arm)s).") % {"arm": experiment.winner},
                      [Unmet("status", _("running"))])
    arms = {arm.name: arm for arm in experiments.parse_arms(experiment.arms)}
    if keep not in arms:
        raise Invalid.field("keep", _("Choose one of the arms to keep: %(arms)s.") % {"arms": ", ".join(arms)})
    RoutingRule.objects.filter(pk=experiment.rule_id).update(method=arms[keep].method)
    Experiment.objects.filter(pk=experiment.pk).update(status=Experiment.STOPPED, stopped_at=timezone.now(),
                                                       winner=keep)
    experiment.refresh_from_db()
    return experiment
