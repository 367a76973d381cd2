"""The sandbox's ground truth: courses, activities, learners and their progress.
Both dialects render this one model; tests read it to compute expected outcomes."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

# Moodle completion states and tracking modes.
INCOMPLETE, COMPLETE = 0, 1
TRACKING_MANUAL, TRACKING_AUTO = 1, 2


@dataclass(slots=True)
class Activity:
    """One course module (Moodle cm); `block` is its Open edX leaf block id."""

    cmid: int
    instance: int
    modname: str
    name: str
    tracking: int
    criterion: bool
    block: str
    rulename: str | None = None
    rule_description: str = ""
    requirement: str = ""


@dataclass(slots=True)
class AttendanceSession:
    """One in-person meetup ("temps de rencontre") of a mod_attendance instance."""

    id: int
    sessdate: int
    duration: int
    description: str
    place: str
    lasttaken: int = 0
    lasttakenby: int = 0
    timemodified: int = 0


@dataclass(slots=True)
class Course:
    """A hybrid course: online activities plus one attendance activity."""

    id: int
    shortname: str
    fullname: str
    idnumber: str
    key: str  # Open edX course key
    activities: list[Activity]
    attendance_id: int
    statuses: dict[str, int]  # acronym -> status id (instance-specific)
    sessions: list[AttendanceSession]
    startdate: int
    timecreated: int
    has_criteria: bool = True
    category: str = "Formation des enseignants"

    def activity(self, cmid: int) -> Activity | None:
        return next((a for a in self.activities if a.cmid == cmid), None)

    @property
    def attendance_cmid(self) -> int:
        return next(a.cmid for a in self.activities if a.modname == "attendance")


@dataclass(slots=True)
class ActivityState:
    state: int = INCOMPLETE
    timecompleted: int = 0
    overrideby: int | None = None


@dataclass(slots=True)
class Progress:
    """One learner in one course."""

    enrolled: bool = True
    enroltime: int = 0
    lastcourseaccess: int = 0
    activities: dict[int, ActivityState] = field(default_factory=dict)
    criteria_done: dict[int, int] = field(default_factory=dict)  # cmid -> time; never undone
    grade: float | None = None  # quiz grade 0..1
    gradetime: int = 0
    attendance: dict[int, str] = field(default_factory=dict)  # session id -> acronym
    mode: str = "honor"  # Open edX enrollment mode (track)
    visited: set[str] = field(default_factory=set)  # Open edX units opened, by block id
    # Open edX BlockCompletion rows written through the API or on view, by usage key; the
    # last value written wins, and a key need not name a block of the course.
    block_values: dict[str, float] = field(default_factory=dict)

    def state(self, cmid: int) -> ActivityState:
        st = self.activities.get(cmid)
        if st is None:
            st = self.activities[cmid] = ActivityState()
        return st


@dataclass(slots=True)
class Learner:
    id: int
    username: str
    firstname: str
    lastname: str
    email: str
    lang: str
    firstaccess: int = 0
    lastaccess: int = 0
    role: str = "student"
    progress: dict[int, Progress] = field(default_factory=dict)

    @property
    def fullname(self) -> str:
        return f"{self.firstname} {self.lastname}"


@dataclass
class World:
    """Everything the platform knows. Mutate only through the methods below."""

    courses: list[Course]
    learners: list[Learner]
    staff: list[Learner]  # service user first, then teachers
    now: int
    version: int = 0
    by_id: dict[int, Learner] = field(default_factory=dict, repr=False)
    by_username: dict[str, Learner] = field(default_factory=dict, repr=False)
    # Learners holding a Progress in each course, in `learners` order (enrolled or not): what
    # makes a course's roster, grade report or attendance log cost its own size rather than
    # the whole world's (300,000 learners over 100 courses). Built on first use, dropped by
    # `reindex()` and when `learners` grows or a learner gets a Progress in a new course.
    _members: dict[int, list[Learner]] | None = field(default=None, init=False, repr=False)
    _members_of: int = field(default=-1, init=False, repr=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        people = [*self.staff, *self.learners]
        self.by_id = {p.id: p for p in people}
        self.by_username = {p.username: p for p in people}
        self._members = None

    @property
    def service_user(self) -> Learner:
        return self.staff[0]

    @property
    def teachers(self) -> list[Learner]:
        return [p for p in self.staff if p.role == "editingteacher"]

    def course(self, course_id: int) -> Course | None:
        return next((c for c in self.courses if c.id == course_id), None)

    def course_by_key(self, key: str) -> Course | None:
        return next((c for c in self.courses if c.key == key), None)

    def course_of_cmid(self, cmid: int) -> tuple[Course, Activity] | None:
        for c in self.courses:
            a = c.activity(cmid)
            if a is not None:
                return c, a
        return None

    def session(self, session_id: int) -> tuple[Course, AttendanceSession] | None:
        for c in self.courses:
            for s in c.sessions:
                if s.id == session_id:
                    return c, s
        return None

    def enrolled(self, course_id: int) -> list[Learner]:
        return [
            p for p in self._course_members(course_id)
            if (pr := p.progress.get(course_id)) is not None and pr.enrolled
        ]

    def _course_members(self, course_id: int) -> list[Learner]:
        if self._members is None or self._members_of != len(self.learners):
            members: dict[int, list[Learner]] = {}
            for p in self.learners:
                for cid in p.progress:
                    members.setdefault(cid, []).append(p)
            self._members, self._members_of = members, len(self.learners)
        return self._members.get(course_id, [])

    def tick(self) -> int:
        """A timestamp newer than anything in the world so far."""
        self.now = max(self.now + 1, int(time.time()))
        return self.now

    # --- derived truth -------------------------------------------------
    def course_completed(self, learner: Learner, course: Course) -> bool:
        pr = learner.progress.get(course.id)
        if pr is None or not course.has_criteria:
            return False
        return all(a.cmid in pr.criteria_done for a in course.activities if a.criterion)

    def course_timecompleted(self, learner: Learner, course: Course) -> int:
        if not self.course_completed(learner, course):
            return 0
        pr = learner.progress[course.id]
        return max(pr.criteria_done[a.cmid] for a in course.activities if a.criterion)

    def activity_completed(self, learner: Learner, course: Course, cmid: int) -> bool:
        pr = learner.progress.get(course.id)
        st = pr.activities.get(cmid) if pr else None
        return st is not None and st.state in (1, 2)

    def attended(self, learner: Learner, course: Course) -> bool:
        pr = learner.progress.get(course.id)
        return pr is not None and "P" in pr.attendance.values()

    # --- changes -------------------------------------------------------
    def set_activity(
        self, learner: Learner, course: Course, cmid: int, state: int,
        when: int | None = None, overrideby: int | None = None,
    ) -> ActivityState:
        """Set one activity's state; criteria met stay met (real Moodle 4.5, §6.4)."""
        when = when or self.tick()
        pr = learner.progress.get(course.id)
        if pr is None:
            pr = learner.progress[course.id] = Progress(enrolled=False)
            self._members = None  # a new member of the course
        st = pr.state(cmid)
        st.state = state
        st.overrideby = overrideby
        if state in (1, 2):
            st.timecompleted = when
            act = course.activity(cmid)
            if act is not None and act.criterion:
                pr.criteria_done.setdefault(cmid, when)
        self.version += 1
        return st

    def mutate(self, rng: random.Random, n: int) -> list[int]:
        """Advance n enrolled learners one step; each gets a newer lastcourseaccess."""
        pairs = [(p, c) for c in self.courses for p in self.enrolled(c.id)]
        changed: list[int] = []
        for learner, course in rng.sample(pairs, min(n, len(pairs))):
            now = self.tick()
            pr = learner.progress[course.id]
            pending = [a for a in course.activities if a.criterion
                       and not self.activity_completed(learner, course, a.cmid)]
            if pending:
                act = pending[0]
                if act.modname == "attendance":
                    pr.attendance[course.sessions[0].id] = "P"
                    self.set_activity(learner, course, act.cmid, COMPLETE, now,
                                      self.teachers[0].id if self.teachers else None)
                else:
                    if act.modname == "quiz":
                        pr.grade, pr.gradetime = round(rng.uniform(0.55, 1.0), 2), now
                    self.set_activity(learner, course, act.cmid, COMPLETE, now)
            pr.lastcourseaccess = now
            learner.lastaccess = max(learner.lastaccess, now)
            learner.firstaccess = learner.firstaccess or now
            changed.append(learner.id)
        self.version += 1
        return changed
