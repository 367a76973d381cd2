"""A run evaluates and issues a chunk of learners at a time (memory flat in the learners):
the same awards as in one chunk, and a run stopped between two chunks loses and repeats
nothing when the next run takes over."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from badge_rules import RuleSet, load_rules
from bridge.model import Batch, Fact, FactKind, Identity
from bridge.store import Store
from jobs.evaluate import candidates, chunks_of, evaluate_and_issue, publish_badges, scope

LEARNERS = 60
DONE = {i for i in range(LEARNERS) if i % 3 == 0}  # completed course 42
PRACTICE = {i for i in range(LEARNERS) if i % 4 == 0}  # completed activity 7 as well
NO_EMAIL = {9, 21}  # completed, without an email: not awarded


def _rules(folder: Path) -> RuleSet:
    folder.mkdir()
    (folder / "course.toml").write_text('''[badge]
id = "course"
name = { fr = "Cours", en = "Course" }
description = { fr = "Cours terminé.", en = "Course completed." }

[condition]
course_completed = { source = "m", course = "42" }
''', encoding="utf-8")
    # Depends on the first: evaluated after it in the same chunk, for the same learner.
    (folder / "path.toml").write_text('''[badge]
id = "path"
name = { fr = "Parcours", en = "Path" }
description = { fr = "Parcours terminé.", en = "Path completed." }

[condition]
all = [
  { badge_held = { badge = "course" } },
  { activity_completed = { source = "m", course = "42", activity = "7" } },
]
''', encoding="utf-8")
    return load_rules(folder)


def _store(url: str, ruleset: RuleSet) -> Store:
    store = Store(url)
    publish_badges(store, ruleset)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [Identity(source="m", external_id=str(i), fullname=f"L {i}", lang="fr",
                    email=None if i in NO_EMAIL else f"learner{i}@example.org")
           for i in range(LEARNERS)]
    facts = [Fact(source="m", external_id=str(i), kind=FactKind.course_completion, course="42",
                  value=1.0 if i in DONE else 0.0, occurred_at=when if i in DONE else None)
             for i in range(LEARNERS)]
    facts += [Fact(source="m", external_id=str(i), kind=FactKind.activity_completion, course="42",
                   item="7", value=1.0, occurred_at=when) for i in PRACTICE]
    for i in range(0, LEARNERS, 25):  # several batches: several queue rows, some per learner
        store.facts.ingest(1, Batch(identities=ids[i:i + 25], facts=facts))
    return store


def _awards(store: Store) -> list[tuple[str | None, str, str, list[dict[str, object]]]]:
    return sorted((a.email, a.award.badge_id, a.award.period, a.award.provenance)
                  for a in store.awards.listing())


def test_a_run_over_many_chunks_awards_exactly_what_one_chunk_awards(tmp_path):
    ruleset = _rules(tmp_path / "rules")
    one, many = _store(f"sqlite:///{tmp_path / 'one.db'}", ruleset), _store(
        f"sqlite:///{tmp_path / 'many.db'}", ruleset)
    todo, _ = candidates(many, ruleset)
    assert set().union(*todo.values()) == {lid for c in chunks_of(many, ruleset, scope(many, ruleset), 7)
                                           for lid in c.learners}  # the same learners, by ranges
    now = datetime.now(UTC)  # a held badge's date in the provenance: the pass's
    whole = evaluate_and_issue(one, ruleset, one.runs.begin(["m"]), "fr", size=10_000, now=now)
    chunked = evaluate_and_issue(many, ruleset, many.runs.begin(["m"]), "fr", size=7, now=now)
    assert (chunked.evaluated, chunked.awarded, chunked.skipped_no_email) == (
        whole.evaluated, whole.awarded, whole.skipped_no_email)
    assert _awards(many) == _awards(one)
    expected = {(f"learner{i}@example.org", "course") for i in DONE - NO_EMAIL} | {
        (f"learner{i}@example.org", "path") for i in (DONE & PRACTICE) - NO_EMAIL}
    assert {(email, badge) for email, badge, _, _ in _awards(many)} == expected
    assert len(many.outbox.items("email")) == len(expected)  # one email each
    assert many.facts.to_evaluate.pending() == {}  # every chunk's queue rows cleared
    # A second pass, everyone evaluated again (an edited rule): nothing new.
    many.facts.set_watermark("rules", "course", "version", "edited")
    again = evaluate_and_issue(many, ruleset, many.runs.begin(["m"]), "fr", size=7)
    assert again.evaluated >= LEARNERS and again.awarded == 0 and _awards(many) == _awards(one)


def test_a_run_stopped_between_chunks_loses_and_repeats_nothing(tmp_path, monkeypatch):
    ruleset = _rules(tmp_path / "rules")
    reference = _store(f"sqlite:///{tmp_path / 'ref.db'}", ruleset)
    evaluate_and_issue(reference, ruleset, reference.runs.begin(["m"]), "fr", size=10_000)
    store = _store(f"sqlite:///{tmp_path / 'crash.db'}", ruleset)
    create_many, calls = store.awards.create_many, []

    def crash_on_second_write(batch):  # type: ignore[no-untyped-def]
        calls.append(len(batch))
        if len(calls) == 2:
            raise KeyboardInterrupt("stopped between two chunks")
        return create_many(batch)

    monkeypatch.setattr(store.awards, "create_many", crash_on_second_write)
    monkeypatch.setattr("jobs.evaluate.ISSUE_BATCH", 5)  # a write every chunk or two
    with pytest.raises(KeyboardInterrupt):
        evaluate_and_issue(store, ruleset, store.runs.begin(["m"]), "fr", size=7)
    written = _awards(store)
    assert 0 < len(written) < len(_awards(reference))  # stopped half-way
    assert store.facts.to_evaluate.pending()  # what was not written is still queued
    monkeypatch.setattr(store.awards, "create_many", create_many)
    evaluate_and_issue(store, ruleset, store.runs.begin(["m"]), "fr", size=7)
    assert [(e, b, p) for e, b, p, _ in _awards(store)] == [
        (e, b, p) for e, b, p, _ in _awards(reference)]  # each award once, none lost
    assert len(store.outbox.items("email")) == len(_awards(reference))
    assert store.facts.to_evaluate.pending() == {}
