"""CSV import of lead lists (trade-fair scans, business cards, lists from partners).

`import_csv(data=..., by=..., source=..., campaign_slug=...)` reads the whole file first and refuses it
as a whole (`core.errors.Invalid` naming `file`, `source` or `campaign`) before anything is written
when it cannot be read, has no header row or no e-mail column, or is too large. Then the rows go through
the bulk capture (`leads.bulk.capture_many(channel="import", ...)`): each row is a recorded `Submission`
with its outcome, validated, deduplicated, merged, scored and handed off exactly like a web form or an
API call, in batches of a thousand rows instead of a capture per row. A bad row is reported (row number,
column, message), nothing of it but its rejected submission is written, and it never stops the others.

Row numbers are line numbers in the file: the header is row 1, the first data row is row 2 (a quoted
value spanning several lines counts its first line).
"""

import csv
import io
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from capture import bulk, submissions
from core.errors import Invalid
from core.vocabulary import Channel
from leads.models import Campaign

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
DELIMITERS = (",", ";", "\t")

# Normalised header (lower case, letters and digits only) -> capture field. `full_name` is split into
# first and last name when the file has no separate name columns.
HEADER_ALIASES = {
    "email": (
        "email", "emailadresse", "emailaddress", "mail", "mailadresse", "emailgeschäftlich", "businessemail",
        "workemail", "geschäftlicheemail",
    ),
    "first_name": ("firstname", "vorname", "givenname", "forename"),
    "last_name": ("lastname", "nachname", "surname", "familyname", "familienname", "zuname"),
    "full_name": ("name", "fullname", "vollständigername", "kontakt", "contact", "ansprechpartner"),
    "company": (
        "company", "companyname", "firma", "firmenname", "unternehmen", "unternehmensname", "organisation",
        "organization", "organisationsname", "account", "accountname",
    ),
    "job_title": ("jobtitle", "title", "position", "funktion", "jobtitel", "berufsbezeichnung", "rolle", "role"),
    "phone": (
        "phone", "phonenumber", "telephone", "tel", "telefon", "telefonnummer", "mobile", "mobil", "handy",
        "mobilnummer", "mobiltelefon", "mobilephone",
    ),
    "country": ("country", "countrycode", "land", "landcode", "ländercode", "staat"),
    "industry": ("industry", "branche", "sector", "sektor", "industrie"),
    "company_size": (
        "companysize", "mitarbeiter", "mitarbeiterzahl", "anzahlmitarbeiter", "mitarbeiteranzahl", "employees",
        "numberofemployees", "unternehmensgröße", "unternehmensgrösse", "firmengröße", "firmengrösse",
    ),
    "street": ("street", "streetaddress", "address", "strasse", "straße", "straßeundhausnummer",
               "strasseundhausnummer", "adresse", "anschrift"),
    "postcode": ("postcode", "postalcode", "zip", "zipcode", "plz", "postleitzahl"),
    "city": ("city", "town", "ort", "stadt"),
    "region": ("region", "state", "province", "bundesland", "kanton"),
    "website": ("website", "webseite", "url", "homepage", "web", "internetseite", "internetadresse", "domain"),
    "message": (
        "message", "nachricht", "notiz", "notizen", "note", "notes", "bemerkung", "bemerkungen", "kommentar",
        "kommentare", "comment", "comments", "anmerkung", "anmerkungen", "gesprächsnotiz",
    ),
    "utm_source": ("utmsource",),
    "utm_medium": ("utmmedium",),
    "utm_campaign": ("utmcampaign",),
    "utm_term": ("utmterm",),
    "utm_content": ("utmcontent",),
}
_HEADER_FIELDS = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}

@dataclass
class Problem:
    row: int  # line number in the file; the header is row 1
    field: str  # the column as the file names it (or the capture field when no column applies)
    message: str


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    merged: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str = ","


def normalize_header(value: str) -> str:
    return re.sub(r"[^0-9a-zäöüß]", "", value.strip().lower())


def field_for_header(header: str) -> str | None:
    return _HEADER_FIELDS.get(normalize_header(header))


def decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding it was read with: UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252
    (what German Excel writes for "CSV (Trennzeichen-getrennt)")."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise Invalid.field("file", _("The file cannot be read as text. Save it as CSV (UTF-8) and try again."))
    if b"\x00" in data:
        raise Invalid.field(
            "file",
            _("This is not a CSV text file (an Excel workbook?). Save it as CSV (UTF-8) and try again.")
        )
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise Invalid.field("file", _("The file is not UTF-8 text. Save it as CSV (UTF-8) and try again."))
    if re.search(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        raise Invalid.field("file", _("The file is not UTF-8 text. Save it as CSV (UTF-8) and try again."))
    return text, "cp1252"


def sniff_delimiter(first_line: str) -> str:
    """Comma, semicolon (German Excel) or tab: whichever separates the header line most often outside quotes."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def validate_options(*, source: str, campaign_slug: str | None) -> Campaign | None:
    if source not in Channel.values:
        raise Invalid.field(
            "source", _("Unknown source %(source)r. Use one of: %(sources)s.")
            % {"source": source, "sources": ", ".join(Channel.values)},
        )
    if not campaign_slug:
        return None
    campaign = Campaign.objects.filter(slug=campaign_slug).first()
    if campaign is None:
        raise Invalid.field("campaign", _("No campaign has the slug %(slug)r.") % {"slug": campaign_slug})
    return campaign


@dataclass
class _Sheet:
    headers: list[str]
    fields: list[str | None]  # capture field per column, None for ignored columns
    rows: list[tuple[int, list[str]]]  # (line number, cells) of non-empty data rows
    delimiter: str

    def column_of(self, name: str) -> str:
        """The file's name of the (first) column that feeds capture field `name`."""
        for header, field_name in zip(self.headers, self.fields, strict=True):
            if field_name == name or (field_name == "full_name" and name in ("first_name", "last_name")):
                return header
        return name


def read_sheet(text: str) -> tuple[_Sheet, list[Problem]]:
    """Parse the CSV text and map its header; raises Invalid when it cannot be imported."""
    first = next((line for line in io.StringIO(text) if line.strip()), None)
    if first is None:
        raise Invalid.field("file", _("The file is empty."))
    delimiter = sniff_delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header_line = 0
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        while headers is None:
            start = reader.line_num + 1
            cells = next(reader, None)
            if cells is None:
                raise Invalid.field("file", _("The file is empty."))
            if any(cell.strip() for cell in cells):
                headers, header_line = [cell.strip() for cell in cells], start
        for line, values in reader_with_lines(reader):
            if not any(value.strip() for value in values):
                continue
            rows.append((line, values))
            if len(rows) > MAX_ROWS:
                raise Invalid.field(
                    "file",
                    _("The file has more than %(limit)s rows. Split it into smaller files.") % {"limit": MAX_ROWS}
                )
    except csv.Error as error:
        raise Invalid.field(
            "file",
            _("The file is not valid CSV near line %(line)s: %(error)s") % {"line": reader.line_num, "error": error}
        )

    fields = [field_for_header(header) for header in headers]
    if "email" not in fields:
        if any("@" in header for header in headers):
            raise Invalid.field(
                "file",
                _("The first line must be a header row naming the columns (e.g. E-Mail, Vorname, Nachname, "
                  "Firma); it looks like data.")
            )
        raise Invalid.field(
            "file",
            _("The file has no e-mail column. Name one column E-Mail or email. Columns found: %(columns)s.")
            % {"columns": ", ".join(header for header in headers if header) or "-"}
        )
    problems = [
        Problem(header_line, header, _("Unknown column, ignored."))
        for header, name in zip(headers, fields, strict=True)
        if name is None and header
    ]
    # Several columns for one field (Telefon and Mobil): the first non-empty value wins, in column order.
    return _Sheet(headers=headers, fields=fields, rows=rows, delimiter=delimiter), problems


def reader_with_lines(reader):
    """Yield (first line number, cells) for every record, counting multi-line quoted values correctly."""
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        yield start, cells


def split_full_name(value: str) -> tuple[str, str]:
    value = " ".join(value.split())
    if "," in value:  # "Müller, Anna"
        last, _comma, first = value.partition(",")
        return first.strip(), last.strip()
    first, _space, last = value.rpartition(" ")
    return (first, last) if first else ("", last)


def row_payload(sheet: _Sheet, cells: list[str], *, source: str, campaign_slug: str | None) -> tuple[dict, dict]:
    """The capture payload of one row, and which file column each payload field came from."""
    payload: dict = {}
    columns: dict[str, str] = {}
    for header, name, value in zip(sheet.headers, sheet.fields, cells, strict=False):
        value = value.strip()
        if name is None or not value or name in payload:
            continue
        payload[name], columns[name] = value, header
    full_name = payload.pop("full_name", "")
    if full_name and not payload.get("first_name") and not payload.get("last_name"):
        first, last = split_full_name(full_name)
        for name, part in (("first_name", first), ("last_name", last)):
            if part:
                payload[name], columns[name] = part, columns["full_name"]
    payload["source"] = source
    if campaign_slug:
        payload["campaign"] = campaign_slug
    return payload, columns


def import_csv(*, data: bytes, by, source: str = Channel.EVENT, campaign_slug: str | None = None) -> ImportReport:
    """Import a CSV file through the bulk capture (`leads.bulk`); see the module docstring."""
    campaign = validate_options(source=source, campaign_slug=campaign_slug)
    if len(data) > MAX_BYTES:
        raise Invalid.field(
            "file",
            _("The file is larger than %(limit)s MB. Split it into smaller files.")
            % {"limit": MAX_BYTES // (1024 * 1024)}
        )
    text, encoding = decode(data)
    sheet, problems = read_sheet(text)
    report = ImportReport(problems=problems, encoding=encoding, delimiter=sheet.delimiter)
    width = len(sheet.headers)
    payloads, columns_of_rows = [], []
    for line, cells in sheet.rows:
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            report.problems.append(
                Problem(line, "", _("The row has more values than the header has columns; the extra values were "
                                    "ignored."))
            )
        payload, columns = row_payload(sheet, cells, source=source, campaign_slug=campaign_slug)
        payloads.append(payload)
        columns_of_rows.append(columns)
    results = bulk.capture_many(
        payloads=payloads, channel=Channel.IMPORT, by=by, campaigns={campaign.slug: campaign} if campaign else {}
    )
    row_problems = []
    for (line, _cells), columns, result in zip(sheet.rows, columns_of_rows, results, strict=True):
        report.total += 1
        if result.status == 201:
            report.created += 1
        elif result.status == 200:
            report.merged += 1
        else:
            report.rejected += 1
            row_problems.extend(_row_problems(line, result, sheet, columns))
    # Problems in file order: the header's first, then each row's (extra values before rejection reasons).
    report.problems = sorted(report.problems + row_problems, key=lambda problem: problem.row)
    return report


def _row_problems(
    line: int, result: submissions.CaptureResult, sheet: _Sheet, columns: dict[str, str]
) -> list[Problem]:
    errors = (result.body or {}).get("errors")
    if not errors:
        detail = (result.body or {}).get("detail") or _("The row was rejected.")
        return [Problem(line, "", str(detail))]
    return [
        Problem(line, columns.get(name) or sheet.column_of(name), str(message))
        for name, messages in errors.items()
        for message in messages
    ]
