"""Moodle gradebook and mod_attendance functions over the World, shaped like the
payloads recorded on a real Moodle 4.5.6 with mod_attendance 2024020500."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .moodle_fns import MoodleError, get_course, get_user, missing_record, not_enrolled, to_int
from .world import AttendanceSession, Course, Learner

if TYPE_CHECKING:
    from .server import SandboxPlatform

STATUS_TEXT = {"P": ("Present", 2), "A": ("Absent", 0), "L": ("Late", 1), "E": ("Excused", 1)}


# --- grades ------------------------------------------------------------------
def _fmt(value: float | None, scale: float) -> tuple[Any, str, str]:
    if value is None:
        return None, "-", "-"
    raw = round(value * scale, 2)
    return raw, f"{raw:.2f}", f"{value * 100:.2f} %"


def _grade_item(item_id: int, name: str | None, module: str | None, instance: int,
                cmid: int | None, value: float | None, scale: int, when: int | None,
                weight: int | None) -> dict[str, Any]:
    raw, fmt, pct = _fmt(value, scale)
    item: dict[str, Any] = {
        "id": item_id, "itemname": name, "itemtype": "mod" if module else "course",
        "itemmodule": module, "iteminstance": instance, "itemnumber": 0 if module else None,
        "idnumber": "" if module == "quiz" else None, "categoryid": 2 if module else None,
        "outcomeid": None, "scaleid": None, "locked": False}
    if cmid is not None:
        item["cmid"] = cmid
    if weight is not None:
        item.update(weightraw=weight, weightformatted=f"{weight * 100:.2f} %")
        if value is None:
            item["status"] = "novalue"
    item.update({
        "graderaw": raw, "gradedatesubmitted": None,
        "gradedategraded": when if value is not None else None, "gradehiddenbydate": False,
        "gradeneedsupdate": False, "gradeishidden": False, "gradeislocked": False,
        "gradeisoverridden": False, "gradeformatted": fmt, "grademin": 0, "grademax": scale,
        "rangeformatted": f"0&ndash;{scale}", "percentageformatted": pct, "feedback": "",
        "feedbackformat": 2})
    return item


def _user_grades(c: Course, u: Learner) -> dict[str, Any]:
    pr = u.progress.get(c.id)
    grade = pr.grade if pr else None
    when = pr.gradetime if pr else None
    acts = {a.modname: a for a in c.activities}
    quiz, att = acts["quiz"], acts["attendance"]
    graded = grade is not None
    items = [
        _grade_item(c.id * 10 + 1, quiz.name, "quiz", quiz.instance, quiz.cmid, grade, 10,
                    when, 1 if graded else None),
        _grade_item(c.id * 10 + 2, att.name, "attendance", att.instance, att.cmid, None, 100,
                    None, 0 if graded else None),
        _grade_item(c.id * 10, None, None, c.attendance_id, None, grade, 100, when, None),
    ]
    return {"courseid": c.id, "courseidnumber": c.idnumber, "userid": u.id,
            "userfullname": u.fullname, "useridnumber": "", "maxdepth": 2, "gradeitems": items}


def grade_items(p: SandboxPlatform, courseid: int, userid: int, groupid: int) -> dict[str, Any]:
    c = get_course(p, courseid)
    if userid:
        u = get_user(p, userid)
        pr = u.progress.get(c.id)
        if pr is None or not pr.enrolled:
            raise not_enrolled()
        users = [u]
    else:
        users = p.world.enrolled(c.id)
    return {"usergrades": [_user_grades(c, u) for u in users], "warnings": []}


# --- mod_attendance ----------------------------------------------------------
def _session_core(c: Course, s: AttendanceSession) -> dict[str, Any]:
    return {"id": s.id, "attendanceid": c.attendance_id, "groupid": 0, "sessdate": s.sessdate,
            "duration": s.duration, "lasttaken": s.lasttaken, "lasttakenby": s.lasttakenby,
            "timemodified": s.timemodified,
            "description": f"{s.description}<p>Lieu : {s.place}</p>", "descriptionformat": 1,
            "studentscanmark": 0, "absenteereport": 1, "autoassignstatus": 0,
            "preventsharedip": 0, "preventsharediptime": None, "statusset": 0,
            "includeqrcode": 0, "studentsearlyopentime": 0}


def session_full(p: SandboxPlatform, c: Course, s: AttendanceSession) -> dict[str, Any]:
    learners = p.world.enrolled(c.id)
    logs = []
    for u in learners:
        acr = u.progress[c.id].attendance.get(s.id)
        if acr is not None:
            sid = c.statuses.get(acr, to_int(acr.lstrip("#")))
            logs.append({"studentid": u.id, "statusid": str(sid), "remarks": None,
                         "id": str(s.id * 100000 + u.id)})
    order = ("P", "L", "E", "A")
    return {**_session_core(c, s), "courseid": c.id,
            "statuses": [{"id": c.statuses[k], "attendanceid": c.attendance_id, "acronym": k,
                          "description": STATUS_TEXT[k][0], "grade": STATUS_TEXT[k][1],
                          "visible": 1, "deleted": 0, "setnumber": 0} for k in order],
            "attendance_log": logs,
            "users": [{"id": u.id, "firstname": u.firstname, "lastname": u.lastname}
                      for u in learners]}


def att_sessions(p: SandboxPlatform, attendanceid: int) -> list[dict[str, Any]]:
    c = next((c for c in p.world.courses if c.attendance_id == attendanceid), None)
    if c is None:  # get_coursemodule_from_instance(): no table named (Moodle 4.5.0)
        raise MoodleError("dml_missing_record_exception", "invalidrecordunknown",
                          "Can't find data record in database.")
    return [session_full(p, c, s) for s in c.sessions]


def att_session(p: SandboxPlatform, sessionid: int) -> dict[str, Any]:
    found = p.world.session(sessionid)
    if found is None:
        raise missing_record("attendance_sessions")
    return session_full(p, *found)


def att_add_session(p: SandboxPlatform, attendanceid: int, sessiontime: int, description: str,
                    duration: int, groupid: int, addcalendarevent: int) -> dict[str, Any]:
    c = next((c for c in p.world.courses if c.attendance_id == attendanceid), None)
    if c is None:
        raise missing_record("attendance")
    new_id = max(s.id for cc in p.world.courses for s in cc.sessions) + 1
    c.sessions.append(AttendanceSession(new_id, sessiontime, duration, description, ""))
    p.record_push({"kind": "moodle.add_session", "attendanceid": attendanceid,
                   "sessionid": new_id, "sessiontime": sessiontime, "time": p.world.tick()})
    return {"sessionid": new_id}


def att_update_status(p: SandboxPlatform, sessionid: int, studentid: int, takenbyid: int,
                      statusid: int, statusset: str) -> None:
    found = p.world.session(sessionid)
    if found is None:
        raise missing_record("attendance_sessions")
    c, s = found
    now = p.world.tick()
    acr = next((k for k, v in c.statuses.items() if v == statusid), f"#{statusid}")
    u = p.world.by_id.get(studentid)
    if u is not None and c.id in u.progress:
        u.progress[c.id].attendance[s.id] = acr
    s.lasttaken, s.lasttakenby, s.timemodified = now, takenbyid, now
    p.world.version += 1
    p.record_push({"kind": "moodle.attendance", "sessionid": sessionid, "studentid": studentid,
                   "takenbyid": takenbyid, "statusid": statusid, "acronym": acr,
                   "statusset": statusset, "courseid": c.id, "time": now})
    return None


def att_today(p: SandboxPlatform, userid: int) -> list[dict[str, Any]]:
    u = p.world.by_id.get(userid)
    if u is None or u.role != "editingteacher":
        return []
    day = p.world.now // 86400
    out = []
    for c in p.world.courses:
        today = [_session_core(c, s) for s in c.sessions if s.sessdate // 86400 == day]
        if today:
            inst = next(a for a in c.activities if a.modname == "attendance")
            out.append({"shortname": c.shortname, "fullname": c.fullname,
                        "attendance_instances": [{"name": inst.name, "today_sessions": today}]})
    return out
