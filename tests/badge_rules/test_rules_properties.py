"""Laws the evaluator must keep for any facts: negation, De Morgan, counting, monotonicity.

Trees and facts are drawn from a small universe so that conditions are often true and often false.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from badge_rules.evaluate import FactIndex, evaluate_node
from badge_rules.fast import compile_condition
from badge_rules.nodes import (
    ActivityCompleted,
    All,
    AnyOf,
    AtLeast,
    BadgeHeld,
    CourseCompleted,
    FactBetween,
    Grade,
    Node,
    Not,
    Presence,
    Window,
)
from bridge.model import Fact, FactKind

SOURCES, COURSES, ITEMS = ("moodle", "fun"), ("1", "2"), ("a", "b", "s1", "s2", "s3")
START = datetime(2025, 9, 1, tzinfo=UTC)
HELD = {"mooc": START}

moments = st.integers(0, 300).map(lambda d: START + timedelta(days=d))
facts = st.builds(
    lambda kind, source, course, item, value, when, tags: Fact(
        source=source, external_id="u", kind=kind, course=course, item=item, value=value,
        occurred_at=when, attrs={"tags": tags}),
    st.sampled_from(list(FactKind)), st.sampled_from(SOURCES), st.sampled_from(COURSES),
    st.sampled_from(ITEMS), st.sampled_from([None, 0.0, 0.4, 0.7, 1.0]), moments,
    st.lists(st.sampled_from(["meetup", "webinar"]), max_size=2))
fact_lists = st.lists(facts, max_size=12)
windows = st.tuples(moments, st.integers(1, 200)).map(
    lambda w: Window(w[0], w[0] + timedelta(days=w[1])))

where = st.tuples(st.sampled_from(SOURCES), st.sampled_from(COURSES))
presence = st.builds(
    lambda w, n, tags: Presence(w[0], w[1], n, tags=tags),
    where, st.integers(1, 3), st.sampled_from([(), ("meetup",)]))
leaves = st.one_of(
    where.map(lambda w: CourseCompleted(*w)),
    st.tuples(where, st.sampled_from(ITEMS)).map(lambda t: ActivityCompleted(*t[0], t[1])),
    st.tuples(where, st.sampled_from([">=", "<", "==", ">", "<="]),
              st.sampled_from([0.0, 0.4, 0.7])).map(
        lambda t: Grade(*t[0], t[1], t[2])),
    presence,
    st.just(BadgeHeld(("mooc",))),
    st.just(BadgeHeld(("mooc", "other"), 2)),
)
trees: st.SearchStrategy[Node] = st.recursive(leaves, lambda kids: st.one_of(
    st.lists(kids, min_size=1, max_size=3).map(lambda c: All(tuple(c))),
    st.lists(kids, min_size=1, max_size=3).map(lambda c: AnyOf(tuple(c))),
    kids.map(Not),
    st.tuples(windows, kids).map(lambda t: FactBetween(*t)),
), max_leaves=8)


def truth(node: Node, found: list[Fact]) -> bool:
    return evaluate_node(node, FactIndex(found), HELD).value


@given(trees, fact_lists)
def test_not_inverts(node: Node, found: list[Fact]) -> None:
    assert truth(Not(node), found) is not truth(node, found)


@given(st.lists(trees, min_size=1, max_size=3), fact_lists)
def test_de_morgan(nodes: list[Node], found: list[Fact]) -> None:
    negated = tuple(Not(n) for n in nodes)
    assert truth(Not(All(tuple(nodes))), found) == truth(AnyOf(negated), found)
    assert truth(Not(AnyOf(tuple(nodes))), found) == truth(All(negated), found)


@given(st.lists(trees, min_size=1, max_size=4), fact_lists, st.data())
def test_at_least_counts_true_conditions(nodes: list[Node], found: list[Fact],
                                         data: st.DataObject) -> None:
    children = tuple(nodes)
    true = sum(truth(n, found) for n in nodes)
    count = data.draw(st.integers(1, len(nodes)))
    assert truth(AtLeast(count, children), found) == (true >= count)
    assert truth(AtLeast(1, children), found) == truth(AnyOf(children), found)
    assert truth(AtLeast(len(nodes), children), found) == truth(All(children), found)


@given(presence, fact_lists, fact_lists)
def test_more_presences_never_lose_a_presence_badge(node: Presence, found: list[Fact],
                                                    more: list[Fact]) -> None:
    before = evaluate_node(node, FactIndex(found), HELD)
    after = evaluate_node(node, FactIndex(found + more), HELD)
    assert (after.observed or 0) >= (before.observed or 0)
    assert after.value or not before.value


@given(presence, fact_lists)
def test_presence_needs_exactly_at_least_distinct_sessions(node: Presence,
                                                           found: list[Fact]) -> None:
    sessions = evaluate_node(node, FactIndex(found), HELD).observed or 0
    assert truth(Presence(node.source, node.course, int(sessions) or 1, tags=node.tags),
                 found) is (sessions > 0)
    assert not truth(Presence(node.source, node.course, int(sessions) + 1, tags=node.tags), found)


@settings(max_examples=50)
@given(trees, fact_lists, st.randoms(use_true_random=False))
def test_same_facts_in_any_order_give_the_same_explanation(node: Node, found: list[Fact],
                                                           rnd: object) -> None:
    shuffled = list(found)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    first = evaluate_node(node, FactIndex(found), HELD)
    again = evaluate_node(node, FactIndex(shuffled), HELD)
    assert first.to_dict() == again.to_dict()


@given(trees, fact_lists, st.sampled_from([{}, HELD]))
def test_the_compiled_verdict_is_the_explained_one(node: Node, found: list[Fact],
                                                   held: dict[str, datetime]) -> None:
    """What a run decides (compiled, short-circuiting) is what `rules explain` shows."""
    index = FactIndex(found)
    assert compile_condition(node)(index, held) is evaluate_node(node, index, held).value


@given(trees, fact_lists, moments)
def test_the_compiled_verdict_is_the_explained_one_in_a_renewal_period(
        node: Node, found: list[Fact], since: datetime) -> None:
    """A renewal counts only the facts from its start: both evaluators see the same ones."""
    index = FactIndex(found, since)
    assert compile_condition(node)(index, HELD) is evaluate_node(node, index, HELD).value


def test_nested_windows_intersect_in_both_evaluators() -> None:
    inner = Window(START + timedelta(days=10), START + timedelta(days=100))
    outer = Window(START + timedelta(days=50), START + timedelta(days=200))
    node = FactBetween(outer, FactBetween(inner, CourseCompleted("fun", "1")))
    for day, expected in ((20, False), (60, True), (150, False)):
        found = [Fact(source="fun", external_id="u", kind=FactKind.course_completion, course="1",
                      value=1.0, occurred_at=START + timedelta(days=day))]
        index = FactIndex(found)
        assert evaluate_node(node, index, {}).value is expected
        assert compile_condition(node)(index, {}) is expected
