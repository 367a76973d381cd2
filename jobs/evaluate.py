"""Steps 2-3 of a run: evaluate the rules for the learners whose facts changed, issue awards.

An award, its status-list slot and its email outbox item are written together (a batch of
awards a transaction), unique per (learner, badge, period): evaluating twice never issues twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from badge_rules import BADGE_SOURCE, BadgeDef, Decision, FactIndex, FactRef, RuleSet
from bridge import i18n
from bridge.issuing.images import badge_image
from bridge.issuing.ob2 import new_salt
from bridge.progress import Task
from bridge.store import Award, NewAward, NewOutboxItem, Store

__all__ = ["AwardDecision", "NoLongerGranted", "Decisions", "publish_badges", "candidates",
           "decide", "issue", "mark_evaluated", "explain_learner", "evaluate_and_issue", "Pass",
           "Scope", "Chunk", "scope", "chunks_of", "CHUNK"]


@dataclass(frozen=True, slots=True)
class AwardDecision:
    """An award the rules grant that the store does not hold yet."""

    learner_id: int
    badge: BadgeDef
    period: str
    previous_award_id: str | None
    email: str
    fullname: str | None
    lang: str | None
    provenance: list[dict[str, Any]]

    @property
    def badge_id(self) -> str:
        return self.badge.id


@dataclass(frozen=True, slots=True)
class NoLongerGranted:
    """A valid award the current rules would not grant: reported, never revoked by itself."""

    award_id: str
    learner_id: int
    email: str | None
    badge_id: str


@dataclass
class Decisions:
    """What evaluation found: awards to make, and awards the current rules no longer grant."""

    to_award: list[AwardDecision] = field(default_factory=list)
    no_longer_granted: list[NoLongerGranted] = field(default_factory=list)
    evaluated: int = 0
    skipped_no_email: int = 0


def badge_definition(badge: BadgeDef) -> dict[str, Any]:
    """The stored snapshot of a badge, served by the web app even if the rule file changes."""
    return {
        "name": dict(badge.name), "description": dict(badge.description),
        "criteria": dict(badge.criteria), "tags": list(badge.tags),
        "alignments": [{"name": a.name, "url": a.url, "code": a.code, "framework": a.framework}
                       for a in badge.alignments],
        "renewable": bool(badge.renewable), "file": str(badge.file),
    }


def publish_badges(store: Store, ruleset: RuleSet) -> None:
    for badge in ruleset.badges.values():
        image, image_type = badge_image(badge.image)
        store.awards.publish_badge(badge.id, badge.version, badge_definition(badge), image, image_type)


def candidates(store: Store, ruleset: RuleSet, *,
               everyone: bool = False) -> tuple[dict[str, set[int]], list[int]]:
    """Badge id -> learners to evaluate (those with new facts; everyone for an edited badge, or
    on request), and the evaluation-queue rows this covers."""
    pending = store.facts.to_evaluate.pending()
    changed = set(pending.values())
    out: dict[str, set[int]] = {}
    all_ids: set[int] | None = None
    for badge_id, badge in ruleset.badges.items():
        if everyone or store.facts.watermark("rules", badge_id, "version") != badge.version:
            all_ids = all_ids if all_ids is not None else store.facts.learner_ids()
            out[badge_id] = set(all_ids)
        else:
            out[badge_id] = set(changed)
    return out, list(pending)


CHUNK = 1000  # learners whose facts and awards are in memory at once


@dataclass(frozen=True)
class Scope:
    """What one pass of a run evaluates: the badges evaluated for every learner (edited since
    their last pass, or on request) and, for the others, the learners queued in the rows up to
    `upto` (None: the queue was empty); rows queued meanwhile are left for the next pass."""

    everyone: frozenset[str]
    upto: int | None


@dataclass
class Chunk:
    """Learners of one id range: who each badge evaluates, and the queue rows that covers."""

    todo: dict[str, set[int]]
    learners: set[int]
    queue_rows: list[int]


def scope(store: Store, ruleset: RuleSet, *, everyone: bool = False) -> Scope:
    return Scope(frozenset(b for b, badge in ruleset.badges.items()
                           if everyone or store.facts.watermark("rules", b, "version") != badge.version),
                 store.facts.to_evaluate.last())


def chunks_of(store: Store, ruleset: RuleSet, within: Scope, size: int = CHUNK) -> Iterator[Chunk]:
    """The pass's learners by ascending id, about `size` at a time, read from the store a range
    at a time (the same learners and badges as `candidates`, never all of them at once)."""
    queue, after = store.facts.to_evaluate, 0
    while True:
        ids: list[int] = []
        if within.everyone:
            ids = store.facts.learner_ids_after(after, size)
            until = ids[-1] if len(ids) == size else None
        elif within.upto is not None:
            first = queue.learners_after(after, size, within.upto)
            until = first[-1] if len(first) == size else None
        else:
            until = None
        rows = queue.rows_between(after, until, within.upto) if within.upto is not None else []
        queued = {lid for _, lid in rows}
        everyone = set(ids)
        yield Chunk({b: set(everyone if b in within.everyone else queued) for b in ruleset.badges},
                    everyone | queued, [r for r, _ in rows])
        if until is None:
            return
        after = until


@dataclass
class Pass:
    """What a pass of evaluate (and issue) did."""

    evaluated: int = 0
    awarded: int = 0
    no_longer_granted: int = 0
    skipped_no_email: int = 0


def evaluate_and_issue(store: Store, ruleset: RuleSet, run_id: int, default_lang: str, *,
                       public_url: str = "http://localhost", issue_too: bool = True,
                       now: datetime | None = None, size: int = CHUNK,
                       progress: Task | None = None,
                       lap: Callable[[str], None] | None = None) -> Pass:
    """A run's evaluation: the queued learners (everyone for an edited badge), a chunk of
    learners at a time. With `issue_too`, a chunk's awards are written (ISSUE_BATCH a
    transaction) and its queue rows cleared before more learners are read, so memory does not
    grow with the number of learners; the badges' rule versions are marked seen at the end.

    A pass stopped between two chunks loses nothing: the learners not yet cleared are still
    queued (or, for an edited badge, everyone is evaluated again), and the awards already
    written are held, so the next pass issues each once."""
    now = now or datetime.now(UTC)
    within = scope(store, ruleset)
    out = Pass()
    waiting = Decisions()  # decided, not written yet: at most ISSUE_BATCH + one chunk's
    rows: list[int] = []  # the queue rows those decisions cover

    def flush() -> None:
        out.awarded += issue(store, waiting, run_id, default_lang, public_url=public_url,
                             progress=progress)
        store.facts.to_evaluate.clear(rows)
        waiting.to_award.clear()
        rows.clear()
        if lap is not None:
            lap("issue")

    for chunk in chunks_of(store, ruleset, within, size):
        found = Decisions()
        _decide_chunk(store, ruleset, chunk.todo, chunk.learners, now, found)
        out.evaluated += found.evaluated
        out.no_longer_granted += len(found.no_longer_granted)
        out.skipped_no_email += found.skipped_no_email
        if lap is not None:
            lap("evaluate")
        if not issue_too:
            continue
        waiting.to_award.extend(found.to_award)
        rows.extend(chunk.queue_rows)
        if len(waiting.to_award) >= ISSUE_BATCH:
            flush()
    if issue_too:
        flush()
        mark_evaluated(store, ruleset, [])  # the queue rows are cleared chunk by chunk
    return out


def decide(store: Store, ruleset: RuleSet, todo: dict[str, set[int]],
           now: datetime | None = None) -> Decisions:
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


def _held(awards: list[Award], now: datetime) -> dict[str, datetime]:
    """Badge id -> issue date of the learner's valid awards (what `badge_held` sees)."""
    return {a.badge_id: a.issued_at for a in awards if a.validity(now) == "valid"}


