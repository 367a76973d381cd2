"""`badge-bridge presence import FILE`: a sign-in sheet imported whole, or refused with its bad lines.

The rows go through the csv connector's validation and land in one transaction.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bridge.config import Config
from bridge.errors import ConfigError
from bridge.i18n import gettext as _
from bridge.i18n import ngettext

from .common import config_option, handle_errors, load

__all__ = ["presence"]


@click.group()
def presence() -> None:
    """Presence lists and sign-in sheets."""


@presence.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Refuse the whole file if any row is bad.")
@click.option("--source", "source_id", help="The csv source to import into (default: the only one), "
              "or a meetups source: the rows are check-ins at its sessions (a sign-in sheet).")
@config_option
@handle_errors
def import_(file: Path, strict: bool, source_id: str | None, config_path: Path | None) -> None:
    """Import FILE (email, name, session or date + place, status); bad rows are listed by line."""
    from bridge.meetups.settings import MeetupsSettings
    from bridge.store import Store
    from connectors.csv import CsvConfig, CsvConnector

    config = load(config_path)
    if source_id is not None and isinstance(config.sources.get(source_id), MeetupsSettings):
        _import_checkins(config, source_id, file)
        return
    csv_sources = {sid: s for sid, s in config.sources.items() if isinstance(s, CsvConfig)}
    if source_id is None and len(csv_sources) != 1:
        raise ConfigError(ngettext("pass --source: the config has {count} csv source",
                                   "pass --source: the config has {count} csv sources",
                                   len(csv_sources)).format(count=len(csv_sources)), key="sources")
    source_id = source_id or next(iter(csv_sources))
    if source_id not in csv_sources:
        raise ConfigError(_("{source} is not a csv source").format(source=source_id),
                          key=f"sources.{source_id}")
    connector = CsvConnector(source_id, csv_sources[source_id].model_copy(update={"path": file}))
    sheet = connector.read(file, strict=strict or None)[0]
    for line, reason in sheet.problems:
        click.echo(f"{file}:{line}: {reason}", err=True)
    if sheet.problems and (strict or csv_sources[source_id].strict):
        click.echo(ngettext("refused: {count} bad row; nothing imported",
                            "refused: {count} bad rows; nothing imported",
                            len(sheet.problems)).format(count=len(sheet.problems)), err=True)
        sys.exit(1)
    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    run_id = store.runs.begin([source_id], "presence-import")
    result = store.facts.ingest(run_id, sheet.batch)
    store.runs.finish(run_id, "partial" if sheet.problems else "ok",
                     {"file": str(file), "rows": len(sheet.batch.facts), "bad_rows": len(sheet.problems)})
    click.echo(_("imported {rows} presence row(s), {new} new; {bad} bad row(s) skipped").format(
        rows=len(sheet.batch.facts), new=result.new_facts, bad=len(sheet.problems)))


def _import_checkins(config: Config, source_id: str, file: Path) -> None:
    """A meetup's sign-in sheet typed back: its present rows become check-ins (method "sheet")
    at the sessions its session column names, all of them or none."""
    from bridge.meetups.desk import Desk
    from bridge.store import Store
    from connectors.csv import CsvConfig, decode, parse_sheet

    store = Store(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    sheet = parse_sheet(decode(file.read_bytes()), source_id, CsvConfig(path=file))
    problems = [f"{file}:{line}: {reason}" for line, reason in sheet.problems]
    rows = []
    for fact in sheet.batch.facts:
        session = store.meetups.get(fact.item)
        if session is None or session.source != source_id:
            problems.append(_("{file}: no meetup session {id} in source {source} (the sheet's "
                              "session column)").format(file=file, id=fact.item, source=source_id))
        elif fact.value:
            rows.append((session, fact.external_id))
    for problem in dict.fromkeys(problems):
        click.echo(problem, err=True)
    if problems:
        click.echo(ngettext("refused: {count} problem; nothing imported",
                            "refused: {count} problems; nothing imported",
                            len(problems)).format(count=len(problems)), err=True)
        sys.exit(1)
    new = Desk(config, store).import_sheet(rows)
    click.echo(_("imported {rows} check-in(s), {new} new").format(rows=len(rows), new=new))
