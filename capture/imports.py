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

The Import page works in two steps: `upload(...)` reads the file (refusing what cannot be imported) and keeps
it as an `ImportUpload` (a random token in the address, never a name or an address; deleted after
`UPLOAD_HOURS` hours), with a suggested column mapping (`suggest_mapping`: English and German headers);
the mapping and preview step lets the user change it per column or ignore a column, and `import_upload(...)`
imports with the chosen mapping. The report lists each problem with its row, column and the bad value, and
the rejected rows can be downloaded as CSV (`ImportUpload.rejected`, through `core.csv`) to be fixed and
uploaded again. A row's note that its lead already holds is not added again (`capture.rules.repeated_note`),
so importing a file twice does not double the notes.
"""

import csv
import dataclasses
import datetime as dt
import io
import re
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from capture import bulk, submissions
from capture.models import ImportUpload
from core import csv as safe_csv
from core.errors import Conflict, Invalid, NotFound
from core.vocabulary import Channel
from leads.models import Campaign
from privacy import registry

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
DELIMITERS = (",", ";", "\t")
UPLOAD_HOURS = 2  # an upload (and after its import, the report and the rejected rows) is kept this long
PREVIEW_ROWS = 5
IGNORE = ""  # the mapping of a column that is not imported
# Sources a file can come from: not the channels that only a machine sends (API, site tracking) or a person
# types (manual entry).
FILE_SOURCES = tuple(
    value for value in Channel.values if value not in (Channel.API, Channel.TRACKING, Channel.MANUAL)
)
# What a column can feed, in the order the mapping step offers it.
FIELD_LABELS = {
    "email": gettext_lazy("E-mail"),
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "full_name": gettext_lazy("Full name (split into first and last name)"),
    "company": gettext_lazy("Company"),
    "job_title": gettext_lazy("Job title"),
    "phone": gettext_lazy("Phone"),
    "country": gettext_lazy("Country"),
    "industry": gettext_lazy("Industry"),
    "company_size": gettext_lazy("Employees"),
    "website": gettext_lazy("Website"),
    "street": gettext_lazy("Street"),
    "postcode": gettext_lazy("Postcode"),
    "city": gettext_lazy("City"),
    "region": gettext_lazy("Region"),
    "message": gettext_lazy("Note"),
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
}

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
# Columns recognised and ignored without a problem: the salutation (no lead field; the name says enough) and
# the problem column of a downloaded rejected-rows file that comes back fixed.
IGNORED_HEADERS = frozenset((
    "anrede", "salutation", "briefanrede", "geschlecht", "gender", "importproblem", "importproblemgrund",
))


@dataclass
class Problem:
    row: int  # line number in the file; the header is row 1
    field: str  # the column as the file names it (or the capture field when no column applies)
    message: str
    value: str = ""  # the value the column held in that row


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    merged: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str = ","
    rejected_rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (line, cells) of rejected rows
    headers: list[str] = field(default_factory=list)

    def as_data(self) -> dict:
        """What the report page shows, as stored on the upload (the rejected rows go to their CSV)."""
        return {
            "total": self.total, "created": self.created, "merged": self.merged, "rejected": self.rejected,
            "problems": [dataclasses.asdict(problem) for problem in self.problems],
        }

    def rejected_csv(self) -> str:
        """The rejected rows as the file had them, with a last column naming each row's problems, in the
        file's delimiter: to fix and upload again (every cell through `core.csv`)."""
        if not self.rejected_rows:
            return ""
        reasons: dict[int, list[str]] = {}
        for problem in self.problems:
            text = f"{problem.field}: {problem.message}" if problem.field else problem.message
            reasons.setdefault(problem.row, []).append(text)
        out = io.StringIO()
        writer = safe_csv.writer(out, delimiter=self.delimiter, lineterminator="\r\n")
        width = len(self.headers)
        writer.writerow([*self.headers, _("Import problem")])
        for line, cells in self.rejected_rows:
            cells = (cells + [""] * width)[:width]
            writer.writerow([*cells, " | ".join(reasons.get(line, []))])
        return out.getvalue()


def normalize_header(value: str) -> str:
    return re.sub(r"[^0-9a-zäöüß]", "", value.strip().lower())


