"""`badge-bridge doctor`: what the setup lacks, one ✓ / ✗ / ⚠ line each, with the exact fix.

Nothing is changed anywhere. Exit code 1 when something a configured feature needs is missing
(a ✗), 0 otherwise; `--json` prints the findings for tools.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from bridge.i18n import gettext as _
from bridge.model import Finding, FindingStatus

from .common import config_option, handle_errors, load

__all__ = ["doctor", "render"]

MARKS = {FindingStatus.ok: "✓", FindingStatus.fail: "✗", FindingStatus.warn: "⚠"}


def render(findings: Sequence[Finding]) -> list[str]:
    """The findings as lines: grouped by source, the fix under each ✗ and ⚠."""
    lines: list[str] = []
    group: str | None = None
    for f in findings:
        if f.source != group:
            group = f.source
            lines.append(_("source {source}").format(source=f.source) if f.source else _("bridge"))
        said = _("{subject}: {detail}").format(subject=f.subject, detail=f.detail) if f.detail \
            else f.subject
        text = f"  {MARKS[f.status]} {said}"
        if f.feature and f.status is not FindingStatus.ok:
            text += " " + _("(needed for {feature})").format(feature=f.feature)
        lines.append(text)
        if f.fix and f.status is not FindingStatus.ok:
            lines.append("      " + _("fix: {fix}").format(fix=f.fix))
    return lines


def summary(findings: Sequence[Finding]) -> str:
    counts = {s: sum(1 for f in findings if f.status is s) for s in FindingStatus}
    return _("{ok} ✓, {fail} ✗, {warn} ⚠").format(ok=counts[FindingStatus.ok],
                                                  fail=counts[FindingStatus.fail],
                                                  warn=counts[FindingStatus.warn])


@click.command()
@config_option
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@handle_errors
def doctor(config_path: Path | None, sources: tuple[str, ...], as_json: bool) -> None:
    """Check the setup without changing anything: the store, keys, SMTP, the public URL and
    what each source's platform grants."""
    from jobs.doctor import diagnose, failed

    config = load(config_path)
    findings = diagnose(config, list(sources) or None)
    if as_json:
        click.echo(json.dumps({"ok": not failed(findings),
                               "findings": [f.as_dict() for f in findings]},
                              indent=2, ensure_ascii=False))
    else:
        for line in render(findings):
            click.echo(line)
        click.echo(summary(findings))
    if failed(findings):
        sys.exit(1)
