"""Presence attestations written to Moodle: activity completion override, attendance status.

Each push reads first (already done: nothing sent, so a retry after a crash never sends
twice), writes, then reads back what Moodle's own completion now says.
"""

from __future__ import annotations

from bridge.model import Attestation, PushResult
from connectors.moodle.client import MoodleClient, MoodleError, NotEnrolled
from connectors.moodle.payloads import ActivitiesStatus, AttendanceSession

__all__ = ["push_completion", "push_attendance"]


def _activity_state(client: MoodleClient, course: str, userid: str, cmid: int) -> int | None:
    """The learner's state for one activity; raises NotEnrolled for a non-tracked user."""
    endpoint = "core_completion_get_activities_completion_status"
    status = client.call(endpoint, ActivitiesStatus, courseid=course, userid=userid)
    mine = next((a for a in status.statuses if a.cmid == cmid), None)
    if mine is not None and mine.istrackeduser is False:
        # Moodle would accept an override for a user who is not enrolled (seen on 4.5)
        raise NotEnrolled(f"user {userid} is not enrolled (not tracked) in course {course}",
                          source=client.http.source_id, endpoint=endpoint, code="usernotenroled")
    return mine.state if mine else None


def push_completion(client: MoodleClient, source: str, att: Attestation, cmid: int) -> PushResult:
    """Override the in-person activity complete; Moodle does not check enrolment, we do."""
    before = _activity_state(client, att.course, att.external_id, cmid)
    if before is None:
        raise MoodleError(f"activity {cmid} is not visible for this learner in course {att.course} "
                          "(missing mod/<module>:view or completion tracking off)",
                          source=source, endpoint="core_completion_get_activities_completion_status")
    if before in (1, 2):
        return PushResult(accepted=True, reflected=True, message="already complete; nothing sent",
                          response={"state": before})
    body = client.send("core_completion_override_activity_completion_status",
                       userid=att.external_id, cmid=cmid, newstate=1)
    state = body.get("state") if isinstance(body, dict) else None
    if state != 1:
        # Moodle silently ignores an override on an activity without completion tracking.
        raise MoodleError(f"override not applied (state {state}): is completion tracking on "
                          f"for activity {cmid}?", source=source,
                          endpoint="core_completion_override_activity_completion_status")
    after = _activity_state(client, att.course, att.external_id, cmid)
    return PushResult(accepted=True, reflected=after in (1, 2), message="completion overridden",
                      response={"state": after, "overrideby": body.get("overrideby")})


def push_attendance(client: MoodleClient, source: str, att: Attestation, sessionid: int,
                    taker: int, acronym: str = "P") -> PushResult:
    """Set the learner's status in one session; mod_attendance then updates no completion."""
    endpoint = "mod_attendance_get_session"
    session = client.call(endpoint, AttendanceSession, sessionid=sessionid)
    status = next((s for s in session.statuses
                   if s.acronym == acronym and s.setnumber == session.statusset), None)
    if status is None:
        raise MoodleError(f"session {sessionid} has no status {acronym!r} in set {session.statusset}",
                          source=source, endpoint=endpoint)
    current = {log.studentid: log.statusid for log in session.attendance_log}
    if current.get(int(att.external_id)) == status.id:
        return PushResult(accepted=True, reflected=False, message="status already set; nothing sent",
                          response={"statusid": status.id})
    client.send("mod_attendance_update_user_status", sessionid=sessionid,
                studentid=att.external_id, takenbyid=taker, statusid=status.id,
                statusset=str(session.statusset))
    after = client.call(endpoint, AttendanceSession, sessionid=sessionid)
    recorded = any(log.studentid == int(att.external_id) and log.statusid == status.id
                   for log in after.attendance_log)
    if not recorded:
        raise MoodleError(f"status not recorded for user {att.external_id} in session {sessionid}",
                          source=source, endpoint="mod_attendance_update_user_status")
    # The log is written but the attendance grade and activity completion are not recomputed.
    return PushResult(accepted=True, reflected=False,
                      message="attendance status set; Moodle does not update completion from it",
                      response={"statusid": status.id})
