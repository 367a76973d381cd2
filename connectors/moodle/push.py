"""Presence attestations written to Moodle: activity completion override, attendance status.

Each push reads first (already done: nothing sent, so a retry after a crash never sends
twice), writes, then reads back what Moodle now says.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.errors import FixableSourceError, SourceError
from bridge.model import Attestation, PushResult
from connectors.moodle.client import MoodleClient, MoodleError, NotEnrolled, NotFound
from connectors.moodle.payloads import ActivitiesStatus, AttendanceSession, Section

__all__ = ["push_completion", "push_attendance", "statusset", "activity_state"]


def activity_state(client: MoodleClient, course: str, userid: str, cmid: int) -> int | None:
    """The learner's state for one activity; raises NotEnrolled for a non-tracked user."""
    endpoint = "core_completion_get_activities_completion_status"
    status = client.call(endpoint, ActivitiesStatus, courseid=course, userid=userid)
    mine = next((a for a in status.statuses if a.cmid == cmid), None)
    if mine is not None and mine.istrackeduser is False:
        # Moodle would accept an override for a user who is not enrolled (seen on 4.5)
        raise NotEnrolled(f"user {userid} is not enrolled (not tracked) in course {course}",
                          source=client.http.source_id, endpoint=endpoint, code="usernotenroled")
    return mine.state if mine else None


def _untracked(client: MoodleClient, course: str, cmid: int) -> SourceError:
    """Why an activity is missing from a learner's statuses: not in the course (the route is
    wrong: nothing to retry) or without completion tracking (Moodle 4.5.0 leaves those out)."""
    endpoint = "core_course_get_contents"
    sections = client.call(endpoint, list[Section], courseid=course,
                           options=[{"name": "cmid", "value": cmid}, {"name": "excludecontents", "value": 1}])
    module = next((m for s in sections for m in s.modules if m.id == cmid), None)
    if module is None:
        return NotFound(f"activity {cmid} is not in course {course}", source=client.http.source_id,
                        endpoint=endpoint, fix="correct the push route's course or target")
    return FixableSourceError(f"activity {cmid} ({module.name}) has no completion tracking",
                              source=client.http.source_id, endpoint=endpoint,
                              fix=f"turn on manual completion tracking for activity {cmid} in "
                              f"course {course}")


def push_completion(client: MoodleClient, source: str, att: Attestation, cmid: int,
                    read_after: Callable[[], int | None] | None = None) -> PushResult:
    """Override the in-person activity complete; Moodle does not check enrolment, we do.
    `read_after()`: the activity's state read back by the caller's own read of the learner
    (one read instead of two); None: read here."""
    before = activity_state(client, att.course, att.external_id, cmid)
    if before is None:
        raise _untracked(client, att.course, cmid)
    if before in (1, 2):
        return PushResult(accepted=True, reflected=True, message="already complete; nothing sent",
                          response={"state": before})
    body = client.send("core_completion_override_activity_completion_status",
                       userid=att.external_id, cmid=cmid, newstate=1)
    state = body.get("state") if isinstance(body, dict) else None
    if state != 1:
        # Moodle answers state 0, tracking 0 and changes nothing for an untracked activity.
        raise FixableSourceError(f"override not applied (state {state})", source=source,
                                 endpoint="core_completion_override_activity_completion_status",
                                 fix=f"turn on completion tracking for activity {cmid}")
    after = (read_after or (lambda: activity_state(client, att.course, att.external_id, cmid)))()
    return PushResult(accepted=True, reflected=after in (1, 2), message="completion overridden",
                      response={"state": after, "overrideby": body.get("overrideby")})


def statusset(session: AttendanceSession) -> str:
    """What mod_attendance's own take screen writes in a log row: the ids of the session's
    status set, in the module's order (structure::take_from_form_data, mod_attendance
    2024020500); `mod_attendance_get_session` lists exactly those, in that order."""
    return ",".join(str(s.id) for s in session.statuses if s.setnumber == session.statusset)


def push_attendance(client: MoodleClient, source: str, att: Attestation, sessionid: int,
                    taker: int, acronym: str = "P") -> PushResult:
    """Set the learner's status in one session; mod_attendance then updates no completion."""
    endpoint = "mod_attendance_get_session"
    session = client.call(endpoint, AttendanceSession, sessionid=sessionid)
    status = next((s for s in session.statuses
                   if s.acronym == acronym and s.setnumber == session.statusset), None)
    if status is None:
        raise FixableSourceError(f"session {sessionid} has no status {acronym!r} in its status set",
                                 source=source, endpoint=endpoint,
                                 fix=f"add a status with acronym {acronym} to the attendance "
                                 "activity's status set")
    learner = int(att.external_id)
    if session.users and learner not in {u.id for u in session.users}:
        # update_user_status writes a row for anyone (mod/attendance/externallib.php): check first.
        raise NotEnrolled(f"user {learner} is not among the learners of session {sessionid} (not "
                          "enrolled, or not in the session's group)", source=source,
                          endpoint=endpoint, code="usernotenroled")
    current = {log.studentid: log.statusid for log in session.attendance_log}
    if current.get(learner) == status.id:
        return PushResult(accepted=True, reflected=False, message="status already set; nothing sent",
                          response={"statusid": status.id})
    client.send("mod_attendance_update_user_status", sessionid=sessionid, studentid=learner,
                takenbyid=taker, statusid=status.id, statusset=statusset(session))
    after = client.call(endpoint, AttendanceSession, sessionid=sessionid)
    if not any(log.studentid == learner and log.statusid == status.id for log in after.attendance_log):
        raise MoodleError(f"status not recorded for user {learner} in session {sessionid}",
                          source=source, endpoint="mod_attendance_update_user_status")
    # The log is written but the attendance grade and activity completion are not recomputed.
    return PushResult(accepted=True, reflected=False,
                      message="attendance status set; Moodle does not update completion from it",
                      response={"statusid": status.id})
