"""A sync costs what changed: a no-change Moodle pull stores nothing, and one field changed for
one learner (their email on the roster, a grade in the grade report) comes in as exactly that
change, however many learners are skipped by their digests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bridge.config import Config
from bridge.model import Batch, FactKind
from bridge.store import Store
from connectors.http import HttpClient
from connectors.moodle import MoodleConfig, MoodleConnector
from connectors.moodle.signals import grade_row
from jobs.pull import pull_sources
from sandbox import SandboxPlatform

T0 = 1_760_000_000


class Recorder(MoodleConnector):
    """The connector, keeping every batch it hands to the store."""

    batches: list[Batch]

    def pull(self, state: Any) -> Iterator[Batch]:
        self.batches = []
        for batch in super().pull(state):
            self.batches.append(batch)
            yield batch


class Run:
    def __init__(self, tmp_path: Path, sb: SandboxPlatform) -> None:
        self.store = Store(f"sqlite:///{tmp_path / 'bridge.db'}")
        self.config = MoodleConfig(url=sb.base_url, token=sb.token, courses=["42"])

    def pull(self, full: bool = False) -> tuple[Any, list[Batch]]:
        conn = Recorder("m", self.config, http=HttpClient("m", retries=2, sleep=lambda s: None),
                        clock=lambda: T0)  # same clock: the rolling re-check reads nobody
        run = self.store.runs.begin(["m"])
        stats = pull_sources(Config(file=Path("b.toml"), sources={"m": self.config}), self.store,
                             run, connectors={"m": conn}, full=full)["m"]
        assert not self.store.runs.errors(run)
        return stats, conn.batches


def content(batches: list[Batch]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(external ids of the identities sent, (external id, kind, item) of the facts sent)."""
    return ([i.external_id for b in batches for i in b.identities],
            [(f.external_id, f.kind.value, f.item) for b in batches for f in b.facts])


def grade_of(store: Store, learner_id: int) -> dict[str, float]:
    return {f.item: f.value for f in store.facts.of_learners([learner_id])[learner_id]
            if f.kind is FactKind.grade}


