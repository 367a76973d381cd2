"""Open edX / FUN dialect: OAuth2 client credentials (JWT), enrollments, grades,
certificates, accounts, course blocks, completion-aggregator, completion-batch."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode

import jwt

from . import edx_blocks
from .wire import Request, Response
from .world import COMPLETE, INCOMPLETE, Course, Learner

if TYPE_CHECKING:
    from .server import SandboxPlatform

ROUTES = (
    ("POST", "/oauth2/access_token", "oauth2_access_token"),
    ("GET", "/api/enrollment/v1/enrollments", "enrollments"),
    ("GET", "/api/grades/v1/courses/", "grades"),
    ("GET", "/api/certificates/v0/certificates/", "certificates"),
    ("GET", "/api/user/v1/accounts", "accounts"),
    ("GET", "/completion-aggregator/v1/course/", "completion_aggregator"),
    ("GET", "/api/courses/v1/blocks", "blocks"),
    ("GET", "/api/courses/v1/courses", "courses"),
    ("POST", "/api/completion/v1/completion-batch", "completion_batch"),
    ("GET", "/fun/api/grades/", "fun_grades"),
)
PASS_MARK = 0.5


def classify(req: Request) -> tuple[str, bool]:
    for method, prefix, name in ROUTES:
        if req.method == method and req.path.startswith(prefix):
            return name, name == "completion_batch"
    return "not_found", False


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def edx_username(u: Learner) -> str:
    return u.username


def passed(course: Course, u: Learner) -> bool:
    pr = u.progress.get(course.id)
    return pr is not None and pr.grade is not None and pr.grade >= PASS_MARK


def _err(status: int, body: dict[str, Any]) -> Response:
    return Response(status, body)


def handle(p: SandboxPlatform, req: Request) -> Response:
    name, _ = classify(req)
    if name == "not_found":
        return Response(404, raw=b"<h1>Not Found</h1><p>The requested resource was not found "
                        b"on this server.</p>", content_type="text/html; charset=utf-8")
    if name == "oauth2_access_token":
        return access_token(p, req)
    denied = authenticate(p, req, api_key_ok=name in ("fun_grades", "enrollments", "grades"))
    if denied is not None:
        return denied
    with p.lock:
        return HANDLERS[name](p, req)


# --- auth ----------------------------------------------------------------------
def access_token(p: SandboxPlatform, req: Request) -> Response:
    form = dict(req.form)
    if form.get("grant_type") != "client_credentials":
        return _err(400, {"error": "unsupported_grant_type"})
    if form.get("client_id") != p.client_id or form.get("client_secret") != p.client_secret:
        return _err(401, {"error": "invalid_client"})
    now = int(time.time())
    token_type = (form.get("token_type") or req.headers.get("x-token-type") or "").lower()
    scope = "read write email profile"
    if token_type != "jwt":
        token = "opaque-" + jwt.encode({"exp": now + p.token_ttl, "kind": "bearer"},
                                        p.jwt_secret, algorithm="HS256")
        return Response(200, {"access_token": token, "expires_in": p.token_ttl,
                              "token_type": "Bearer", "scope": scope})
    claims = {"aud": "openedx", "iss": f"{p.base_url}/oauth2", "iat": now,
              "exp": now + p.token_ttl, "sub": "badge-bridge-service",
              "preferred_username": "badge_bridge_service", "administrator": True,
              "email": "badge-bridge@example.org", "grant_type": "client-credentials",
              "scopes": scope.split(), "filters": [], "version": "1.2.0"}
    token = jwt.encode(claims, p.jwt_secret, algorithm="HS256")
    return Response(200, {"access_token": token, "expires_in": p.token_ttl,
                          "token_type": "JWT", "scope": scope})


def authenticate(p: SandboxPlatform, req: Request, api_key_ok: bool) -> Response | None:
    if api_key_ok and req.headers.get("x-edx-api-key") == p.api_key:
        return None
    auth = req.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if not token:
        return _err(401, {"detail": "Authentication credentials were not provided."})
    if scheme == "Bearer" and token.startswith("opaque-"):
        token = token[len("opaque-"):]
    elif scheme != "JWT":
        return _err(401, {"detail": "Invalid token header. No credentials provided."})
    try:
        jwt.decode(token, p.jwt_secret, algorithms=["HS256"], audience="openedx",
                   options={"verify_aud": scheme == "JWT"})
    except jwt.ExpiredSignatureError:
        return _err(401, {"detail": "Signature has expired."})
    except jwt.InvalidTokenError:
        return _err(401, {"detail": "Error decoding token."})
    return None


# --- pagination ----------------------------------------------------------------
def _cursor(offset: int, replay: bool = False) -> str:
    return base64.urlsafe_b64encode(f"p={offset}{'&r=1' if replay else ''}".encode()).decode()


def _read_cursor(text: str | None) -> tuple[int, bool]:
    if not text:
        return 0, False
    try:
        raw = base64.urlsafe_b64decode(text.encode() + b"==").decode()
        fields = dict(part.split("=", 1) for part in raw.split("&"))
        return max(0, int(fields["p"])), fields.get("r") == "1"
    except (ValueError, KeyError):
        return -1, False


def cursor_page(p: SandboxPlatform, req: Request, rows: list[Any], default: int,
                maximum: int = 100) -> Response:
    offset, replayed = _read_cursor(req.query.get("cursor"))
    if offset < 0:
        return _err(404, {"detail": "Invalid cursor"})
    try:
        size = min(maximum, max(1, int(req.query.get("page_size", default))))
    except ValueError:
        size = default
    page = rows[offset:offset + size]
    params = {k: v for k, v in req.query.items() if k != "cursor"}

    def link(off: int, replay: bool = False) -> str:
        return f"{p.base_url}{req.path}?{urlencode({**params, 'cursor': _cursor(off, replay)})}"

    more = offset + size < len(rows)
    resp = Response(200, {"next": link(offset + size) if more else None,
                          "previous": link(max(0, offset - size)) if offset else None,
                          "results": page}, rows_key="results")
    if more and not replayed:
        resp.dup_next = link(offset, replay=True)
    return resp


# --- resources -----------------------------------------------------------------
def _course(p: SandboxPlatform, key: str) -> Course | None:
    return p.world.course_by_key(key)


def enrollments(p: SandboxPlatform, req: Request) -> Response:
    key = req.query.get("course_id")
    courses = p.world.courses
    if key is not None:
        c = _course(p, key)
        if c is None and not key.startswith("course-v1:"):
            return _err(400, {"course_id": [f"'{key}' is not a valid course id."]})
        courses = [c] if c else []
    names = set(filter(None, req.query.get("username", "").split(",")))
    rows = [{"created": iso(u.progress[c.id].enroltime), "mode": "honor", "is_active": True,
             "user": edx_username(u), "course_id": c.key}
            for c in courses for u in p.world.enrolled(c.id)
            if not names or edx_username(u) in names]
    return cursor_page(p, req, rows, default=100)


def _grade_row(c: Course, u: Learner) -> dict[str, Any]:
    pr = u.progress[c.id]
    ok = passed(c, u)
    return {"username": edx_username(u), "email": u.email, "course_id": c.key, "passed": ok,
            "percent": float(pr.grade or 0.0), "letter_grade": "Pass" if ok else None}


def grades(p: SandboxPlatform, req: Request) -> Response:
    rest = unquote(req.path[len("/api/grades/v1/courses/"):]).strip("/")
    key = rest or req.query.get("course_id", "")
    c = _course(p, key)
    if c is None:
        return _err(404, {"developer_message": f"Requested grade for unknown course {key}",
                          "error_code": "course_does_not_exist"})
    if "username" in req.query:
        u = p.world.by_username.get(req.query["username"])
        if u is None:
            return _err(404, {"developer_message": "The user matching the requested username "
                              "does not exist.", "error_code": "user_does_not_exist"})
        pr = u.progress.get(c.id)
        if pr is None or not pr.enrolled:
            return _err(404, {"developer_message": "The user matching the requested username "
                              "is not enrolled in this course", "error_code": "user_not_enrolled"})
        return Response(200, [_grade_row(c, u)])
    rows = [_grade_row(c, u) for u in p.world.enrolled(c.id)]
    return cursor_page(p, req, rows, default=50)


def _certificate(p: SandboxPlatform, c: Course, u: Learner) -> dict[str, Any]:
    pr = u.progress[c.id]
    created = iso(pr.gradetime or p.world.now)
    return {"username": edx_username(u), "course_id": c.key,
            "course_display_name": c.fullname, "course_organization": c.key[10:].split("+")[0],
            "certificate_type": "honor", "created_date": created, "modified_date": created,
            "status": "downloadable", "is_passing": True,
            "download_url": f"/certificates/{u.id:08x}{c.id:024x}", "grade": str(pr.grade)}


def certificates(p: SandboxPlatform, req: Request) -> Response:
    rest = unquote(req.path[len("/api/certificates/v0/certificates/"):]).strip("/")
    username, _, tail = rest.partition("/")
    u = p.world.by_username.get(username)
    if tail.startswith("courses/"):
        c = _course(p, tail[len("courses/"):].strip("/"))
        if c is None:
            return _err(400, {"error_code": "course_id_not_valid"})
        if u is None or c.id not in u.progress or not passed(c, u):
            return _err(404, {"error_code": "no_certificate_for_user"})
        cert = _certificate(p, c, u)
        for k in ("course_display_name", "course_organization", "modified_date"):
            del cert[k]
        return Response(200, cert)
    if u is None:
        return Response(200, [])
    return Response(200, [_certificate(p, c, u) for c in p.world.courses
                          if c.id in u.progress and u.progress[c.id].enrolled and passed(c, u)],
                    rows_key="")


def _account(p: SandboxPlatform, u: Learner) -> dict[str, Any]:
    img = f"{p.base_url}/static/images/profiles/default"
    return {"username": edx_username(u), "name": u.fullname, "email": u.email,
            "secondary_email": None, "date_joined": iso(u.firstaccess or p.world.now - 86400),
            "is_active": True, "bio": None, "country": "FR" if u.lang == "fr" else "GB",
            "gender": None, "goals": None, "language": None,
            "language_proficiencies": [{"code": u.lang}], "level_of_education": None,
            "mailing_address": None,
            "profile_image": {"has_image": False, "image_url_full": f"{img}_500.png",
                              "image_url_large": f"{img}_120.png",
                              "image_url_medium": f"{img}_50.png",
                              "image_url_small": f"{img}_30.png"},
            "requires_parental_consent": False, "social_links": [], "year_of_birth": None,
            "account_privacy": "private", "accomplishments_shared": False, "phone_number": None}


def accounts(p: SandboxPlatform, req: Request) -> Response:
    if "email" in req.query:
        email = req.query["email"].strip().lower()
        found = [u for u in p.world.learners if email and u.email.lower() == email]
        if not found:
            return _err(404, {"developer_message": "Not found", "user_message": "Not found"})
        return Response(200, [_account(p, u) for u in found])
    names = [n for n in req.query.get("username", "").split(",") if n]
    found = [p.world.by_username[n] for n in names if n in p.world.by_username]
    return Response(200, [_account(p, u) for u in found], rows_key="")


def aggregator(p: SandboxPlatform, req: Request) -> Response:
    key = unquote(req.path[len("/completion-aggregator/v1/course/"):]).strip("/")
    c = _course(p, key)
    if c is None:
        return _err(404, {"detail": "Not found."})
    learners = p.world.enrolled(c.id)
    if "username" in req.query:
        learners = [u for u in learners if edx_username(u) == req.query["username"]]
    fields = set(req.query.get("requested_fields", "").split(","))
    crit = [a for a in c.activities if a.criterion]
    try:
        page = max(1, int(req.query.get("page", 1)))
        size = min(1000, max(1, int(req.query.get("page_size", 10))))
    except ValueError:
        return _err(404, {"detail": "Invalid page."})
    pages = max(1, -(-len(learners) // size))
    if page > pages:
        return _err(404, {"detail": "Invalid page."})
    rows = []
    for u in learners[(page - 1) * size: page * size]:
        earned = float(sum(p.world.activity_completed(u, c, a.cmid) for a in crit))
        row: dict[str, Any] = {"course_key": c.key, "completion": {
            "earned": earned, "possible": float(len(crit)),
            "percent": round(earned / len(crit), 4)}}
        if "username" in fields:
            row["username"] = edx_username(u)
        rows.append(row)
    params = {k: v for k, v in req.query.items() if k != "page"}

    def link(n: int) -> str:
        return f"{p.base_url}{req.path}?{urlencode({**params, 'page': n})}"

    return Response(200, {"pagination": {
        "next": link(page + 1) if page < pages else None,
        "previous": link(page - 1) if page > 1 else None,
        "count": len(learners), "num_pages": pages}, "results": rows}, rows_key="results")


def _block_id(c: Course, kind: str, name: str) -> str:
    return f"block-v1:{c.key[len('course-v1:'):]}+type@{kind}+block@{name}"


def presence_block(c: Course) -> str:
    return _block_id(c, "html", "presence")


def courses(p: SandboxPlatform, req: Request) -> Response:
    results = []
    for c in p.world.courses:
        org, number, run = c.key[len("course-v1:"):].split("+")
        results.append({
            "blocks_url": f"{p.base_url}/api/courses/v2/blocks/?{urlencode({'course_id': c.key})}",
            "effort": "20:00", "end": None, "enrollment_start": iso(c.timecreated),
            "enrollment_end": None, "id": c.key, "media": {
                "banner_image": {"uri": None, "uri_absolute": None},
                "course_image": {"uri": None}, "course_video": {"uri": None},
                "image": {"raw": None, "small": None, "large": None}},
            "name": c.fullname, "number": number, "org": org,
            "short_description": "Parcours hybride", "start": iso(c.startdate),
            "start_display": datetime.fromtimestamp(c.startdate, UTC).strftime("%d/%m/%Y"),
            "start_type": "timestamp", "pacing": "instructor", "mobile_available": False,
            "hidden": False, "invitation_only": False, "course_id": c.key})
    return Response(200, {"results": results, "pagination": {
        "next": None, "previous": None, "count": len(results), "num_pages": 1}},
        rows_key="results")


def completion_batch(p: SandboxPlatform, req: Request) -> Response:
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        return _err(400, {"detail": "JSON parse error"})
    if not isinstance(body, dict):
        return _err(400, {"detail": "Expected a JSON object."})
    for key in ("username", "course_key", "blocks"):
        if key not in body:
            return _err(400, {"detail": f"Key '{key}' not found."})
    c = _course(p, str(body["course_key"]))
    if c is None:
        return _err(400, {"detail": f"Invalid learning context key: {body['course_key']}"})
    u = p.world.by_username.get(str(body["username"]))
    if u is None:
        return _err(404, {"detail": "User does not exist."})
    pr = u.progress.get(c.id)
    if pr is None or not pr.enrolled:
        return _err(400, {"detail": "User is not enrolled in course."})
    by_block = {_block_id(c, "problem" if a.modname == "quiz" else "html", a.block): a
                for a in c.activities if a.criterion}
    items = body["blocks"] if isinstance(body["blocks"], dict) else {}
    for block, value in items.items():
        if block not in by_block:
            return _err(400, {"detail": f"Block with key: '{block}' is not in context "
                              f"{c.key}"})
        if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            return _err(400, {"detail": "Completion value must be between 0.0 and 1.0."})
    for block, value in items.items():
        p.world.set_activity(u, c, by_block[block].cmid,
                             COMPLETE if float(value) >= 1.0 else INCOMPLETE)
    p.record_push({"kind": "openedx.completion_batch", "username": u.username,
                   "course_key": c.key, "blocks": dict(items), "courseid": c.id,
                   "time": p.world.now})
    return Response(200, {"detail": "ok"})


def fun_grades(p: SandboxPlatform, req: Request) -> Response:
    rest = unquote(req.path[len("/fun/api/grades/"):]).strip("/")
    key, _, username = rest.rpartition("/")
    c, u = _course(p, key), p.world.by_username.get(username)
    if c is None or u is None or c.id not in u.progress:
        return _err(404, {"detail": "Not found."})
    ok = passed(c, u)
    return Response(200, {"passed": ok, "grade": "Pass" if ok else "Fail",
                          "percent": float(u.progress[c.id].grade or 0.0)})


HANDLERS = {"enrollments": enrollments, "grades": grades, "certificates": certificates,
            "accounts": accounts, "completion_aggregator": aggregator, "blocks": edx_blocks.render,
            "courses": courses, "completion_batch": completion_batch, "fun_grades": fun_grades}
