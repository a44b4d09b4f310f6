"""Who may see and do what. Roles are Django groups (created by a migration); admin is the superuser."""

from core.vocabulary import Role

# Transitions each role may fire on leads it can see. SDRs only on their own leads (see may_fire).
_ROLE_TRANSITIONS = {
    Role.MARKETING: {"mark_mql", "disqualify", "reopen"},
    Role.MANAGER: {
        "mark_mql", "accept", "reject", "qualify", "open_opportunity", "win", "lose", "recycle", "disqualify",
        "reopen",
    },
    Role.SDR: {"accept", "reject", "qualify", "open_opportunity", "win", "lose", "recycle", "disqualify"},
}


def roles_of(user) -> frozenset[str]:
    if not user or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_leadwerk_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._leadwerk_roles = cached
    return cached


def is_staff_role(user) -> bool:
    """Marketing, managers and admins see every lead."""
    return bool(user.is_authenticated and (user.is_superuser or roles_of(user) & {Role.MARKETING, Role.MANAGER}))


def is_manager(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or Role.MANAGER in roles_of(user)))


def is_marketing(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or Role.MARKETING in roles_of(user)))


def is_sdr(user) -> bool:
    return bool(user.is_authenticated and Role.SDR in roles_of(user))


def can_assign(user) -> bool:
    """Assign an owner or release to the pool: managers, marketing, admins."""
    return is_staff_role(user)


def can_claim(user) -> bool:
    return is_sdr(user) or is_manager(user)


def can_capture_manually(user) -> bool:
    """Manual entry and CSV import."""
    return is_staff_role(user)


def may_fire(user, lead, name: str) -> bool:
    """May this user fire transition `name` on this lead at all (guards aside)?"""
    if user is None:  # the system
        return True
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    roles = roles_of(user)
    for role in roles & {Role.MARKETING, Role.MANAGER}:
        if name in _ROLE_TRANSITIONS[role]:
            return True
    if Role.SDR in roles and name in _ROLE_TRANSITIONS[Role.SDR]:
        if lead.owner_id == user.pk:
            return True
        # An SDR may accept an unowned MQL from the pool: accepting claims it in the same step.
        return name == "accept" and lead.owner_id is None
    return False

