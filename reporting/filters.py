"""The filters every report takes: a date range, source, campaign, team, rep.

`Filters` is what selectors read; `reporting.forms.ReportFilterForm` builds it from a query string for
pages and API alike, and `for_scope` builds it for the e-mail report.
"""

import datetime as dt
from dataclasses import dataclass, field, replace

from django.contrib.auth import get_user_model
from django.utils import timezone

from leads import roles
from reporting.models import Scope
from routing.models import Rep, Team

DEFAULT_DAYS = 30


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the site's time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date  # inclusive
    source: str = ""
    campaign_id: int | None = None
    team_id: int | None = None
    rep_id: int | None = None
    # Users whose leads count (from rep and team); None: every lead. Usernames match the owner-change log.
    owner_ids: tuple[int, ...] | None = None
    owner_names: tuple[str, ...] = field(default=())

    @property
    def start_at(self) -> dt.datetime:
        return day_start(self.start)

    @property
    def end_at(self) -> dt.datetime:
        """Exclusive: midnight after the last day."""
        return day_start(self.end + dt.timedelta(days=1))

    @property
    def by_owner(self) -> bool:
        return self.owner_ids is not None

    @property
    def filters_leads(self) -> bool:
        return bool(self.source or self.campaign_id or self.by_owner)

    def with_range(self, start: dt.date, end: dt.date) -> "Filters":
        return replace(self, start=start, end=end)


def default_range(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    end = today or timezone.localdate()
    return end - dt.timedelta(days=DEFAULT_DAYS - 1), end


def build(
    *, start: dt.date, end: dt.date, source: str = "", campaign_id: int | None = None, team_id: int | None = None,
    rep_id: int | None = None,
) -> Filters:
    """Resolve rep and team to the users whose leads count (both given: the rep, if in the team)."""
    owner_ids = owner_names = None
    if rep_id is not None or team_id is not None:
        users = get_user_model().objects.all()
        if team_id is not None:
            users = users.filter(pk__in=Rep.objects.filter(team_id=team_id).values("user_id"))
        if rep_id is not None:
            users = users.filter(pk=rep_id)
        rows = list(users.order_by("pk").values_list("pk", "username"))
        owner_ids = tuple(pk for pk, _name in rows)
        owner_names = tuple(name for _pk, name in rows)
    return Filters(
        start=start, end=end, source=source, campaign_id=campaign_id, team_id=team_id, rep_id=rep_id,
        owner_ids=owner_ids, owner_names=owner_names or (),
    )


def team_of(user) -> Team | None:
    """The team a user belongs to as a rep, else the first team they manage."""
    rep = Rep.objects.select_related("team").filter(user=user).first()
    if rep is not None:
        return rep.team
    return Team.objects.filter(manager=user).order_by("name").first()


def allowed_scopes(user) -> list[str]:
    """What a user may see in a report: SDRs only their own leads; marketing and managers everything."""
    if roles.is_staff_role(user):
        return [Scope.ALL, Scope.TEAM, Scope.OWN]
    if roles.is_sdr(user):
        return [Scope.OWN]
    return []


def effective_scope(user, scope: str) -> str | None:
    """The scope asked for, narrowed to what the user may see; None when they may see no report at all."""
    allowed = allowed_scopes(user)
    if not allowed:
        return None
    if scope not in allowed:
        return allowed[-1]
    if scope == Scope.TEAM and team_of(user) is None:
        return Scope.OWN
    return scope


def for_scope(user, scope: str, *, start: dt.date, end: dt.date) -> Filters:
    """Filters for a report covering `scope` ("all", "team", "own") for this user; call effective_scope first."""
    if scope == Scope.OWN:
        return build(start=start, end=end, rep_id=user.pk)
    if scope == Scope.TEAM:
        team = team_of(user)
        return build(start=start, end=end, team_id=team.pk if team else -1)
    return build(start=start, end=end)
