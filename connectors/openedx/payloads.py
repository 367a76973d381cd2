"""The shapes of the Open edX answers badge-bridge reads (enrollments, grades, completion).

Only the fields used are declared; extra keys are ignored, pagination envelopes vary by API.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CourseList", "EnrollmentPage", "Grade", "GradePage", "AggregatorPage", "Certificate", "Account",
           "Block", "Blocks", "CourseDetail"]


class _P(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Enrollment(_P):
    user: str
    is_active: bool
    mode: str = ""
    created: str | None = None


class EnrollmentPage(_P):
    next: str | None = None
    results: list[_Enrollment]


class Grade(_P):
    """`email` is "" unless the enrollment is in the masters track: never an address source."""

    username: str
    passed: bool
    percent: float = Field(ge=0.0, le=1.0)


class GradePage(_P):
    next: str | None = None
    results: list[Grade]


class _Completion(_P):
    percent: float = Field(ge=0.0, le=1.0)


class _Aggregate(_P):
    username: str
    completion: _Completion


class _Pagination(_P):
    next: str | None = None


class AggregatorPage(_P):
    pagination: _Pagination
    results: list[_Aggregate]


class Certificate(_P):
    username: str
    status: str
    is_passing: bool = True
    certificate_type: str = ""
    created_date: str | None = None


class Account(_P):
    """A staff reader sees `email` and `name`; anyone else only the public fields."""

    username: str
    email: str | None = None
    name: str | None = None


class Block(_P):
    type: str = ""
    display_name: str = ""  # a default field of the Course Blocks API
    children: list[str] = Field(default_factory=list)
    completion: float | None = None  # None on aggregator blocks (course, chapter, …)
    graded: bool = False


class Blocks(_P):
    root: str = ""
    blocks: dict[str, Block]


class CourseDetail(_P):
    """The Course API's detail (course_api/serializers.py CourseSerializer): `name` is the
    course's display name."""

    id: str
    name: str = ""


class CourseList(_P):
    """The Course API's list (course_api/views.py CourseListView): one page of the catalogue."""

    results: list[CourseDetail]
