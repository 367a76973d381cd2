"""The badge-bridge config the client-side benches sync with: one Moodle source on a
RemoteSandbox, one badge per course, SQLite in a folder (or `database_url`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_config(folder: Path, sb: Any, *, parallel: int = 4, smtp_port: int = 0,
                 database_url: str | None = None, timeout: float = 300) -> Path:
    """`timeout`: the sandbox builds a 100k-learner grade report (~200 MB) before answering."""
    (folder / "rules").mkdir(parents=True, exist_ok=True)
    for n, course in enumerate(sb.course_ids):
        (folder / "rules" / f"course-{n}.toml").write_text(f'''[badge]
id = "course-{n}"
name = {{ fr = "Cours {course} terminé", en = "Course {course} completed" }}
description = {{ fr = "A terminé le cours {course}.", en = "Completed course {course}." }}

[condition]
course_completed = {{ source = "sandbox", course = "{course}" }}
''', encoding="utf-8")
    db = f'database_url = "{database_url}"\n' if database_url else ""
    path = folder / "bench.toml"
    path.write_text(f'''[bridge]
public_url = "http://127.0.0.1:8000"
data_dir = "{folder / 'state'}"
rules_dir = "{folder / 'rules'}"
{db}
[smtp]
port = {smtp_port or 2525}

[sources.sandbox]
kind = "moodle"
url = "{sb.base_url}"
token = "{sb.token}"
courses = {json.dumps(sb.course_ids)}
parallel = {parallel}
timeout = {timeout}
''', encoding="utf-8")
    return path
