"""The names a badge's evidence is written with: a course's full name, an activity's name.

Moodle gives facts by id only (a course id, a cmid); the learner's email and badge page say
"Completed “Meetup (in person)” in the course “SNT hybrid course”" instead. Read once per run:
one `core_course_get_courses` call for all configured courses (`options[ids]`, answered by a
real Moodle 4.5.0 with the kit's role: fullname per id) and, when activities or grades are
pulled, one `core_course_get_contents` per course (`excludecontents`; each module's `name`).

Names are a courtesy, not data a rule needs: when the token's service lacks a function, or Moodle
refuses it, the facts go without names and the evidence says what the fact is ("Completed a
course"). `badge-bridge doctor` shows the missing function.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from bridge.errors import SourceError
from bridge.model import Fact, FactKind
from connectors.moodle.client import MoodleClient
from connectors.moodle.payloads import Course, Section

__all__ = ["CourseNames", "read_names"]

# Facts whose item is a course module (cmid): named after the module.
_MODULE_ITEMS = (FactKind.activity_completion, FactKind.grade)


@dataclass
class CourseNames:
    courses: dict[str, str] = field(default_factory=dict)  # course id -> full name
    modules: dict[tuple[str, str], str] = field(default_factory=dict)  # (course, cmid) -> name

    def named(self, facts: Iterable[Fact]) -> list[Fact]:
        """The facts with `course_name` and `item_name` added where known (never overwritten)."""
        out = []
        for f in facts:
            extra: dict[str, str] = {}
            course = self.courses.get(f.course)
            if course and "course_name" not in f.attrs:
                extra["course_name"] = course
            if f.item and f.kind in _MODULE_ITEMS and "item_name" not in f.attrs:
                item = self.modules.get((f.course, f.item))
                if item:
                    extra["item_name"] = item
            out.append(dataclasses.replace(f, attrs={**f.attrs, **extra}) if extra else f)
        return out


def read_names(client: MoodleClient, courses: list[str], *, can_list: bool, modules: bool,
               can_contents: bool) -> CourseNames:
    """Names of `courses` (and of their modules when `modules`); a refusal leaves them out."""
    out = CourseNames()
    ids = [int(c) for c in courses if c.isdigit()]
    if can_list and ids:
        try:
            for c in client.call("core_course_get_courses", list[Course], options={"ids": ids}):
                out.courses[str(c.id)] = c.fullname
        except SourceError:
            pass  # no names: the evidence says what the fact is
    if modules and can_contents:
        for course in courses:
            try:
                sections = client.call("core_course_get_contents", list[Section], courseid=course,
                                       options=[{"name": "excludecontents", "value": 1}])
            except SourceError:
                continue
            out.modules.update({(course, str(m.id)): m.name for s in sections for m in s.modules
                                if m.name})
    return out
