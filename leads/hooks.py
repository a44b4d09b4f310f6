"""What `scoring` calls back into `leads` for (registered in LeadsConfig.ready)."""

import hashlib

from django.core.cache import cache
from django.utils.translation import gettext as _


def rescore_after_activation(*, model_id: int) -> None:
    """After a scoring model is activated (on commit): rescore every lead in the background."""
    from django_q.tasks import async_task

    async_task("leads.tasks.rescore_all", model_id)


def what_if_rows(spec) -> list[tuple[str, object]]:
    """The admin's what-if section for a draft: computed on the real data, cached briefly."""
    from leads import scores

    key = "scoring-what-if:" + hashlib.sha256(repr(spec).encode()).hexdigest()
    counts = cache.get(key)
    if counts is None:
        counts = scores.what_if(spec)
        cache.set(key, counts, 300)
    return [
        (_("Leads evaluated"), counts["leads"]),
        (_("Leads whose temperature would change"), counts["temperature_changes"]),
        (_("Leads at or above this draft's MQL threshold"), counts["would_reach_threshold"]),
        (_("Leads that would newly cross the MQL threshold"), counts["newly_reaching"]),
        (_("Leads that would fall below the MQL threshold"), counts["would_fall_below"]),
    ]


def ensure_roles(*, using="default", **kwargs) -> None:
    """post_migrate: the role groups exist (also after a flush, which sends post_migrate)."""
    from django.contrib.auth.models import Group

    from leads.stages import Role

    for name in Role.ALL:
        Group.objects.using(using).get_or_create(name=name)
