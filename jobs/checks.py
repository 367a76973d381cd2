"""`config check` beyond shapes: what the config refers to must exist. Push targets name
configured sources; `rules_dir` exists and its rules check; every course a rule names is a
course of its source. Every problem is reported at once, each with "did you mean" when a
configured name is close.
"""

from __future__ import annotations

from bridge.config import Config
from bridge.errors import ConfigError, RuleError
from bridge.i18n import gettext as _
from connectors.registry import REGISTRY, push_route_problems

__all__ = ["cross_check", "cross_problems", "ConfigProblems"]


class ConfigProblems(ConfigError):
    """Several problems met checking one config file; `lines` are printed one per line."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.lines = problems
        super().__init__("; ".join(problems), file=file)


def cross_problems(config: Config) -> list[str]:
    """Every cross-reference problem of `config`, one line each: push routes naming no
    configured source (or a target its connector cannot take), `rules_dir` missing, rules
    that do not check, or name a source or course the config does not have."""
    problems = [str(p) for p in push_route_problems(config, REGISTRY)]
    rules_dir = config.bridge.rules_dir
    if not rules_dir.is_dir():
        problems.append(f"{config.file}: bridge.rules_dir: " + _(
            "{path} is not a folder — create it, or point rules_dir to the folder of the rule "
            "files").format(path=rules_dir))
        return problems
    from badge_rules import load_rules

    # The rules, checked against the configured sources and courses: each rule naming a
    # source or a course the config does not have is one problem, with "did you mean".
    try:
        load_rules(rules_dir, config.source_courses())
    except RuleError as exc:
        problems.extend(RuleError.format_one(p) for p in exc.problems)
    return problems


def cross_check(config: Config) -> None:
    """Raise one ConfigError listing every cross-reference problem, if there is any."""
    problems = cross_problems(config)
    if problems:
        raise ConfigProblems(str(config.file), problems)
