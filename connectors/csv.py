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
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from bridge.config import SourceConfig
from bridge.errors import PermanentSourceError, SourceError
from bridge.model import (
    Attestation,
    Batch,
    Fact,
    FactKind,
    Identity,
    PushResult,
    Watermark,
    normalise_email,
)
from connectors.base import SourceState
from connectors.push_route import PushRoute

__all__ = ["CsvConfig", "CsvConnector", "Sheet", "parse_sheet"]

PRESENT = {"present", "présent", "présente", "p", "1", "yes", "oui", "x", "late", "l", "en retard"}
ABSENT = {"absent", "absente", "a", "0", "no", "non", "excused", "excusé", "excusée", "e", ""}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ALIASES = {"email": ("email", "e-mail", "mail", "courriel"), "name": ("name", "nom", "fullname"),
            "session": ("session", "session_id", "séance"), "date": ("date", "session_date"),
            "place": ("place", "lieu"), "status": ("status", "statut", "présence", "presence"),
            "tags": ("tags", "étiquettes"), "title": ("title", "titre")}


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


def _date(text: str) -> datetime:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return datetime.fromisoformat(text).astimezone(UTC)  # raises ValueError with a clear text


def parse_sheet(text: str, source: str, config: CsvConfig) -> Sheet:
    """Rows -> identities and presence facts; every bad row is one (line, reason) problem."""
    try:
        dialect: type[csv.Dialect] = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    cols = {k: next((header[a] for a in names if a in header), None) for k, names in _ALIASES.items()}
    if cols["email"] is None or cols["status"] is None or (cols["session"] is None and cols["date"] is None):
        return Sheet(Batch(), [(1, "header must name email, status, and session or date (+ place)")])
    identities: dict[str, Identity] = {}
    facts: dict[tuple[str, str], Fact] = {}
    problems: list[tuple[int, str]] = []
    for row in reader:
        line = reader.line_num

        def cell(key: str, row: dict[str, str | None] = row) -> str:
            col = cols[key]
            return (row.get(col) or "").strip() if col else ""

        email = normalise_email(cell("email"))
        status = cell("status").lower()
        if not email or not _EMAIL.match(email):
            problems.append((line, f"email {cell('email')!r} is not an email address"))
            continue
        if status not in PRESENT | ABSENT:
            problems.append((line, f"status {cell('status')!r} is not one of present/absent (P/A, oui/non, 1/0)"))
            continue
        try:
            when = _date(cell("date")) if cell("date") else None
        except ValueError:
            problems.append((line, f"date {cell('date')!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)"))
            continue
        session = cell("session") or (f"{when:%Y-%m-%d}@{_slug(cell('place'))}" if when else "")
        if not session:
            problems.append((line, "no session id and no date"))
            continue
        tags = sorted({*config.tags, *(t.strip().lower() for t in cell("tags").split(",") if t.strip())})
        identities[email] = Identity(source=source, external_id=email, email=email,
                                     fullname=cell("name") or None)
        present = status in PRESENT
        facts[(email, session)] = Fact(
            source=source, external_id=email, kind=FactKind.presence, course=config.course,
            item=session, value=1.0 if present else 0.0, status="present" if present else "absent",
            occurred_at=when, attrs={"session_date": when.isoformat() if when else "",
                                     "place": cell("place"), "tags": tags, "title": cell("title")})
    return Sheet(Batch(identities=list(identities.values()), facts=list(facts.values())), problems)


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

    def read(self, path: Path, strict: bool | None = None) -> tuple[Sheet, str]:
        """The parsed sheet and its content hash; with `strict`, a bad row empties the batch."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise PermanentSourceError(f"cannot read: {exc.strerror}", source=self.source_id,
                                       endpoint=str(path)) from None
        sheet = parse_sheet(raw.decode("utf-8-sig", errors="replace"), self.source_id, self.config)
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
