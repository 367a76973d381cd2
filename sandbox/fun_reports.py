"""The instructor dashboard's CSV reports as FUN-MOOC's Dogwood LMS writes them: the grade
report and the enrolled students' profile report.

Columns, values and file names follow edx-platform named-release/dogwood.3
lms/djangoapps/instructor_task/tasks_helper.py (`upload_grades_csv`, `upload_students_csv`,
`upload_csv_to_report_store`) and instructor/views/api.py (the profile report's features).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .edx_http import certificate_issued_at, passed
from .world import Course

if TYPE_CHECKING:
    from .server import SandboxPlatform

PROFILE_FEATURES = ["id", "username", "name", "email", "language", "location", "year_of_birth",
                    "gender", "level_of_education", "mailing_address", "goals"]


def _text(value: Any) -> str:
    """ReportStore writes unicode(item): None becomes "None", floats keep their repr."""
    return str(value)


def grade_rows(p: SandboxPlatform, c: Course) -> list[list[str]]:
    """Header + one row per active enrollment: id, email, username, grade (the percent),
    the grader's section labels, Enrollment Track, Verification Status, then
    certificate_info_for_user's Eligible (Y/N), Delivered (Y/N) and Type (mode or N/A)."""
    labels = ["Quiz"]
    rows = [["id", "email", "username", "grade", *labels, "Enrollment Track",
             "Verification Status", "Certificate Eligible", "Certificate Delivered",
             "Certificate Type"]]
    for u in p.world.enrolled(c.id):
        pr = u.progress[c.id]
        percent = round(float(pr.grade or 0.0), 2)
        delivered = certificate_issued_at(p, c, u) is not None
        rows.append([_text(x) for x in (
            u.id, u.email, u.username, percent, percent, pr.mode, "N/A",
            "Y" if passed(c, u) else "N", "Y" if delivered else "N",
            pr.mode if delivered else "N/A")])
    return rows


def profile_rows(p: SandboxPlatform, c: Course) -> list[list[str]]:
    """Header (the feature names themselves) + one row per active enrollment."""
    rows = [list(PROFILE_FEATURES)]
    for u in p.world.enrolled(c.id):
        values = {"id": u.id, "username": u.username, "name": u.fullname, "email": u.email,
                  "language": "", "location": ""}
        rows.append([_text(values.get(f)) for f in PROFILE_FEATURES])
    return rows


def course_prefix(key: str) -> str:
    """course_filename_prefix_generator: org, course and run joined by "_"."""
    parts = key[len("course-v1:"):].split("+") if key.startswith("course-v1:") else key.split("/")
    return "_".join(parts)


def to_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, dialect="excel").writerows(rows)
    return out.getvalue()


def write_reports(p: SandboxPlatform, folder: Path, when: datetime | None = None) -> list[Path]:
    """Both reports of every course, named as the dashboard names its downloads."""
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%d-%H%M")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for c in p.world.courses:
        for name, rows in (("grade_report", grade_rows(p, c)),
                           ("student_profile_info", profile_rows(p, c))):
            path = folder / f"{course_prefix(c.key)}_{name}_{stamp}.csv"
            path.write_text(to_csv(rows), encoding="utf-8")
            written.append(path)
    return written
