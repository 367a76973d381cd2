"""Sign-in sheets and presence lists (one row a learner a session) as presence facts.

Validated row by row; a sheet is imported whole or not at all. Request bound: none (local files);
an unchanged file (same sha256) is skipped, so a no-change run reads each file once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from bridge.addresses import email_address
from bridge.config import SourceConfig
from bridge.errors import InvalidAddress, PermanentSourceError, SourceError
from bridge.i18n import gettext as _
from bridge.i18n import ngettext
from bridge.model import (
    Attestation,
    Batch,
    Fact,
    FactKind,
    Finding,
    FindingStatus,
    Identity,
    Probe,
    PushResult,
    Watermark,
)
from connectors.base import SourceState
from connectors.push_route import PushRoute

__all__ = ["CsvConfig", "CsvConnector", "Sheet", "parse_sheet", "decode"]

# Header words as organisers write them, French and English, compared without accents, case
# or punctuation ("Présent·e" and "present-e" are the same header).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "mail", "courriel", "adresse-e-mail", "adresse-email",
              "adresse-mail", "adresse-electronique", "adresse-courriel", "email-address"),
    "name": ("name", "full-name", "fullname", "nom-complet", "nom-et-prenom", "nom-prenom",
             "prenom-nom", "participant", "participante", "participant-e"),
    "last_name": ("nom", "last-name", "lastname", "surname", "family-name", "nom-de-famille"),
    "first_name": ("prenom", "first-name", "firstname", "given-name"),
    "status": ("status", "statut", "presence", "present", "presente", "present-e", "emargement",
               "attendance", "attended"),
    "date": ("date", "session-date", "date-de-la-seance", "date-de-seance", "jour", "day"),
    "place": ("place", "lieu", "location", "venue", "tiers-lieu"),
    "session": ("session", "session-id", "seance", "id-seance", "identifiant-de-seance"),
    "tags": ("tags", "etiquettes", "mots-cles"),
    "title": ("title", "titre", "intitule", "theme"),
}
PRESENT = {"present", "presente", "present-e", "p", "x", "1", "yes", "y", "oui", "o", "vrai",
           "true", "late", "l", "en-retard", "retard"}
ABSENT = {"absent", "absente", "absent-e", "a", "0", "no", "n", "non", "faux", "false", "excused",
          "e", "excuse", "excusee", "excuse-e", ""}
_TICKS = {"✓", "✔", "☑", "✅", "☒"}
_LIMITS = {"name": 300, "place": 200, "session": 200, "title": 300, "tags": 100}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_YEARS = (2000, 2100)


class CsvConfig(SourceConfig):
    kind: Literal["csv"] = "csv"
    path: Path = Field(description="a CSV file, or a folder whose *.csv files are all read")
    course: str = Field("", description="course the sessions belong to ('' for none)")
    tags: list[str] = Field(default_factory=list, description="tags given to every session")
    strict: bool = Field(False, description="refuse a whole sheet when one row is bad")
    push: list[PushRoute] = Field(default_factory=list,
                                       description="presence push-back routes, see jobs.push")


@dataclass
class Sheet:
    """A parsed sheet: the batch to import and the rows refused, as (line, reason)."""

    batch: Batch
    problems: list[tuple[int, str]] = field(default_factory=list)


def _slug(text: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_).strip("-")


def _clean(text: str) -> str:
    """A cell as one line of text: control characters (line breaks, NUL…) become spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _date(text: str) -> datetime:
    """A session date or time as organisers write it; ValueError saying what is accepted."""
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
                "%d/%m/%Y %H:%M", "%d/%m/%Y %Hh%M", "%d.%m.%Y"):
        try:
            moment = datetime.strptime(text, fmt).replace(tzinfo=UTC)
            break
        except ValueError:
            continue
    else:
        try:
            moment = datetime.fromisoformat(text)
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValueError(f"date {text!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)") from None
    if not _YEARS[0] <= moment.year < _YEARS[1]:
        raise ValueError(f"date {text!r} is outside {_YEARS[0]}-{_YEARS[1] - 1}")
    return moment


def decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, which French Excel writes."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _columns(fieldnames: list[str]) -> tuple[dict[str, str], str | None]:
    """Role -> header as written; or the problem with the header, naming what it found."""
    found: dict[str, str] = {}
    for header in fieldnames:
        slug = _slug(header or "")
        role = next((r for r, names in _COLUMNS.items() if slug in names), None)
        if role and role not in found:
            found[role] = header
    missing = [what for what, ok in (
        ("email (email, courriel, e-mail)", "email" in found),
        ("presence (présent, statut, présence, status)", "status" in found),
        ("session or date (séance, session, date)", "session" in found or "date" in found),
    ) if not ok]
    if missing:
        return found, (f"header: no column for {'; '.join(missing)}; found: "
                       f"{', '.join(h for h in fieldnames if h) or 'nothing'}")
    return found, None


def parse_sheet(text: str, source: str, config: CsvConfig) -> Sheet:
    """Rows -> identities and presence facts; every bad row is one (line, reason) problem.

    Never raises on what a file holds: an unreadable line ends the sheet with its reason."""
    lines = text.splitlines()
    try:
        dialect: type[csv.Dialect] = csv.Sniffer().sniff(lines[0] if lines else "", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO("\n".join(lines)), dialect=dialect)
    try:
        fieldnames = [_clean(h or "") for h in reader.fieldnames or []]
    except csv.Error as exc:
        return Sheet(Batch(), [(1, f"header: unreadable CSV ({exc})")])
    cols, problem = _columns(fieldnames)
    if problem:
        return Sheet(Batch(), [(1, problem)])
    reader.fieldnames = fieldnames
    identities: dict[str, Identity] = {}
    facts: dict[tuple[str, str], Fact] = {}
    problems: list[tuple[int, str]] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append((reader.line_num, f"unreadable CSV ({exc}); the rest of the file was not read"))
            break
        line = reader.line_num
        if _unused(row, cols):
            continue
        try:
            identity, fact = _row(row, cols, source, config)
        except ValueError as exc:
            problems.append((line, str(exc)))
            continue
        identities[identity.external_id] = identity
        facts[(fact.external_id, fact.item)] = fact
    return Sheet(Batch(identities=list(identities.values()), facts=list(facts.values())), problems)


def _unused(row: dict[str, str | None], cols: dict[str, str]) -> bool:
    """A printed sheet's line nobody signed: no address, no name, no presence mark (its
    session, place or date may be pre-filled)."""
    people = ("email", "name", "first_name", "last_name", "status")
    return not any(_clean(v) for role in people if (h := cols.get(role))
                   and isinstance(v := row.get(h), str))


def _row(row: dict[str, str | None], cols: dict[str, str], source: str,
         config: CsvConfig) -> tuple[Identity, Fact]:
    """One row as an identity and a presence fact; ValueError naming the column otherwise."""
    def cell(role: str) -> str:
        header = cols.get(role)
        value = row.get(header) if header else None
        text = _clean(value if isinstance(value, str) else "")
        if role in _LIMITS and len(text) > _LIMITS[role]:
            raise ValueError(f"{header}: longer than {_LIMITS[role]} characters")
        return text

    try:
        email = email_address(cell("email"))
    except InvalidAddress as exc:
        raise ValueError(f"email {cell('email')!r} is not an email address ({exc.reason})") from None
    raw_status = cell("status")
    status = "present" if raw_status in _TICKS else _slug(raw_status)
    if status not in PRESENT | ABSENT:
        raise ValueError(f"presence {raw_status!r} is not one of présent/absent "
                         "(P/A, oui/non, x, 1/0)")
    when = _date(cell("date")) if cell("date") else None
    session = cell("session") or (f"{when:%Y-%m-%d}@{_slug(cell('place'))}" if when else "")
    if not session:
        raise ValueError("no session and no date")
    tags = sorted({*config.tags, *(t.strip().lower() for t in cell("tags").split(",") if t.strip())})
    name = " ".join(p for p in (cell("first_name"), cell("last_name")) if p) or cell("name")
    present = status in PRESENT
    identity = Identity(source=source, external_id=email, email=email, fullname=name or None)
    fact = Fact(source=source, external_id=email, kind=FactKind.presence, course=config.course,
                item=session, value=1.0 if present else 0.0,
                status="present" if present else "absent", occurred_at=when,
                attrs={"session_date": when.isoformat() if when else "", "place": cell("place"),
                       "tags": tags, "title": cell("title")})
    return identity, fact


