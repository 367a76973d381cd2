"""Moodle's report builder over the World: the one custom report the sandbox holds, on the
'Course participants' source, listing completed participants (shaped like the answer recorded
on Moodle 4.5.0, tests/fixtures/moodle-real-4.5.0/reads/core_reportbuilder_retrieve_report)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .moodle_fns import missing_record

if TYPE_CHECKING:
    from .server import SandboxPlatform

REPORT_ID = 1
HEADERS = ["Full name with link", "Course full name with link", "Time completed"]


def _userdate(ts: int) -> str:
    """Moodle's strftimedatetime in English: 'Sunday, 29 November 2026, 8:13 PM'."""
    d = datetime.fromtimestamp(ts, UTC)
    return f"{d:%A}, {d.day} {d:%B %Y}, {d.hour % 12 or 12}:{d:%M %p}"


def retrieve_report(p: SandboxPlatform, reportid: int, page: int, perpage: int) -> dict[str, Any]:
    if reportid != REPORT_ID:
        raise missing_record("reportbuilder_report")
    w = p.world
    rows = [(u, c) for c in w.courses for u in w.enrolled(c.id) if w.course_completed(u, c)]
    rows.sort(key=lambda uc: (uc[1].id, uc[0].id))
    created = w.courses[0].timecreated
    admin = {"id": 2, "email": "admin@example.org", "idnumber": "", "phone1": "", "phone2": "",
             "department": "", "institution": "", "fullname": "Admin User",
             "identity": "admin@example.org", "profileurl": f"{p.base_url}/user/profile.php?id=2",
             "profileimageurl": f"{p.base_url}/theme/image.php/boost/core/{created}/u/f1",
             "profileimageurlsmall": f"{p.base_url}/theme/image.php/boost/core/{created}/u/f2"}
    return {
        "details": {"name": "badge-bridge completions",
                    "source": "core_course\\reportbuilder\\datasource\\participants", "type": 0,
                    "uniquerows": False, "conditiondata": '{"completion:completed_operator":1}',
                    "settingsdata": None, "contextid": 1, "component": "", "area": "", "itemid": 0,
                    "usercreated": 2, "id": REPORT_ID, "timecreated": created,
                    "timemodified": created, "usermodified": 2, "sourcename": "Course participants",
                    "tags": [], "modifiedby": admin},
        "data": {"headers": HEADERS, "rows": [
            {"columns": [f'<a href="{p.base_url}/user/profile.php?id={u.id}">{u.fullname}</a>',
                         f'<a href="{p.base_url}/course/view.php?id={c.id}">{c.fullname}</a>',
                         _userdate(w.course_timecompleted(u, c))]}
            for u, c in rows[page * perpage:(page + 1) * perpage]], "totalrowcount": len(rows)},
        "warnings": []}
