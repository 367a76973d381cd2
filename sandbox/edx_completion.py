"""Open edX completion: the core completion-batch write (openedx/completion) and the optional
completion-aggregator plugin's read (open-craft/openedx-completion-aggregator)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode

from . import edx_blocks
from .edx_http import COURSE_KEY, err, page_not_found
from .wire import Request, Response
from .world import COMPLETE, INCOMPLETE, Course, Learner

if TYPE_CHECKING:
    from .server import SandboxPlatform

SWITCH_OFF = ("BlockCompletion.objects.submit_batch_completion should not be called when the "
              "feature is disabled.")
_USAGE_KEY = re.compile(r"^block-v1:([^+]+\+[^+]+\+[^+]+)\+type@[\w-]+\+block@[\w.-]+$")


def completion_batch(p: SandboxPlatform, req: Request, caller: dict[str, Any]) -> Response:
    """CompletionBatchView (completion/api/v1/views.py, source at d0d6346): the switch is checked
    first, the block key is parsed but never looked up, the last value written is kept
    (models.py submit_completion), and the batch is one transaction."""
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        return err(400, {"detail": "JSON parse error"})
    body = body if isinstance(body, dict) else {}
    if not caller["staff"] and body.get("username") != caller["username"]:
        return err(403, {"detail": "You do not have permission to perform this action."})
    if not p.completion_tracking:
        return err(400, {"detail": SWITCH_OFF})
    for key in ("username", "course_key", "blocks"):
        if key not in body:
            return err(400, {"detail": f"Key '{key}' not found."})
    u = p.world.by_username.get(str(body["username"]))
    if u is None:
        return err(404, {"detail": "User matching query does not exist."})
    context = str(body["course_key"])
    if not COURSE_KEY.match(context):
        return err(400, {"detail": f"Invalid learning context key: {context}"})
    c = p.world.course_by_key(context)
    pr = u.progress.get(c.id) if c else None
    if c is None or pr is None or not pr.enrolled:
        return err(400, {"detail": "User is not enrolled in course."})
    items = body["blocks"] if isinstance(body["blocks"], dict) else {}
    rows: dict[str, float] = {}
    for block, raw in items.items():
        m = _USAGE_KEY.match(str(block))
        if not m:
            return err(400, {"detail": f"Invalid block key: {block}"})
        if f"course-v1:{m.group(1)}" != c.key:
            return err(400, {"detail": f"Block with key: '{block}' is not in context {c.key}"})
        try:
            value = float(raw)
        except (TypeError, ValueError) as exc:
            return err(400, {"detail": str(exc)})
        if block in pr.block_values and pr.block_values[block] != value and not 0.0 <= value <= 1.0:
            # full_clean() runs only when an existing row changes
            return err(400, {"detail": f"{value} must be between 0.0 and 1.0"})
        rows[block] = value
    known = edx_blocks.by_usage(c)
    for block, value in rows.items():
        pr.block_values[block] = value
        leaf = known.get(block)
        if leaf is not None and leaf.cmid is not None:
            p.world.set_activity(u, c, leaf.cmid, COMPLETE if value >= 1.0 else INCOMPLETE)
    if rows:
        p.record_push({"kind": "openedx.completion_batch", "username": u.username,
                       "course_key": c.key, "blocks": dict(rows), "courseid": c.id,
                       "time": p.world.now})
    return Response(200, {"detail": "ok"})


def percent(p: SandboxPlatform, c: Course, u: Learner) -> tuple[float, float]:
    """(earned, possible) over every completable block the learner can see."""
    leaves = [b for b in edx_blocks.tree(c) if b.completable and not b.staff_only]
    earned = sum(edx_blocks.leaf_value(p, c, u, b) for b in leaves)
    return float(earned), float(len(leaves))


def run_aggregator_service(p: SandboxPlatform) -> None:
    """The plugin's cron (`run_aggregator_service`): refresh every learner's stored aggregate."""
    with p.lock:
        p.aggregates = {(c.id, u.id): percent(p, c, u) for c in p.world.courses
                        for u in p.world.enrolled(c.id)}


def aggregator(p: SandboxPlatform, req: Request, caller: dict[str, Any]) -> Response:
    """GET /completion-aggregator/v1/course/{key}/ (api/v1/views.py, common.py): all learners
    for staff, from the stored aggregates (as old as the last cron run); one learner,
    recalculated on read (stale completions are resolved for a single user)."""
    if not p.aggregator:
        return page_not_found()
    key = unquote(req.path[len("/completion-aggregator/v1/course/"):]).strip("/")
    if not COURSE_KEY.match(key):
        return err(404, {"detail": f"Invalid course key: '{key}'."})
    username = req.query.get("username")
    if not username and not caller["staff"]:
        return err(403, {"detail": "You do not have permission to perform this action."})
    c = p.world.course_by_key(key)
    learners = p.world.enrolled(c.id) if c else []
    if username:
        if not caller["staff"] and username != caller["username"]:
            return err(403, {"detail": "You do not have permission to perform this action."})
        if username not in p.world.by_username:
            return err(404, {"detail": "Not found."})
        learners = [u for u in learners if u.username == username]
        if not learners:
            return err(404, {"detail": f"User '{username}' does not have an active enrollment "
                                       f"in course '{key}'."})
    fields = set(req.query.get("requested_fields", "").split(","))
    if not username:
        fields.add("username")
    try:
        page = max(1, int(req.query.get("page", 1)))
        size = max(1, int(req.query.get("page_size", 10)))
    except ValueError:
        return err(404, {"detail": "Invalid page."})
    pages = max(1, -(-len(learners) // size))
    if page > pages:
        return err(404, {"detail": "Invalid page."})
    rows = []
    for u in learners[(page - 1) * size: page * size]:
        assert c is not None
        if username:
            p.aggregates[(c.id, u.id)] = percent(p, c, u)
        earned, possible = p.aggregates.get((c.id, u.id), (0.0, 1.0))
        row: dict[str, Any] = {"course_key": c.key, "completion": {
            "earned": earned, "possible": possible,
            "percent": round(earned / possible, 4) if possible else 0.0}}
        if "username" in fields:
            row["username"] = u.username
        rows.append(row)
    params = {k: v for k, v in req.query.items() if k != "page"}

    def link(n: int) -> str:
        return f"{p.base_url}{req.path}?{urlencode({**params, 'page': n})}"

    return Response(200, {"pagination": {
        "next": link(page + 1) if page < pages else None,
        "previous": link(page - 1) if page > 1 else None,
        "count": len(learners), "num_pages": pages}, "results": rows}, rows_key="results")