class CsvConnector:
    """Reads the configured sheet(s); an unchanged file is skipped by its content hash."""

    kind: ClassVar[str] = "csv"
    config_model: ClassVar[type[SourceConfig]] = CsvConfig

    def __init__(self, source_id: str, config: CsvConfig) -> None:
        self.source_id, self.config = source_id, config

    @property
    def requests(self) -> dict[str, int]:
        return {}

    def files(self) -> list[Path]:
        p = self.config.path
        return sorted(p.glob("*.csv")) if p.is_dir() else [p]

    def check(self) -> list[str]:
        return [] if self.config.path.exists() else [
            f"source {self.source_id}: {self.config.path} does not exist"]

    def probes(self, pushed: Sequence[tuple[str, str]] = ()) -> list[Probe]:
        """What `badge-bridge doctor` checks: the path exists, each sheet's header is understood."""
        return [Probe("sheets", self._probe_sheets)]

    def _probe_sheets(self) -> Iterator[Finding]:
        path, sid = self.config.path, self.source_id
        if not path.exists():
            yield Finding(FindingStatus.fail, _("sheets"), _("{path} does not exist").format(path=path),
                          _("create the folder, or fix sources.{source}.path").format(source=sid),
                          _("presence"), sid)
            return
        files = self.files()
        if not files:
            yield Finding(FindingStatus.warn, _("sheets"), _("no .csv file in {path} yet").format(
                path=path), _("drop the sign-in sheets there as CSV (UTF-8 or Excel's)"),
                _("presence"), sid)
        for file in files:
            sheet, _digest = self.read(file, strict=False)
            subject = _("sheet {file}").format(file=file.name)
            header = [text for line, text in sheet.problems if line == 1 and text.startswith("header")]
            if header:
                yield Finding(FindingStatus.fail, subject, header[0], _(
                    "name the columns email, présent (or statut) and séance (or date) in the first "
                    "row"), _("presence"), sid)
            elif sheet.problems:
                line, text = sheet.problems[0]
                yield Finding(FindingStatus.warn, subject, ngettext(
                    "header understood; {count} row refused, at line {line}: {reason}",
                    "header understood; {count} rows refused, first at line {line}: {reason}",
                    len(sheet.problems)).format(count=len(sheet.problems), line=line, reason=text),
                    _("correct those rows (sync says each one)"), _("presence"), sid)
            else:
                count = len(sheet.batch.facts)
                yield Finding(FindingStatus.ok, subject, ngettext(
                    "header understood, {count} presence", "header understood, {count} presences",
                    count).format(count=count), source=sid)

    def read(self, path: Path, strict: bool | None = None) -> tuple[Sheet, str]:
        """The parsed sheet and its content hash; with `strict`, a bad row empties the batch."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise PermanentSourceError(f"cannot read: {exc.strerror}", source=self.source_id,
                                       endpoint=str(path)) from None
        sheet = parse_sheet(decode(raw), self.source_id, self.config)
        if sheet.problems and (self.config.strict if strict is None else strict):
            sheet = Sheet(Batch(), sheet.problems)
        return sheet, hashlib.sha256(raw).hexdigest()

    def pull(self, state: SourceState) -> Iterator[Batch]:
        for path in self.files():
            stream = f"file:{path.name}"
            sheet, digest = self.read(path)
            if state.watermark(self.config.course, stream) == digest:
                continue
            for line, reason in sheet.problems:
                state.report(SourceError(reason, source=self.source_id, endpoint=f"{path.name}:{line}"))
            if sheet.problems and self.config.strict:
                continue  # refused whole, and reported again each run until the file is fixed
            mark = Watermark(source=self.source_id, course=self.config.course, stream=stream, value=digest)
            yield replace(sheet.batch, watermarks=[mark])

    def push(self, attestation: Attestation) -> PushResult:
        raise PermanentSourceError("a sign-in sheet cannot receive pushes", source=self.source_id,
                                   endpoint="push")

    def close(self) -> None:
        """Nothing to release."""
