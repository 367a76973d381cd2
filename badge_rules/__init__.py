"""The rule language: badge files in TOML, their validation, evaluation and explanation.

Other packages use only the names below; see docs/rules.md for the language itself.
"""

from .badge import Alignment, BadgeDef, Duration
from .evaluate import FactIndex
from .explain import BADGE_SOURCE, Decision, ExplainNode, FactRef, describe, render_tree
from .ruleset import RuleSet, load_rules
from .testcases import TestResult, run_tests

__all__ = [
    "BADGE_SOURCE",
    "Alignment",
    "BadgeDef",
    "Decision",
    "Duration",
    "ExplainNode",
    "FactIndex",
    "FactRef",
    "RuleSet",
    "TestResult",
    "describe",
    "load_rules",
    "render_tree",
    "run_tests",
]
