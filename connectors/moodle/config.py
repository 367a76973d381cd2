"""The `[sources.<id>]` table of a Moodle source: site, token, courses, what to read and how
often every learner who is not complete is read again whatever the signals say (`recheck`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from bridge.config import HttpSourceConfig
from connectors.push_route import PushRoute

__all__ = ["MoodleConfig"]

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class MoodleConfig(HttpSourceConfig):
    kind: Literal["moodle"] = "moodle"
    url: str = Field(description="the site's base URL, e.g. https://moodle.example.org")
    token: SecretStr = Field(description="a web-service token of a dedicated service user")
    courses: list[str] = Field(default_factory=list, description="course ids; empty = every course")
    learner_roles: list[str] = Field(default_factory=lambda: ["student"])
    page_size: int = Field(1000, ge=1, le=10000)
    activities: bool = True
    grades: bool = True
    attendance: bool = True
    present_statuses: list[str] = Field(default_factory=lambda: ["P", "L"],
                                        description="attendance acronyms that count as presence")
    session_tags: list[str] = Field(default_factory=list,
                                    description="tags given to every attendance session's facts")
    taker_id: int | None = Field(None, description="teacher user id recorded as taker of pushed "
                                 "attendance; default: the token user")
    recheck: timedelta = Field(timedelta(hours=24), description="every learner not yet complete is "
                               "read again within this delay, even without a signal ('24h', '90m', "
                               "'2d'); the reads are spread over the runs")
    completion_report: int | None = Field(None, ge=1, description="id of a custom report on the "
                                          "'Course participants' source listing completed "
                                          "participants: read every run, so a completion made by "
                                          "any path is seen within one sync interval")
    report_page_size: int = Field(1000, ge=1, le=10000)
    push: list[PushRoute] = Field(default_factory=list,
                                  description="presence push-back routes, see jobs.push")

    @field_validator("courses", mode="before")
    @classmethod
    def _courses(cls, v: Any) -> Any:
        return [str(c) for c in v] if isinstance(v, list) else v

    @field_validator("recheck", mode="before")
    @classmethod
    def _recheck(cls, v: Any) -> Any:
        if isinstance(v, str) and (m := _DURATION.match(v)):
            return timedelta(seconds=int(m.group(1)) * _UNIT[m.group(2)])
        if isinstance(v, str):
            raise ValueError("expected a duration such as '24h', '90m' or '2d'")
        return v

    @field_validator("recheck")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v.total_seconds() < 60:
            raise ValueError("must be at least one minute")
        return v
