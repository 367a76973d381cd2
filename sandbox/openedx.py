"""Open edX dialect (a current release): OAuth2 client credentials (JWT), enrollments, grades,
certificates, accounts, course blocks, completion-batch and the completion-aggregator plugin.

Each behaviour follows the platform's server code (the files are named where it is decided);
the tests in tests/sandbox/test_sandbox_openedx.py pin them.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode

import jwt

from . import edx_blocks, edx_completion
from .edx_http import (
    COURSE_KEY,
    certificate_issued_at,
    enrollment_detail,
    err,
    has_api_key,
    iso,
    page_not_found,
    passed,
    throttled,
)
from .wire import Request, Response
from .world import Course, Learner

if TYPE_CHECKING:
    from .server import SandboxPlatform

ROUTES = (
    ("POST", "/oauth2/access_token", "oauth2_access_token"),
    ("GET", "/api/enrollment/v1/enrollments", "enrollments"),
    ("GET", "/api/enrollment/v1/enrollment/", "enrollment"),
    ("GET", "/api/enrollment/v1/roles", "roles"),
    ("GET", "/api/grades/v1/courses/", "grades"),
    ("GET", "/api/certificates/v0/certificates/", "certificates"),
    ("GET", "/api/user/v1/accounts", "accounts"),
    ("GET", "/completion-aggregator/v1/course/", "completion_aggregator"),
    ("GET", "/api/courses/v1/blocks", "blocks"),
    ("GET", "/api/courses/v1/courses", "courses"),
    ("POST", "/api/completion/v1/completion-batch", "completion_batch"),
)
NO_PERMISSION = {"detail": "You do not have permission to perform this action."}


def classify(req: Request) -> tuple[str, bool]:
    for method, prefix, name in ROUTES:
        if req.method == method and req.path.startswith(prefix):
            return name, name == "completion_batch"
    return "not_found", False


def handle(p: SandboxPlatform, req: Request) -> Response:
    name, _ = classify(req)
    if name == "not_found":
        return page_not_found()
    if name == "oauth2_access_token":
        return access_token(p, req)
    caller = authenticate(p, req)
    if isinstance(caller, Response):
        # Only the single-enrollment view takes an API key in place of a user
        # (ApiKeyHeaderPermissionIsAuthenticated); every other view needs a token.
        if name == "enrollment" and has_api_key(p, req):
            caller = {"username": "", "staff": False, "restricted": False, "api_key": True}
        else:
            return caller
    caller["api_key"] = has_api_key(p, req)
    if caller["restricted"] and name not in ("roles", "courses"):
        return err(403, NO_PERMISSION)
    with p.lock:
        return HANDLERS[name](p, req, caller)


# --- auth ----------------------------------------------------------------------
def access_token(p: SandboxPlatform, req: Request) -> Response:
    form = dict(req.form)
    if form.get("grant_type") != "client_credentials":
        return err(400, {"error": "unsupported_grant_type"})
    if form.get("client_id") != p.client_id or form.get("client_secret") != p.client_secret:
        return err(401, {"error": "invalid_client"})
    now = int(time.time())
    token_type = (form.get("token_type") or req.headers.get("x-token-type") or "").lower()
    scope = "read write email profile"
    if token_type != "jwt":
        token = "opaque-" + jwt.encode({"exp": now + p.token_ttl, "kind": "bearer",
                                        "administrator": p.global_staff,
                                        "is_restricted": p.restricted},
                                       p.jwt_secret, algorithm="HS256")
        return Response(200, {"access_token": token, "expires_in": p.token_ttl,
                              "token_type": "Bearer", "scope": scope})
    # oauth_dispatch/jwt.py: the user's is_staff travels as `administrator`; a restricted
    # application's token says so and carries content-org filters.
    claims = {"aud": "openedx", "iss": f"{p.base_url}/oauth2", "iat": now,
              "exp": now + p.token_ttl, "sub": "badge-bridge-service",
              "preferred_username": p.world.service_user.username,
              "administrator": p.global_staff, "is_restricted": p.restricted,
              "email": p.world.service_user.email, "grant_type": "client-credentials",
              "scopes": scope.split(), "filters": ["content_org:FUN"] if p.restricted else [],
              "version": "1.2.0"}
    token = jwt.encode(claims, p.jwt_secret, algorithm="HS256")
    return Response(200, {"access_token": token, "expires_in": p.token_ttl,
                          "token_type": "JWT", "scope": scope})


def authenticate(p: SandboxPlatform, req: Request) -> dict[str, Any] | Response:
    """The caller's claims, or the 401 a DRF view answers."""
    auth = req.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if not token:
        return err(401, {"detail": "Authentication credentials were not provided."})
    if scheme == "Bearer" and token.startswith("opaque-"):
        token = token[len("opaque-"):]
    elif scheme != "JWT":
        return err(401, {"detail": "Invalid token header. No credentials provided."})
    try:
        claims = jwt.decode(token, p.jwt_secret, algorithms=["HS256"], audience="openedx",
                            options={"verify_aud": scheme == "JWT"})
    except jwt.ExpiredSignatureError:
        return err(401, {"detail": "Signature has expired."})
    except jwt.InvalidTokenError:
        return err(401, {"detail": "Error decoding token."})
    return {"username": claims.get("preferred_username", p.world.service_user.username),
            "staff": bool(claims.get("administrator")),
            "restricted": bool(claims.get("is_restricted"))}


