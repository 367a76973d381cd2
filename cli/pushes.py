"""`badge-bridge pushes retry`: push again at once the presences a platform refused for a reason
an administrator has since fixed (a capability, a function in the service, a switch).

The kept pushes are made due and delivered; the awards they complete are issued and sent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bridge.errors import ConfigError
from bridge.i18n import gettext as _

from .common import config_option, handle_errors, load

__all__ = ["pushes"]


@click.group()
def pushes() -> None:
    """Presences pushed back to the platforms."""


@pushes.command("retry")
@config_option
@click.option("--source", "sources", multiple=True,
              help="Only the pushes to this source (repeatable; default: every source).")
@handle_errors
def retry(config_path: Path | None, sources: tuple[str, ...]) -> None:
    """Push now every presence kept after a refusal or a failure, instead of at a later run."""
    from bridge.store import Store
    from jobs.push import CHANNEL
    from jobs.run import run_sync

    config = load(config_path, secrets=True)
    unknown = sorted(set(sources) - set(config.sources))
    if unknown:
        raise ConfigError(_("no source {source}; configured sources: {known}").format(
            source=unknown[0], known=", ".join(sorted(config.sources))))
    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    kept = [i.id for i in store.outbox.items(CHANNEL) if i.status == "pending" and i.last_error
            and (not sources or i.payload.get("source") in sources)]
    due = store.outbox.make_due(kept)
    report = run_sync(config, store, steps=("evaluate", "issue", "deliver"), trigger="pushes-retry")
    pushed = report.pushes
    click.echo(_("{due} kept pushes tried again: pushed back {sent}, kept until fixed {refused}, "
                 "to retry {retry}, failed {failed}; {awarded} awards issued").format(
        due=due, sent=pushed.sent, refused=pushed.refused, retry=pushed.retried,
        failed=pushed.failed, awarded=report.awarded))
    for e in report.errors:
        click.echo("  " + _("error: {problem}").format(
            problem=f"source {e.source} {e.endpoint}: {e.message}"), err=True)
    if report.exit_code():
        sys.exit(report.exit_code())
