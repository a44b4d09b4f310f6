"""Rescore the leads in one id range with a stored model version: one worker process of a bulk rescoring.

`leads.scores.rescore_ranges` starts it for every range but the first; it prints "<leads rescored>
<id reached> <last id>" as its last line. Also usable by hand, e.g. after restoring a backup:
`manage.py rescore_leads --model-version 7 --after-id 0 --last-id 500000`.
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from leads import scores


class Command(BaseCommand):
    help = "Rescore the leads with after-id < id <= last-id with a stored scoring model version."

    def add_arguments(self, parser):
        parser.add_argument("--model-version", type=int, required=True, help="The scoring model version to score with.")
        parser.add_argument("--after-id", type=int, required=True)
        parser.add_argument("--last-id", type=int, required=True)
        parser.add_argument("--at", help="ISO time the scores are as of (default: now).")
        parser.add_argument("--batch", type=int, default=scores.BATCH)
        parser.add_argument("--model-id", type=int, help="Add progress to this scoring model.")
        parser.add_argument("--budget", type=float, help="Stop after this many seconds.")
        parser.add_argument("--database-name", help="Refuse to run unless connected to this database.")

    def handle(self, *args, **options):
        if options["database_name"] and connection.settings_dict["NAME"] != options["database_name"]:
            raise CommandError(f"Connected to {connection.settings_dict['NAME']}, not {options['database_name']}.")
        spec = scores.spec_of_version(options["model_version"])
        if spec is None:
            raise CommandError(f"There is no scoring model version {options['model_version']}.")
        at = timezone.now()
        if options["at"]:
            try:
                at = dt.datetime.fromisoformat(options["at"])
            except ValueError as error:
                raise CommandError(f"--at: {error}") from None
            if timezone.is_naive(at):
                raise CommandError("--at needs a time zone, e.g. 2026-11-22T02:30:00+00:00.")
        if options["batch"] < 1 or options["after_id"] > options["last_id"]:
            raise CommandError("--batch must be at least 1 and --after-id at most --last-id.")
        done, reached = scores.rescore_range(
            spec=spec, at=at, after_id=options["after_id"], last_id=options["last_id"], batch=options["batch"],
            model_id=options["model_id"], budget=options["budget"],
        )
        self.stdout.write(f"{done} {reached} {options['last_id']}")
