"""`badge-bridge rules check|test|explain`: validate rules, run their test cases, and say
why a learner has or has not got a badge.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from badge_rules import load_rules, render_tree, run_tests
from bridge import i18n
from bridge.errors import NotFound
from bridge.i18n import gettext as _
from bridge.i18n import ngettext

from .common import config_option, handle_errors, lang_option, load

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
@lang_option
def check(rules_dir: str | None, config_path: Path | None) -> None:
    """Validate every badge file in DIR (default: the config's rules_dir, else ./rules)."""
    folder, sources = _target(rules_dir, config_path)
    ruleset = load_rules(folder, sources)
    for badge in ruleset.badges.values():
        expiry = (_("expires after {duration}").format(duration=badge.expires_after)
                  if badge.expires_after else _("never expires"))
        needs = sorted(b for b in ruleset.badges if badge.id in ruleset.dependents(b))
        click.echo(f"{badge.id}  «{badge.text(i18n.current(), 'name')}»  {expiry}"
                   + ("  " + _("needs {badges}").format(badges=", ".join(needs)) if needs else "")
                   + f"  {badge.file}")
    count = len(ruleset.badges)
    click.echo(ngettext("{count} badge OK", "{count} badges OK", count).format(count=count))


@rules.command()
@_DIR
@config_option
@handle_errors
def test(rules_dir: str | None, config_path: Path | None) -> None:
    """Run the test cases (*.test.toml) of DIR; exit 1 if any fails."""
    folder = _target(rules_dir, config_path)[0]
    results = run_tests(folder)
    for result in results:
        mark = _("PASS") if result.passed else _("FAIL")
        where = f"{result.file}:{result.line}" if result.line else result.file
        click.echo(f"{mark}  {where}  {result.name}"
                   + ("" if result.passed else f"\n      {result.message}"))
    failed = sum(not r.passed for r in results)
    click.echo(_("{passed} passed, {failed} failed").format(passed=len(results) - failed, failed=failed))
    if failed:
        sys.exit(1)


@rules.command()
@click.argument("email")
@click.argument("badge_id", metavar="BADGE")
@config_option
@handle_errors
@lang_option
@click.option("--json", "as_json", is_flag=True, help="The evaluated tree as JSON.")
def explain(email: str, badge_id: str, config_path: Path | None, as_json: bool) -> None:
    """Why EMAIL has (or has not) got BADGE: each condition, the facts behind it, what is missing."""
    import json

    from bridge.store import Store
    from jobs.evaluate import explain_learner

    config = load(config_path)
    ruleset = load_rules(config.bridge.rules_dir, config.source_courses())
    if badge_id not in ruleset.badges:
        raise NotFound(_("no badge '{badge}' in {folder}; known: {known}").format(
            badge=badge_id, folder=config.bridge.rules_dir, known=", ".join(ruleset.badges)))
    found = explain_learner(Store(config.bridge.db_url, keys_dir=config.bridge.keys_path), ruleset, email, badge_id)
    if found is None:
        raise NotFound(_("no learner with email {email} (has a sync run?)").format(email=email))
    decision, awards = found
    if as_json:
        click.echo(json.dumps({**decision.to_dict(), "email": email.strip().lower(),
                               "awards": [a.as_dict() for a in awards]}, indent=2, default=str))
        return
    verdict = _("AWARDED") if decision.awarded else _("NOT AWARDED")
    click.echo(_("{email} — {badge}: {verdict}").format(email=email, badge=badge_id, verdict=verdict))
    click.echo(render_tree(decision.tree))
    for award in awards:
        click.echo(_("award {id}: {status}, issued {date}").format(
            id=award.id, status=award.status, date=i18n.format_datetime(award.issued_at)))
