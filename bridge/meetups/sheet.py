"""The sign-in sheet's CSV: the printed sheet's rows, typed back, for `presence import`.

Its header is one the sheet reader (connectors.csv) knows, in the sheet's language; the
session, title, place and date are filled in, the people's cells are left to type.
"""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from bridge.store import MeetupSession

__all__ = ["HEADERS", "sheet_csv"]

# Header words the sheet reader recognises (connectors.csv._COLUMNS), per language.
HEADERS = {
    "fr": ["Séance", "Titre", "Lieu", "Date", "Nom et prénom", "Courriel", "Présent·e"],
    "en": ["Session", "Title", "Place", "Date", "Full name", "Email", "Present"],
}
ROWS = 25


def sheet_csv(session: MeetupSession, lang: str) -> str:
    """Semicolon-separated (what a French spreadsheet opens), with a BOM so that it reads the
    accents as UTF-8; one numbered row per line of the printed sheet."""
    day = session.starts_at.astimezone(ZoneInfo(session.timezone)).date().isoformat()
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS.get(lang, HEADERS["en"]))
    for _ in range(ROWS):
        writer.writerow([_cell(session.id), _cell(session.title), _cell(session.where), day, "", "", ""])
    return out.getvalue()


def _cell(text: str) -> str:
    """A text a spreadsheet will not run as a formula (=, +, -, @ first)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text
