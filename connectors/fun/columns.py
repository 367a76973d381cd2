"""The columns of FUN's instructor reports, by field: Dogwood's own header first, then the
French headers a course team's spreadsheet may carry. Configuration adds to them.

Dogwood's headers: edx-platform named-release/dogwood.3 lms/djangoapps/instructor_task/
tasks_helper.py — `upload_grades_csv` writes id, email, username, grade, the section labels,
Enrollment Track, Verification Status, Certificate Eligible, Certificate Delivered, Certificate
Type; `upload_students_csv` writes the profile features id, username, name, email, language,
location, year_of_birth, gender, level_of_education, mailing_address, goals.
"""

from __future__ import annotations

import unicodedata

__all__ = ["FIELDS", "normal", "SKIPPED"]

FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "user id", "student id", "identifiant", "id utilisateur"),
    "email": ("email", "e-mail", "courriel", "adresse e-mail", "adresse electronique", "mail"),
    "username": ("username", "nom d'utilisateur", "utilisateur", "pseudo"),
    "grade": ("grade", "note", "note finale"),
    "name": ("name", "nom", "nom complet", "full name"),
    "language": ("language", "langue"),
    "enrollment_track": ("enrollment track", "mode d'inscription", "parcours"),
    "certificate_eligible": ("certificate eligible", "eligible au certificat",
                             "admissible au certificat"),
    "certificate_delivered": ("certificate delivered", "certificat delivre"),
    "certificate_type": ("certificate type", "type de certificat"),
}


def normal(header: str) -> str:
    """Headers compared without case, accents or surrounding space."""
    flat = unicodedata.normalize("NFKD", header.strip().lower()).replace("\u2019", "'")
    return "".join(ch for ch in flat if not unicodedata.combining(ch))


# Grade-report columns that are neither a field nor a section grade (never stored), including
# the optional Cohort Name, Team Name and Experiment Group (…) columns.
SKIPPED = {normal(h) for h in ("verification status", "statut de verification", "cohort name",
                               "team name", "cohorte", "equipe")}
