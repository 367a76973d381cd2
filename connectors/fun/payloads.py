"""FUN's per-learner grade (fun-apps grades_api/api.py): Dogwood's grade summary plus `passed`.

Only the fields used are declared: `grade` is the letter of the cutoff reached, null below it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FunGrade"]


class FunGrade(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    passed: bool
    percent: float = Field(ge=0.0, le=1.0)
    grade: str | None = None
