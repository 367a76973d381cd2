"""Steps 3-4 of a run: evaluate the rules for the learners whose facts changed, issue awards.

An award and its email outbox item are written in one transaction, unique per
(learner, badge, period): evaluating twice never issues twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bridge import i18n
from bridge.issuing.images import badge_image
from bridge.issuing.ob2 import new_salt
from bridge.store import NewOutboxItem, Store

__all__ = ["Decisions", "publish_badges", "candidates", "decide", "issue", "mark_evaluated",
           "explain_learner"]


@dataclass
class Decisions:
    """What evaluation found: awards to make, and awards the current rules no longer grant."""

    to_award: list[dict[str, Any]] = field(default_factory=list)
    no_longer_granted: list[dict[str, Any]] = field(default_factory=list)
    evaluated: int = 0
    skipped_no_email: int = 0


def badge_definition(badge: Any) -> dict[str, Any]:
    """The stored snapshot of a badge, served by the web app even if the rule file changes."""
    return {
        "name": dict(badge.name), "description": dict(badge.description),
        "criteria": dict(badge.criteria), "tags": list(badge.tags),
        "alignments": [{"name": a.name, "url": a.url, "code": a.code,
                        "framework": getattr(a, "framework", None)} for a in badge.alignments],
        "renewable": bool(badge.renewable), "file": str(badge.file),
    }


def publish_badges(store: Store, ruleset: Any) -> None:
    for badge in ruleset.badges.values():
        image, image_type = badge_image(badge.image)
        store.upsert_badge(badge.id, badge.version, badge_definition(badge), image, image_type)


def candidates(store: Store, ruleset: Any, *, everyone: bool = False) -> tuple[dict[str, set[int]], list[int]]:
    """Badge id -> learners to evaluate (those with new facts; everyone for an edited badge, or
    on request), and the evaluation-queue rows this covers."""
    pending = store.pending_evaluations()
    changed = set(pending.values())
    out: dict[str, set[int]] = {}
    all_ids: set[int] | None = None
    for badge_id, badge in ruleset.badges.items():
        if everyone or store.watermark("rules", badge_id, "version") != badge.version:
            all_ids = all_ids if all_ids is not None else store.all_learner_ids()
            out[badge_id] = set(all_ids)
        else:
            out[badge_id] = set(changed)
    return out, list(pending)


def _valid(award: dict[str, Any], now: datetime) -> bool:
    return award["status"] == "issued" and (award["expires_at"] is None or award["expires_at"] > now)


CHUNK = 2000  # learners whose facts and awards are in memory at once


def decide(store: Store, ruleset: Any, todo: dict[str, set[int]], now: datetime | None = None) -> Decisions:
    """Pure decisions (nothing written): what to award, what the rules would no longer grant.

    Learners are taken CHUNK at a time, so memory does not grow with the number of learners.
    """
    now = now or datetime.now(UTC)
    result = Decisions()
    todo = {badge_id: set(ids) for badge_id, ids in todo.items()}
    everyone = sorted(set().union(*todo.values())) if todo else []
    for i in range(0, len(everyone), CHUNK):
        _decide_chunk(store, ruleset, todo, set(everyone[i:i + CHUNK]), now, result)
    return result


def _decide_chunk(store: Store, ruleset: Any, todo: dict[str, set[int]], chunk: set[int],
                  now: datetime, result: Decisions) -> None:
    facts = store.facts_for(chunk)
    existing = store.awards_of(chunk)
    people = store.learners(chunk)
    held: dict[int, dict[str, datetime]] = {
        lid: {a["badge_id"]: a["issued_at"] for a in awards if _valid(a, now)}
        for lid, awards in existing.items()}
    for badge_id, badge in ruleset.badges.items():  # dependency order: badge_held sees new awards
        for lid in sorted(todo.get(badge_id, set()) & chunk):
            person = people.get(lid)
            if person is None or person.get("erased_at"):
                continue
            mine = [a for a in existing.get(lid, []) if a["badge_id"] == badge_id]
            latest = mine[-1] if mine else None
            # A renewal is earned again: only facts after the previous award count.
            since = latest["issued_at"] if latest is not None and badge.renewable else None
            decision = ruleset.evaluate(badge_id, facts.get(lid, []), held.get(lid, {}), since=since)
            result.evaluated += 1
            if latest is not None and _valid(latest, now):
                if not decision.awarded:
                    result.no_longer_granted.append({"award_id": latest["id"], "learner_id": lid,
                                                     "email": person["email"], "badge_id": badge_id})
                continue
            if not decision.awarded:
                continue
            if latest is not None and (latest["status"] == "revoked" or not badge.renewable):
                continue  # a revoked award is re-issued only by an administrator
            if not person.get("email"):
                result.skipped_no_email += 1
                continue
            period = str(int(latest["period"] or "1") + 1) if latest else "1"
            result.to_award.append({
                "learner_id": lid, "badge_id": badge_id, "period": period,
                "previous_award_id": latest["id"] if latest else None,
                "email": person["email"], "fullname": person.get("fullname"),
                "lang": person.get("lang"), "rule_version": badge.version,
                "provenance": [_fact_ref(f) for f in decision.provenance],
                "badge": badge,
            })
            held.setdefault(lid, {})[badge_id] = now
            for dependent in ruleset.dependents(badge_id):  # evaluated later in this same pass
                todo.setdefault(dependent, set()).add(lid)


def _fact_ref(ref: Any) -> dict[str, Any]:
    occurred = getattr(ref, "occurred_at", None)
    kind = getattr(ref, "kind", "")
    return {"source": ref.source, "kind": getattr(kind, "value", kind), "course": ref.course,
            "item": getattr(ref, "item", ""), "value": getattr(ref, "value", None),
            "occurred_at": occurred.isoformat() if occurred else None}


def issue(store: Store, decisions: Decisions, run_id: int, default_lang: str,
          now: datetime | None = None) -> int:
    """Write each award with its email outbox item; returns how many were new."""
    issued = 0
    for d in decisions.to_award:
        issued_at = now or datetime.now(UTC)
        badge = d["badge"]
        award_id = str(uuid.uuid4())
        lang = i18n.negotiate([d["lang"]], default_lang)  # fr_CA → fr; no catalog → the default
        award = {
            "id": award_id, "learner_id": d["learner_id"], "badge_id": d["badge_id"],
            "period": d["period"], "issued_at": issued_at,
            "expires_at": badge.expiry_from(issued_at) if badge.expires_after else None,
            "salt": new_salt(), "recipient_email": d["email"], "recipient_name": d["fullname"],
            "lang": lang, "rule_version": d["rule_version"], "provenance": d["provenance"],
            "status": "issued", "previous_award_id": d["previous_award_id"], "run_id": run_id,
        }
        item = NewOutboxItem(key=f"email:{award_id}", channel="email", payload={"award_id": award_id})
        if store.create_award(award, [item]):
            issued += 1
    return issued


def mark_evaluated(store: Store, ruleset: Any, queue_rows: list[int]) -> None:
    """After the awards are written: these queue rows are done, these rule versions seen."""
    for badge_id, badge in ruleset.badges.items():
        store.set_watermark("rules", badge_id, "version", badge.version)
    store.clear_pending(queue_rows)


def explain_learner(store: Store, ruleset: Any, email: str, badge_id: str,
                    now: datetime | None = None) -> tuple[Any, list[dict[str, Any]]] | None:
    """The rule's verdict for one learner, evaluated on the stored facts, and their awards of it."""
    now = now or datetime.now(UTC)
    person = store.learner_by_email(email)
    if person is None:
        return None
    lid = person["id"]
    awards = store.awards_of([lid]).get(lid, [])
    held = {a["badge_id"]: a["issued_at"] for a in awards if _valid(a, now)}
    decision = ruleset.evaluate(badge_id, store.facts_for([lid]).get(lid, []), held)
    return decision, [a for a in awards if a["badge_id"] == badge_id]