def field_for_header(header: str) -> str | None:
    return _HEADER_FIELDS.get(normalize_header(header))


def is_ignored_header(header: str) -> bool:
    return normalize_header(header) in IGNORED_HEADERS


def suggest_mapping(headers: list[str]) -> list[str]:
    """The field each column feeds, as recognised from its header (English or German), else `IGNORE`. A field
    other than a phone or a note is suggested for its first column only."""
    mapping, taken = [], set()
    for header in headers:
        name = field_for_header(header) or IGNORE
        if name in taken and name not in ("phone", "message"):
            name = IGNORE
        taken.add(name)
        mapping.append(name)
    return mapping


def clean_mapping(mapping, headers: list[str]) -> list[str | None]:
    """The chosen mapping (a field or `IGNORE` per column) checked: known fields, one per column, an e-mail
    column. Raises Invalid naming `mapping`."""
    if not isinstance(mapping, list | tuple) or len(mapping) != len(headers):
        raise Invalid.field("mapping", _("Choose a field or Ignore for every column."))
    unknown = [str(name) for name in mapping if not isinstance(name, str) or (name and name not in FIELD_LABELS)]
    if unknown:
        raise Invalid.field(
            "mapping", _("Unknown field %(field)r. Choose one of the listed fields.") % {"field": unknown[0][:50]}
        )
    if "email" not in mapping:
        raise Invalid.field(
            "mapping", _("No column is imported as E-mail. Choose the column that holds the e-mail address.")
        )
    return [name or None for name in mapping]


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
    if source not in FILE_SOURCES:
        raise Invalid.field(
            "source", _("Unknown source %(source)r for a file. Use one of: %(sources)s.")
            % {"source": str(source)[:50], "sources": ", ".join(FILE_SOURCES)},
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
    header_line: int = 1

    def column_of(self, name: str) -> str:
        """The file's name of the (first) column that feeds capture field `name`."""
        for header, field_name in zip(self.headers, self.fields, strict=True):
            if field_name == name or (field_name == "full_name" and name in ("first_name", "last_name")):
                return header
        return name


def parse_sheet(text: str) -> _Sheet:
    """Parse the CSV text into its header and non-empty rows (no mapping yet); raises Invalid naming `file`
    when it cannot be imported."""
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
    if "email" not in (field_for_header(header) for header in headers) and any("@" in h for h in headers):
        raise Invalid.field(
            "file",
            _("The first line must be a header row naming the columns (e.g. E-Mail, Vorname, Nachname, "
              "Firma); it looks like data.")
        )
    return _Sheet(headers=headers, fields=[None] * len(headers), rows=rows, delimiter=delimiter,
                  header_line=header_line)


def read_sheet(text: str, mapping: list[str] | None = None) -> tuple[_Sheet, list[Problem]]:
    """Parse the CSV text and map its columns: by the chosen `mapping` (a field or `IGNORE` per column), else
    by the headers, reporting unknown columns once on the header row. Raises Invalid when it cannot be
    imported."""
    sheet = parse_sheet(text)
    headers = sheet.headers
    if mapping is not None:
        sheet.fields = clean_mapping(mapping, headers)
        return sheet, []  # the user chose what to ignore
    fields = [field_for_header(header) for header in headers]
    if "email" not in fields:
        raise Invalid.field(
            "file",
            _("The file has no e-mail column. Name one column E-Mail or email. Columns found: %(columns)s.")
            % {"columns": ", ".join(header for header in headers if header) or "-"}
        )
    sheet.fields = fields
    problems = [
        Problem(sheet.header_line, header, _("Unknown column, ignored."))
        for header, name in zip(headers, fields, strict=True)
        if name is None and header and not is_ignored_header(header)
    ]
    # Several columns for one field (Telefon and Mobil): the first non-empty value wins, in column order.
    return sheet, problems


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


def row_payload(
    sheet: _Sheet, cells: list[str], *, source: str, campaign_slug: str | None
) -> tuple[dict, dict, dict]:
    """The capture payload of one row, which file column each payload field came from, and the value that
    column held (for the problem list)."""
    payload: dict = {}
    columns: dict[str, str] = {}
    values: dict[str, str] = {}
    for header, name, value in zip(sheet.headers, sheet.fields, cells, strict=False):
        value = safe_csv.read_cell(value.strip())  # a fixed rejected-rows file comes back with its apostrophes
        if name is None or not value or name in payload:
            continue
        payload[name], columns[name], values[name] = value, header, value
    full_name = payload.pop("full_name", "")
    if full_name and not payload.get("first_name") and not payload.get("last_name"):
        first, last = split_full_name(full_name)
        for name, part in (("first_name", first), ("last_name", last)):
            if part:
                payload[name], columns[name], values[name] = part, columns["full_name"], full_name
    payload["source"] = source
    if campaign_slug:
        payload["campaign"] = campaign_slug
    return payload, columns, values


def _check_size(data: bytes) -> None:
    if len(data) > MAX_BYTES:
        raise Invalid.field(
            "file",
            _("The file is larger than %(limit)s MB. Split it into smaller files.")
            % {"limit": MAX_BYTES // (1024 * 1024)}
        )


def import_csv(
    *, data: bytes, by, source: str = Channel.EVENT, campaign_slug: str | None = None,
    mapping: list[str] | None = None, file_name: str = "",
) -> ImportReport:
    """Import a CSV file through the bulk capture (`leads.bulk`); see the module docstring. `mapping` (a field
    or `IGNORE` per column) replaces the mapping by headers; `file_name` is named on each touchpoint."""
    campaign = validate_options(source=source, campaign_slug=campaign_slug)
    _check_size(data)
    text, encoding = decode(data)
    return _import_text(text, encoding=encoding, by=by, source=source, campaign=campaign, mapping=mapping,
                        file_name=file_name)


def _import_text(text: str, *, encoding: str, by, source: str, campaign: Campaign | None,
                 mapping: list[str] | None, file_name: str) -> ImportReport:
    sheet, problems = read_sheet(text, mapping)
    report = ImportReport(problems=problems, encoding=encoding, delimiter=sheet.delimiter, headers=sheet.headers)
    width = len(sheet.headers)
    payloads, columns_of_rows, values_of_rows = [], [], []
    for line, cells in sheet.rows:
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            report.problems.append(
                Problem(line, "", _("The row has more values than the header has columns; the extra values were "
                                    "ignored."))
            )
        payload, columns, values = row_payload(
            sheet, cells, source=source, campaign_slug=campaign.slug if campaign else None
        )
        payloads.append(payload)
        columns_of_rows.append(columns)
        values_of_rows.append(values)
    results = bulk.capture_many(
        payloads=payloads, channel=Channel.IMPORT, by=by, campaigns={campaign.slug: campaign} if campaign else {},
        file_name=file_name,
    )
    row_problems = []
    for (line, cells), columns, values, result in zip(
        sheet.rows, columns_of_rows, values_of_rows, results, strict=True
    ):
        report.total += 1
        if result.status == 201:
            report.created += 1
        elif result.status == 200:
            report.merged += 1
        else:
            report.rejected += 1
            report.rejected_rows.append((line, cells))
            row_problems.extend(_row_problems(line, result, sheet, columns, values))
    # Problems in file order: the header's first, then each row's (extra values before rejection reasons).
    report.problems = sorted(report.problems + row_problems, key=lambda problem: problem.row)
    return report


# --- the two steps of the Import page: upload, then map and import ---------------------------------------


def upload(*, data: bytes, file_name: str, by, source: str, campaign_slug: str | None) -> ImportUpload:
    """Read the file and keep it for the mapping step; refuses (Invalid naming `file`, `source` or `campaign`)
    what cannot be imported, before anything is stored. Expired uploads are deleted on the way."""
    campaign = validate_options(source=source, campaign_slug=campaign_slug)
    _check_size(data)
    text, encoding = decode(data)
    sheet = parse_sheet(text)
    if not sheet.rows:
        raise Invalid.field("file", _("The file has a header row but no data rows."))
    now = timezone.now()
    purge_expired(now=now)
    return ImportUpload.objects.create(
        created_by=by, created_at=now, expires_at=now + dt.timedelta(hours=UPLOAD_HOURS),
        file_name=(file_name or "upload.csv")[:255], text=text, encoding=encoding, source=source,
        campaign=campaign, mapping=suggest_mapping(sheet.headers),
    )


def upload_of(*, token, by) -> ImportUpload:
    """The user's own upload that has not expired; anyone else's, or an expired one, is not found (404)."""
    upload_row = ImportUpload.objects.filter(
        token=token, created_by=by, expires_at__gt=timezone.now()
    ).select_related("campaign").first()
    if upload_row is None:
        raise NotFound(_("This upload has expired or does not exist. Upload the file again."))
    return upload_row


@dataclass
class Column:
    index: int
    header: str
    field: str  # the chosen (or suggested) field, IGNORE for none
    samples: list[str]  # the first rows' values


def preview(upload_row: ImportUpload) -> tuple[list[Column], int]:
    """The columns with their mapping and first values, and how many data rows the file has."""
    sheet = parse_sheet(upload_row.text)
    mapping = upload_row.mapping if len(upload_row.mapping) == len(sheet.headers) else suggest_mapping(sheet.headers)
    columns = [
        Column(index, header, mapping[index],
               [cells[index].strip() if index < len(cells) else "" for _line, cells in sheet.rows[:PREVIEW_ROWS]])
        for index, header in enumerate(sheet.headers)
    ]
    return columns, len(sheet.rows)


def import_upload(*, token, by, mapping: list[str]) -> ImportUpload:
    """Import the upload with the chosen mapping, once: the file's text goes, the report and the rejected
    rows stay until the upload expires. A bad mapping (Invalid naming `mapping`) writes nothing; a second
    import of the same upload is a Conflict."""
    with transaction.atomic():
        upload_row = ImportUpload.objects.select_for_update(of=("self",)).filter(
            pk=upload_of(token=token, by=by).pk
        ).select_related("campaign").get()
        if upload_row.imported_at is not None:
            raise Conflict(_("This file was imported already."))
        headers = parse_sheet(upload_row.text).headers
        clean_mapping(mapping, headers)
        report = _import_text(
            upload_row.text, encoding=upload_row.encoding, by=by, source=upload_row.source,
            campaign=upload_row.campaign, mapping=list(mapping), file_name=upload_row.file_name,
        )
        upload_row.mapping = list(mapping)
        upload_row.text = ""
        upload_row.imported_at = timezone.now()
        upload_row.report = report.as_data()
        upload_row.rejected = report.rejected_csv()
        upload_row.save(update_fields=["mapping", "text", "imported_at", "report", "rejected"])
    return upload_row


def purge_expired(*, now=None) -> int:
    """Delete expired uploads (their file, report and rejected rows)."""
    deleted, _by_model = ImportUpload.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def _uploads_naming(lead):
    """The uploads whose file or rejected rows hold the person's address (for erasure)."""
    if not lead.email:
        return ImportUpload.objects.none()
    return ImportUpload.objects.filter(Q(text__icontains=lead.email) | Q(rejected__icontains=lead.email))


def register_personal_data() -> None:
    registry.register(registry.Table(
        ImportUpload, "", ("file_name", "text", "report", "rejected"), ("id", "created_at", "expires_at"),
        category="A CSV file between its upload and its import; then its report and rejected rows",
        purpose="Importing lead lists with a column-mapping step; fixing and re-uploading rejected rows",
        recipients="The user who uploaded the file",
        retention=f"{UPLOAD_HOURS} hours after the upload (the file itself until its import); on erasure of "
                  "anyone whose address it holds, the whole upload at once; not exported (it holds other "
                  "people's rows)",
        find=_uploads_naming,
    ))


def _row_problems(
    line: int, result: submissions.CaptureResult, sheet: _Sheet, columns: dict[str, str], values: dict[str, str]
) -> list[Problem]:
    errors = (result.body or {}).get("errors")
    if not errors:
        detail = (result.body or {}).get("detail") or _("The row was rejected.")
        return [Problem(line, "", str(detail))]
    return [
        Problem(line, columns.get(name) or sheet.column_of(name), str(message), values.get(name, ""))
        for name, messages in errors.items()
        for message in messages
    ]
