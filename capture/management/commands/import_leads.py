"""`manage.py import_leads FILE --source event --campaign SLUG [--as USERNAME]`: import a CSV lead list.

Every row gets what the capture service would give it, written in batches (see `capture.imports`,
`capture.bulk`). Prints one line per problem (row, column, message, the bad value) and a summary of
counts. Exits non-zero when the file cannot be read or an option is wrong; rejected rows are reported,
not fatal.
"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from capture import imports
from core.errors import Invalid
from core.vocabulary import Channel


class Command(BaseCommand):
    help = "Import leads from a CSV file (comma or semicolon separated, UTF-8 or Windows-1252)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the CSV file; its first line names the columns.")
        parser.add_argument(
            "--source", default=Channel.EVENT.value,
            help=f"Source channel of the leads (default: event). One of: {', '.join(imports.FILE_SOURCES)}.",
        )
        parser.add_argument("--campaign", default=None, help="Slug of the campaign the leads belong to.")
        parser.add_argument(
            "--as", dest="username", default=None, help="Username recorded as the submitter of every row.",
        )

    def handle(self, *args, file, source, campaign, username, **options):
        user = None
        if username:
            user = get_user_model().objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"--as: no active user named {username!r}.")
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror or error}.")
        try:
            report = imports.import_csv(data=data, by=user, source=source, campaign_slug=campaign)
        except Invalid as invalid:
            field, messages = next(iter(invalid.errors.items()))
            raise CommandError(f"{file}: {messages[0]}" if field == "file" else f"--{field}: {messages[0]}")

        for problem in report.problems:
            column = problem.field or "-"
            value = f"\t{problem.value}" if problem.value else ""
            self.stdout.write(f"row {problem.row}\t{column}\t{problem.message}{value}")
        summary = (
            f"{report.total} rows: {report.created} created, {report.merged} merged, "
            f"{report.rejected} rejected."
        )
        if report.encoding != "utf-8":
            summary += f" (read as {report.encoding})"
        style = self.style.SUCCESS if not report.rejected else self.style.WARNING
        self.stdout.write(style(summary))
