"""`badge-bridge runs list|show`: the record of past runs, without SQL.

`list` gives one line per run; `show ID` what the run fetched from each source (requests by
endpoint and HTTP status), evaluated, issued, sent and pushed, the failures grouped by reason,
and every error with its place. `--json` prints the same as JSON. A run killed mid-way shows
as `interrupted`, and the run that took its work over says so.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bridge import i18n
from bridge.errors import NotFound
from bridge.i18n import gettext as _
from bridge.i18n import ngettext
from bridge.model import RUN_STATUSES, Run, RunError

from .common import config_option, handle_errors, load

__all__ = ["runs", "describe"]


def _store(config_path: Path | None) -> Any:
    from bridge.store import Store

    bridge = load(config_path).bridge
    return Store(bridge.db_url, keys_dir=bridge.keys_path)


def _status(status: str) -> str:
    return {"running": _("running"), "ok": _("ok"), "partial": _("partial"), "failed": _("failed"),
            "interrupted": _("interrupted")}.get(status, status)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _took(run: Run) -> str:
    end = run.finished_at or run.heartbeat_at
    if end is None:
        return "-"
    return _("{seconds} s").format(seconds=i18n.format_decimal(
        round((end - run.started_at).total_seconds(), 1)))


@click.group()
def runs() -> None:
    """Past runs: what each fetched, evaluated, issued, sent and pushed, and its errors."""


@runs.command("list")
@config_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="How many runs.")
@click.option("--status", type=click.Choice(RUN_STATUSES), default=None, help="Only runs in this status.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@handle_errors
def runs_list(config_path: Path | None, limit: int, status: str | None, as_json: bool) -> None:
    """One line per run, newest first: id, status, started, duration, trigger, sources,
    awards issued, emails not delivered, error lines."""
    for run in _store(config_path).runs.list(limit, status=status):
        if as_json:
            click.echo(json.dumps(run.as_dict(), default=str))
            continue
        stats = run.stats
        emails = stats.get("emails") or {}
        click.echo(_("{id}  {status}  {started}  {took}  {trigger}  {sources}  awards {awarded}, "
                     "emails not delivered {undelivered}, error lines {errors}").format(
            id=run.id, status=_status(run.status), started=_when(run.started_at), took=_took(run),
            trigger=run.trigger, sources=",".join(run.sources) or "-",
            awarded=stats.get("awarded", 0),
            undelivered=int(emails.get("retry", 0)) + int(emails.get("failed", 0)),
            errors=run.errors))


@runs.command("show")
@config_option
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The run, its report and its errors as JSON.")
@handle_errors
def runs_show(config_path: Path | None, run_id: int, as_json: bool) -> None:
    """What run RUN_ID did, step by step, and every error with its place."""
    store = _store(config_path)
    run = store.runs.get(run_id)
    if run is None:
        raise NotFound(_("no run {run_id}").format(run_id=run_id))
    errors = store.runs.errors(run_id)
    if as_json:
        click.echo(json.dumps({**run.as_dict(), "error_lines": [e.as_dict() for e in errors]},
                              indent=2, default=str))
        return
    for line in describe(run, errors):
        click.echo(line)


def _counts(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{k} {i18n.format_decimal(int(v))}" for k, v in
                     sorted(mapping.items(), key=lambda kv: (-int(kv[1]), kv[0])))


def describe(run: Run, errors: list[RunError]) -> list[str]:
    """The lines of `runs show`."""
    stats = run.stats
    lines = [_("run {id}: {status}").format(id=run.id, status=_status(run.status)),
             "  " + _("trigger {trigger}; started {started}; finished {finished}; took {took}").format(
                 trigger=run.trigger, started=_when(run.started_at),
                 finished=_when(run.finished_at), took=_took(run)),
             "  " + _("ran on {host} as process {pid}; last heartbeat {beat}").format(
                 host=run.host or "-", pid=run.pid or "-", beat=_when(run.heartbeat_at))]
    if run.status == "interrupted":
        lines.append("  " + _("interrupted: its process stopped before it finished; the next run "
                              "takes its work over"))
    if run.resumed:
        lines.append("  " + ngettext("finished the work of interrupted run {runs}",
                                     "finished the work of interrupted runs {runs}",
                                     len(run.resumed)).format(
            runs=", ".join(str(r) for r in run.resumed)))
    for source, st in (stats.get("sources") or {}).items():
        lines.append("  " + _("source {source}: {requests} requests, {new_facts} new facts, "
                              "{changed_facts} changed, {errors} errors").format(
            source=source, requests=st.get("requests", 0), new_facts=st.get("new_facts", 0),
            changed_facts=st.get("changed_facts", 0), errors=st.get("errors", 0)))
        if st.get("endpoints"):
            lines.append("    " + _("fetched: {counts}").format(counts=_counts(st["endpoints"])))
        if st.get("statuses"):
            lines.append("    " + _("HTTP status: {counts}").format(counts=_counts(st["statuses"])))
    if "evaluated" in stats:
        lines.append("  " + _("rules evaluated {evaluated} times (a learner for a badge); issued "
                              "{awarded} awards").format(
            evaluated=stats.get("evaluated", 0), awarded=stats.get("awarded", 0)))
    emails = stats.get("emails")
    if emails:
        lines.append("  " + _("emails: sent {sent}, not delivered {undelivered} (to retry {retry}, "
                              "failed {failed}), cancelled {cancelled}").format(
            sent=emails.get("sent", 0), retry=emails.get("retry", 0),
            failed=emails.get("failed", 0), cancelled=emails.get("cancelled", 0),
            undelivered=int(emails.get("retry", 0)) + int(emails.get("failed", 0))))
    pushes = stats.get("pushes")
    if pushes:
        lines.append("  " + _("pushes: queued {enqueued}, sent {sent}, to retry {retried}, kept "
                              "until fixed {refused}, failed {failed}").format(
            enqueued=pushes.get("enqueued", 0), sent=pushes.get("sent", 0),
            retried=pushes.get("retried", 0), refused=pushes.get("refused", 0),
            failed=pushes.get("failed", 0)))
    grouped: dict[str, dict[str, int]] = {}
    for e in errors:
        reasons = grouped.setdefault(e.step, {})
        reasons[e.reason or e.code or "error"] = reasons.get(e.reason or e.code or "error", 0) + e.count
    if grouped:
        lines.append("  " + _("failures by reason:"))
        for step, reasons in grouped.items():
            lines.append(f"    {step}: {_counts(reasons)}")
    if errors:
        lines.append("  " + ngettext("{count} error line:", "{count} error lines:",
                                     len(errors)).format(count=len(errors)))
        for e in errors:
            place = " ".join(p for p in (
                e.source, e.endpoint, f"HTTP {e.status_code}" if e.status_code else "",
                f"field {e.field}" if e.field else "", f"learner {e.learner}" if e.learner else "")
                if p)
            times = f" ×{e.count}" if e.count > 1 else ""
            lines.append(f"    [{e.step}] {place} ({e.reason or e.code or 'error'}{times}): {e.message}")
    return lines


def sync_summary(report: Any) -> list[tuple[str, bool]]:
    """The lines `sync` prints after a run (and whether each goes to stderr): each source,
    the run's outcome, its failures grouped by reason, its errors with their place."""
    out: list[tuple[str, bool]] = []
    if report.resumed:
        out.append((ngettext("this run finishes the work of interrupted run {runs}",
                             "this run finishes the work of interrupted runs {runs}",
                             len(report.resumed)).format(
            runs=", ".join(str(r) for r in report.resumed)), False))
    for sid, st in report.sources.items():
        counts = {k: i18n.format_decimal(getattr(st, k)) for k in (
            "new_facts", "changed_facts", "errors", "requests", "learners_without_email")}
        out.append((_("source {source}: {new_facts} new facts, {changed_facts} changed, "
                      "{errors} errors, {requests} requests, {learners_without_email} learners "
                      "without email").format(source=sid, **counts), False))
        for warning in st.warnings:
            out.append(("  " + _("warning: {problem}").format(problem=warning), True))
    out.append((_("run {run}: {status}; {awarded} awards issued; emails sent {sent}, to retry "
                  "{retry}, failed {failed}").format(
        run=report.run_id, status=_status(report.status), awarded=report.awarded,
        sent=report.emails.sent, retry=report.emails.retry, failed=report.emails.failed), False))
    pushes = report.pushes
    if pushes.sent or pushes.retried or pushes.refused or pushes.failed:
        out.append((_("presences pushed back {sent}, to retry {retry}, kept until fixed {refused}, "
                      "failed {failed}").format(sent=pushes.sent, retry=pushes.retried,
                                                refused=pushes.refused, failed=pushes.failed), False))
    for step, reasons in report.failures().items():
        out.append(("  " + _("not done ({step}): {counts}").format(step=step, counts=_counts(reasons)),
                    True))
    for e in report.errors:
        times = f" ×{e.count}" if e.count > 1 else ""
        where = f"{e.step} {e.endpoint}" if e.step == "email" else f"source {e.source} {e.endpoint}"
        out.append(("  " + _("error: {problem}").format(problem=f"{where}{times}: {e.message}"), True))
    return out
