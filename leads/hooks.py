"""What `scoring` calls back into `leads` for (registered in LeadsConfig.ready)."""

import hashlib

from django.core.cache import cache
from django.utils.translation import gettext as _

from core.tasks import enqueue_on_commit
from leads import scores


def rescore_after_activation(*, model_id: int) -> None:
    """After a scoring model is activated (on commit): rescore every lead in the background."""
    enqueue_on_commit("leads.tasks.rescore_all", model_id)


def train_predictive_later(*, horizon_days: int, target: str) -> None:
    """An admin asked for a training run: in the background, once the request commits."""
    enqueue_on_commit("leads.tasks.train_predictive", horizon_days, target)


def predict_after_activation(*, model_id: int) -> None:
    """After a predictive model is activated: every lead's probability is recomputed by the rescoring run."""
    enqueue_on_commit("leads.tasks.rescore_all")


def what_if_rows(spec) -> list[tuple[str, object]]:
    """The admin's what-if section for a draft: computed on the real data, cached briefly."""
    key = "scoring-what-if:" + hashlib.sha256(repr(spec).encode()).hexdigest()
    counts = cache.get(key)
    if counts is None:
        counts = scores.what_if(spec)
        cache.set(key, counts, 300)
    return [
        (_("Leads evaluated"), counts["leads"]),
        (_("Leads whose temperature would change"), counts["temperature_changes"]),
        (_("Leads at or above this draft's MQL threshold"), counts["would_reach_threshold"]),
        (_("Leads that would newly cross the MQL threshold (handed off to sales on activation)"),
         counts["newly_reaching"]),
        (_("Leads in any stage whose score would newly cross the threshold"), counts["newly_reaching_any_stage"]),
        (_("Leads that would fall below the MQL threshold"), counts["would_fall_below"]),
    ]


# What each role may do in the Django admin (staff users only): app label -> model -> actions.
ADMIN_PERMISSIONS = {
    "marketing": {
        "leads": {"campaign": "add change view", "captureform": "add change view", "account": "add change view",
                  "lead": "view", "submission": "view", "activity": "view"},
        "privacy": {"consentevent": "view"},
        "scoring": {"scoringmodel": "add change view", "scoringrule": "add change delete view",
                    "predictivemodel": "view"},
        "routing": {"routingrule": "view", "team": "view", "rep": "view"},
    },
    "manager": {
        "leads": {"account": "add change view", "lead": "view", "leadtransition": "view", "campaign": "view",
                  "captureform": "view", "activity": "view", "slaclock": "view", "jobrun": "view"},
        "routing": {"team": "add change view", "rep": "add change view", "routingrule": "add change delete view",
                    "rotationstate": "view", "slapolicy": "add change view", "escalationstep": "add change delete view",
                    "businesscalendar": "add change view", "calendarclosure": "add change delete view",
                    "recyclingrule": "change view", "stallthreshold": "change view", "experiment": "add change view"},
        "scoring": {"scoringmodel": "view", "scoringrule": "view", "predictivemodel": "view"},
    },
    "sdr": {},
}


def rule_review(version: int) -> list[dict]:
    return scores.rule_review(version)


def ensure_roles(*, app_config=None, using="default", **kwargs) -> None:
    """post_migrate (after the last app, when every permission exists): the role groups and their admin
    permissions. Runs again after a flush (transactional tests), which empties them."""
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if app_config is not None and app_config.label != last.label:
        return
    for role, grants in ADMIN_PERMISSIONS.items():
        group, _created = Group.objects.using(using).get_or_create(name=role)
        wanted = [
            (app_label, f"{action}_{model}")
            for app_label, models in grants.items()
            for model, actions in models.items()
            for action in actions.split()
        ]
        codenames = {codename for _app, codename in wanted}
        permissions = Permission.objects.using(using).filter(
            content_type__app_label__in={app for app, _codename in wanted}, codename__in=codenames
        ).select_related("content_type")
        group.permissions.add(*[p for p in permissions if (p.content_type.app_label, p.codename) in set(wanted)])