def _decide_chunk(store: Store, ruleset: RuleSet, todo: dict[str, set[int]], chunk: set[int],
                  now: datetime, result: Decisions) -> None:
    facts = store.facts.of_learners(chunk)
    existing = store.awards.of_learners(chunk)
    people = store.facts.learners(chunk)
    held = {lid: _held(awards, now) for lid, awards in existing.items()}
    indexes: dict[int, FactIndex] = {}  # each learner's facts indexed once for all badges
    for badge_id, badge in ruleset.badges.items():  # dependency order: badge_held sees new awards
        for lid in sorted(todo.get(badge_id, set()) & chunk):
            person = people.get(lid)
            if person is None or person.erased_at:
                continue
            mine = [a for a in existing.get(lid, []) if a.badge_id == badge_id]
            latest = mine[-1] if mine else None
            # A renewal is earned again: only facts after the previous award count.
            since = latest.issued_at if latest is not None and badge.renewable else None
            if since is None:
                index = indexes.get(lid)
                if index is None:
                    index = indexes[lid] = FactIndex(facts.get(lid, []))
            else:
                index = FactIndex(facts.get(lid, []), since)
            # The compiled verdict decides; the explained tree is built only for an award,
            # whose provenance it gives (the same verdict: a property test checks it).
            awarded = ruleset.holds(badge_id, index, held.get(lid, {}))
            result.evaluated += 1
            if latest is not None and latest.validity(now) == "valid":
                if not awarded:
                    result.no_longer_granted.append(NoLongerGranted(latest.id, lid, person.email,
                                                                    badge_id))
                continue
            if not awarded:
                continue
            if latest is not None and (latest.status == "revoked" or not badge.renewable):
                continue  # a revoked award is re-issued only by an administrator
            if not person.email:
                result.skipped_no_email += 1
                continue
            decision = ruleset.evaluate(badge_id, facts.get(lid, []), held.get(lid, {}), since=since)
            result.to_award.append(AwardDecision(
                learner_id=lid, badge=badge,
                period=str(int(latest.period or "1") + 1) if latest else "1",
                previous_award_id=latest.id if latest else None, email=person.email,
                fullname=person.fullname, lang=person.lang,
                provenance=[_evidence(ruleset, f) for f in decision.provenance]))
            held.setdefault(lid, {})[badge_id] = now
            for dependent in ruleset.dependents(badge_id):  # evaluated later in this same pass
                todo.setdefault(dependent, set()).add(lid)


