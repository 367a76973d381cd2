"""`badge-bridge reports import FILE --source S`: a FUN-MOOC instructor report imported whole
in one transaction, or refused with its bad lines; then kept or deleted as configured."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bridge.errors import ConfigError
from bridge.i18n import gettext as _
from bridge.i18n import ngettext

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
        raise ConfigError(_("{source} is not a fun source").format(source=source_id),
                          key=f"sources.{source_id}")
    connector = FunConnector(source_id, source)
    try:
        report = connector.read(file, course)
    except ReportRefused as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        click.echo(ngettext("refused: {count} problem; nothing imported",
                            "refused: {count} problems; nothing imported",
                            len(exc.problems)).format(count=len(exc.problems)), err=True)
        sys.exit(1)
    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    run_id = store.runs.begin([source_id], "reports-import")
    result = store.facts.ingest(run_id, connector.stamped(report, file))
    store.runs.finish(run_id, "ok", {"file": str(file), "kind": report.kind, "rows": report.rows})
    done = (_("imported the grade report of {course}: {learners} learner(s), {new} new fact(s), "
              "{changed} changed") if report.kind == "grades" else
            _("imported the profile report of {course}: {learners} learner(s), {new} new fact(s), "
              "{changed} changed"))
    click.echo(done.format(course=report.course, learners=report.rows, new=result.new_facts,
                           changed=result.changed_facts))
    folder = source.reports_dir
    if folder is not None and file.resolve().parent == folder.resolve():
        if connector.settle(file):
            click.echo(_("deleted {file}: it holds personal data (report_retention_days = 0)")
                       .format(file=file))
        else:
            click.echo(ngettext("kept {file} for {count} day", "kept {file} for {count} days",
                                source.report_retention_days).format(
                file=file, count=source.report_retention_days))
    else:
        click.echo(_("{file} holds personal data and is outside reports_dir: delete it when you "
                     "no longer need it").format(file=file))
