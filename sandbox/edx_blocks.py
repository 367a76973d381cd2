"""Open edX course structure and the Course Blocks API (/api/courses/v1/blocks/) over the World:
one chapter per criterion activity; the meetup unit holds an info page, the staff-graded
attestation of presence and a staff-only note."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .edx_http import err
from .wire import Request, Response
from .world import COMPLETE, Course, Learner

if TYPE_CHECKING:
    from .server import SandboxPlatform

LEAF_TYPE = {"quiz": "problem", "attendance": "staffgradedxblock"}
# Scored blocks complete when graded (or by the API), never by being viewed.
SCORED = {"problem", "staffgradedxblock"}
AGGREGATORS = {"course", "chapter", "sequential", "vertical"}
CHAPTER = {"page": ("m1", "Module 1 — Internet"), "quiz": ("m2", "Module 2 — Le Web"),
           "attendance": ("presentiel", "Temps de rencontre — tiers-lieu")}


@dataclass(frozen=True, slots=True)
class Block:
    usage: str
    type: str
    block_id: str
    name: str
    children: tuple[str, ...] = ()
    cmid: int | None = None  # the World activity this leaf stands for
    staff_only: bool = False
    graded: bool = False
    visit: str | None = None  # an info page: complete once the learner opened this unit

    @property
    def completable(self) -> bool:
        return self.type not in AGGREGATORS


def usage_key(c: Course, kind: str, name: str) -> str:
    return f"block-v1:{c.key[len('course-v1:'):]}+type@{kind}+block@{name}"


def presence_block(c: Course) -> str:
    """The staff-graded block attesting presence at the meetup: the push target to use."""
    return usage_key(c, "staffgradedxblock", "presence")


def presence_info_block(c: Course) -> str:
    """The meetup's practical-information page: an html block, completed by viewing it."""
    return usage_key(c, "html", "presence_info")


def tree(c: Course) -> list[Block]:
    """Every block of the course, the root first."""
    blocks: list[Block] = []
    chapters = []
    for a in c.activities:
        if not a.criterion:
            continue
        chap, title = CHAPTER.get(a.modname, (a.block, a.name))
        kind = LEAF_TYPE.get(a.modname, "html")
        leaves = [Block(usage_key(c, kind, a.block), kind, a.block, a.name, cmid=a.cmid,
                        graded=kind in SCORED)]
        if a.modname == "attendance":
            leaves = [Block(presence_info_block(c), "html", "presence_info",
                            "Infos pratiques : lieu, horaires, accès", visit=a.block),
                      Block(leaves[0].usage, kind, a.block, "Présence sur site (attestée par "
                            "l'équipe)", cmid=a.cmid, graded=True),
                      Block(usage_key(c, "html", "staff_notes"), "html", "staff_notes",
                            "Consignes pour l'équipe (émargement)", staff_only=True)]
        vert = Block(usage_key(c, "vertical", f"{a.block}_v"), "vertical", f"{a.block}_v", a.name,
                     tuple(b.usage for b in leaves))
        seq = Block(usage_key(c, "sequential", f"{a.block}_s"), "sequential", f"{a.block}_s",
                    a.name, (vert.usage,), graded=any(b.graded for b in leaves))
        ch = Block(usage_key(c, "chapter", chap), "chapter", chap, title, (seq.usage,))
        chapters.append(ch.usage)
        blocks += [ch, seq, vert, *leaves]
    return [Block(usage_key(c, "course", "course"), "course", "course", c.fullname,
                  tuple(chapters)), *blocks]


def by_usage(c: Course) -> dict[str, Block]:
    return {b.usage: b for b in tree(c)}


def leaf_value(p: SandboxPlatform, c: Course, u: Learner, block: Block) -> float:
    """The learner's BlockCompletion for a leaf: the row written last, else what the World says."""
    pr = u.progress.get(c.id)
    if pr is None:
        return 0.0
    if block.usage in pr.block_values:
        return pr.block_values[block.usage]
    if block.cmid is not None:
        return 1.0 if p.world.activity_completed(u, c, block.cmid) else 0.0
    return 1.0 if block.visit is not None and block.visit in pr.visited else 0.0


def can_mark_complete_on_view(block: Block) -> bool:
    """completion/services.py `can_mark_block_complete_on_view`: a completable block without a
    score and without custom completion (an html block) completes when the learner sees it."""
    return block.completable and block.type not in SCORED


def view(p: SandboxPlatform, c: Course, u: Learner, usage: str) -> bool:
    """The learner opens a unit showing this block, as the LMS runtime publishes completion on
    view (only while completion tracking is on). True if a completion was written."""
    block = by_usage(c).get(usage)
    pr = u.progress.get(c.id)
    if block is None or pr is None or not p.completion_tracking or not can_mark_complete_on_view(block):
        return False
    pr.block_values[usage] = 1.0
    if block.cmid is not None:
        p.world.set_activity(u, c, block.cmid, COMPLETE)
    return True


def render(p: SandboxPlatform, req: Request, caller: dict[str, Any]) -> Response:
    key = req.query.get("course_id", "")
    if not key:
        return err(400, {"developer_message": "course_id is required."})
    c = p.world.course_by_key(key)
    if c is None:
        if not key.startswith("course-v1:") and key.count("/") != 2:
            return err(400, {"developer_message": f"'{key}' is not a valid course key."})
        return err(404, {"developer_message": f"Block not found: {key}"})
    all_blocks = req.query.get("all_blocks", "").lower() == "true"
    username = req.query.get("username")
    if username is None and not all_blocks:
        return err(400, {"developer_message": {"username": [
            "This field is required unless all_blocks is requested."]}})
    if not caller["staff"]:
        # forms.py _verify_other_user / _verify_all_blocks: course or global staff only
        return err(403, {"detail": "You do not have permission to perform this action."})
    u: Learner | None = None
    if not all_blocks:
        u = p.world.by_username.get(username or "")
        if u is None:
            return err(404, {"detail": f"Requested user '{username}' does not exist."})
    fields = {f for v in req.query.get("requested_fields", "").split(",") if (f := v.strip())}
    blocks = [b for b in tree(c) if all_blocks or not b.staff_only]
    index = {b.usage: b for b in blocks}

    def complete(b: Block) -> bool:
        if b.completable:
            return u is not None and leaf_value(p, c, u, b) >= 1.0
        return all(complete(index[ch]) for ch in b.children if ch in index)

    out: dict[str, Any] = {}
    for b in blocks:
        row: dict[str, Any] = {"id": b.usage, "block_id": b.block_id, "type": b.type,
                               "display_name": b.name}
        if "graded" in fields:
            row["graded"] = b.graded
        if "format" in fields and b.type == "sequential" and b.graded:
            row["format"] = "Quiz"
        if "completion" in fields and u is not None:
            # block_completion.py: aggregators (course, chapter, sequential, vertical) carry None
            row["completion"] = leaf_value(p, c, u, b) if b.completable else None
        if "complete" in fields and u is not None:
            row["complete"] = complete(b)
        if "children" in fields and b.children:
            row["children"] = [ch for ch in b.children if ch in index]
        row["lms_web_url"] = f"{p.base_url}/courses/{c.key}/jump_to/{b.usage}"
        row["student_view_url"] = f"{p.base_url}/xblock/{b.usage}"
        out[b.usage] = row
    return Response(200, {"root": blocks[0].usage, "blocks": out})
