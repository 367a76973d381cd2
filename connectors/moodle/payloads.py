"""The shapes of the Moodle web-service answers badge-bridge reads (as recorded on Moodle 4.5).

Only the fields used are declared; Moodle adds others freely, so extra keys are ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SiteInfo", "Course", "EnrolledUser", "UserDetails", "CourseCompletion", "ActivitiesStatus",
    "GradeItems", "UserGrades", "Section", "AttendanceSession", "ReportPage",
]


class _P(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Function(_P):
    name: str


class SiteInfo(_P):
    sitename: str
    userid: int
    username: str = ""
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
    istrackeduser: bool | None = None  # Moodle >= 3.11; false for a user not enrolled


class ActivitiesStatus(_P):
    statuses: list[_ActivityStatus]


class _GradeItem(_P):
    itemtype: str
    cmid: int | None = None
    graderaw: float | None = None
    grademin: float = 0.0
    grademax: float = 0.0
    gradedategraded: int | None = None


class UserGrades(_P):
    userid: int
    gradeitems: list[_GradeItem]


class GradeItems(_P):
    usergrades: list[UserGrades]


class _Module(_P):
    id: int
    instance: int
    modname: str
    name: str = ""
    completion: int = 0  # tracking: 0 none, 1 manual, 2 automatic


class Section(_P):
    modules: list[_Module] = Field(default_factory=list)


class _Status(_P):
    id: int
    acronym: str
    setnumber: int = 0


class _Log(_P):
    studentid: int
    statusid: int  # a string on the wire (PARAM_TEXT); pydantic coerces it


class _SessionUser(_P):
    id: int


class AttendanceSession(_P):
    id: int
    sessdate: int
    duration: int = 0
    description: str = ""
    statusset: int = 0
    courseid: int | None = None
    statuses: list[_Status] = Field(default_factory=list)
    attendance_log: list[_Log] = Field(default_factory=list)
    users: list[_SessionUser] = Field(default_factory=list)  # who may be marked (enrolled)


class _ReportDetails(_P):
    name: str = ""
    source: str
    conditiondata: str | None = None


class _ReportRow(_P):
    columns: list[str | int | float | bool | None]


class _ReportData(_P):
    rows: list[_ReportRow]
    totalrowcount: int


class ReportPage(_P):
    """One page of `core_reportbuilder_retrieve_report` (cells are formatted text or HTML)."""

    details: _ReportDetails
    data: _ReportData
