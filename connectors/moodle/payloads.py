"""The shapes of the Moodle web-service answers badge-bridge reads (as recorded on Moodle 4.5).

Only the fields used are declared; Moodle adds others freely, so extra keys are ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SiteInfo", "Course", "EnrolledUser", "UserDetails", "CourseCompletion", "ActivitiesStatus",
]


class _P(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Function(_P):
    name: str


class SiteInfo(_P):
    sitename: str
    userid: int
    siteurl: str
    release: str = ""
    functions: list[_Function] = Field(default_factory=list)


class Course(_P):
    id: int
    shortname: str
    fullname: str
    idnumber: str | None = None
    enablecompletion: int | None = None


class _Role(_P):
    shortname: str


class EnrolledUser(_P):
    id: int
    username: str | None = None
    fullname: str | None = None
    email: str | None = None
    lastcourseaccess: int | None = None
    roles: list[_Role] = Field(default_factory=list)


class UserDetails(_P):
    id: int
    lang: str | None = None
    email: str | None = None


class _Criterion(_P):
    type: int
    complete: bool
    timecompleted: int | None = None


class _CompletionStatus(_P):
    completed: bool
    aggregation: int
    completions: list[_Criterion]


class CourseCompletion(_P):
    completionstatus: _CompletionStatus


class _ActivityStatus(_P):
    cmid: int
    modname: str
    state: int = Field(ge=0, le=3)
    timecompleted: int | None = None
    tracking: int
    overrideby: int | None = None


class ActivitiesStatus(_P):
    statuses: list[_ActivityStatus]
