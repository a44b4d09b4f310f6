"""Rescore leads now, in this process: an operator's command (the background path is `leads.tasks.rescore_all`).

For when no worker runs or the result is wanted at once, e.g. after restoring a backup:
`manage.py rescore_leads` (every lead, the active model), `manage.py rescore_leads --model-version 7
--after-id 0 --last-id 500000` (one id range, after-id < id <= last-id). Writes through the same bulk path as
the background task; safe to run alongside it and twice (a newer score always wins). The whole table also
gets the run's final step (leads a capture scored meanwhile with another version are rescored again).
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from leads import scores
from leads.models import Lead


class Command(BaseCommand):
    help = "Rescore every lead (or those with after-id < id <= last-id) now, in this process."

    def add_arguments(self, parser):
        parser.add_argument("--model-version", type=int, help="The scoring model version (default: the active one).")
        parser.add_argument("--after-id", type=int, help="Only leads with an id above this (default: from the first).")
        parser.add_argument("--last-id", type=int, help="Only leads with an id up to this (default: to the last).")
        parser.add_argument("--at", help="ISO time the scores are as of (default: now).")
        parser.add_argument("--batch", type=int, default=scores.BATCH, help="Leads per batch.")
        parser.add_argument("--database-name", help="Refuse to run unless connected to this database.")

    def handle(self, *args, **options):
        if options["database_name"] and connection.settings_dict["NAME"] != options["database_name"]:
            raise CommandError(f"Connected to {connection.settings_dict['NAME']}, not {options['database_name']}.")
        version = options["model_version"]
        spec = scores.active_spec() if version is None else scores.spec_of_version(version)
        if spec is None:
            raise CommandError("There is no active scoring model." if version is None
                               else f"There is no scoring model version {version}.")
        at = timezone.now()
        if options["at"]:
            try:
                at = dt.datetime.fromisoformat(options["at"])
            except ValueError as error:
                raise CommandError(f"--at: {error}") from None
            if timezone.is_naive(at):
                raise CommandError("--at needs a time zone, e.g. 2026-11-22T02:30:00+00:00.")
        after_id, last_id = options["after_id"], options["last_id"]
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        if after_id is not None and last_id is not None and after_id > last_id:
            raise CommandError("--after-id must be at most --last-id.")
        if after_id is None and last_id is None:
            done = scores.rescore_all(spec=spec, at=at, batch=options["batch"])
            self.stdout.write(f"{done} leads rescored with version {spec.version} as of {at.isoformat()}.")
            return
        if after_id is None:
            after_id = 0
        if last_id is None:
            last_id = Lead.objects.aggregate(last=Max("pk"))["last"] or 0
        done, _reached = scores.rescore_range(spec=spec, at=at, after_id=after_id, last_id=last_id,
                                              batch=options["batch"])
        self.stdout.write(f"{done} leads rescored with version {spec.version} as of {at.isoformat()} "
                          f"(ids above {after_id} up to {last_id}).")
