"""Writes on a user's in-app notifications (they are created by `lifecycle.notify`)."""

from django.utils import timezone

from leads.models import Notification


def mark_read(*, user, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read, or all of them (None). Returns how many changed.

    Another user's notification is never touched; marking twice changes nothing the second time."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=timezone.now())
