"""`manage.py seed_demo [--seed 42] [--leads 600]`: load the demo data (`config.demo`, played through the product
on a simulated clock by `config.demo_run`) into an empty database."""

import time

from django.core.management.base import BaseCommand, CommandError

from config import demo
from core.errors import Conflict, Invalid
from core.vocabulary import Stage


class Command(BaseCommand):
    help = "Load deterministic demo data (users, campaigns, forms, accounts, leads with histories)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42, help="Random seed; the same seed gives the same data.")
        parser.add_argument("--leads", type=int, default=600, help="Number of leads (at least 20).")

    def _progress(self, day) -> None:
        self.stdout.write(f"  ... the demo's 90 days played up to {day.isoformat()}")
        self.stdout.flush()

    def handle(self, *args, seed, leads, **options):
        started = time.monotonic()
        try:
            counts = demo.load(seed=seed, leads=leads, progress=self._progress)
        except Invalid as invalid:
            raise CommandError(f"--leads: {invalid.errors['leads'][0]}")
        except Conflict as conflict:
            self.stdout.write(conflict.message)
            return
        by_stage = ", ".join(f"{stage} {counts['stages'].get(stage, 0)}" for stage in Stage.values)
        self.stdout.write(self.style.SUCCESS(
            f"Demo data (seed {seed}) loaded in {time.monotonic() - started:.1f} s: {counts['leads']} leads "
            f"({by_stage}), {counts['transitions']} transitions, {counts['activities']} activities, "
            f"{counts['visitors']} visitors, {counts['submissions']} submissions, {counts['consents']} consents, "
            f"{counts['campaigns']} campaigns, {counts['forms']} capture forms, {counts['accounts']} accounts, "
            f"{counts['clocks']} SLA clocks, {counts['escalations']} escalations, "
            f"{counts['notifications']} notifications."
        ))
        if counts["skipped"]:
            skipped = ", ".join(f"{what} {number}" for what, number in sorted(counts["skipped"].items()))
            self.stdout.write(f"Planned steps the product refused (skipped): {skipped}.")
        self.stdout.write(f"Users: {', '.join(user[0] for user in demo.USERS)} (password from DEMO_PASSWORD).")