def throttle(p: SandboxPlatform, caller: dict[str, Any]) -> Response | None:
    """EnrollmentUserThrottle (enrollments/views.py): skipped entirely with a valid API key."""
    if caller["api_key"] or p.throttle is None:
        return None
    wait = p.throttle.wait(caller["username"], "staff" if caller["staff"] else "user")
    return None if wait is None else throttled(wait)


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
                maximum: int | None) -> Response:
    offset, replayed = _read_cursor(req.query.get("cursor"))
    if offset < 0:
        return err(404, {"detail": "Invalid cursor"})
    try:
        size = max(1, int(req.query.get("page_size", default)))
    except ValueError:
        size = default
    size = min(size, maximum) if maximum else size
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
def enrollments(p: SandboxPlatform, req: Request, caller: dict[str, Any]) -> Response:
    """CourseEnrollmentsApiListView: IsAdminUser (global staff only), throttled, cursor pages
    of at most 100; inactive enrollments are listed too."""
    if not caller["staff"]:
        return err(403, NO_PERMISSION)
    if (refused := throttle(p, caller)) is not None:
        return refused
    key = req.query.get("course_id")
    courses = p.world.courses
    if key is not None:
        c = p.world.course_by_key(key)
        if c is None and not key.startswith("course-v1:") and key.count("/") != 2:
            return err(400, {"course_id": [f"'{key}' is not a valid course id."]})
        courses = [c] if c else []
    names = set(filter(None, req.query.get("username", "").split(",")))
    rows = [{"created": iso(pr.enroltime), "mode": pr.mode, "is_active": pr.enrolled,
             "user": u.username, "course_id": c.key}
            for c in courses for u in p.world.learners
            if (pr := u.progress.get(c.id)) is not None and (pr.enrolled or pr.enroltime)
            and (not names or u.username in names)]
    return cursor_page(p, req, rows, default=100, maximum=100)


def enrollment(p: SandboxPlatform, req: Request, caller: dict[str, Any]) -> Response:
    if (refused := throttle(p, caller)) is not None:
        return refused
    rest = unquote(req.path[len("/api/enrollment/v1/enrollment/"):]).strip("/")
    return enrollment_detail(p, rest, allowed=caller["staff"] or caller["api_key"])


def roles(p: SandboxPlatform, req: Request, caller: dict[str, Any]) -> Response:
    """EnrollmentUserRolesView: the caller's course roles and whether they are global staff."""
    return Response(200, {"roles": [], "is_staff": caller["staff"]})


def _grade_row(c: Course, u: Learner, with_mode: bool) -> dict[str, Any]:
    pr = u.progress[c.id]
    ok = passed(c, u)
    # grades/rest_api/v1/utils.py _serialize_user_grade: the address only for the masters
    # track, read from the enrollment the list pages over; the single-user form never has it.
    email = u.email if with_mode and pr.mode == "masters" else ""
    return {"username": u.username, "email": email, "course_id": c.key, "passed": ok,
            "percent": float(pr.grade or 0.0), "letter_grade": "Pass" if ok else None}


def grades(p: SandboxPlatform, req: Request, caller: dict[str, Any]) -> Response:
    rest = unquote(req.path[len("/api/grades/v1/courses/"):]).strip("/")
    key = rest or req.query.get("course_id", "")
    c = p.world.course_by_key(key)
    if c is None:
        return err(404, {"developer_message": f"Requested grade for unknown course {key}",
                         "error_code": "course_does_not_exist"})
    if not caller["staff"]:
        return err(403, NO_PERMISSION)
    if "username" in req.query:
        u = p.world.by_username.get(req.query["username"])
        if u is None:
            return err(404, {"developer_message": "The user matching the requested username "
                             "does not exist.", "error_code": "user_does_not_exist"})
        pr = u.progress.get(c.id)
        if pr is None or not pr.enrolled:
            return err(404, {"developer_message": "The user matching the requested username "
                             "is not enrolled in this course", "error_code": "user_not_enrolled"})
        return Response(200, [_grade_row(c, u, with_mode=False)])
    rows = [_grade_row(c, u, with_mode=True) for u in p.world.enrolled(c.id)]
    # CourseEnrollmentPagination.get_page_size takes any page_size (no maximum)
    return cursor_page(p, req, rows, default=50, maximum=None)