def test_a_no_change_pull_stores_nothing_and_one_changed_field_is_exactly_seen(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", learners=300, profile="scale", seed=7, now=T0) as sb:
        run = Run(tmp_path, sb)
        first, _ = run.pull()
        assert first.new_facts > 300 and first.new_learners == len(sb.world.enrolled(42))

        again, batches = run.pull()
        assert (again.new_facts, again.changed_facts, again.new_learners) == (0, 0, 0)
        assert content(batches) == ([], [])  # only the course's own watermark went to the store

        w = sb.world
        graded = [u for u in w.enrolled(42) if u.progress[42].grade is not None]
        one, other = graded[0], graded[1]
        other_lid = next(lid for lid, ident in run.store.facts.identities_of(
            "m", run.store.facts.learner_ids()).items() if ident.external_id == str(other.id))
        before = grade_of(run.store, other_lid)
        one.email = "changed.address@example.org"  # a roster field of one learner
        other.progress[42].grade = 0.12 if other.progress[42].grade != 0.12 else 0.13
        changed, batches = run.pull()
        ids, facts = content(batches)
        assert sorted(ids) == sorted([str(one.id), str(other.id)])
        after = grade_of(run.store, other_lid)
        moved = {item for item in after if after[item] != before.get(item)}
        # the quiz grade and the course total it makes: those facts changed, nothing else
        assert moved and "" in moved and changed.changed_facts == len(moved)
        assert changed.new_facts == 0
        # sent: the two learners' enrolment, the other's signal facts (grades, presences)
        assert {(e, k) for e, k, _ in facts} <= {
            (str(one.id), "enrolment"), (str(other.id), "enrolment"), (str(other.id), "grade"),
            (str(other.id), "presence")}
        assert run.store.facts.identities("m")[str(one.id)].email == "changed.address@example.org"

        full, batches = run.pull(full=True)  # `sync --full` still reads and sends everyone
        assert len(content(batches)[0]) == len(w.enrolled(42)) and full.changed_facts == 0


def test_a_grade_row_of_the_wrong_shape_names_its_field() -> None:
    import pytest

    from connectors.moodle.client import RowError

    assert grade_row({"userid": 5, "gradeitems": [
        {"itemtype": "course", "graderaw": 85, "grademin": 0, "grademax": 100, "gradedategraded": 9},
        {"itemtype": "mod", "cmid": 7, "graderaw": None, "grademin": 0, "grademax": 10}]}) \
        == (5, [("", 0.85, 9)])
    with pytest.raises(RowError) as bad:
        grade_row({"userid": 5, "gradeitems": [{"itemtype": "mod", "cmid": "abc"}]})
    assert bad.value.field == "gradeitems.0.cmid"
    with pytest.raises(RowError) as bad:
        grade_row({"userid": "abc", "gradeitems": []})
    assert bad.value.field == "userid"


def test_a_shard_pulls_only_its_courses(tmp_path: Path) -> None:
    """A worker's task names its courses: the others are neither asked nor stored."""
    with SandboxPlatform("moodle", learners=60, courses=2, profile="scale", seed=7, now=T0) as sb:
        store = Store(f"sqlite:///{tmp_path / 'bridge.db'}")
        config = MoodleConfig(url=sb.base_url, token=sb.token, courses=["42", "43"])
        conn = Recorder("m", config, http=HttpClient("m", retries=2, sleep=lambda s: None),
                        clock=lambda: T0)
        run = store.runs.begin(["m"])
        pull_sources(Config(file=Path("b.toml"), sources={"m": config}), store, run,
                     connectors={"m": conn}, courses=["43"])
        courses = {f.course for b in conn.batches for f in b.facts}
        assert courses == {"43"}
        assert store.facts.watermark("m", "43", "pulled") and not store.facts.watermark("m", "42", "pulled")


def test_a_roster_row_checked_by_hand_is_what_the_model_makes_of_it() -> None:
    """The roster's pages skip the model when every row has the declared shape; a page with any
    other row goes through the model, which coerces or refuses it as before."""
    import pytest
    from pydantic import TypeAdapter, ValidationError

    from connectors.moodle.course import roster_rows
    from connectors.moodle.payloads import EnrolledUser

    def by_model(page: Any) -> list[tuple[Any, ...]]:
        return [(u.id, u.username, u.fullname, u.email, "email" in u.model_fields_set,
                 u.lastcourseaccess, tuple(r.shortname for r in u.roles))
                for u in TypeAdapter(list[EnrolledUser]).validate_python(page)]

    def by_hand(page: Any) -> list[tuple[Any, ...]]:
        return [(u.id, u.username, u.fullname, u.email, u.has_email, u.lastcourseaccess, u.roles)
                for u in roster_rows(page)]

    pages = [
        [{"id": 101, "username": "camille", "fullname": "Camille Lefèvre", "email": "c@x.fr",
          "lastcourseaccess": 1792196280, "roles": [{"roleid": 5, "shortname": "student"}]},
         {"id": 102, "email": None, "roles": []},  # email hidden as null: the field is there
         {"id": 103, "lastcourseaccess": None}],  # no email field at all, no roles
        [{"id": 104}, {"id": "105"}],  # an id as text: the model's coercion, as before
    ]
    import json

    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    recorded = sorted(fixtures.glob("moodle-real*/core_enrol_get_enrolled_users*.json"))
    assert recorded  # the pages a real Moodle 4.5 sent
    pages += [json.loads(f.read_text(encoding="utf-8")) for f in recorded]
    for page in pages:
        assert by_hand(page) == by_model(page)
    assert by_hand(pages[0])[1][4] is True and by_hand(pages[0])[2][4] is False
    for bad in ([{"id": 9, "roles": None}], [{"id": 9, "email": 5}], [{"username": "x"}], {"id": 1}):
        with pytest.raises(ValidationError):
            roster_rows(bad)
