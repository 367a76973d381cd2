"""Open edX Course Blocks API (/api/courses/v1/blocks/) over the World: one chapter per
criterion activity; the in-person unit is the `html` block `presence`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .wire import Request, Response
from .world import Course, Learner

if TYPE_CHECKING:
    from .server import SandboxPlatform

LEAF_TYPE = {"quiz": "problem"}
CHAPTER = {"page": ("m1", "Module 1 — Internet"), "quiz": ("m2", "Module 2 — Le Web"),
           "attendance": ("presentiel", "Temps de rencontre — tiers-lieu")}


def _bid(c: Course, kind: str, name: str) -> str:
    return f"block-v1:{c.key[len('course-v1:'):]}+type@{kind}+block@{name}"


def tree(c: Course) -> list[tuple[str, str, str, str, list[str], int | None]]:
    """(usage id, type, block id, display name, children, cmid of the leaf) rows."""
    rows: list[tuple[str, str, str, str, list[str], int | None]] = []
    chapters = []
    for a in c.activities:
        if not a.criterion:
            continue
        chap, title = CHAPTER.get(a.modname, (a.block, a.name))
        leaf_type = LEAF_TYPE.get(a.modname, "html")
        leaf = _bid(c, leaf_type, a.block)
        vert = _bid(c, "vertical", f"{a.block}_v")
        seq = _bid(c, "sequential", f"{a.block}_s")
        ch = _bid(c, "chapter", chap)
        chapters.append(ch)
        leaf_name = "Présence sur site (attestée)" if a.modname == "attendance" else a.name
        rows += [(ch, "chapter", chap, title, [seq], None),
                 (seq, "sequential", f"{a.block}_s", a.name, [vert], None),
                 (vert, "vertical", f"{a.block}_v", a.name, [leaf], None),
                 (leaf, leaf_type, a.block, leaf_name, [], a.cmid)]
    root = _bid(c, "course", "course")
    return [(root, "course", "course", c.fullname, chapters, None), *rows]


def render(p: SandboxPlatform, req: Request) -> Response:
    key = req.query.get("course_id", "")
    c = p.world.course_by_key(key)
    if c is None:
        return Response(404, {"detail": f"Course not found: {key}"})
    username = req.query.get("username")
    u: Learner | None = None
    if username:
        u = p.world.by_username.get(username)
        pr = u.progress.get(c.id) if u else None
        if u is None or pr is None or not pr.enrolled:
            return Response(403, {"detail": "You do not have permission to perform this "
                                            "action."})
    fields = set(req.query.get("requested_fields", "").split(","))
    rows = tree(c)
    leaf_value = {cmid: float(u is not None and p.world.activity_completed(u, c, cmid))
                  for *_, cmid in rows if cmid is not None}
    by_id = {r[0]: r for r in rows}

    def completion(usage: str) -> float:
        _, _, _, _, children, cmid = by_id[usage]
        if cmid is not None:
            return leaf_value[cmid]
        values = [completion(ch) for ch in children]
        return round(sum(values) / len(values), 4) if values else 0.0

    out: dict[str, Any] = {}
    for usage, kind, block_id, name, children, _cmid in rows:
        block: dict[str, Any] = {"id": usage, "block_id": block_id, "type": kind,
                                 "display_name": name}
        if kind in ("problem",) or (kind == "sequential" and block_id == "web_quiz_s"):
            if "graded" in fields:
                block["graded"] = True
            if "format" in fields and kind == "sequential":
                block["format"] = "Quiz"
        if "completion" in fields and u is not None:
            value = completion(usage)
            block["completion"] = value
            block["complete"] = value >= 1.0
        if children:
            block["children"] = children
        block["lms_web_url"] = f"{p.base_url}/courses/{c.key}/jump_to/{usage}"
        block["student_view_url"] = f"{p.base_url}/xblock/{usage}"
        out[usage] = block
    return Response(200, {"root": rows[0][0], "blocks": out})