def _evidence(ruleset: RuleSet, ref: FactRef) -> dict[str, Any]:
    """A fact of the provenance as stored with the award; a held badge is named in every
    language its rule gives."""
    doc = ref.to_dict()
    if ref.source == BADGE_SOURCE and ref.item in ruleset.badges:
        doc["item_name"] = dict(ruleset.badges[ref.item].name)
    return doc


def issue(store: Store, decisions: Decisions, run_id: int, default_lang: str,
          now: datetime | None = None, public_url: str = "http://localhost",
          progress: Task | None = None) -> int:
    """Write each award with its email outbox item; returns how many were new.

    The email's Message-ID is chosen here, on the public host's domain, and kept with the award."""
    domain = urlsplit(public_url).hostname or "localhost"
    issued = 0
    batch: list[tuple[NewAward, list[NewOutboxItem]]] = []
    for d in decisions.to_award:
        issued_at = now or datetime.now(UTC)
        award_id = str(uuid.uuid4())
        award = NewAward(
            id=award_id, learner_id=d.learner_id, badge_id=d.badge_id, period=d.period,
            issued_at=issued_at, expires_at=d.badge.expiry_from(issued_at), salt=new_salt(),
            recipient_email=d.email, recipient_name=d.fullname,
            lang=i18n.negotiate([d.lang], default_lang),  # fr_CA → fr; no catalog → the default
            rule_version=d.badge.version, provenance=d.provenance,
            previous_award_id=d.previous_award_id, run_id=run_id,
            message_id=f"<award-{award_id}@{domain}>")
        item = NewOutboxItem(key=f"email:{award_id}", channel="email",
                             payload={"award_id": award_id, "kind": "award"})
        batch.append((award, [item]))
        if len(batch) >= ISSUE_BATCH:
            issued += _write(store, batch, progress)
            batch = []
    return issued + _write(store, batch, progress)


ISSUE_BATCH = 500  # awards written in one transaction


def _write(store: Store, batch: list[tuple[NewAward, list[NewOutboxItem]]],
           progress: Task | None) -> int:
    written = sum(a is not None for a in store.awards.create_many(batch))
    if progress is not None and batch:
        progress.advance(len(batch))
    return written


def mark_evaluated(store: Store, ruleset: RuleSet, queue_rows: list[int]) -> None:
    """After the awards are written: these queue rows are done, these rule versions seen."""
    for badge_id, badge in ruleset.badges.items():
        store.facts.set_watermark("rules", badge_id, "version", badge.version)
    store.facts.to_evaluate.clear(queue_rows)


def explain_learner(store: Store, ruleset: RuleSet, email: str, badge_id: str,
                    now: datetime | None = None) -> tuple[Decision, list[Award]] | None:
    """The rule's verdict for one learner, evaluated on the stored facts, and their awards of it."""
    now = now or datetime.now(UTC)
    person = store.facts.learner_by_email(email)
    if person is None:
        return None
    awards = store.awards.of_learners([person.id]).get(person.id, [])
    decision = ruleset.evaluate(badge_id, store.facts.of_learners([person.id]).get(person.id, []),
                                _held(awards, now))
    return decision, [a for a in awards if a.badge_id == badge_id]
