"""`badge-bridge reports import FILE --source S`: a FUN-MOOC instructor report imported whole
in one transaction, or refused with its bad lines; then kept or deleted as configured."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bridge.errors import ConfigError

from .common import config_option, handle_errors, load

__all__ = ["reports"]


@click.group()
def reports() -> None:
    """FUN-MOOC's instructor reports (grade report, profile report)."""


@reports.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "source_id", required=True, help="The fun source the report belongs to.")
@click.option("--course", default=None,
              help="The course key, when the file no longer has the dashboard's name.")
@config_option
@handle_errors
def import_(file: Path, source_id: str, course: str | None, config_path: Path | None) -> None:
    """Import FILE (the grade report or the profile report, CSV as FUN exports it)."""
    from bridge.store import Store
    from connectors.fun import FunConfig, FunConnector
    from connectors.fun.reports import ReportRefused

    config = load(config_path)
    source = config.sources.get(source_id)
    if not isinstance(source, FunConfig):
        raise ConfigError(f"{source_id} is not a fun source", key=f"sources.{source_id}")
    connector = FunConnector(source_id, source)
    try:
        report = connector.read(file, course)
    except ReportRefused as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        click.echo(f"refused: {len(exc.problems)} problem(s); nothing imported", err=True)
        sys.exit(1)
    store = Store(config.bridge.db_url)
    run_id = store.begin_run([source_id], "reports-import")
    result = store.ingest(run_id, connector.stamped(report, file))
    store.finish_run(run_id, "ok", {"file": str(file), "kind": report.kind, "rows": report.rows})
    click.echo(f"imported the {'grade' if report.kind == 'grades' else 'profile'} report of "
               f"{report.course}: {report.rows} learner(s), {result.new_facts} new fact(s), "
               f"{result.changed_facts} changed")
    folder = source.reports_dir
    if folder is not None and file.resolve().parent == folder.resolve():
        if connector.settle(file):
            click.echo(f"deleted {file} (report_retention_days = 0: it holds personal data)")
        else:
            click.echo(f"kept {file} for {source.report_retention_days} day(s)")
    else:
        click.echo(f"{file} holds personal data and is outside reports_dir: delete it when "
                   "you no longer need it")
