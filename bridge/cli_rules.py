"""`badge-bridge rules check|test`: validate a rules directory and run its test cases.

The lead registers the `rules` group in bridge/cli.py; commands needing the store live there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import click

from badge_rules import load_rules, run_tests
from bridge.errors import EXIT_CODES, RuleError

__all__ = ["rules"]

T = TypeVar("T")

_DIR = click.argument("rules_dir", default="rules", metavar="[DIR]",
                      type=click.Path(file_okay=False, path_type=str))


@click.group()
def rules() -> None:
    """Check and test badge rules."""


@rules.command()
@_DIR
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True,
              help="Language of the badge names shown.")
def check(rules_dir: str, lang: str) -> None:
    """Validate every badge file in DIR (default: rules) and list the badges."""
    ruleset = _or_exit(lambda: load_rules(rules_dir))
    for badge in ruleset.badges.values():
        expiry = f"expires {badge.expires_after}" if badge.expires_after else "never expires"
        needs = ", ".join(sorted(b for b in ruleset.badges if badge.id in ruleset.dependents(b)))
        click.echo(f"{badge.id}  «{badge.text(lang, 'name')}»  {expiry}"
                   + (f"  needs {needs}" if needs else "") + f"  {badge.file}")
    click.echo(f"{len(ruleset.badges)} badge(s) OK")


@rules.command()
@_DIR
def test(rules_dir: str) -> None:
    """Run the test cases (*.test.toml) of DIR; exit 1 if any fails."""
    results = _or_exit(lambda: run_tests(rules_dir))
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        where = f"{result.file}:{result.line}" if result.line else result.file
        click.echo(f"{mark}  {where}  {result.name}"
                   + ("" if result.passed else f"\n      {result.message}"))
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


def _or_exit(work: Callable[[], T]) -> T:
    try:
        return work()
    except RuleError as exc:
        for problem in exc.problems:
            click.echo(RuleError.format_one(problem), err=True)
        click.echo(f"{len(exc.problems)} problem(s) in the rules", err=True)
        sys.exit(EXIT_CODES[RuleError])