def _certificate(p: SandboxPlatform, c: Course, u: Learner, at: int) -> dict[str, Any]:
    pr = u.progress[c.id]
    return {"username": u.username, "course_id": c.key,
            "course_display_name": c.fullname, "course_organization": c.key[10:].split("+")[0],
            "certificate_type": "honor", "created_date": iso(at), "modified_date": iso(at),
            "status": "downloadable", "is_passing": True,
            "download_url": f"/certificates/{u.id:08x}{c.id:024x}", "grade": str(pr.grade)}


def certificates(p: SandboxPlatform, req: Request, caller: dict[str, Any]) -> Response:
    """certificates/apis/v0/views.py: an unparsable course key is a 404 `course_id_not_valid`."""
    rest = unquote(req.path[len("/api/certificates/v0/certificates/"):]).strip("/")
    username, _, tail = rest.partition("/")
    if not caller["staff"]:
        return err(403, NO_PERMISSION)
    u = p.world.by_username.get(username)
    if tail.startswith("courses/"):
        key = tail[len("courses/"):].strip("/")
        if not COURSE_KEY.match(key):
            return err(404, {"error_code": "course_id_not_valid"})
        c = p.world.course_by_key(key)
        at = certificate_issued_at(p, c, u) if c and u and c.id in u.progress else None
        if c is None or u is None or at is None:
            return err(404, {"error_code": "no_certificate_for_user"})
        cert = _certificate(p, c, u, at)
        for k in ("course_display_name", "course_organization", "modified_date"):
            del cert[k]
        return Response(200, cert)
    if u is None:
        return Response(200, [])
    issued = [(c, at) for c in p.world.courses if c.id in u.progress
              and (at := certificate_issued_at(p, c, u)) is not None]
    return Response(200, [_certificate(p, c, u, at) for c, at in issued], rows_key="")


def _account(p: SandboxPlatform, u: Learner, full: bool) -> dict[str, Any]:
    img = f"{p.base_url}/static/images/profiles/default"
    image = {"has_image": False, "image_url_full": f"{img}_500.png",
             "image_url_large": f"{img}_120.png", "image_url_medium": f"{img}_50.png",
             "image_url_small": f"{img}_30.png"}
    if not full:  # a private profile seen by someone who is neither its owner nor staff
        return {"username": u.username, "profile_image": image, "account_privacy": "private"}
    return {"username": u.username, "name": u.fullname, "email": u.email,
            "secondary_email": None, "date_joined": iso(u.firstaccess or p.world.now - 86400),
            "is_active": True, "bio": None, "country": "FR" if u.lang == "fr" else "GB",
            "gender": None, "goals": None, "language": None,
            # an optional profile field, empty unless the learner filled it in
            "language_proficiencies": [], "level_of_education": None,
            "mailing_address": None, "profile_image": image,
            "requires_parental_consent": False, "social_links": [], "year_of_birth": None,
            "account_privacy": "private", "accomplishments_shared": False, "phone_number": None}


def accounts(p: SandboxPlatform, req: Request, caller: dict[str, Any]) -> Response:
    """user_api/accounts/views.py AccountViewSet.list: a list of the users found; a 404 with
    an empty body when none of the requested users exists."""
    if "email" in req.query:
        email = req.query["email"].strip().lower()
        found = [u for u in p.world.learners if email and u.email.lower() == email]
    else:
        names = [n for n in req.query.get("username", "").strip(",").split(",") if n]
        found = [p.world.by_username[n] for n in names if n in p.world.by_username]
    if not found:
        return Response(404, raw=b"")
    return Response(200, [_account(p, u, caller["staff"]) for u in found], rows_key="")


def _course_row(p: SandboxPlatform, c: Course) -> dict[str, Any]:
    org, number, run = c.key[len("course-v1:"):].split("+")
    return {
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
        "hidden": False, "invitation_only": False, "course_id": c.key}


def courses(p: SandboxPlatform, req: Request, caller: dict[str, Any]) -> Response:
    """course_api/views.py: CourseListView, and CourseDetailView at courses/<course key>/ (the
    course's display name is `name`; an unknown key is DRF's 404)."""
    key = unquote(req.path[len("/api/courses/v1/courses"):]).strip("/")
    if key:
        c = next((c for c in p.world.courses if c.key == key), None)
        return Response(200, _course_row(p, c)) if c else err(404, {"detail": "Not found."})
    results = [_course_row(p, c) for c in p.world.courses]
    return Response(200, {"results": results, "pagination": {
        "next": None, "previous": None, "count": len(results), "num_pages": 1}},
        rows_key="results")


HANDLERS = {"enrollments": enrollments, "enrollment": enrollment, "roles": roles,
            "grades": grades, "certificates": certificates, "accounts": accounts,
            "completion_aggregator": edx_completion.aggregator, "blocks": edx_blocks.render,
            "courses": courses, "completion_batch": edx_completion.completion_batch}
