"""The names Moodle facts carry for the evidence in words: the course's full name and the
module's name, read once a run (one course list call, one contents call per course); without
the function in the token's service the facts go unnamed and the pull carries on."""

from __future__ import annotations

from pathlib import Path

from bridge.issuing.evidence import sentence
from bridge.model import FactKind
from sandbox import SandboxPlatform
from tests.connectors.test_moodle_detection import T0, Run


def _facts(run: Run) -> list:
    return [f for facts in run.store.facts.of_learners(run.store.facts.learner_ids()).values()
            for f in facts]


def test_moodle_facts_carry_the_course_and_module_names(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", seed=7, now=T0) as sb:
        run = Run(tmp_path, sb)
        calls = run.pull()["calls"]
        course = sb.world.courses[0]
        modules = {str(a.cmid): a.name for a in course.activities}
    facts = _facts(run)
    assert calls["core_course_get_courses"] == 1 and calls["core_course_get_contents"] >= 1
    assert facts and {f.attrs.get("course_name") for f in facts} == {course.fullname}
    named = [f for f in facts if f.kind is FactKind.activity_completion]
    assert named and all(f.attrs["item_name"] == modules[f.item] for f in named)
    done = next(f for f in named if f.value == 1.0)
    about, text = sentence({"kind": done.kind.value, **done.attrs}, "en")
    assert f"“{modules[done.item]}”" in text and f"“{course.fullname}”" in text


def test_without_the_course_list_function_facts_go_unnamed(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", seed=7, now=T0,
                         missing_functions={"core_course_get_courses"}) as sb:
        run = Run(tmp_path, sb)
        result = run.pull()
    facts = _facts(run)
    assert facts and not any("course_name" in f.attrs for f in facts)
    assert "core_course_get_courses" not in result["calls"]
    assert not [e for e in result["errors"] if "core_course_get_courses" in e[1]]
