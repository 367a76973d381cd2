"""Reading FUN's instructor reports (CSV) into one batch: the grade report gives enrolments,
grades and delivered certificates; the profile report gives names. A file with one bad row is
refused whole, each problem as `file:line: column …`.

Which course a file is about comes from its name, as the dashboard writes it
(`{org}_{course}_{run}_grade_report_{YYYY-MM-DD-HHMM}.csv`, `upload_csv_to_report_store` in
Dogwood's tasks_helper.py), or is given by the caller.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from bridge.addresses import email_address
from bridge.errors import InvalidAddress, SourceError
from bridge.model import AttrValue, Batch, Fact, FactKind, Identity
from connectors.fun.columns import FIELDS, SKIPPED, normal

__all__ = ["Report", "ReportRefused", "read_report", "course_prefix", "course_of", "strip_email",
           "digest"]

_LANG = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*")
YES, NO = {"y", "yes", "o", "oui", "1", "true"}, {"n", "no", "non", "0", "false", ""}


class ReportRefused(SourceError):
    """A report not imported at all: each problem is (line, text), line 1 being the header."""

    def __init__(self, file: str, problems: list[tuple[int, str]], *, source: str) -> None:
        self.file, self.problems = file, problems
        super().__init__("; ".join(f"{file}:{line}: {text}" for line, text in problems[:5])
                         + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
                         source=source, endpoint=file)

    def lines(self) -> list[str]:
        return [f"{self.file}:{line}: {text}" for line, text in self.problems]


@dataclass(frozen=True)
class Report:
    """A parsed report: its kind, course, learners and the batch to store."""

    kind: str  # "grades" or "profiles"
    course: str
    batch: Batch
    rows: int
    passed: frozenset[str]  # learners the report shows eligible for a certificate


def course_prefix(key: str) -> str:
    """course_filename_prefix_generator: org, course and run joined by "_"."""
    parts = key[len("course-v1:"):].split("+") if key.startswith("course-v1:") else key.split("/")
    return "_".join(parts)


def course_of(path: Path, courses: list[str]) -> str | None:
    """The configured course whose prefix starts the file's name (longest match), else the only
    course configured, else None."""
    named = [c for c in courses if path.name.startswith(course_prefix(c) + "_")]
    if named:
        return max(named, key=len)
    return courses[0] if len(courses) == 1 else None


def digest(path: Path) -> str:
    """The file's sha256: an unchanged file is not imported twice."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path: Path) -> tuple[list[list[str]], type[csv.Dialect]]:
    """The file's rows and its dialect (`,` as FUN writes it, `;` or tab once re-saved)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # a spreadsheet on Windows re-saved it
    # The header's most frequent separator: csv.Sniffer takes the apostrophe of a French
    # header ("Nom d'utilisateur") for a quote character.
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    dialect = type("ReportDialect", (csv.excel,), {"delimiter": delimiter})
    return list(csv.reader(io.StringIO(text), dialect)), dialect


def _columns(header: list[str], extra: dict[str, str]) -> dict[str, int]:
    """Field -> column index, from the configured names first, then the known headers."""
    index = {normal(h): i for i, h in enumerate(header)}
    out: dict[str, int] = {}
    for field, names in FIELDS.items():
        for name in ((extra[field],) if field in extra else ()) + names:
            if normal(name) in index:
                out[field] = index[normal(name)]
                break
    return out


def _fraction(text: str) -> float:
    value = float(text.strip().replace(",", "."))
    if not 0.0 <= value <= 1.0:
        raise ValueError
    return value


def read_report(path: Path, course: str, *, source: str, columns: dict[str, str],
                default_lang: str) -> Report:
    """Parse one report; ReportRefused lists every problem and nothing is kept."""
    name = str(path)
    rows, _ = _rows(path)
    if not rows:
        raise ReportRefused(name, [(1, "empty file")], source=source)
    header, cols = rows[0], _columns(rows[0], columns)
    kind = "grades" if "grade" in cols else "profiles" if "name" in cols else ""
    needed = ("username", "email", "grade") if kind == "grades" else ("username", "email", "name")
    missing = [f for f in needed if f not in cols]
    if not kind or missing:
        raise ReportRefused(name, [(1, "not a FUN report: expected the grade report's columns "
                                    "(id, email, username, grade, …) or the profile report's "
                                    "(id, username, name, email, …); missing "
                                    f"{', '.join(missing or needed)} — name them with "
                                    "`columns` in the source's config")], source=source)
    used = set(cols.values())
    sections = [i for i, h in enumerate(header) if kind == "grades" and i not in used
                and normal(h) not in SKIPPED and not normal(h).startswith("experiment group")]
    identities: dict[str, Identity] = {}
    facts: list[Fact] = []
    passed: set[str] = set()
    problems: list[tuple[int, str]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append((line, f"{len(row)} columns where the header has {len(header)}"))
            continue

        def cell(field: str, row: list[str] = row) -> str:
            return row[cols[field]].strip() if field in cols else ""

        user = cell("username")
        if not user:
            problems.append((line, f"column {header[cols['username']]}: empty username"))
            continue
        try:  # empty: a learner without an address, as the platform may have
            email = email_address(cell("email")) if cell("email") else None
        except InvalidAddress as exc:
            problems.append((line, f"column {header[cols['email']]}: {cell('email')!r} is not an "
                                   f"email address ({exc.reason})"))
            continue
        lang = cell("language")  # free text in a Dogwood profile: kept only if it is a tag
        identities[user] = Identity(source=source, external_id=user, username=user, email=email,
                                    fullname=cell("name") or None,
                                    lang=lang.lower() if _LANG.fullmatch(lang) else default_lang)
        if kind == "profiles":
            continue
        try:
            grade = _fraction(cell("grade"))
        except ValueError:
            problems.append((line, f"column {header[cols['grade']]}: {cell('grade')!r} is not a "
                                   "grade between 0 and 1"))
            continue
        flags = {}
        for field in ("certificate_eligible", "certificate_delivered"):
            value = cell(field).lower()
            if value not in YES | NO:
                problems.append((line, f"column {header[cols[field]]}: {cell(field)!r} is not "
                                       "Y or N"))
            flags[field] = value in YES
        attrs: dict[str, AttrValue] = {"track": cell("enrollment_track")}
        for i in sections:
            try:
                attrs[f"section:{header[i].strip()}"] = _fraction(row[i]) if row[i].strip() else 0.0
            except ValueError:
                problems.append((line, f"column {header[i]}: {row[i]!r} is not a grade between "
                                       "0 and 1"))
        if problems and problems[-1][0] == line:
            continue
        ok = flags["certificate_eligible"]
        passed |= {user} if ok else set()
        facts += [Fact(source=source, external_id=user, kind=FactKind.enrolment, course=course,
                       value=1.0, status="enrolled", attrs={"track": cell("enrollment_track")}),
                  Fact(source=source, external_id=user, kind=FactKind.grade, course=course,
                       value=grade, status="passed" if ok else "failed", attrs=attrs)]
        if flags["certificate_delivered"]:
            facts.append(Fact(source=source, external_id=user, kind=FactKind.certificate,
                              course=course, value=1.0, status="downloadable",
                              attrs={"type": cell("certificate_type")}))
    if problems:
        raise ReportRefused(name, problems, source=source)
    return Report(kind, course, Batch(identities=list(identities.values()), facts=facts),
                  len(identities), frozenset(passed))


def strip_email(path: Path, email: str, columns: dict[str, str]) -> int:
    """Remove the rows carrying `email` from a report file (rewritten in its own dialect);
    returns how many were removed."""
    rows, dialect = _rows(path)
    if not rows:
        return 0
    col = _columns(rows[0], columns).get("email")
    if col is None:
        return 0
    target = email.strip().lower()
    kept = [rows[0]] + [r for r in rows[1:] if len(r) <= col or r[col].strip().lower() != target]
    removed = len(rows) - len(kept)
    if removed:
        out = io.StringIO()
        csv.writer(out, dialect).writerows(kept)
        path.write_text(out.getvalue(), encoding="utf-8")
    return removed
