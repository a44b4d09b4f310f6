"""`manage.py send_report [--date D] [--to USER] [--weekly] [--force]`: send the report e-mail now.

Without --to: every active subscription's report (what the nightly schedule does). With --to: that user's
report, with their subscription's scope (or all they may see). --date picks the day reported on (default:
the due period, i.e. yesterday or last week). A report already sent for that period is not sent again;
--force sends it again.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date

from reporting import email
from reporting.models import Frequency


class Command(BaseCommand):
    help = "Send the report e-mail (once per recipient and period; --force to resend)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="The day to report on, YYYY-MM-DD (default: yesterday).")
        parser.add_argument("--to", metavar="USER", help="Send only to this username.")
        parser.add_argument("--weekly", action="store_true", help="Send the weekly report (the week of --date).")
        parser.add_argument("--force", action="store_true", help="Send again even if already sent.")

    def handle(self, *args, date=None, to=None, weekly=False, force=False, **options):
        day = self._day(date)
        if to is None:
            if weekly or force:
                raise CommandError("--weekly and --force need --to USER.")
            counts = email.send_due(today=day + dt.timedelta(days=1) if day else None)
            self.stdout.write(", ".join(f"{name}: {count}" for name, count in counts.items()))
            return
        if not get_user_model().objects.filter(username=to).exists():
            raise CommandError(f"No user is called {to!r}.")
        outcome = email.send_to(
            to, day=day, frequency=Frequency.WEEKLY if weekly else None, force=force,
        )
        messages = {
            "sent": f"Sent the report to {to}.",
            "skipped": f"Nothing sent to {to}: the report for this period was sent already (use --force to "
                       "send it again), or the user has no e-mail address or no report to see.",
            "failed": f"Sending to {to} failed; see the log and the report run in the admin.",
        }
        self.stdout.write(messages[outcome])
        if outcome == "failed":
            raise CommandError(messages[outcome])

    @staticmethod
    def _day(value) -> dt.date | None:
        if value is None:
            return None
        try:
            day = parse_date(value)
        except ValueError:
            day = None
        if day is None:
            raise CommandError("--date must be a date like 2026-11-21.")
        if day > timezone.localdate():
            raise CommandError("--date must not be in the future.")
        return day
