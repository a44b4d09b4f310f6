"""Events of the transactional outbox and the cursors of their consumers.

No foreign keys: the outbox sits below `leads` in the layers, so a lead and an actor are plain ids, and an
event outlives the lead it names (`lead.erased` carries no personal data).
"""

from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class TransactionIdField(models.Field):
    """PostgreSQL's `xid8`: the 64-bit id of the transaction that wrote the row (never wraps around)."""

    description = "PostgreSQL transaction id (xid8)"

    def db_type(self, connection):
        return "xid8"


class Event(models.Model):
    """One domain event. `seq` is the insertion order (not gap-free across concurrent transactions);
    `position` is given in commit order once every transaction that began earlier has ended, and is the
    public, gap-free, increasing id (the feed's cursor, the webhooks' order)."""

    seq = models.BigAutoField(primary_key=True)
    position = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    type = models.CharField(_("type"), max_length=64)
    at = models.DateTimeField(_("at"), db_default=Now())
    actor_id = models.IntegerField(null=True, blank=True)
    lead_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    txid = TransactionIdField(db_default=models.Func(function="pg_current_xact_id"), editable=False)

    class Meta:
        ordering = ["position"]
        indexes = [
            models.Index(
                fields=["txid", "seq"], condition=models.Q(position__isnull=True), name="outbox_event_unpositioned"
            ),
            models.Index(fields=["lead_id"], name="outbox_event_lead"),
            models.Index(fields=["at"], name="outbox_event_at"),
        ]

    def __str__(self):
        return f"{self.position or '-'} {self.type}"


class Cursor(models.Model):
    """How far one consumer has read (the position of the last event it was handed)."""

    name = models.CharField(max_length=100, primary_key=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name} at {self.position}"
