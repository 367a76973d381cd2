"""FUN-MOOC dialect: Open edX Dogwood with FUN's fun-apps, as lms.fun-mooc.fr runs it
(openfun/openedx-docker releases/dogwood/3/fun builds openfun/edx-platform dogwood.3-fun).

Dogwood has none of the enrollment list, grades v1, completion, aggregator or JWT tokens:
those URLs are the LMS's 404 page. What a partner reaches with FUN's API key is the per-learner
grade of fun-apps (`grades_api`) and the single-enrollment view; the course team downloads the
instructor dashboard's CSV reports (fun_reports.py).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .edx_http import enrollment_detail, err, has_api_key, page_not_found, passed
from .wire import Request, Response
from .world import Course, Learner

if TYPE_CHECKING:
    from .server import SandboxPlatform

GRADES = "/fun/api/grades/"
ENROLLMENT = "/api/enrollment/v1/enrollment/"
# fun-apps grades_api/urls.py: settings.COURSE_KEY_PATTERN then the username, slash-terminated
_GRADE_PATH = re.compile(r"^(?P<course>[^/+]+(/|\+)[^/+]+(/|\+)[^/?]+)/(?P<username>[\w.+-]+)/$")
QUIZ_LABEL = "Quiz"


def classify(req: Request) -> tuple[str, bool]:
    if req.method == "POST" and req.path == "/oauth2/access_token":
        return "oauth2_access_token", False
    if req.method == "GET" and req.path.startswith(GRADES):
        return "fun_grades", False
    if req.method == "GET" and req.path.startswith(ENROLLMENT):
        return "enrollment", False
    return "not_found", False


def handle(p: SandboxPlatform, req: Request) -> Response:
    name, _ = classify(req)
    if name == "oauth2_access_token":
        return access_token(p, req)
    if name == "not_found":
        return page_not_found()
    with p.lock:
        return fun_grades(p, req) if name == "fun_grades" else enrollment(p, req)


def access_token(p: SandboxPlatform, req: Request) -> Response:
    """Dogwood's edx-oauth2-provider: an opaque Bearer token whatever `token_type` asks for."""
    form = dict(req.form)
    if form.get("client_id") != p.client_id or form.get("client_secret") != p.client_secret:
        return err(401, {"error": "invalid_client"})
    return Response(200, {"access_token": f"dogwood-{int(time.time())}", "token_type": "Bearer",
                          "expires_in": p.token_ttl, "scope": "read write"})


def grade_summary(c: Course, u: Learner) -> dict[str, Any]:
    """courseware.grades.grade() of Dogwood, with fun-apps' `passed` added (grades_api/api.py):
    `grade` is the letter of the cutoff reached ("Pass"), null below it."""
    pr = u.progress.get(c.id)
    percent = round(float(pr.grade or 0.0), 2) if pr else 0.0
    quiz = next(a for a in c.activities if a.modname == "quiz")
    return {
        "section_breakdown": [{"category": QUIZ_LABEL, "percent": percent, "label": QUIZ_LABEL,
                               "detail": f"{QUIZ_LABEL} = {percent:.2%}"}],
        "grade": "Pass" if passed(c, u) else None,
        "totaled_scores": {QUIZ_LABEL: [[percent * 10, 10.0, True, quiz.name, None]]},
        "percent": percent,
        "grade_breakdown": [{"category": QUIZ_LABEL, "percent": percent,
                             "detail": f"{QUIZ_LABEL} = {percent:.2%} of a possible 100.00%"}],
        "passed": passed(c, u),
    }


def fun_grades(p: SandboxPlatform, req: Request) -> Response:
    """grades_api/api.py get_student_course_grade: ApiKeyHeaderPermission only; an unknown user
    or course is a 404 whose body is the error's text."""
    rest = unquote(req.path[len(GRADES):])
    if not rest.endswith("/") and _GRADE_PATH.match(rest + "/"):
        # Django's APPEND_SLASH
        return Response(301, raw=b"", headers={"Location": f"{p.base_url}{req.path}/"})
    m = _GRADE_PATH.match(rest)
    if m is None:
        return page_not_found()
    if not has_api_key(p, req):
        return err(403, {"detail": "Authentication credentials were not provided."})
    u = p.world.by_username.get(m["username"])
    if u is None:
        return err(404, "User matching query does not exist.")
    c = p.world.course_by_key(m["course"])
    if c is None:
        return err(404, f"Course not found: {m['course']}")
    return Response(200, grade_summary(c, u))


def enrollment(p: SandboxPlatform, req: Request) -> Response:
    """The single-enrollment view: the API key alone is accepted here (and skips the throttle)."""
    if not has_api_key(p, req):
        return err(403, {"detail": "Authentication credentials were not provided."})
    rest = unquote(req.path[len(ENROLLMENT):]).strip("/")
    return enrollment_detail(p, rest, allowed=True)
