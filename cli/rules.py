"""`badge-bridge rules check|test|explain`: validate rules, run their test cases, and say
why a learner has or has not got a badge.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from badge_rules import load_rules, render_tree, run_tests
from bridge.errors import NotFound

from .common import config_option, handle_errors, load

__all__ = ["rules"]

_DIR = click.argument("rules_dir", required=False, metavar="[DIR]",
                      type=click.Path(file_okay=False, path_type=str))


def _target(rules_dir: str | None,
            config_path: Path | None) -> tuple[str, dict[str, set[str] | None] | None]:
    """The rules folder (DIR, else the config's rules_dir, else ./rules) and the configured
    sources to check the rules against."""
    if config_path:
        config = load(config_path)
        return rules_dir or str(config.bridge.rules_dir), config.source_courses()
    return rules_dir or "rules", None


@click.group()
def rules() -> None:
    """Check and test badge rules."""


@rules.command()
@_DIR
@config_option
@handle_errors
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True,
              help="Language of the badge names shown.")
def check(rules_dir: str | None, config_path: Path | None, lang: str) -> None:
    """Validate every badge file in DIR (default: the config's rules_dir, else ./rules)."""
    folder, sources = _target(rules_dir, config_path)
    ruleset = load_rules(folder, sources)
    for badge in ruleset.badges.values():
        expiry = f"expires {badge.expires_after}" if badge.expires_after else "never expires"
        needs = ", ".join(sorted(b for b in ruleset.badges if badge.id in ruleset.dependents(b)))
        click.echo(f"{badge.id}  «{badge.text(lang, 'name')}»  {expiry}"
                   + (f"  needs {needs}" if needs else "") + f"  {badge.file}")
    click.echo(f"{len(ruleset.badges)} badge(s) OK")


@rules.command()
@_DIR
@config_option
@handle_errors
def test(rules_dir: str | None, config_path: Path | None) -> None:
    """Run the test cases (*.test.toml) of DIR; exit 1 if any fails."""
    folder, _ = _target(rules_dir, config_path)
    results = run_tests(folder)
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        where = f"{result.file}:{result.line}" if result.line else result.file
        click.echo(f"{mark}  {where}  {result.name}"
                   + ("" if result.passed else f"\n      {result.message}"))
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


@rules.command()
@click.argument("email")
@click.argument("badge_id", metavar="BADGE")
@config_option
@handle_errors
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The evaluated tree as JSON.")
def explain(email: str, badge_id: str, config_path: Path | None, lang: str, as_json: bool) -> None:
    """Why EMAIL has (or has not) got BADGE: each condition, the facts behind it, what is missing."""
    import json

    from bridge.store import Store
    from jobs.evaluate import explain_learner

    config = load(config_path)
    ruleset = load_rules(config.bridge.rules_dir, config.source_courses())
    if badge_id not in ruleset.badges:
        raise NotFound(f"no badge {badge_id!r} in {config.bridge.rules_dir}; "
                       f"known: {', '.join(ruleset.badges)}")
    found = explain_learner(Store(config.bridge.db_url), ruleset, email, badge_id)
    if found is None:
        raise NotFound(f"no learner with email {email} (has a sync run?)")
    decision, awards = found
    if as_json:
        click.echo(json.dumps({**decision.to_dict(), "email": email.strip().lower(),
                               "awards": [a.as_dict() for a in awards]}, indent=2, default=str))
        return
    verdict = {"fr": ("ATTRIBUÉ", "NON ATTRIBUÉ"), "en": ("AWARDED", "NOT AWARDED")}[lang]
    click.echo(f"{email} — {badge_id}: {verdict[0] if decision.awarded else verdict[1]}")
    click.echo(render_tree(decision.tree, lang))
    for award in awards:
        click.echo(f"award {award.id}: {award.status}, issued {award.issued_at}")
