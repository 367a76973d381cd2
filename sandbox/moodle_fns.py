"""Moodle web-service functions over the World, shaped like the payloads recorded on
a real Moodle 4.5.6 (tests/fixtures/moodle-real): same keys, types and nulls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .world import COMPLETE, TRACKING_AUTO, Activity, Course, Learner

if TYPE_CHECKING:
    from .server import SandboxPlatform

CORE_VERSION, ATT_VERSION = "2024100706", "2024020500"
ROWS_KEY = {"core_enrol_get_enrolled_users": "", "core_course_get_courses": "",
            "core_user_get_users_by_field": "", "mod_attendance_get_sessions": "",
            "core_completion_get_activities_completion_status": "statuses",
            "gradereport_user_get_grade_items": "usergrades",
            "core_course_get_courses_by_field": "courses"}
MODMETA = {"page": ("content", "Pages"), "quiz": ("assessment", "Quizzes"),
           "attendance": ("administration", "Attendances"), "url": ("content", "URLs")}


class MoodleError(Exception):
    def __init__(self, exception: str, errorcode: str, message: str) -> None:
        super().__init__(message)
        self.body = {"exception": exception, "errorcode": errorcode, "message": message}


def invalid_parameter() -> MoodleError:
    return MoodleError("core\\exception\\invalid_parameter_exception", "invalidparameter",
                       "Invalid parameter value detected")


def missing_record(table: str) -> MoodleError:
    return MoodleError("dml_missing_record_exception", "invalidrecord",
                       f"Can't find data record in database table {table}.")


def not_enrolled() -> MoodleError:
    return MoodleError("core\\exception\\moodle_exception", "notenroled",
                       "You are not enrolled in this course")


def get_course(p: SandboxPlatform, courseid: int) -> Course:
    c = p.world.course(courseid)
    if c is None:
        raise missing_record("course")
    return c


def get_user(p: SandboxPlatform, userid: int) -> Learner:
    u = p.world.by_id.get(userid)
    if u is None:
        raise missing_record("user")
    return u


def _pics(p: SandboxPlatform) -> dict[str, str]:
    base = f"{p.base_url}/theme/image.php/boost/core/{p.world.courses[0].timecreated}/u"
    return {"profileimageurlsmall": f"{base}/f2", "profileimageurl": f"{base}/f1"}


# --- site and courses --------------------------------------------------------
def site_info(p: SandboxPlatform, serviceshortnames: list[str]) -> dict[str, Any]:
    from .moodle import ALL_FUNCTIONS

    su = p.world.service_user
    return {
        "sitename": "Tiers-lieu numérique (bac à sable)", "username": su.username,
        "firstname": su.firstname, "lastname": su.lastname, "fullname": su.fullname,
        "lang": su.lang, "userid": su.id, "siteurl": p.base_url,
        "userpictureurl": _pics(p)["profileimageurl"],
        "functions": [{"name": f, "version": ATT_VERSION if f.startswith("mod_attendance")
                       else CORE_VERSION} for f in ALL_FUNCTIONS if f not in p.missing_functions],
        "downloadfiles": 0, "uploadfiles": 0, "release": "4.5.6 (Build: 20250811)",
        "version": CORE_VERSION, "mobilecssurl": "",
        "advancedfeatures": [{"name": n, "value": v} for n, v in (
            ("usecomments", 1), ("usetags", 1), ("enablenotes", 1), ("messaging", 1),
            ("enableblogs", 1), ("enablecompletion", 1), ("enablebadges", 1),
            ("messagingallusers", 0), ("enablecustomreports", 1), ("enableglobalsearch", 0),
            ("mnet_dispatcher_mode", 0), ("enablecompetencies", 1))],
        "usercanmanageownfiles": True, "userquota": 104857600,
        "usermaxuploadfilesize": 67108864, "userhomepage": 1,
        "userprivateaccesskey": "5a1db0c0ffee5a1db0c0ffee5a1db0c0", "siteid": 1,
        "sitecalendartype": "gregorian", "usercalendartype": "gregorian",
        "userissiteadmin": False, "theme": "boost", "limitconcurrentlogins": 0,
        "policyagreed": 0,
    }


def course_row(c: Course) -> dict[str, Any]:
    return {
        "id": c.id, "shortname": c.shortname, "categoryid": 2,
        "categorysortorder": 20000 + c.id, "fullname": c.fullname, "displayname": c.fullname,
        "idnumber": c.idnumber,
        "summary": "<p>Parcours hybride : modules en ligne et temps de rencontre en tiers-lieu.</p>",
        "summaryformat": 1, "format": "topics", "showgrades": 1, "newsitems": 0,
        "startdate": c.startdate, "enddate": 0, "numsections": 3, "maxbytes": 0,
        "showreports": 0, "visible": 1, "hiddensections": 1, "groupmode": 0,
        "groupmodeforce": 0, "defaultgroupingid": 0, "timecreated": c.timecreated,
        "timemodified": c.timecreated, "enablecompletion": 1, "completionnotify": 0,
        "lang": "", "forcetheme": "",
        "courseformatoptions": [{"name": "hiddensections", "value": 1},
                                {"name": "coursedisplay", "value": 0}],
        "showactivitydates": False, "showcompletionconditions": True,
    }


def site_course(p: SandboxPlatform) -> dict[str, Any]:
    row = course_row(p.world.courses[0])
    del row["hiddensections"]
    row.update(id=1, shortname="tiers-lieu", categoryid=0, categorysortorder=1,
               fullname="Tiers-lieu numérique (bac à sable)", idnumber="", format="site",
               displayname="Tiers-lieu numérique (bac à sable)", startdate=0, numsections=1,
               newsitems=3, enablecompletion=0, showcompletionconditions=None,
               summary="Plateforme simulée badge-bridge",
               courseformatoptions=[{"name": "numsections", "value": 1}])
    return row


def get_courses(p: SandboxPlatform, options: dict[str, Any]) -> list[dict[str, Any]]:
    ids = options.get("ids") or []
    if not ids:
        return [site_course(p), *(course_row(c) for c in p.world.courses)]
    rows = [site_course(p)] if 1 in ids else []
    return rows + [course_row(c) for c in p.world.courses if c.id in ids]


def get_courses_by_field(p: SandboxPlatform, field: str, value: str) -> dict[str, Any]:
    cs = p.world.courses
    if field == "id":
        cs = [c for c in cs if str(c.id) == value]
    elif field == "ids":
        cs = [c for c in cs if str(c.id) in value.split(",")]
    elif field in ("shortname", "idnumber"):
        cs = [c for c in cs if getattr(c, field) == value]
    elif field == "category":
        cs = cs if value == "2" else []
    elif field:
        raise invalid_parameter()
    courses = []
    for c in cs:
        row = course_row(c)
        row.update(categoryname=c.category, sortorder=row.pop("categorysortorder"),
                   courseimage=f"{p.base_url}/pluginfile.php/1/course/generated/course.svg",
                   summaryfiles=[], overviewfiles=[], contacts=[
                       {"id": t.id, "fullname": t.fullname} for t in p.world.teachers],
                   enrollmentmethods=["manual", "self"], customfields=[], theme="",
                   marker=0, legacyfiles=0, calendartype="", requested=0,
                   cacherev=c.timecreated, filters=[])
        for gone in ("forcetheme", "hiddensections", "numsections"):
            row.pop(gone)
        courses.append(row)
    return {"courses": courses, "warnings": []}


# --- structure ---------------------------------------------------------------
def _details(a: Activity, done: bool) -> list[dict[str, Any]]:
    if a.rulename is None:
        return []
    return [{"rulename": a.rulename,
             "rulevalue": {"status": int(done), "description": a.rule_description}}]


def _completiondata(a: Activity, state: int, time: int, by: int | None,
                    tracked: bool) -> dict[str, Any]:
    return {"state": state, "timecompleted": time, "overrideby": by, "valueused": False,
            "hascompletion": True, "isautomatic": a.tracking == TRACKING_AUTO,
            "istrackeduser": tracked, "uservisible": True,
            "details": _details(a, state in (1, 2)), "isoverallcomplete": state in (1, 2)}


def _module(p: SandboxPlatform, c: Course, a: Activity, ctx: int) -> dict[str, Any]:
    purpose, plural = MODMETA[a.modname]
    url = f"{p.base_url}/mod/{a.modname}/view.php?id={a.cmid}"
    mod: dict[str, Any] = {
        "id": a.cmid, "url": url, "name": a.name, "instance": a.instance, "contextid": ctx,
        "visible": 1, "uservisible": True, "visibleoncoursepage": 1,
        "modicon": f"{p.base_url}/theme/image.php/boost/{a.modname}/1/monologo?filtericon=1",
        "modname": a.modname, "purpose": purpose, "branded": False, "modplural": plural,
        "availability": None, "indent": 0, "onclick": "", "afterlink": None,
        "customdata": '""', "noviewlink": False, "completion": a.tracking,
        "completiondata": _completiondata(a, 0, 0, None, False),
        "downloadcontent": 1, "dates": [], "groupmode": 0,
    }
    if a.modname in ("page", "url"):
        is_url = a.modname == "url"
        mod["contents"] = [{
            "type": "url" if is_url else "file",
            "filename": a.name if is_url else "index.html", "filepath": None if is_url else "/",
            "filesize": 0, "fileurl": "https://pixees.fr/informatiquelycee/" if is_url else
            f"{p.base_url}/webservice/pluginfile.php/{ctx}/mod_page/content/index.html",
            "timecreated": None, "timemodified": c.timecreated,
            "sortorder": None if is_url else 1, "userid": None, "author": None,
            "license": None}]
        mod["contentsinfo"] = {"filescount": 1, "filessize": 0,
                               "lastmodified": c.timecreated, "mimetypes": [],
                               "repositorytype": ""}
    return mod


def get_contents(p: SandboxPlatform, courseid: int,
                 options: list[dict[str, str]]) -> list[dict[str, Any]]:
    c = get_course(p, courseid)
    opts = {o["name"]: o["value"] for o in options}
    acts = {a.modname: a for a in c.activities}
    layout = [("Généralités", []), ("Parcours en ligne", [acts["page"], acts["quiz"]]),
              ("Temps de rencontre", [acts["attendance"]]),
              ("Pour aller plus loin", [acts["url"]])]
    sections = []
    for num, (name, mods) in enumerate(layout):
        if "sectionnumber" in opts and opts["sectionnumber"] != str(num):
            continue
        modules = [_module(p, c, a, 100 + a.cmid) for a in mods
                   if opts.get("cmid", str(a.cmid)) == str(a.cmid)
                   and opts.get("modname", a.modname) == a.modname]
        if opts.get("excludemodules") in ("1", "true"):
            modules = []
        sections.append({"id": c.id * 10 + num, "name": name, "visible": 1, "summary": "",
                         "summaryformat": 1, "section": num, "hiddenbynumsections": 0,
                         "uservisible": True, "component": None, "itemid": None,
                         "modules": modules})
    return sections


# --- users -------------------------------------------------------------------
ENROL_OPTIONS = {"withcapability", "groupid", "onlyactive", "onlysuspended", "userfields",
                 "limitfrom", "limitnumber", "sortby", "sortdirection"}


def to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _enrolled_row(p: SandboxPlatform, u: Learner, c: Course, pics: dict[str, str],
                  courses: list[dict[str, Any]]) -> dict[str, Any]:
    pr = u.progress.get(c.id)
    teacher = u.role == "editingteacher"
    return {
        "id": u.id, "username": u.username, "firstname": u.firstname,
        "lastname": u.lastname, "fullname": u.fullname, "email": u.email,
        "department": "", "firstaccess": u.firstaccess, "lastaccess": u.lastaccess,
        "lastcourseaccess": pr.lastcourseaccess if pr else (u.lastaccess if teacher else 0),
        **pics,
        "roles": [{"roleid": 3 if teacher else 5, "name": "",
                   "shortname": "editingteacher" if teacher else "student", "sortorder": 0}],
        "enrolledcourses": courses,
    }


def enrolled_users(p: SandboxPlatform, courseid: int,
                   options: list[dict[str, str]]) -> list[dict[str, Any]]:
    c = get_course(p, courseid)
    opts: dict[str, str] = {}
    for o in options:
        if o["name"] not in ENROL_OPTIONS:
            raise MoodleError("core\\exception\\moodle_exception", "invalidextparam",
                              f"Invalid external api parameter: {o['name']}")
        opts[o["name"]] = o["value"]
    sortby, direction = opts.get("sortby", "id"), opts.get("sortdirection", "ASC").upper()
    if sortby not in ("id", "firstname", "lastname", "siteorder") or direction not in (
            "ASC", "DESC"):
        raise invalid_parameter()
    people = [*p.world.teachers, *p.world.enrolled(c.id)]
    if sortby in ("firstname", "lastname"):
        people.sort(key=lambda u: (getattr(u, sortby), u.id))
    else:
        people.sort(key=lambda u: u.id)
    if direction == "DESC":
        people.reverse()
    start, limit = max(0, to_int(opts.get("limitfrom", "0"))), to_int(opts.get("limitnumber", "0"))
    people = people[start:start + limit] if limit > 0 else people[start:]
    wanted = [f.strip() for f in opts["userfields"].split(",")] if "userfields" in opts else None
    pics = _pics(p)
    short = {cc.id: {"id": cc.id, "fullname": cc.fullname, "shortname": cc.shortname}
             for cc in p.world.courses}
    rows = []
    for u in people:
        mine = [short[cid] for cid, pr in u.progress.items() if pr.enrolled] or [short[c.id]]
        row = _enrolled_row(p, u, c, pics, mine)
        if wanted is not None:
            row = {k: v for k, v in row.items() if k == "id" or k in wanted}
        rows.append(row)
    return rows


def user_row(p: SandboxPlatform, u: Learner) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "firstname": u.firstname,
            "lastname": u.lastname, "fullname": u.fullname, "email": u.email,
            "department": "", "firstaccess": u.firstaccess, "lastaccess": u.lastaccess,
            "auth": "manual", "suspended": False, "confirmed": True, "lang": u.lang,
            "theme": "", "timezone": "99", "mailformat": 1, "trackforums": 0, **_pics(p)}


def users_by_field(p: SandboxPlatform, field: str, values: list[str]) -> list[dict[str, Any]]:
    if field not in ("id", "idnumber", "username", "email"):
        raise invalid_parameter()
    wanted = {v.strip().lower() for v in values if v.strip()}
    if field == "idnumber":
        return []
    if field == "id":  # by the index, as Moodle's primary key does (the connector's look-up)
        ids = sorted(int(v) for v in wanted if v.isdigit() and str(int(v)) == v)
        return [user_row(p, u) for i in ids if (u := p.world.by_id.get(i)) is not None]
    found = []
    for u in sorted(p.world.by_id.values(), key=lambda u: u.id):
        key = str(u.id) if field == "id" else getattr(u, field).lower()
        if key and key in wanted:
            found.append(user_row(p, u))
    return found


# --- completion --------------------------------------------------------------
def course_completion(p: SandboxPlatform, courseid: int, userid: int) -> dict[str, Any]:
    c, u = get_course(p, courseid), get_user(p, userid)
    pr = u.progress.get(c.id)
    if pr is None or not pr.enrolled:
        raise not_enrolled()
    if not c.has_criteria:
        raise MoodleError("core\\exception\\moodle_exception", "nocriteriaset",
                          "No completion criteria set for this course")
    rows = []
    for a in c.activities:
        if not a.criterion:
            continue
        done = pr.criteria_done.get(a.cmid)
        rows.append({
            "type": 4, "title": "Activity completion", "status": "Yes" if done else "No",
            "complete": done is not None, "timecompleted": done,
            "details": {"type": "Activity completion",
                        "criteria": f'<a href="{p.base_url}/mod/{a.modname}/view.php?id='
                                    f'{a.cmid}">{a.name}</a>',
                        "requirement": a.requirement, "status": ""}})
    return {"completionstatus": {"completed": p.world.course_completed(u, c),
                                 "aggregation": 1, "completions": rows}, "warnings": []}


def activities_completion(p: SandboxPlatform, courseid: int, userid: int) -> dict[str, Any]:
    c, u = get_course(p, courseid), get_user(p, userid)
    pr = u.progress.get(c.id)
    tracked = pr is not None and pr.enrolled
    statuses = []
    for a in c.activities:
        st = pr.activities.get(a.cmid) if pr else None
        state, time, by = (st.state, st.timecompleted, st.overrideby) if st else (0, 0, None)
        statuses.append({"cmid": a.cmid, "modname": a.modname, "instance": a.instance,
                         "state": state, "timecompleted": time, "tracking": a.tracking,
                         **_completiondata(a, state, time, by, tracked)})
    return {"statuses": statuses, "warnings": []}


def override_completion(p: SandboxPlatform, userid: int, cmid: int,
                        newstate: int) -> dict[str, Any]:
    found = p.world.course_of_cmid(cmid)
    if found is None:
        raise MoodleError("dml_missing_record_exception", "invalidcoursemodule",
                          "Invalid course module ID")
    u = get_user(p, userid)
    if newstate not in (0, 1):
        raise invalid_parameter()
    c, a = found
    su = p.world.service_user.id
    st = p.world.set_activity(u, c, cmid, COMPLETE if newstate else 0, overrideby=su)
    p.record_push({"kind": "moodle.override", "userid": userid, "cmid": cmid,
                   "courseid": c.id, "newstate": newstate, "time": p.world.now})
    return {"cmid": cmid, "userid": userid, "state": st.state,
            "timecompleted": st.timecompleted, "overrideby": su, "tracking": a.tracking}
