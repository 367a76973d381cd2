"""What the `fun` connector needs from FUN-MOOC and the course team, each with its check and fix.

FUN's LMS is Open edX Dogwood (openfun/openedx-docker releases/dogwood/3/fun): none of the
current APIs; the per-learner grade of fun-apps (grades_api/api.py) takes FUN's API key.
"""

from __future__ import annotations

from connectors.requirements import Requirement, index

__all__ = ["REQUIREMENTS", "NEEDS", "NO_PUSH"]

REQUIREMENTS = (
    Requirement(
        "reports", "endpoint", "instructor dashboard reports", "pull",
        "reports_dir holds the course's grade report ({org}_{course}_{run}_grade_report_*.csv) "
        "and profile report (…_student_profile_info_*.csv)",
        "a member of the course team opens the LMS's Instructor tab > Data Download, clicks "
        "\"Generate Grade Report\" and \"Download profile information as a CSV\", and drops both "
        "files in reports_dir (or runs badge-bridge reports import FILE --source ID)"),
    Requirement(
        "api_key", "credential", "EDX_API_KEY (X-Edx-Api-Key)", "per-learner grades",
        "GET /fun/api/grades/{course}/{username}/ answers 200 with the key (403 without)",
        "ask FUN-MOOC for an API key for the course's grades (fun-apps grades_api) and set "
        "api_key = { env = \"…\" }", optional=True),
)

NEEDS = index(REQUIREMENTS)

NO_PUSH = ("FUN-MOOC runs Open edX Dogwood, which has no completion write API (no "
           "completion-batch): presence cannot be pushed back to a fun source. Remove this "
           "route; presence recorded in badge-bridge still counts in rules")
