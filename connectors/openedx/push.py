"""Presence pushed to Open edX: a block's completion set through completion-batch, after
checking the block can carry it, then read back so the completion counts in the same run.

A target must be a completable leaf of the course that the learner cannot complete by viewing
it (completion/services.py can_mark_block_complete_on_view: an html block completes on view),
and visible to learners (a hidden block is absent from their tree: nothing to read back).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.errors import FixableSourceError, PermanentSourceError, SourceError
from bridge.model import Attestation, Fact, FactKind, PushResult
from connectors.openedx.blocks import usage_course, usage_type
from connectors.openedx.payloads import Block
from connectors.openedx.refusals import classify
from connectors.openedx.requirements import BLOCKS_COMPLETED_ON_VIEW, NEEDS

if TYPE_CHECKING:
    from connectors.openedx.connector import OpenEdxConnector

__all__ = ["target_refusal", "push_block"]

BATCH = "completion/v1/completion-batch"


def target_refusal(target: str, course: str) -> str | None:
    """Why `target` cannot receive a presence pushed for `course`, read from the key alone;
    None if it may (the block's existence is checked at push time)."""
    kind, _, usage = target.partition(":")
    if kind != "block" or usage_type(usage) is None:
        return (f"an Open edX target is block:<usage key> (block-v1:ORG+NUMBER+RUN+type@TYPE+"
                f"block@ID), not {target!r}")
    if usage_course(usage) != course:
        return f"block {usage} is not in course {course}"
    if usage_type(usage) in BLOCKS_COMPLETED_ON_VIEW:
        return (f"a {usage_type(usage)} block is completed by the learner simply viewing it, so "
                "a presence pushed there could be self-attested; push to a block the learner "
                "cannot complete themselves, e.g. a staff-graded one (staffgradedxblock)")
    return None


def push_block(conn: OpenEdxConnector, att: Attestation) -> PushResult:
    usage = att.target.partition(":")[2]
    if (reason := target_refusal(att.target, att.course)) is not None:
        raise PermanentSourceError(reason, source=conn.source_id, endpoint="push")
    course, user = att.course, att.username or att.external_id
    leaf = conn.blocks.structure(course).get(usage)
    if leaf is None or leaf.children:
        raise PermanentSourceError(
            f"block {usage} is {'not in' if leaf is None else 'not a completable leaf of'} "
            f"course {course}", source=conn.source_id, endpoint="courses/v1/blocks")
    before = _value(conn, course, user, usage)
    if before >= 1.0:
        return PushResult(accepted=True, reflected=True, message="already complete; nothing sent",
                          response={"completion": before},
                          facts=read_back(conn, course, user, usage, before))
    try:
        body = conn.http.request_json(
            "POST", f"{conn.config.url}/api/completion/v1/completion-batch", endpoint=BATCH,
            retries=0, json={"username": user, "course_key": course, "blocks": {usage: 1.0}})
    except PermanentSourceError as exc:
        raise _refusal(exc, conn) from None
    after = _value(conn, course, user, usage)
    return PushResult(accepted=True, reflected=after >= 1.0,
                      message=str(body.get("detail", "")) if isinstance(body, dict) else "",
                      response={"completion": after},
                      facts=read_back(conn, course, user, usage, after))


def _value(conn: OpenEdxConnector, course: str, user: str, usage: str) -> float:
    """The learner's completion of the block; a hidden or non-completable block is refused."""
    block: Block | None = conn.blocks.learner(course, user).get(usage)
    if block is None:
        raise FixableSourceError(
            f"block {usage} is hidden from learner {user} (staff only, or restricted by group "
            "or date): its completion cannot be read back", source=conn.source_id,
            endpoint="courses/v1/blocks",
            fix="make the block visible to learners in Studio, or push to another block")
    if block.completion is None:
        raise PermanentSourceError(f"block {usage} does not carry a completion (an aggregator or "
                                   "an excluded block)", source=conn.source_id,
                                   endpoint="courses/v1/blocks")
    return block.completion


def _refusal(exc: PermanentSourceError, conn: OpenEdxConnector) -> SourceError:
    if exc.status == 400 and "submit_batch_completion" in exc.detail:
        need = NEEDS["completion_switch"]
        return FixableSourceError(
            f"completion tracking is off on the LMS (waffle switch {need.name})",
            source=exc.source, endpoint=exc.endpoint, status=exc.status, fix=need.fix)
    return classify(exc, conn.auth.claims)


def read_back(conn: OpenEdxConnector, course: str, user: str, usage: str,
              value: float) -> list[Fact]:
    """What the LMS now says of the learner: the block's completion, and the course's when the
    aggregator is there (its one-learner view is recalculated on read)."""
    done = value >= 1.0
    facts = [conn.fact(user, FactKind.activity_completion, course, 1.0 if done else 0.0,
                       "complete" if done else "incomplete", item=usage)]
    try:
        percent = conn.course_completion_of(course, user)
    except SourceError:
        percent = None  # the push succeeded; the next pull reads the course anyway
    if percent is not None:
        facts.append(conn.course_completion_fact(user, course, percent))
    return facts
