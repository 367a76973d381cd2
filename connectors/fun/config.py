"""The `[sources.<id>]` table of a `fun` source: FUN-MOOC's instructor reports dropped in a
folder, and per-learner grades where FUN granted an API key.

`kind = "fun"` used to mean "Open edX with FUN's defaults" (OAuth2 client credentials, the
current APIs); a table written for that meaning is refused with what changed and how to move.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bridge.config import HttpSourceConfig
from connectors.edx_common import check_course_keys
from connectors.fun.columns import FIELDS

__all__ = ["FunConfig", "MIGRATION"]

# Keys of the former meaning: what the Open edX APIs needed, which Dogwood does not have.
_FORMER = ("client_id", "client_secret", "blocks", "completion", "certificates", "page_size",
           "push", "certificate_wait")
MIGRATION = (
    'kind = "fun" changed meaning: FUN-MOOC\'s LMS runs Open edX Dogwood, which has none of the '
    "APIs the former fun kind called (enrollment list, grades v1, completion, JWT tokens), so a "
    "fun source now reads the instructor dashboard's CSV reports and, with FUN's API key, "
    "per-learner grades. To migrate: remove {keys}; add reports_dir = \"<folder where the course "
    "team drops the grade and profile reports>\" (and api_key = { env = \"…\" } if FUN granted "
    'one). If this instance runs a current Open edX, write kind = "openedx" instead and keep '
    "these keys; see docs/connectors.md")


class FunConfig(HttpSourceConfig):
    kind: Literal["fun"] = "fun"
    url: str = Field("https://lms.fun-mooc.fr", description="the LMS, for per-learner grades")
    api_key: SecretStr | None = Field(None, description="FUN's X-Edx-Api-Key: per-learner grades "
                                      "(GET /fun/api/grades/{course}/{username}/)")
    courses: list[str] = Field(min_length=1, description="course keys: ORG/NUMBER/RUN or "
                               "course-v1:ORG+NUMBER+RUN")
    reports_dir: Path | None = Field(None, description="folder of the instructor dashboard's "
                                     "CSV reports, read at each sync")
    report_retention_days: int = Field(0, ge=0, description="days a report file is kept after "
                                       "a successful import (0: deleted at once; it holds "
                                       "personal data)")
    columns: dict[str, str] = Field(default_factory=dict, description="column of the files for "
                                    "a field when the defaults do not find it, e.g. "
                                    "{ email = \"Adresse\" }")
    # The learners' language when the profile report gives none: any tag (de, pt-BR…).
    default_lang: str = "fr"

    @model_validator(mode="before")
    @classmethod
    def _former_meaning(cls, data: Any) -> Any:
        if isinstance(data, dict):
            former = [k for k in _FORMER if k in data]
            if former:  # a custom error: the message is shown as written, without a prefix
                raise PydanticCustomError("former_fun_meaning", MIGRATION,
                                          {"keys": ", ".join(former)})
        return data

    @field_validator("courses")
    @classmethod
    def _keys(cls, v: list[str]) -> list[str]:
        return check_course_keys(v)

    @field_validator("columns")
    @classmethod
    def _columns(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
        return v
