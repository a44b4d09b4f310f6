"""The suppression list: keyed one-way hashes of erased people's e-mail and phone; capture refuses them
without fresh consent."""

from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from privacy.models import Suppression


def suppression_hash(kind: str, value: str) -> str:
    """A keyed one-way hash (HMAC-SHA256, key derived from SECRET_KEY) of a normalised e-mail or phone."""
    return suppression_hasher(kind)(value)


def suppression_hasher(kind: str):
    """`suppression_hash` for many values of one kind (an import): the keyed HMAC is derived once."""
    keyed = salted_hmac(f"leadwerk.suppression.{kind}", b"", algorithm="sha256")

    def digest(value: str) -> str:
        hashed = keyed.copy()
        hashed.update(normalise(kind, value).encode())
        return hashed.hexdigest()

    return digest


def normalise(kind: str, value: str) -> str:
    value = (value or "").strip().lower()
    if kind == Suppression.Kind.PHONE:
        return "+" + "".join(ch for ch in value if ch.isdigit())
    return value


def suppressed(*, email: str, phone: str = "") -> list[Suppression]:
    wanted = Q(kind=Suppression.Kind.EMAIL, value_hash=suppression_hash("email", email))
    if phone:
        wanted |= Q(kind=Suppression.Kind.PHONE, value_hash=suppression_hash("phone", phone))
    return list(Suppression.objects.filter(wanted, lifted_at__isnull=True))


def lift(entries: list[Suppression]) -> None:
    """Fresh consent: the person may be captured again."""
    Suppression.objects.filter(pk__in=[e.pk for e in entries], lifted_at__isnull=True).update(lifted_at=timezone.now())




def contact_check(*, email: str = "", phone: str = "") -> dict[str, list[str]]:
    """For the lead edit (`leads.extensions.register_contact_check`): an erased person's e-mail or phone may
    not be written onto a lead by hand; only their own fresh consent (a new capture) brings them back."""
    wanted = Q(pk__in=[])
    if email:
        wanted |= Q(kind=Suppression.Kind.EMAIL, value_hash=suppression_hash("email", email))
    if phone:
        wanted |= Q(kind=Suppression.Kind.PHONE, value_hash=suppression_hash("phone", phone))
    kinds = set(Suppression.objects.filter(wanted, lifted_at__isnull=True).values_list("kind", flat=True))
    message = _("This person asked to be erased; their data is stored again only with their own fresh consent.")
    return {
        name: [message]
        for name, kind in (("email", Suppression.Kind.EMAIL), ("phone", Suppression.Kind.PHONE)) if kind in kinds
    }
